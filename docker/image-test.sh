#!/bin/sh
# Runs the CPU image as a deployment would: the entrypoint's doctor, then a small solid job into
# a mounted folder, once as root with the capabilities bubblewrap needs and once as a non-root
# user; the shards are then read on the host. Also checks that default flags are refused.
set -eu
: "${IMAGE:?}"
py="${PYTHON:-.venv/bin/python}"
out=$(mktemp -d /var/tmp/iccgen-image-test.XXXXXX)
trap 'rm -rf "$out"' EXIT
run() { podman run --rm --shm-size 1g -v "$out:/out" "$@"; }
job="iccgen run --pipeline solid --n 10 --shard-size 5 --workers 2 --out"

step() { printf '\n== %s\n' "$1"; start=$(date +%s); }
took() { echo "-- $(($(date +%s) - start)) s"; }

step "default flags: the entrypoint must refuse"
if run "$IMAGE" true >"$out/refused.log" 2>&1; then
  cat "$out/refused.log"; echo "FAIL: the container started without confinement" >&2; exit 1
fi
grep -q "cannot confine" "$out/refused.log" && took

step "root with --cap-add SYS_ADMIN,NET_ADMIN"
run --user 0 --cap-add SYS_ADMIN,NET_ADMIN "$IMAGE" $job /out/root 2>&1 | tee "$out/root.log"
took

step "non-root (uid 1000) with --security-opt systempaths=unconfined"
mkdir "$out/user" && chown 1000 "$out/user"
run --user 1000 --security-opt systempaths=unconfined "$IMAGE" $job /out/user 2>&1 | tee "$out/user.log"
took

step "shards, read on the host"
for who in root user; do
  grep -Eq "bubblewrap +│ yes" "$out/$who.log" || { echo "FAIL: bubblewrap not active as $who" >&2; exit 1; }
done
"$py" - "$out" <<'PY'
import sys
from pathlib import Path
import pyarrow.parquet as pq

for who in ("root", "user"):
    shards = sorted((Path(sys.argv[1]) / who / "solid").glob("part-*.parquet"))
    rows = sum(pq.read_metadata(s).num_rows for s in shards)
    print(f"{who}: {len(shards)} shards, {rows} rows")
    assert len(shards) == 2 and rows == 10, f"{who}: expected 2 shards of 10 rows in all"
PY
echo "image-test: ok"
