"""Which isolation layers are active on this machine, checked from inside a sandboxed program.

Nothing is inferred from configuration alone: a probe program runs through a real pool and
reports what it can and cannot do, so a layer reads active only when it was observed working.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass

from .errors import ConfinementError, SandboxError
from .jail import JAIL_TMP_BYTES
from .limits import Limits
from .pool import Sandbox


_PROBE = '''
import json, os, resource, socket
facts = {"uid": os.getuid(), "env": sorted(os.environ), "cwd_entries": os.listdir("."),
         "host_file_visible": os.path.exists(%(marker)r), "tmp": os.listdir("/tmp")}
facts["rlimits"] = {n: resource.getrlimit(getattr(resource, "RLIMIT_" + n))[0]
                    for n in ("CPU", "AS", "FSIZE", "NPROC", "NOFILE")}
try:
    socket.socket().close(); facts["socket"] = "allowed"
except OSError as e:
    facts["socket"] = "refused: " + e.strerror
try:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0); facts["fork"] = "allowed"
except OSError as e:
    facts["fork"] = "refused: " + e.strerror
with open("/proc/net/dev") as f:
    facts["interfaces"] = [l.split(":")[0].strip() for l in f.readlines()[2:]]
try:
    resource.prlimit(os.getppid(), resource.RLIMIT_CPU); facts["reach_pool"] = "allowed"
except OSError as e:
    facts["reach_pool"] = "refused: " + e.strerror
facts["writable"] = []
for d in ("/", "/etc", "/usr", "/dev/shm", "/tmp", os.environ.get("MPLCONFIGDIR", "/nonexistent")):
    try:
        open(os.path.join(d, "iccgen-probe"), "w").close(); facts["writable"].append(d)
    except OSError:
        pass
print(json.dumps(facts))
'''


@dataclass(frozen=True)
class Layer:
    name: str
    active: bool
    detail: str

    def to_dict(self) -> dict:
        return asdict(self)


def _layers(info: dict, facts: dict, limits: Limits) -> list[Layer]:
    notes, rl = info["notes"], facts["rlimits"]
    jailed = info["jailed"]
    unprivileged = facts["uid"] != 0
    return [
        Layer("forkserver", True, f"warm pool, Python {info['python']}, numpy/scipy/matplotlib "
              f"imported in {info['warm_seconds']:.1f} s; one fork per program, forked ahead"),
        Layer("rlimits", rl["CPU"] > 0 and rl["AS"] > 0,
              f"cpu {rl['CPU']} s, address space {rl['AS'] >> 20} MB, file size {rl['FSIZE'] >> 20} MB, "
              f"processes {rl['NPROC']}, open files {rl['NOFILE']}"),
        Layer("wall_clock_kill", True, f"the pool SIGKILLs the program's process group after "
              f"{limits.wall_seconds:g} s; the program gets a catchable warning 1 s before"),
        Layer("private_workdir", facts["cwd_entries"] == [], "each program starts in an empty "
              "directory of its own, removed afterwards"),
        Layer("clean_environment", set(facts["env"]) <= {"HOME", "TMPDIR"},
              f"program sees only {facts['env']}; the pool was started without the driver's environment"),
        Layer("nobody", unprivileged, notes["nobody"] if unprivileged else
              f"programs run as uid {facts['uid']} (root): {notes['nobody']}"),
        Layer("seccomp", facts["socket"].startswith("refused") and facts["fork"].startswith("refused"),
              f"{notes['seccomp']} (observed: socket {facts['socket']}, fork {facts['fork']})"),
        Layer("others_out_of_reach", facts["reach_pool"].startswith("refused"),
              "signals, rlimits, priorities and affinities of other processes are refused "
              f"(observed: prlimit on the pool {facts['reach_pool']})"),
        Layer("bubblewrap", jailed and not facts["host_file_visible"],
              info["jail_detail"] + ("" if not jailed else
                                     f"; a file in the host's /tmp visible inside: {facts['host_file_visible']}")),
        Layer("read_only_system", not facts["writable"],
              "/, /etc, /usr, /dev/shm, /tmp and matplotlib's config are read-only" if not facts["writable"]
              else f"programs can write {facts['writable']}"),
        Layer("no_network", facts["interfaces"] == ["lo"] or facts["socket"].startswith("refused"),
              f"interfaces {facts['interfaces']}, socket {facts['socket']}"),
        Layer("private_tmp", jailed and all(e.startswith(("jobs-", "mplconfig")) for e in facts["tmp"]),
              f"a private tmpfs /tmp inside bubblewrap, {JAIL_TMP_BYTES >> 20} MiB for the pool's "
              "programs together; memfd refused; no per-program cgroup limit"
              + (f"; {notes['private_view']}" if "private_view" in notes else "") if jailed else
              f"no bubblewrap: /tmp is the host's, and programs write there as uid {facts['uid']}"),
    ]


def doctor(limits: Limits | None = None) -> list[Layer]:
    """Every layer with what was observed; the first, `confinement`, says whether a pool starts.

    Where the required layers are missing, the probe (our own program, not a user's) runs in an
    unconfined pool, so the report still shows what this machine does and does not provide.
    """
    limits = limits or Limits()
    try:
        layers = _probe(limits, unconfined=False)
        return [Layer("confinement", True, "every required layer is active: programs run here")] + layers
    except ConfinementError as exc:
        refusal = Layer("confinement", False, str(exc))
    try:
        return [refusal] + _probe(limits, unconfined=True)
    except SandboxError as exc:
        return [refusal, Layer("forkserver", False, f"the sandbox pool could not start: {exc}")]


def _probe(limits: Limits, unconfined: bool) -> list[Layer]:
    """Runs the probe in a pool; ConfinementError when a required pool cannot start."""
    # A file the host has and the jail must hide.
    with tempfile.NamedTemporaryFile(prefix="iccgen-doctor-") as marker, \
            Sandbox(limits, workers=1, unconfined=unconfined) as sb:
        info = sb.info()
        result = sb.run(_PROBE % {"marker": marker.name})
    try:
        facts = json.loads(result.stdout_tail.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return [Layer("forkserver", True, "the pool started"),
                Layer("probe", False, f"the probe program failed: {result.status.value} {result.error}")]
    return _layers(info, facts, limits)
