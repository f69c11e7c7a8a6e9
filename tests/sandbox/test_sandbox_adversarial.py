"""Hostile and broken programs: each ends with the right status, and the pool keeps serving."""
from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from sandbox import Status

PROJECT_FILE = Path(__file__).resolve().parents[2] / "pyproject.toml"


SIMPLE_CASES = {
    "infinite_loop": ("while True:\n    pass\n", {Status.TIMEOUT}),
    "sleep_forever": ("import time\ntime.sleep(1000)\n", {Status.TIMEOUT}),
    "cpu_burn_numpy": ("import numpy as np\nwhile True:\n    np.linalg.svd(np.random.rand(300, 300))\n",
                       {Status.TIMEOUT}),
    "memory_bomb": ("x = bytearray(50 * 1024**3)\n", {Status.MEMORY}),
    "memory_bomb_numpy": ("import numpy as np\nxs = [np.ones(10**7) for _ in range(1000)]\n", {Status.MEMORY}),
    "memory_bomb_matrix": ("import numpy as np\nm = np.zeros((10**6, 10**6))\n", {Status.MEMORY}),
    "sys_exit_nonzero": ("import sys\nsys.exit(3)\n", {Status.RUNTIME_ERROR}),
    "os_exit": ("import os\nos._exit(0)\n", {Status.RUNTIME_ERROR}),
    "segfault_ctypes": ("import ctypes\nctypes.string_at(0)\n", {Status.KILLED}),
    "deep_recursion": ("def f(n):\n    return f(n + 1)\nf(0)\n", {Status.RUNTIME_ERROR}),
    "syntax_error": ("def broken(:\n    pass\n", {Status.SYNTAX_ERROR}),
    "no_figure": ("x = 1 + 1\n", {Status.NO_FIGURE}),
    "huge_figsize": ("import matplotlib.pyplot as plt\nplt.figure(figsize=(5000, 5000))\nplt.plot([1, 2])\n",
                     {Status.OUTPUT_TOO_LARGE}),
    "usetex": ("import matplotlib.pyplot as plt\nplt.rcParams['text.usetex'] = True\n"
               "plt.plot([1, 2])\nplt.title('$x$')\n", {Status.RUNTIME_ERROR}),
}


@pytest.mark.parametrize("name", sorted(SIMPLE_CASES))
def test_case_then_pool_still_serves(sb, still_works, name):
    code, expected = SIMPLE_CASES[name]
    r = sb.run(code)
    assert r.status in expected, (r.status, r.error, r.traceback_tail)
    assert r.error and r.png is None
    still_works(sb)


def test_timeout_says_where(sb):
    r = sb.run("x = 0\nwhile True:\n    x += 1\n")
    assert r.status is Status.TIMEOUT
    assert "(line 3)" in r.error or "(line 2)" in r.error, r.error


def test_runtime_error_traceback_is_the_programs(sb):
    r = sb.run("import numpy as np\n\ndef f():\n    return 1 / np.zeros((2, 3)) @ np.ones(4)\nf()\n")
    assert r.status is Status.RUNTIME_ERROR
    assert r.error.startswith("ValueError") and "(line 4)" in r.error
    assert 'File "program.py", line 5' in r.traceback_tail
    assert "child.py" not in r.traceback_tail


def test_fork_bomb(sb, info, still_works):  # as root without either, nothing stops a fork bomb
    r = sb.run("import os\nwhile True:\n    os.fork()\n")
    assert r.status in {Status.RUNTIME_ERROR, Status.TIMEOUT}, r.error
    still_works(sb)


def test_thread_bomb(sb, still_works):
    r = sb.run("import threading, time\nfor _ in range(5000):\n"
               "    threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n")
    assert r.status in {Status.RUNTIME_ERROR, Status.MEMORY, Status.TIMEOUT}, r.error
    still_works(sb)


@pytest.mark.parametrize("code", [
    "import subprocess\nsubprocess.run(['id'])\n",
    "import os\nos.execv('/bin/sh', ['sh', '-c', 'id'])\n",
])
def test_no_exec(sb, info, still_works, code):
    r = sb.run(code)
    assert r.status is Status.RUNTIME_ERROR and "PermissionError" in r.error, r.error
    still_works(sb)


def test_os_system_runs_nothing(sb, info, still_works):
    r = sb.run("import os\nrc = os.system('touch pwned')\nprint(rc, os.path.exists('pwned'))\n"
               "import matplotlib.pyplot as plt\nplt.plot([1])\n")
    assert r.ok and r.stdout_tail.split()[1] == "False", r.stdout_tail
    still_works(sb)


def test_socket_to_host_listener_fails(sb, info, still_works):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(1)
    accepted = []
    t = threading.Thread(target=lambda: _accept(listener, accepted), daemon=True)
    t.start()
    port = listener.getsockname()[1]
    r = sb.run(f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
               "s.sendall(b'exfiltrated')\n")
    t.join(5)
    listener.close()
    assert r.status is Status.RUNTIME_ERROR, r.error
    assert accepted == []
    still_works(sb)


def _accept(listener: socket.socket, accepted: list) -> None:
    try:
        accepted.append(listener.accept())
    except OSError:
        pass


def test_environment_holds_no_secret(sb, secret, still_works):
    assert os.environ["ICCGEN_SANDBOX_TEST_SECRET"] == secret  # planted in the driver
    code = (
        "import os, glob\n"
        "found = [repr(dict(os.environ))]\n"
        "for path in ['/proc/self/environ', '/proc/%d/environ' % os.getppid(), '/proc/1/environ']:\n"
        "    try:\n"
        "        found.append(open(path, 'rb').read().decode(errors='replace'))\n"
        "    except OSError as e:\n"
        "        found.append(type(e).__name__)\n"
        "print('\\n'.join(found))\n"
        "import matplotlib.pyplot as plt\nplt.plot([1])\n"
    )
    r = sb.run(code)
    assert r.ok, r.error
    assert secret not in r.stdout_tail
    assert "OPENAI_API_KEY" not in r.stdout_tail
    still_works(sb)


def test_cannot_write_outside_workdir(sb, info, still_works, tmp_path):
    os.chmod(tmp_path, 0o755)
    targets = [tmp_path / "evil.txt", Path("/etc/iccgen-evil"), PROJECT_FILE.parent / "evil.txt"]
    code = "import os\nok = []\n"
    for t in targets:
        code += (f"try:\n    open({str(t)!r}, 'w').write('x')\n    ok.append({str(t)!r})\n"
                 "except OSError:\n    pass\n")
    code += "print(ok)\nopen('inside.txt', 'w').write('fine')\nimport matplotlib.pyplot as plt\nplt.plot([1])\n"
    r = sb.run(code)
    assert r.ok, r.error
    assert r.stdout_tail.strip() == "[]"
    assert not any(t.exists() for t in targets)
    still_works(sb)


def test_tmp_is_private(sb, info, still_works):
    marker = Path("/tmp") / "iccgen-sandbox-private-tmp-check"
    r = sb.run("import os\nprint(os.path.exists('/tmp'), os.listdir('/tmp'))\n"
               "import matplotlib.pyplot as plt\nplt.plot([1])\n")
    assert r.ok and "iccgen" not in r.stdout_tail and not marker.exists()
    still_works(sb)


def test_huge_file_is_cut(sb, still_works):
    r = sb.run("with open('big.bin', 'wb') as f:\n    for _ in range(100):\n        f.write(b'x' * 2**20)\n")
    assert r.status is Status.RUNTIME_ERROR and "File too large" in r.error, r.error
    still_works(sb)


def test_project_files_are_invisible(sb, info, still_works):
    r = sb.run(f"print(open({str(PROJECT_FILE)!r}).read())\n")
    assert r.status is Status.RUNTIME_ERROR and "FileNotFoundError" in r.error, r.error
    still_works(sb)


@pytest.mark.parametrize("target", ["os.getppid()", "-1", "1"])
def test_killing_the_pool_fails(sb, info, still_works, target):
    restarts = info_restarts(sb)
    r = sb.run(f"import os, signal\nos.kill({target}, signal.SIGKILL)\n")
    assert r.status is Status.RUNTIME_ERROR and "PermissionError" in r.error, r.error
    still_works(sb)
    assert info_restarts(sb) == restarts


def info_restarts(sb) -> int:
    return sb.info()["restarts"]


def test_100000_dpi_savefig_renders_at_configured_dpi(sb, still_works):
    r = sb.run("import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig('out.png', dpi=100000)\n")
    assert r.ok and (r.width, r.height) == (800, 600)
    still_works(sb)


def test_thousands_of_figures(sb, still_works):
    r = sb.run("import matplotlib.pyplot as plt\nfor i in range(2000):\n    plt.figure()\n"
               "plt.plot([1, 2])\nplt.title('last of many')\n", trace=True)
    assert r.status in {Status.OK, Status.TIMEOUT, Status.MEMORY}, r.error
    if r.ok:
        assert r.trace["summary"]["titles"] == ["last of many"]
    still_works(sb)


def test_stdout_flood_is_bounded(sb, still_works):
    r = sb.run("for i in range(50000):\n    print('line', i)\nimport matplotlib.pyplot as plt\nplt.plot([1])\n")
    assert r.ok, r.error
    assert len(r.stdout_tail) <= sb.limits.tail_chars
    assert r.stdout_tail.endswith("line 49999\n")
    r = sb.run("import os\nwhile True:\n    os.write(1, b'x' * 65536)\n")
    assert r.status is Status.TIMEOUT
    still_works(sb)


def test_tampered_report_is_not_trusted(sb, still_works):
    # The program writes a fake "ok" report straight onto the result pipe and exits.
    code = ("import os, json, struct\nhead = json.dumps({'status': 'ok', 'error': ''}).encode()\n"
            "png = b'not a png'\nos.write(4, struct.pack('>II', len(head), len(png)) + head + png)\n"
            "os._exit(0)\n")
    r = sb.run(code)
    assert r.status is Status.KILLED and "tampered" in r.error and r.png is None
    still_works(sb)
