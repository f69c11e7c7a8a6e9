"""How the pool process is launched: a clean environment, inside bubblewrap.

Runs in the driver. The pool sees a read-only system, the Python runtime and its packages,
this package (bound alone, away from the project), a private /tmp and no network. Without a
working bubblewrap the launch is refused, unless the caller asked for an unconfined pool.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfinementError

PACKAGE_DIR = Path(__file__).resolve().parent
JAIL_PKG_ROOT = "/opt/iccgen-sandbox"
# The host's prebuilt font cache, read-only; the pool copies it to a private, writable config
# dir so nothing a program writes there outlives the pool.
JAIL_MPL_SEED = "/var/cache/mplconfig"
JAIL_MPL_DIR = "/tmp/mplconfig"
JAIL_TMP_BYTES = 1 << 30
# Thread pools in BLAS would multiply memory and fight the pool's own parallelism.
_BASE_ENV = {
    "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
    "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg", "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "2",
}
# Capabilities the pool keeps inside the jail: become nobody, signal and clean up after it.
_JAIL_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_CHOWN", "CAP_FOWNER", "CAP_DAC_OVERRIDE")
HOW_TO_CONFINE = (
    "install bubblewrap (Debian: apt-get install bubblewrap); in a container, run it as root with "
    "--cap-add SYS_ADMIN,NET_ADMIN or as a non-root user with --security-opt systempaths=unconfined "
    "(Kubernetes: securityContext.procMount: Unmasked); 'iccgen doctor' shows every layer")


@dataclass(frozen=True)
class Launch:
    argv: list[str]
    env: dict[str, str]
    jailed: bool
    detail: str


def mpl_cache_dir() -> Path:
    """Where matplotlib's font cache is kept between pools (built once, ~2 s, outside any pool)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = base / "iccgen-sandbox" / "matplotlib"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        path = Path("/tmp") / f"iccgen-sandbox-mpl-{os.getuid()}"
        path.mkdir(mode=0o700, exist_ok=True)
    if not any(path.glob("fontlist-*.json")):
        # Built by matplotlib itself, running none of a program's code; the jail binds it read-only.
        subprocess.run([sys.executable, "-s", "-c", "import matplotlib.font_manager"],
                       env={**_BASE_ENV, "MPLCONFIGDIR": str(path)}, capture_output=True, timeout=120)
    return path


def _runtime_paths() -> list[str]:
    """Directories the interpreter and its packages live in."""
    import matplotlib
    import numpy
    import scipy

    paths = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    for mod in (numpy, scipy, matplotlib):
        paths.add(os.path.dirname(os.path.dirname(os.path.realpath(mod.__file__))))
    try:
        import pyseccomp
        paths.add(os.path.dirname(os.path.realpath(pyseccomp.__file__)))
    except ImportError:
        pass
    # Nested paths are covered by their parent's bind.
    kept: list[str] = []
    for p in sorted(paths, key=len):
        if not any(p == k or p.startswith(k + "/") for k in kept):
            kept.append(p)
    return kept


def _parents(path: str) -> list[str]:
    parts = Path(path).parts[1:-1]
    return ["/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _bwrap_argv(bwrap: str, mpl_dir: Path) -> list[str]:
    argv = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    for link in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{link}"):
            argv += ["--symlink", os.readlink(f"/{link}"), f"/{link}"]
        elif os.path.isdir(f"/{link}"):
            argv += ["--ro-bind", f"/{link}", f"/{link}"]
    # The private /tmp comes before the binds: mounted after, it would hide a runtime that
    # lives under /tmp (a CI checkout with its .venv there, say).
    argv += ["--size", str(JAIL_TMP_BYTES), "--tmpfs", "/tmp"]
    binds = _runtime_paths()
    # bwrap creates missing parents 0700; nobody must be able to walk to the runtime.
    parents = {p for b in binds + [f"{JAIL_PKG_ROOT}/sandbox", JAIL_MPL_SEED] for p in _parents(b)}
    for parent in sorted(parents - {"/tmp"}):
        argv += ["--perms", "0755", "--dir", parent]
    for path in binds:
        argv += ["--ro-bind", path, path]
    argv += ["--ro-bind", str(PACKAGE_DIR), f"{JAIL_PKG_ROOT}/sandbox",
             "--ro-bind", str(mpl_dir), JAIL_MPL_SEED,
             "--dev", "/dev", "--proc", "/proc", "--chdir", "/tmp",
             # Last: as a non-root caller the tmpfs root and /dev would be the caller's to write.
             "--remount-ro", "/dev", "--remount-ro", "/"]
    if os.geteuid() == 0:
        # As real root bwrap makes no user namespace and would keep every capability.
        argv += ["--cap-drop", "ALL"]
        for cap in _JAIL_CAPS:
            argv += ["--cap-add", cap]
    else:
        # Unprivileged: namespaces need a user namespace; the pool keeps the caller's uid.
        argv.insert(1, "--unshare-user")
    return argv + ["--"]


def _python_argv(pkg_root: str) -> list[str]:
    boot = (f"import sys; sys.path.insert(0, {pkg_root!r}); "
            "from sandbox.server import main; main()")
    return [sys.executable, "-s", "-P", "-B", "-c", boot]


@functools.lru_cache(maxsize=1)
def bwrap_status() -> tuple[str | None, str]:
    """The bwrap binary if it can make the namespaces we need here, and why (not)."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return None, "bwrap is not installed (Debian: apt-get install bubblewrap)"
    probe = [bwrap, "--unshare-ipc", "--unshare-pid", "--unshare-net", "--ro-bind", "/", "/",
             "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "true"]
    if os.geteuid() != 0:
        probe.insert(1, "--unshare-user")
    try:
        done = subprocess.run(probe, capture_output=True, timeout=20, env=_BASE_ENV)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"bwrap failed to run: {exc}"
    if done.returncode != 0:
        return None, f"bwrap cannot create namespaces here: {done.stderr.decode(errors='replace').strip()[:200]}"
    return bwrap, f"{bwrap}: private mount, pid, net, ipc and uts namespaces"


def launch(unconfined: bool = False) -> Launch:
    """The pool inside bubblewrap; ConfinementError where bubblewrap cannot work here.

    `unconfined=True` is the caller's explicit acceptance of running programs without the jail
    where the machine cannot provide it: bubblewrap is still used wherever it works.
    """
    mpl_dir = mpl_cache_dir()
    bwrap, why = bwrap_status()
    if bwrap is not None:
        env = {**_BASE_ENV, "MPLCONFIGDIR": JAIL_MPL_DIR, "ICCGEN_MPL_SEED": JAIL_MPL_SEED}
        return Launch(_bwrap_argv(bwrap, mpl_dir) + _python_argv(JAIL_PKG_ROOT), env, True, why)
    if not unconfined:
        raise ConfinementError(f"the sandbox needs bubblewrap, which is unusable here: {why}. "
                               f"To fix: {HOW_TO_CONFINE}")
    env = {**_BASE_ENV, "MPLCONFIGDIR": str(mpl_dir)}
    return Launch(_python_argv(str(PACKAGE_DIR.parent)), env, False,
                  f"UNCONFINED, as the caller accepted: {why}")
