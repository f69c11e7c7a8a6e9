#!/bin/sh
# Every container checks the sandbox before doing anything: programs written by a model run in
# it, so a container started without the flags that let bubblewrap confine them stops here.
set -eu
if ! iccgen doctor; then
  cat >&2 <<'MSG'
iccgen: the sandbox cannot confine programs in this container; nothing was started.
  as root:      podman/docker run --cap-add SYS_ADMIN,NET_ADMIN ...
  as non-root:  podman/docker run --user 1000 --security-opt systempaths=unconfined ...
  Kubernetes:   securityContext.procMount: Unmasked (non-root), or capabilities
                SYS_ADMIN and NET_ADMIN (root); see README, "Deploying".
MSG
  exit 1
fi
exec "$@"
