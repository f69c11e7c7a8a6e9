#!/bin/sh
# Builds the CPU image. BASE is used when podman has it or can pull it; otherwise the image is
# built on a local Debian base (debian-base.sh) with Debian's Python 3.11.
set -eu
: "${IMAGE:?}" "${BASE:?}"
here=$(dirname "$0")
"$here/podman-deps.sh"
set --
if podman image exists "$BASE" || timeout "${PULL_TIMEOUT:-30}" podman pull -q "$BASE" >/dev/null 2>&1; then
  echo "base: $BASE"
else
  local_base=localhost/iccgen-debian:bookworm
  echo "base $BASE is not reachable: using $local_base, built here from Debian's mirror"
  "$here/debian-base.sh" "$local_base"
  set -- --build-arg BASE="$local_base" --build-arg PYTHON=/usr/bin/python3.11 \
         --build-arg SYSTEM_PACKAGES="python3.11 python3.11-venv ca-certificates"
fi
ca="${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
podman build --format docker -f "$here/Dockerfile.cpu" -t "$IMAGE" --secret id=hostca,src="$ca" "$@" "$here/.."
