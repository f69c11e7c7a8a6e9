"""Solid Geometry Synthesis templates: programs run, captions match θ, nets fold, answers hold."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from pipelines.solid import FAMILIES, SolidSample, generate
from pipelines.solid import (base, combined_solid, cube_net, cross_section, given, kernels, labels, layout, nets, polyhedron,
                             round_section, spatial_curve, surface_integral, three_view, voxels)

FOUNDATION = ["cube_net", "three_view", "cube_stack", "polyhedron"]
ALL = FOUNDATION + ["cross_section", "combined_solid", "spatial_curve", "surface_integral"]
SEEDS = [0, 1, 2]

RUNNER = """
import json, sys
import matplotlib.pyplot as plt
out = []
for code in json.load(sys.stdin):
    plt.close("all")
    exec(compile(code, "<template>", "exec"), {"__name__": "__main__"})
    figs = [plt.figure(n) for n in plt.get_fignums()]
    artists = sum(len(ax.lines) + len(ax.patches) + len(ax.texts) + len(ax.collections)
                  for f in figs for ax in f.axes)
    for f in figs:
        f.canvas.draw()
    out.append([len(figs), artists])
print(json.dumps(out))
"""


def samples() -> list[SolidSample]:
    return [generate(f, np.random.default_rng(s), difficulty=1 + s % 3) for f in FAMILIES for s in SEEDS]


def test_all_eight_families_registered():
    assert sorted(FAMILIES) == sorted(ALL)
    assert all(FAMILIES[name].name == name for name in FAMILIES)


def test_programs_are_standalone_and_render():
    batch = samples()
    for s in batch:
        compile(s.code, s.template, "exec")
        assert s.code.rstrip().endswith("plt.show()")
        for banned in ("savefig", "open(", "iccgen", "pipelines", "import os", "requests"):
            assert banned not in s.code, (s.template, banned)
        json.dumps(s.params)
    env = {"PATH": os.environ.get("PATH", ""), "MPLBACKEND": "Agg", "HOME": os.environ.get("HOME", "/tmp")}
    run = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps([s.code for s in batch]),
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    for s, (figs, artists) in zip(batch, json.loads(run.stdout.splitlines()[-1])):
        assert figs == 1 and artists >= 3, s.template


def test_same_output_in_another_process():
    """No set or hash order leaks into the output: another interpreter gives the same bytes."""
    here = [[s.code, s.caption] for s in (generate(f, np.random.default_rng(11), 3) for f in ALL)]
    script = ("import numpy as np, json; from pipelines.solid import generate; "
              f"print(json.dumps([[s.code, s.caption] for s in (generate(f, np.random.default_rng(11), 3) "
              f"for f in {ALL!r})]))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONHASHSEED="123", MPLBACKEND="Agg"), cwd=root)
    assert json.loads(out.stdout) == here, out.stderr[-500:]


@pytest.mark.parametrize("family", ALL)
def test_deterministic(family):
    a = generate(family, np.random.default_rng(7), 2)
    b = generate(family, np.random.default_rng(7), 2)
    assert a == b
    assert FAMILIES[family].build(json.loads(json.dumps(a.params))) == a


@pytest.mark.parametrize("family", ALL)
def test_captions_vary(family):
    firsts = {generate(family, np.random.default_rng(s), 2).caption.split(" ")[:3].__str__() for s in range(12)}
    assert len(firsts) >= 2


# --- cube nets -------------------------------------------------------------------------------

def rotation(axis_point, axis_dir, angle):
    """4x4 rigid motion: rotation by angle about the line through axis_point along axis_dir."""
    d = np.asarray(axis_dir, float) / np.linalg.norm(axis_dir)
    k = np.array([[0, -d[2], d[1]], [d[2], 0, -d[0]], [-d[1], d[0], 0]])
    r = np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    m = np.eye(4)
    m[:3, :3] = r
    m[:3, 3] = np.asarray(axis_point) - r @ np.asarray(axis_point)
    return m


def fold_geometrically(cells):
    """Independent fold: hinge every square down by 90° about its edge, composing rigid motions
    along the tree from the first square; returns the 3-D centre of each square."""
    cells = list(cells)
    motion = {cells[0]: np.eye(4)}
    todo = [cells[0]]
    while todo:
        c, r = todo.pop()
        for dc, dr in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            nb = (c + dc, r + dr)
            if nb in cells and nb not in motion:
                # page coords: x = col, y = -row; the shared edge's midpoint and direction
                mid = np.array([c + 0.5 + dc / 2, -(r + 0.5) - dr / 2, 0.0])
                edge = np.array([dr, dc, 0.0])  # along the shared edge
                step = np.array([dc, -dr, 0.0])
                hinge = rotation(mid, edge, np.pi / 2)
                if (hinge[:3, :3] @ step)[2] > 0:  # fold the paper downwards (labels stay outside)
                    hinge = rotation(mid, edge, -np.pi / 2)
                motion[nb] = motion[(c, r)] @ hinge
                todo.append(nb)
    return {cell: (m @ np.array([cell[0] + 0.5, -cell[1] - 0.5, 0, 1]))[:3] for cell, m in motion.items()}


def test_eleven_distinct_nets_that_fold():
    all_nets = nets.all_nets()
    assert len(all_nets) == 11
    assert len({nets.canonical(n) for n in all_nets}) == 11
    assert Counter(nets.arrangement(n) for n in all_nets) == {"1-4-1": 6, "2-3-1": 3, "2-2-2": 1, "3-3": 1}
    for net in all_nets:
        centres = np.array(list(fold_geometrically(net).values()))
        centre = centres.mean(axis=0)
        offsets = np.round(centres - centre, 6)
        assert sorted(map(tuple, np.abs(offsets))) == sorted([(0.5, 0, 0)] * 2 + [(0, 0.5, 0)] * 2 + [(0, 0, 0.5)] * 2)
        normals = {cell: np.array(f["n"]) for cell, f in nets.fold(net).items()}
        for cell, off in zip(fold_geometrically(net), offsets):
            assert np.allclose(off * 2, normals[cell])  # both folds agree face by face


def test_a_hexomino_that_is_no_net_does_not_fold():
    assert nets.fold(((0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (5, 0))) is None
    assert nets.fold(((0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (3, 0))) is None


def cross_params(question: str, focus: str, front: str | None = None) -> dict:
    cross = ((0, 1), (1, 0), (1, 1), (1, 2), (2, 1), (3, 1))  # B on top of C; A C E F in a row; D below
    index = next(i for i, n in enumerate(nets.all_nets()) if nets.canonical(n) == nets.canonical(cross))
    k = next(k for k in range(8) if nets.transform(nets.all_nets()[index], k) == cross)
    return {"net": index, "symmetry": k, "labels": list("ABCDEF"), "question": question, "focus": focus,
            "front": front, "style": 0, "colors": None, "cube": None, "cube_at": "right"}


def test_cube_net_known_answers():
    build = FAMILIES["cube_net"].build
    assert build(cross_params("opposite", "A")).answer == "E"
    assert build(cross_params("opposite", "B")).answer == "D"
    assert build(cross_params("adjacent", "C")).answer == "A, B, D, E"
    # C face down, D toward the viewer: seen from above the net is mirrored, so A is on the right
    assert build(cross_params("right", "C", "D")).answer == "A"
    assert build(cross_params("right", "C", "B")).answer == "E"
    fold = cross_params("fold", "C", "D")
    fold["cube"] = cube_net._cube(fold, "C", "D", valid=True, subtle=False)
    assert fold["cube"] == {"top": "F", "front": "D", "right": "A", "valid": True}
    assert build(fold).answer == "yes"
    fold["cube"] = cube_net._cube(fold, "C", "D", valid=False, subtle=True)
    assert build(fold).answer == "no" and build(fold).template == "cube_net/1-4-1/fold"
    sample = build(cross_params("opposite", "A"))
    assert sample.template == "cube_net/1-4-1"
    assert "A–E" in sample.caption and "B–D" in sample.caption and "C–F" in sample.caption
    assert "row 2: A (column 1), C (column 2), E (column 3), F (column 4)" in sample.caption


# --- cube stacks and three-views ----------------------------------------------------------------

def test_cube_stack_caption_and_answer_match_heights():
    for seed in range(6):
        s = generate("cube_stack", np.random.default_rng(seed), 1 + seed % 3)
        h = s.params["heights"]
        assert voxels.every_column_seen(h, s.params["view"])
        n = sum(map(sum, h))
        box = len(h) * len(h[0]) * max(map(max, h))
        assert s.answer == str(n if s.params["question"] == "count" else box - n)
        assert voxels.rows_text(h) in s.caption
        assert f"HEIGHTS = [{h[0]}" in s.code


def test_hidden_column_is_detected():
    front_right = {"kind": "ortho", "azim": 30, "elev": 20}
    assert not voxels.every_column_seen([[3, 3], [1, 1]], front_right)  # short columns behind tall ones
    assert voxels.every_column_seen([[1, 1], [3, 3]], front_right)


def test_three_view_lines_known_case():
    views = three_view.view_arrays([[3, 0], [1, 2]])  # front row: 3, 0; back row: 1, 2
    visible, hidden = (kernels.merge(s) for s in kernels.view_lines(views["Front view"]))
    assert hidden == [((0, 1), (1, 1))]  # the short back column hides behind the tall front one
    assert ((1, 0), (1, 3)) in visible and ((1, 2), (2, 2)) in visible
    _, top_hidden = kernels.view_lines(views["Top view"])
    assert top_hidden == []


def test_third_angle_layout():
    views = three_view.view_arrays([[1], [2]], "third-angle")  # one column of cells: front 1 high, back 2
    assert list(views) == ["Top view", "Front view", "Right view"]
    # seen from the right, the front of the solid is on the left
    assert views["Right view"][:, 0, :].tolist() == [[True, False], [True, True]]
    p = {"heights": [[1, 2], [2, 2]], "view": {"kind": "ortho", "azim": 30, "elev": 20}, "variant": "solid",
         "layout": "third-angle", "style": 1}
    s = FAMILIES["three_view"].build(p)
    assert "third-angle" in s.caption and "top, front and right views" in s.caption
    assert "PANELS = {'Top view': (0, 0), 'Front view': (1, 0), 'Right view': (1, 1)}" in s.code


def test_three_view_question():
    for seed in range(6):
        s = generate("three_view", np.random.default_rng(seed), 2)
        if "dashed" not in s.question:
            assert s.answer == str(sum(map(sum, s.params["heights"])))
        else:
            title = s.question.split("in the ")[1].rstrip("?").capitalize()
            _, hidden = kernels.view_lines(three_view.view_arrays(s.params["heights"], s.params["layout"])[title])
            assert s.answer == str(len(kernels.merge(hidden)))


# --- polyhedra ------------------------------------------------------------------------------------

def test_cube_hidden_edges_known_case():
    p = {"solid": "cube", "a": 4, "b": None, "h": None, "n": None, "apex": None, "show_dims": True,
         "style": 0, "view": {"kind": "oblique", "angle": 45}}
    s = FAMILIES["polyhedron"].build(p)
    assert s.answer == "AD, CD, DD1"
    assert "8 vertices, 12 edges and 6 faces" in s.caption and "AB = 4" in s.caption


def polyhedral(family: str, count: int) -> list[tuple[int, dict]]:
    """(seed, θ) of the first samples that are polyhedra (cross-sections also cut round solids)."""
    out = []
    for seed in range(100):
        p = FAMILIES[family].sample(np.random.default_rng(seed), 1 + seed % 3)
        if p.get("solid") not in cross_section.ROUND:
            out.append((seed, p))
        if len(out) == count:
            return out
    return out


def test_corner_pyramid():
    p = {"solid": "corner_pyramid", "a": 4, "b": None, "h": 3, "n": 4, "apex": "P", "show_dims": True,
         "style": 0, "view": {"kind": "oblique", "angle": 45}, "diagonal": None}
    s = FAMILIES["polyhedron"].build(p)
    solid = polyhedron.make_solid(p)
    assert solid.verts["P"] == solid.verts["A"][:2] + (3.0,)  # the apex stands right above A
    assert "with PA perpendicular to the base" in s.caption and "height PA = 3" in s.caption
    assert "5 vertices, 8 edges and 5 faces" in s.caption
    assert s.answer == "AD, CD, DP"  # the faces PCD, PDA and the base turn away from the viewer


def test_frustum():
    p = {"solid": "frustum", "a": 4, "b": 2, "h": 3, "n": 4, "apex": None, "show_dims": True,
         "style": 0, "view": {"kind": "oblique", "angle": 45}, "diagonal": None}
    s = FAMILIES["polyhedron"].build(p)
    solid = polyhedron.make_solid(p)
    top = [solid.verts[k + "_1"] for k in "ABCD"]
    assert np.allclose(np.ptp(np.array(top), axis=0), [2, 2, 0])  # a 2 by 2 top at height 3
    assert "8 vertices, 12 edges and 6 faces" in s.caption and "A1B1 = 2" in s.caption
    assert "altitude OO1" in s.caption and s.answer == "AD, CD, DD1"


def test_cube_diagonal_known_case():
    p = {"solid": "cube", "a": 4, "b": None, "h": None, "n": None, "apex": None, "show_dims": True,
         "style": 0, "view": {"kind": "oblique", "angle": 45}, "diagonal": ["A", "C_1"]}
    s = FAMILIES["polyhedron"].build(p)
    assert s.answer == "4√3" and s.question == "Find the length of the diagonal AC1."
    assert "The space diagonal AC1 is drawn dashed, through the inside of the solid." in s.caption
    p |= {"solid": "cuboid", "b": 3, "h": 2, "diagonal": ["A", "C"]}
    s = FAMILIES["polyhedron"].build(p)
    assert s.answer == "5" and "face diagonal AC is drawn dashed, on a hidden face" in s.caption


@pytest.mark.parametrize("family, seed, p",
                         [(f, *sp) for f in ("polyhedron", "cross_section") for sp in polyhedral(f, 6)])
def test_labels_clear_lines_and_each_other(family, seed, p):
    if family == "polyhedron":
        solid, section = polyhedron.make_solid(p), None
    else:
        solid = cross_section.make_solid(p)
        section, _ = cross_section.named_section(solid, p["cuts"])
    fig = polyhedron.figure3d.figure(solid, p, section)
    assert len(solid.verts) + len(solid.faces) - len(fig["visibility"]) == 2  # Euler
    placed = []
    for name, off in fig["offsets"].items():
        r = polyhedron.figure3d.layout.text_radius(fig["texts"][name], fig["inch"])
        centre = np.add(fig["anchors"][name], off)
        gap = labels.clearance(centre, r, fig["segments"], fig["discs"] + placed)
        assert gap > -0.15 * r, (name, gap)
        placed.append((centre, r))


# --- cross-sections, combined solids, curves, surfaces ----------------------------------------------

def cube_cut(cuts: list) -> SolidSample:
    p = {"solid": "cube", "a": 4, "b": None, "h": None, "n": None, "apex": None, "show_dims": False,
         "style": 0, "view": {"kind": "oblique", "angle": 45}, "cuts": cuts}
    return FAMILIES["cross_section"].build(p)


def test_cross_section_known_shapes():
    corner = cube_cut([["A", "B", 1, 2], ["A", "D", 1, 2], ["A", "A_1", 1, 2]])
    assert corner.answer == "equilateral triangle"
    assert "M is the midpoint of AB" in corner.caption
    hexagon = cube_cut([["A", "B", 1, 2], ["B_1", "C_1", 1, 2], ["D", "D_1", 1, 2]])
    assert hexagon.answer == "regular hexagon" and "6 vertices" in hexagon.caption
    diagonal = cube_cut([["A", "B", 0, 1], ["C", "D", 0, 1], ["C_1", "D_1", 0, 1]])
    assert diagonal.answer == "rectangle"  # A C C1 A1
    assert "SECTION = {" in diagonal.code


def test_cross_section_samples_are_proper_sections():
    for seed, p in polyhedral("cross_section", 6):
        s = FAMILIES["cross_section"].build(p)
        solid = cross_section.make_solid(s.params)
        points, _ = cross_section.named_section(solid, s.params["cuts"])
        assert 3 <= len(points) <= 6 and f"{len(points)} vertices" in s.caption


def test_combined_solid_volumes():
    p = {"kind": "cylinder_cone", "r": 2, "h1": 3, "h0": None, "h2": 3, "elev": 20, "side": 1, "style": 0}
    assert FAMILIES["combined_solid"].build(p).answer == "16π"  # 12π + 4π
    p = {"kind": "cylinder_hemisphere", "r": 1.5, "h1": 2, "h0": None, "h2": None, "elev": 20, "style": 0}
    assert combined_solid.volume(p) == "27π/4"  # 4.5π + 2.25π
    p = {"kind": "cone_cylinder_hemisphere", "r": 2, "h1": 3, "h0": 3, "h2": None, "elev": 20, "side": -1, "style": 1}
    assert combined_solid.volume(p) == "64π/3"  # 12π + 4π + 16π/3
    sample = FAMILIES["combined_solid"].build(p)
    assert "a hemisphere of the same radius on top and a cone of the same radius below" in sample.caption
    assert "cone height 3" in sample.caption and sample.template == "combined_solid/cone_cylinder_hemisphere"
    p = {"kind": "hemisphere_cylinder_hemisphere", "r": 3, "h1": 2, "h0": None, "h2": None, "elev": 20}
    assert combined_solid.volume(p) == "54π"  # 18π + 36π
    p = {"kind": "prism_pyramid", "r": 3, "h1": 4, "h2": 2}
    assert combined_solid.volume(p) == "42"


def test_combined_solid_parts_match_kind():
    for seed in range(12):
        s = generate("combined_solid", np.random.default_rng(seed), 1 + seed % 3)
        if s.params["kind"] == "prism_pyramid":
            continue
        stack = combined_solid.stack(s.params)
        for cap, up in ((stack.top, True), (stack.bottom, False)):
            drawn = f"{'cone' if cap == 'cone' else 'dome'}_cap(ax, {'top' if up else '0'}"
            assert (drawn in s.code) == (cap != "flat"), (s.template, cap)
        assert f"cylinder height {s.params['h1']:g}" in s.caption


def round_params(solid: str, r: int, h: int, d: int, phi: int = -70) -> dict:
    return {"solid": solid, "r": r, "h": h, "d": d, "phi": phi, "elev": 20, "side": 1, "style": 0}


def test_surd():
    assert [base.surd(n) for n in (1, 7, 36, 72, 48)] == ["1", "√7", "6", "6√2", "4√3"]


def test_round_section_known_answers():
    axial = FAMILIES["cross_section"].build(round_params("cylinder", 3, 5, 0))
    assert axial.answer == "30" and axial.template == "cross_section/cylinder"  # 6 by 5
    assert "is a rectangle" in axial.caption and "containing the axis" in axial.caption
    cone = FAMILIES["cross_section"].build(round_params("cone", 5, 4, 3))
    assert cone.answer == "20"  # AB = 8, SM = 5
    assert "section SAB is an isosceles triangle" in cone.caption and "OM = 3" in cone.caption
    assert FAMILIES["cross_section"].build(round_params("cylinder", 4, 3, 2)).answer == "12√3"  # 4√3 by 3


def test_round_section_area_matches_geometry():
    """The surd answer against the area of the section computed from its 3-D corners."""
    found = set()
    for seed in range(80):
        s = generate("cross_section", np.random.default_rng(seed), 1 + seed % 3)
        p = s.params
        if p["solid"] not in cross_section.ROUND:
            continue
        found.add(p["solid"])
        a, b = (np.array([p["r"] * np.cos(t), p["r"] * np.sin(t), 0]) for t in round_section.chord_angles(p))
        assert abs(np.dot((a + b) / 2, (a + b) / 2) - p["d"] ** 2) < 1e-9  # OM = d
        if p["solid"] == "cylinder":
            area = np.linalg.norm(b - a) * p["h"]
        else:
            area = np.linalg.norm(np.cross(a - [0, 0, p["h"]], b - [0, 0, p["h"]])) / 2
        k, _, m = s.answer.partition("√")
        assert abs((float(k or 1)) * np.sqrt(float(m or 1)) - area) < 1e-9, (s.answer, area)
        assert f"radius {p['r']}" in s.caption and f"height {p['h']}" in s.caption
        assert f'D, PHI = {p["d"]}, np.radians({p["phi"]})' in s.code
    assert found == {"cylinder", "cone"}


def test_page_is_cropped_to_the_figure():
    lims = ((0.0, 6.0), (0.0, 1.0))
    tall = layout.frame([(0, 0), (1, 4)], [], 0)
    assert np.ptp(tall[0]) / np.ptp(tall[1]) == pytest.approx(layout.MIN_ASPECT, abs=0.01)
    assert layout.figsize(lims, 0.5) == (12.0, 2.0)
    s = generate("polyhedron", np.random.default_rng(3), 1)
    assert "FIGSIZE = (" in s.code and "np.float" not in s.code


def test_flux_matches_numeric_integration():
    for seed in range(6):
        s = generate("surface_integral", np.random.default_rng(seed), 1 + seed % 3)
        terms, region = s.params["terms"], s.params["region"]
        g = lambda x, y: sum(c * (1 - i - j) * x**i * y**j for i, j, c in terms)  # noqa: E731
        if region["kind"] == "rect":
            xs = np.linspace(*region["x"], 801)
            ys = np.linspace(*region["y"], 801)
            X, Y = np.meshgrid(xs, ys)
            numeric = np.trapezoid(np.trapezoid(g(X, Y), xs, axis=1), ys)
            exact = float(Fraction(s.answer))
        else:
            r = np.linspace(0, region["R"], 801)
            t = np.linspace(0, 2 * np.pi, 801)
            Rr, T = np.meshgrid(r, t)
            numeric = np.trapezoid(np.trapezoid(g(Rr * np.cos(T), Rr * np.sin(T)) * Rr, r, axis=1), t)
            k = s.answer.replace("π", "") or "1"
            exact = float(Fraction(k.split("/")[0] or "1") / int(k.split("/")[1] if "/" in k else 1)) * np.pi
        assert abs(numeric - exact) < 1e-3 * max(1, abs(exact)), (s.answer, numeric)
        assert surface_integral.poly_code(terms).replace("**2", "²").replace(" * ", "") in s.caption


def test_helix_axis_and_its_circle():
    for axis, (order, plane) in spatial_curve.AXES.items():
        p = {"curve": "helix", "c": [2, 0.3], "k": 2, "axis": axis, "elev": 20, "azim": -60, "color": "navy",
             "projections": True, "style": 0}
        s = FAMILIES["spatial_curve"].build(p)
        scope = {"np": np}
        exec(s.code.split("\n\n\n")[2], scope)
        across = [scope[v] for i, v in enumerate("xyz") if v in plane]
        assert np.allclose(across[0] ** 2 + across[1] ** 2, 4)  # the projection across the axis is the circle
        assert f"onto the {plane}-plane" in s.question and s.answer.startswith("a circle of radius 2")


def test_spatial_curve_caption_matches_program():
    for seed in range(6):
        s = generate("spatial_curve", np.random.default_rng(seed), 1 + seed % 3)
        scope = {"np": np}
        exec(s.code.split("\n\n\n")[2], scope)  # the parameter block: t, x, y, z
        start = ", ".join(f"{v:.2f}".rstrip("0").rstrip(".").replace("-0", "0") if abs(v) > 1e-9 else "0"
                          for v in (scope["x"][0], scope["y"][0], scope["z"][0]))
        assert f"({start})" in s.caption, (start, s.caption)


# --- structural variants: given-values boxes, candidate cubes, squared paper, region panels -------

def with_variant(family: str, key: str, value, count: int = 4) -> list[SolidSample]:
    """Samples whose θ has key == value (found by seed, so θ stays a real draw)."""
    out = []
    for seed in range(400):
        s = generate(family, np.random.default_rng(seed), 1)
        if s.params.get(key) == value:
            out.append(s)
        if len(out) == count:
            break
    assert out, (family, key, value)
    return out


def render(batch: list[SolidSample]) -> None:
    env = {"PATH": os.environ.get("PATH", ""), "MPLBACKEND": "Agg", "HOME": os.environ.get("HOME", "/tmp")}
    run = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps([s.code for s in batch]),
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert all(figs == 1 for figs, _ in json.loads(run.stdout.splitlines()[-1]))


@pytest.mark.parametrize("family", ["polyhedron", "cross_section", "combined_solid"])
def test_given_box_stays_outside_the_drawing(family):
    batch = []
    for where in given.PLACES:
        for s in with_variant(family, "given", where, 3):
            scope: dict = {}
            exec(s.code.split("fig = plt.figure")[0], scope)  # parameters and helpers, nothing drawn
            lines, (cx, cy) = scope["GIVEN"], scope["GIVEN_AT"]
            (x0, x1), (y0, y1) = scope["LIMITS"]
            w, h = given.box_size(lines)
            inch = (x1 - x0) / scope["FIGSIZE"][0]
            assert x0 <= cx - w * inch / 2 and cx + w * inch / 2 <= x1 + 1e-6  # on the page
            assert y0 <= cy - h * inch / 2 and cy + h * inch / 2 <= y1 + 1e-6
            text = s.caption.split("a framed box gives ")[1]
            assert {"right": "To the right of", "left": "To the left of", "below": "Below"}[where] in s.caption
            assert lines[-1].startswith("Find:") and text.split(" and asks for ")[1].rstrip(".")
            batch.append(s)
    render(batch)


def test_given_box_values_match_theta():
    for s in with_variant("polyhedron", "given", "right", 6):
        for seg, v in polyhedron.given_values(s.params):
            assert f"{seg} = {v:g}".replace("_", "") in s.caption
            assert f"${seg}$ = {v:g}" in s.code
    for s in with_variant("combined_solid", "given", "below", 6):
        assert f"r = {s.params['r']:g}" in s.caption and "Find: the volume" in s.code


def test_drawing_left_of_a_box_is_unchanged():
    """The box only widens the page: labels and dimensions keep their places."""
    s = with_variant("polyhedron", "given", "left", 1)[0]
    plain = FAMILIES["polyhedron"].build(s.params | {"given": None})
    offsets = [ln for ln in s.code.splitlines() if ln.startswith("LABEL_OFFSETS")]
    assert offsets == [ln for ln in plain.code.splitlines() if ln.startswith("LABEL_OFFSETS")]
    assert "GIVEN" not in plain.code and "framed box" not in plain.caption


def test_cube_net_choices_have_one_foldable_cube():
    batch = with_variant("cube_net", "question", "choice", 8)
    for s in batch:
        p = s.params
        good = [n for n, c in zip(cube_net.ROMAN, p["choices"]) if cube_net.foldable(p, c)]
        assert len(good) == 1 and s.answer == f"({good[0]})"
        assert len({(c["top"], c["front"], c["right"]) for c in p["choices"]}) == 4
        for n, c in zip(cube_net.ROMAN, p["choices"]):
            assert f"({n}) {c['top']} on top, {c['front']} in front and {c['right']} on the right" in s.caption
        assert s.template.endswith("/choice")
    render(batch)


def test_foldable_agrees_with_the_known_net():
    p = cross_params("fold", "C", "D")
    assert cube_net.foldable(p, {"top": "F", "front": "D", "right": "A"})
    assert not cube_net.foldable(p, {"top": "F", "front": "A", "right": "D"})  # mirror image
    assert not cube_net.foldable(p, {"top": "F", "front": "D", "right": "C"})  # C is opposite F


def test_three_view_squared_paper():
    batch = with_variant("three_view", "paper", "squared", 3)
    for s in batch:
        h = s.params["heights"]
        span = max(len(h), len(h[0]), max(map(max, h)))
        assert f"SQUARES = {span}" in s.code and f"{span} by {span} grey unit squares" in s.caption
    render(batch)


def test_surface_region_panel():
    batch = with_variant("surface_integral", "panel", "right", 2) + with_variant("surface_integral", "panel", "below", 2)
    for s in batch:
        assert "flat = fig.add_subplot(cells[1])" in s.code
        assert f"A second panel {'to the right' if s.params['panel'] == 'right' else 'below'}" in s.caption
    render(batch)


def test_redraws_keep_the_item_family_so_the_configured_mix_holds():
    from iccgen.config import JobConfig
    from iccgen.unit import UnitContext, UnitSpec, UnitStats
    from pipelines.solid.pipeline import SolidPipeline

    job = JobConfig(solid={"mix": {"cube_net": 3, "polyhedron": 1}})
    pipeline = SolidPipeline(job)
    ctx = UnitContext(UnitSpec("solid", 0, 4000, 0), job, None, None, UnitStats())
    families = [pipeline.draw(ctx, item, 0)[0] for item in range(4000)]
    assert abs(Counter(families)["cube_net"] / 4000 - 0.75) < 0.03
    for item in range(50):  # every redraw of an item stays in its family, with a new θ stream
        drawn = [pipeline.draw(ctx, item, attempt) for attempt in range(5)]
        assert {family for family, _ in drawn} == {families[item]}
        assert len({rng.random() for _, rng in drawn}) == 5
