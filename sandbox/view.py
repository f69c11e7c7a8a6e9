"""A child's private view of the pool's /tmp, where uids cannot keep siblings apart.

As root the pool hands each child its own uid-nobody workdir in a root-owned /tmp, and file
permissions do the rest. On an unprivileged host every child runs as the caller's uid, the
owner of bubblewrap's tmpfs: it could write /tmp, the pool's font cache and its siblings'
folders. So each child makes itself a user and mount namespace in which the pool's /tmp is
read-only, its siblings' folders are hidden under an empty tmpfs, and only its own folder is
writable; then it gives up the capabilities that namespace lent it. seccomp (loaded after)
refuses mount, umount2, unshare and setns, so the program cannot undo any of it.
"""
from __future__ import annotations

import ctypes
import os
import shutil

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV = 1, 2, 4
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
PR_SET_DUMPABLE = 4

_libc = ctypes.CDLL(None, use_errno=True)


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, flags: int, fstype: str | None = None,
           data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_libc.mount(enc(source), target.encode(), enc(fstype), ctypes.c_ulong(flags), enc(data)),
           f"mount {target}")


def _own_namespace() -> None:
    uid, gid = os.getuid(), os.getgid()
    # The pool is non-dumpable, which makes /proc/self/*_map root's and unwritable. confine()
    # clears the flag again right after; meanwhile the child holds nothing but the pool's heap.
    _check(_libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    _mount(None, "/", MS_REC | MS_PRIVATE)


def _drop_capabilities() -> None:
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    _check(_libc.capset(ctypes.byref(Header(_LINUX_CAPABILITY_VERSION_3, 0)), (Data * 2)()),
           "capset")


def enter_private_view(workdir: str, tmp: str = "/tmp") -> None:
    """Only `workdir` stays writable; its siblings under the same parent disappear."""
    _own_namespace()
    keep = os.open(workdir, os.O_PATH | os.O_DIRECTORY)
    parent = os.path.dirname(workdir)
    _mount("tmpfs", parent, MS_NOSUID | MS_NODEV, "tmpfs", "size=64k,mode=0755")
    os.mkdir(workdir)
    _mount(f"/proc/self/fd/{keep}", workdir, MS_BIND)
    os.close(keep)
    _mount(None, parent, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "tmpfs")
    # bubblewrap mounted /tmp nosuid,nodev; a remount in a child namespace must keep those.
    _mount(None, tmp, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _drop_capabilities()


def probe_private_view(root: str) -> tuple[bool, str]:
    """Tries the view in a throwaway child: its folder writable, /tmp and a sibling not."""
    mine, sibling = os.path.join(root, "probe-a"), os.path.join(root, "probe-b")
    os.makedirs(mine, exist_ok=True)
    os.makedirs(sibling, exist_ok=True)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            enter_private_view(mine)
            os.chdir(mine)
            open("ok", "w").close()
            hidden = not os.path.exists(sibling)
            try:
                open(os.path.join(os.path.dirname(root), "iccgen-view-probe"), "w").close()
                msg = "/tmp is still writable inside the view"
            except OSError:
                msg = "" if hidden else "a sibling's folder is still visible inside the view"
        except OSError as exc:
            msg = f"cannot make a private mount namespace per program ({exc})"
        os.write(w, msg.encode()[:500])
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        msg = f.read().decode(errors="replace")
    os.waitpid(pid, 0)
    shutil.rmtree(root, ignore_errors=True)
    if msg:
        return False, msg
    return True, ("each program sees the pool's /tmp read-only, its siblings' folders hidden, "
                  "only its own folder writable (a user and mount namespace per program)")
