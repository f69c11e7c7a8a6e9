"""The tracer records what the code drew: the texts, counts and colours in the program."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sandbox" / "known_plot.py"


@pytest.fixture(scope="module")
def known(sb):
    r = sb.run(FIXTURE.read_text(), trace=True)
    assert r.ok, (r.error, r.traceback_tail)
    return r


def _texts(trace, role=None):
    return {t["text"]: t for t in trace["texts"] if role is None or t["role"] == role}


def test_summary_of_known_figure(known):
    s = known.trace["summary"]
    assert (s["lines"], s["patches"], s["collections"], s["axes"], s["images"]) == (2, 2, 1, 2, 0)
    assert set(s["text_strings"]) == {"Trig functions", "angle (rad)", "value", "peak", "sin(x)",
                                      "cos(x)", "points", "Geometry", "center", "Known figure"}
    assert s["titles"] == ["Trig functions", "Geometry", "Known figure"]
    assert s["legend_entries"] == ["sin(x)", "cos(x)", "points"]
    assert len(s["text_strings"]) == s["texts"]  # each text once


def test_texts_carry_style_and_position(known):
    texts = _texts(known.trace)
    center = texts["center"]
    assert center["color"] == "#800080" and center["fontsize"] == 14 and center["xy"] == [0.5, 0.5]
    assert center["axes"] == 1 and center["role"] == "text" and center["coords"] == "data"
    peak = texts["peak"]
    assert peak["role"] == "annotation" and peak["arrow"] and peak["xy"] == [3.0, 0.8]
    assert peak["xy_target"] == [pytest.approx(1.5708), 1.0]
    assert texts["angle (rad)"]["role"] == "xlabel" and texts["angle (rad)"]["axes"] == 0


def test_text_bboxes_are_inside_the_image_and_ordered(known):
    w, h = known.width, known.height
    for t in known.trace["texts"]:
        x0, y0, x1, y1 = t["bbox_px"]
        assert -1 <= x0 < x1 <= w + 1 and -1 <= y0 < y1 <= h + 1, t
    texts = _texts(known.trace)
    # Top-left origin: the suptitle is above the axes titles, which are above the x label.
    assert texts["Known figure"]["bbox_px"][3] <= texts["Trig functions"]["bbox_px"][1] + 1
    assert texts["Trig functions"]["bbox_px"][3] < texts["angle (rad)"]["bbox_px"][1]
    # The y label sits left of the y tick labels.
    ytick = next(t for t in known.trace["texts"] if t["role"] == "ytick" and t["axes"] == 0)
    assert texts["value"]["bbox_px"][2] <= ytick["bbox_px"][0]


def test_lines_keep_counts_and_style(known):
    sin, cos = known.trace["lines"]
    assert sin["label"] == "sin(x)" and sin["color"] == "#ff0000" and sin["linestyle"] == "--"
    assert cos["label"] == "cos(x)" and cos["color"] == "#0000ff" and cos["marker"] == "o"
    assert sin["n_points"] == 500 and len(sin["points"]) <= 16
    assert sin["x_range"] == [0.0, pytest.approx(6.28319)]
    assert sin["points"][0] == [0.0, 0.0]


def test_patches_and_collections(known):
    circle, rect = known.trace["patches"]
    assert circle["kind"] == "Circle" and circle["geometry"] == {"center": [0.5, 0.5], "radius": 0.3}
    assert circle["facecolor"] == "#ffff00" and circle["edgecolor"] == "#000000"
    assert rect["kind"] == "Rectangle" and rect["geometry"]["xy"] == [0.1, 0.1]
    assert rect["facecolor"] == "#00ff00"
    (scatter,) = known.trace["collections"]
    assert scatter["count"] == 3 and scatter["sizes"] == [10, 20, 30]
    assert scatter["facecolors"] == ["#008000"] and scatter["offsets"][2] == [3.0, -0.5]


def test_axes_records(known):
    ax0, ax1 = known.trace["axes"]
    assert ax0["title"] == {"center": "Trig functions"} and ax0["xlabel"] == "angle (rad)"
    assert ax0["legend"] == ["sin(x)", "cos(x)", "points"]
    assert ax1["xlim"] == [0, 1] and ax1["aspect"] == 1.0
    assert ax0["xticks"] == [0, 1, 2, 3, 4, 5, 6]  # only the ticks inside the view


def test_3d_view_and_images(sb):
    code = """
import numpy as np
import matplotlib.pyplot as plt
fig = plt.figure()
ax = fig.add_subplot(1, 2, 1, projection="3d")
X, Y = np.meshgrid(np.linspace(-1, 1, 20), np.linspace(-1, 1, 20))
ax.plot_surface(X, Y, X * Y, cmap="coolwarm")
ax.view_init(elev=35, azim=-60)
ax.set_zlabel("z = xy")
ax2 = fig.add_subplot(1, 2, 2)
im = ax2.imshow(np.arange(12).reshape(3, 4), cmap="viridis")
fig.colorbar(im, ax=ax2)
"""
    r = sb.run(code, trace=True)
    assert r.ok, r.error
    ax3d = r.trace["axes"][0]
    assert ax3d["kind"] == "3d" and ax3d["view"]["elev"] == 35 and ax3d["view"]["azim"] == -60
    assert ax3d["zlabel"] == "z = xy"
    assert r.trace["collections"][0]["kind"] == "Poly3DCollection"
    (img,) = r.trace["images"]
    assert img["shape"] == [3, 4] and img["cmap"] == "viridis" and img["clim"] == [0, 11]
    assert [a["kind"] for a in r.trace["axes"]] == ["3d", "rectilinear", "colorbar"]


def test_trace_is_bounded(sb):
    code = """
import numpy as np
import matplotlib.pyplot as plt
for i in range(250):
    plt.plot(np.arange(100), np.arange(100) * i, label=f"line {i}")
    plt.text(i / 3, i * 40, f"note {i}")
plt.scatter(np.arange(2000), np.arange(2000) * 10)
"""
    r = sb.run(code, trace=True)
    assert r.ok, r.error
    size = len(json.dumps(r.trace))
    assert size <= sb.limits.max_trace_bytes
    assert r.trace["truncated"] is True
    assert r.trace["summary"]["lines"] == 200  # the list cap; counts survive truncation
    assert r.trace["summary"]["dropped"] == {"lines": 50}


def test_every_corpus_program_renders_and_traces(sb, programs):
    """The shared corpus of realistic STEM programs (tests/fixtures/programs)."""
    results = {name: sb.run(code, trace=True) for name, code in programs.items()}
    failed = {n: (r.status.value, r.error) for n, r in results.items() if not r.ok}
    assert not failed
    for name, r in results.items():
        s = r.trace["summary"]
        assert s["axes"] >= 1 and s["texts"] >= 1, name
        assert len(json.dumps(r.trace)) <= sb.limits.max_trace_bytes
        for t in r.trace["texts"]:
            assert t["bbox_px"] is None or len(t["bbox_px"]) == 4


def test_hidden_axis_texts_are_not_reported(sb):
    code = ("import matplotlib.pyplot as plt\nfig, (a, b) = plt.subplots(1, 2)\n"
            "a.set_xlabel('hidden label')\na.axis('off')\na.set_title('shown title')\n"
            "b.set_xlabel('visible label')\n")
    r = sb.run(code, trace=True)
    roles = {(t["axes"], t["role"]) for t in r.trace["texts"]}
    assert (0, "xtick") not in roles and (1, "xtick") in roles
    assert "hidden label" not in r.trace["summary"]["text_strings"]
    assert {"shown title", "visible label"} <= set(r.trace["summary"]["text_strings"])
    assert [a["axis_on"] for a in r.trace["axes"]] == [False, True]
