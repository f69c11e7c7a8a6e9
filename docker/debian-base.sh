#!/bin/sh
# A Debian bookworm base image made locally, for machines that reach no image registry:
# debootstrap from the Debian mirror this machine's apt already uses. Kept in podman's store, so
# it is built once.
set -eu
image="${1:?usage: debian-base.sh IMAGE}"
podman image exists "$image" && exit 0
mirror=$( (grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}';
           grep -hs '^deb ' /etc/apt/sources.list | awk '{print $2}') | grep -m1 '/debian$' || true)
mirror="${mirror:-http://deb.debian.org/debian}"
rootfs=$(mktemp -d /var/tmp/iccgen-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "building $image with debootstrap from $mirror (about 2 minutes, once)"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | podman import -q - "$image" >/dev/null
