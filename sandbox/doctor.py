"""Which isolation layers are active on this machine, checked from inside a sandboxed program.

Nothing is inferred from configuration alone: a probe program runs through a real pool and
reports what it can and cannot do, so a layer reads active only when it was observed working.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import SandboxError
from .limits import Limits
from .pool import Sandbox

# A file that exists on the host; the jail must hide it (the venv inside the project may show).
_HOST_SOURCE = str(Path(__file__).resolve())

_PROBE = '''
import json, os, resource, socket
facts = {"uid": os.getuid(), "env": sorted(os.environ), "cwd_entries": os.listdir("."),
         "project_visible": os.path.exists(%(source)r), "tmp": os.listdir("/tmp")}
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
        Layer("nobody", facts["uid"] == 65534, notes["nobody"] if facts["uid"] == 65534 else
              f"programs run as uid {facts['uid']}: {notes['nobody']}"),
        Layer("seccomp", facts["socket"].startswith("refused") and facts["fork"].startswith("refused"),
              f"{notes['seccomp']} (observed: socket {facts['socket']}, fork {facts['fork']})"),
        Layer("bubblewrap", jailed and not facts["project_visible"],
              info["jail_detail"] + ("" if not jailed else
                                     f"; {_HOST_SOURCE} visible inside: {facts['project_visible']}")),
        Layer("no_network", facts["interfaces"] == ["lo"] or facts["socket"].startswith("refused"),
              f"interfaces {facts['interfaces']}, socket {facts['socket']}"),
        Layer("private_tmp", jailed and all(e.startswith("jobs-") for e in facts["tmp"]),
              "a private tmpfs /tmp inside bubblewrap" if jailed else
              f"no bubblewrap: /tmp is the host's, and programs write there as uid {facts['uid']}"),
    ]


def doctor(limits: Limits | None = None, jail: bool | None = None) -> list[Layer]:
    """Starts a pool, runs the probe, and lists every layer with what was observed.

    `jail` as for Sandbox: None uses bubblewrap where it works, False shows the pool without it.
    """
    limits = limits or Limits()
    try:
        with Sandbox(limits, workers=1, jail=jail) as sb:
            info = sb.info()
            result = sb.run(_PROBE % {"source": _HOST_SOURCE})
    except SandboxError as exc:
        return [Layer("forkserver", False, f"the sandbox pool could not start: {exc}")]
    try:
        facts = json.loads(result.stdout_tail.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return [Layer("forkserver", True, "the pool started"),
                Layer("probe", False, f"the probe program failed: {result.status.value} {result.error}")]
    return _layers(info, facts, limits)
