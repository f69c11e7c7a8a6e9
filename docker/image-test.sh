#!/bin/sh
# Runs the CPU image as a deployment would: the entrypoint's doctor, then a small solid job into
# a mounted folder, once as root with the capabilities bubblewrap needs and once as a non-root
# user; the shards are then read on the host. Also checks that default flags are refused.
set -eu
: "${IMAGE:?}"
py="${PYTHON:-.venv/bin/python}"
out=$(mktemp -d /var/tmp/iccgen-image-test.XXXXXX)
trap 'rm -rf "$out"' EXIT
chmod 0755 "$out"  # mktemp makes it 0700: uid 1000 must reach its folder
run() { podman run --rm --shm-size 1g -v "$out:/out" "$@"; }
job="iccgen run --pipeline solid --n 10 --shard-size 5 --workers 2 --out"

# job_as NAME FLAGS...: the job into $out/NAME; its log is shown when it fails.
job_as() {
  who=$1; shift
  run "$@" "$IMAGE" $job "/out/$who" >"$out/$who.log" 2>&1 || {
    cat "$out/$who.log"; echo "FAIL: the job as $who exited non-zero" >&2; exit 1; }
  tail -n 4 "$out/$who.log"; took
}
step() { printf '\n== %s\n' "$1"; start=$(date +%s); }
took() { echo "-- $(($(date +%s) - start)) s"; }

step "default flags: the entrypoint must refuse"
if run "$IMAGE" true >"$out/refused.log" 2>&1; then
  cat "$out/refused.log"; echo "FAIL: the container started without confinement" >&2; exit 1
fi
grep "not confined" "$out/refused.log" && grep -q "nothing was started" "$out/refused.log" && took

step "root with --cap-add SYS_ADMIN,NET_ADMIN"
job_as root --user 0 --cap-add SYS_ADMIN,NET_ADMIN

step "non-root (uid 1000) with --security-opt systempaths=unconfined"
mkdir "$out/user" && chown 1000 "$out/user"
job_as user --user 1000 --security-opt systempaths=unconfined

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
