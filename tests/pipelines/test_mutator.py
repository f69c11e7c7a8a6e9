"""The AST mutator: deterministic, always parseable, and its programs run and look different."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from pipelines.diversity.mutator import MutationError, mutate

SEEDS = (0, 1, 2)

# One warm interpreter renders every program: each in a fresh namespace, plt.show() -> PNG.
RENDERER = r"""
import base64, io, json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
for line in sys.stdin:
    buf = io.BytesIO()
    plt.show = lambda *a, **k: plt.gcf().savefig(buf, format="png", dpi=40)
    try:
        exec(compile(json.loads(line), "<program>", "exec"), {"__name__": "__main__"})
        out = {"png": base64.b64encode(buf.getvalue()).decode()} if buf.tell() else {"error": "no figure"}
    except Exception as e:
        out = {"error": f"{type(e).__name__}: {e}"}
    plt.close("all")
    print(json.dumps(out), flush=True)
"""


def render_all(codes: list[str]) -> list[dict]:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, "-c", RENDERER], input="".join(json.dumps(c) + "\n" for c in codes),
                          capture_output=True, text=True, env=env, timeout=300)
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_same_seed_same_output(programs):
    for code in programs.values():
        a = mutate(code, np.random.default_rng(7))
        b = mutate(code, np.random.default_rng(7))
        assert a == b


def test_every_mutation_parses_and_is_recorded(programs):
    for name, code in programs.items():
        for seed in range(10):
            m = mutate(code, np.random.default_rng(seed), n_mutations=4)
            ast.parse(m.code)
            assert 1 <= len(m.mutations) <= 4, name
            for record in m.mutations:
                assert set(record) == {"kind", "line", "old", "new"}
                json.dumps(record)


def test_mutations_cover_the_documented_kinds(programs):
    kinds = {r["kind"] for code in programs.values() for seed in range(10)
             for r in mutate(code, np.random.default_rng(seed), 4).mutations}
    assert {"constant", "style", "data", "color", "linestyle", "marker", "colormap", "text", "figsize",
            "grid", "legend", "chart"} <= kinds


def test_a_number_that_changes_only_looks_is_recorded_as_style():
    code = ("import numpy as np\nimport matplotlib.pyplot as plt\nR = 2.0\n"
            "plt.plot([0, R], [0, R], lw=1.5)\nplt.show()\n")
    kinds = {r["kind"]: r["old"] for seed in range(20) for r in mutate(code, np.random.default_rng(seed), 1).mutations}
    assert kinds.get("style") == "lw=1.5" and kinds.get("constant") == "R=2.0", kinds


def test_bar_swap_fixes_up_arguments_and_axes():
    code = ("import matplotlib.pyplot as plt\nfig, ax = plt.subplots()\n"
            "ax.barh(['a', 'b'], [1, 2], height=0.5)\nax.set_xlabel('value')\nax.invert_yaxis()\nplt.show()\n")
    for seed in range(40):
        m = mutate(code, np.random.default_rng(seed), n_mutations=6)
        if any(r["kind"] == "chart" for r in m.mutations):
            assert "ax.bar(" in m.code and "width=" in m.code and "set_ylabel" in m.code
            assert "invert_yaxis" not in m.code
            return
    pytest.fail("no seed drew the bar swap")


def test_unmutable_programs_raise_a_typed_error():
    with pytest.raises(MutationError, match="does not parse"):
        mutate("def (", np.random.default_rng(0))
    with pytest.raises(MutationError, match="no safe mutation site"):
        mutate("import matplotlib.pyplot as plt\nplt.show()\n", np.random.default_rng(0))


def test_mutated_programs_run_and_differ_from_their_parent(programs):
    names = list(programs)
    children = [mutate(programs[n], np.random.default_rng(s)).code for n in names for s in SEEDS]
    results = render_all([programs[n] for n in names] + children)
    parents, kids = results[: len(names)], results[len(names) :]
    assert all("png" in p for p in parents), [p.get("error") for p in parents]
    ran = [k for k in kids if "png" in k]
    assert len(ran) >= 0.95 * len(kids), [k.get("error") for k in kids if "error" in k]
    differ = sum(kid.get("png") != parents[i // len(SEEDS)]["png"] for i, kid in enumerate(kids) if "png" in kid)
    assert differ >= 0.95 * len(ran)

