#!/usr/bin/env bash
# The sandbox's tests as an unprivileged user (`make test-unprivileged`; needs root to set up).
# Arguments, if any, name the tests to run instead of all of tests/sandbox.
# Creates the user, a venv from a world-readable python (the checkout's own may sit under a
# 0700 /root), a copy of this tree it owns, and runs tests/sandbox there as that user.
set -euo pipefail
cd "$(dirname "$0")/.."
USER_NAME=${ICCGEN_TEST_USER:-iccgen-tester}
PYTHON=${ICCGEN_TEST_PYTHON:-/usr/bin/python3}
if [ "$(id -u)" != 0 ]; then
  echo "run as root: it creates the user $USER_NAME (or run 'make test' as your own user)" >&2
  exit 2
fi
id "$USER_NAME" >/dev/null 2>&1 || useradd -m "$USER_NAME"
HOME_DIR=$(getent passwd "$USER_NAME" | cut -d: -f6)
"$PYTHON" -m venv "$HOME_DIR/venv" 2>/dev/null || {
  echo "$PYTHON cannot make a venv (Debian: apt-get install python3-venv)" >&2; exit 2; }
rm -rf "$HOME_DIR/src" && mkdir -p "$HOME_DIR/src"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -c | tar -x -C "$HOME_DIR/src"
.venv/bin/uv pip install -q --python "$HOME_DIR/venv/bin/python" -e "$HOME_DIR/src[test]"
chown -R "$USER_NAME": "$HOME_DIR"
TESTS=${*:-tests/sandbox}
su "$USER_NAME" -s /bin/bash -c \
  "cd '$HOME_DIR/src' && HOME='$HOME_DIR' '$HOME_DIR/venv/bin/python' -m pytest -q -p no:cacheprovider $TESTS"
