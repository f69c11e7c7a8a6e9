#!/bin/sh
# Podman and debootstrap from Debian's packages, once (FIELD-NOTES, "Containers").
set -eu
command -v podman >/dev/null 2>&1 && command -v debootstrap >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "make image needs podman and debootstrap: install them (as root on Debian: apt-get install podman debootstrap)" >&2
  exit 2
fi
echo "installing podman, runc and debootstrap (apt-get)"
pkgs="podman buildah runc uidmap fuse-overlayfs slirp4netns debootstrap"
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null 2>&1 || {
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkgs >/dev/null; }
