"""Drawing a convex solid in parallel projection: edges by visibility, labels, dimensions.

Shared by the polyhedron, cross-section and combined-solid templates: `figure` lays out the page
(label offsets, dimension lines, limits), `setup_source`/`body_source` write the program text.
"""
from __future__ import annotations

import numpy as np

from pipelines.solid import given, kernels, layout, projection, solids
from pipelines.solid.labels import point_segment_distance
from pipelines.solid.program import point


def degenerate(solid: solids.Solid, view: dict) -> bool:
    t = projection.toward(view)
    P = projection.matrix(view)
    for face in solid.faces:
        a, b, c = (np.array(solid.verts[k]) for k in face[:3])
        n = np.cross(b - a, c - a)
        if abs(np.dot(n / np.linalg.norm(n), t / np.linalg.norm(t))) < 0.08:
            return True
    xy = np.array(list(solid.verts.values())) @ P.T
    edges = kernels.edge_visibility(solid.verts, solid.faces, t)
    names = list(solid.verts)
    scale = np.ptp(xy, axis=0).max()
    for i, name in enumerate(names):  # a vertex too close to an edge it is not on
        for a, b in edges:
            if name not in (a, b):
                if point_segment_distance(xy[i], xy[names.index(a)], xy[names.index(b)]) < 0.06 * scale:
                    return True
    return False


def figure(solid: solids.Solid, p: dict, section: dict | None = None) -> dict:
    """Everything the program needs that depends on page geometry: dims, label offsets, limits."""
    P, t = projection.matrix(p["view"]), projection.toward(p["view"])
    section = section or {}
    points = solid.verts | solid.extra | section
    xy = {k: np.asarray(v) @ P.T for k, v in points.items()}
    vis = kernels.edge_visibility(solid.verts, solid.faces, t)
    allxy = np.array(list(xy.values()))
    inch = np.ptp(allxy, axis=0).max() * 1.5 / layout.FIG_INCHES
    segments = [(tuple(xy[a]), tuple(xy[b])) for a, b in vis]
    if solid.altitude:
        segments.append((tuple(xy[solid.altitude[0]]), tuple(xy[solid.altitude[1]])))
    ring = list(section)
    segments += [(tuple(xy[a]), tuple(xy[b])) for a, b in zip(ring, ring[1:] + ring[:1])]
    if p.get("diagonal"):
        segments.append(tuple(tuple(xy[k]) for k in p["diagonal"]))
    dims, discs = [], []
    if p["show_dims"]:
        center = allxy.mean(axis=0)
        for a, b, value in solid.dims:
            a, b = outline_twin(solid, xy, vis, a, b, [d[:2] for d in dims])
            off = layout.outward_offset(xy[a], xy[b], center, 0.38 * inch)
            dims.append((a, b, value, off))
            segs, mid = layout.dimension_marks(xy[a], xy[b], off)
            segments += segs
            discs.append((mid, layout.text_radius(value, inch)))
    texts = {k: k for k in points}
    anchors = {k: tuple(xy[k]) for k in points}
    if solid.altitude and p["show_dims"]:
        anchors["h"] = tuple((xy[solid.altitude[0]] + xy[solid.altitude[1]]) / 2)
        texts["h"] = f"{p['h']:g}"
    offsets, lims, size = layout.arrange(anchors, texts, inch, segments, discs, 0.25 * inch)
    return {"visibility": vis, "dims": dims, "offsets": offsets, "lims": lims, "texts": texts, "figsize": size,
            "inch": inch, "segments": segments, "discs": discs, "anchors": anchors}


def with_box(fig: dict, lines: list[str], where: str | None) -> dict:
    """The page widened for a box of given values (given.py) on `where`; unchanged for None."""
    if not where:
        return fig
    lims, size, centre = given.attach(fig["lims"], fig["inch"], lines, where)
    return fig | {"lims": lims, "figsize": size, "given": (lines, centre)}


def outline_twin(solid, xy, vis, a, b, taken) -> tuple[str, str]:
    """An edge parallel to and as long as ab on the outline, away from other dimensions."""
    d = np.subtract(solid.verts[b], solid.verts[a])
    allxy = np.array(list(xy.values()))
    twins = []
    for e in vis:
        de = np.subtract(solid.verts[e[1]], solid.verts[e[0]])
        twin = np.linalg.norm(np.cross(d, de)) < 1e-6 and abs(np.dot(de, de) - np.dot(d, d)) < 1e-6
        if twin and layout.silhouette(xy[e[0]], xy[e[1]], allxy):
            twins.append(e)
    if not twins:
        return a, b
    mid = {e: (xy[e[0]] + xy[e[1]]) / 2 for e in twins}
    if abs(d[2]) < 1e-9:  # horizontal edges are dimensioned low, where the figure rests
        return min(twins, key=lambda e: (round(mid[e][1], 6), mid[e][0]))
    others = [(xy[x] + xy[y]) / 2 for x, y in taken] or [allxy.mean(axis=0)]
    return max(twins, key=lambda e: min(np.linalg.norm(mid[e] - o) for o in others))


def setup_source(solid: solids.Solid, p: dict, fig: dict, section: dict | None = None) -> str:
    pts = solid.verts | solid.extra | (section or {})
    verts = "\n".join(f'    "{k}": {point(v)},' for k, v in solid.verts.items())
    faces = "\n".join(f"    {f}," for f in solid.faces).replace("'", '"')
    lines = [projection.source(p["view"]),
             f"VERTS = {{\n{verts}\n}}",
             f"FACES = [  # each face counter-clockwise as seen from outside\n{faces}\n]"]
    if solid.extra:
        lines.append("\n".join(f'{k} = {point(v)}  # an end of the altitude' for k, v in solid.extra.items()))
    if section:
        ring = ", ".join(f'"{k}": {point(v)}' for k, v in section.items())
        lines.append(f"SECTION = {{{ring}}}  # vertices of the cross-section, in order round it")
    offsets = ", ".join(f'"{k}": {point(v)}' for k, v in fig["offsets"].items() if k in pts)
    lines.append(f"LABEL_OFFSETS = {{{offsets}}}  # where each name sits relative to its point")
    if fig["dims"]:
        dims = ", ".join(f'("{a}", "{b}", "{v}", {point(o)})' for a, b, v, o in fig["dims"])
        lines.append(f"DIMENSIONS = [{dims}]  # (from, to, length, offset of the arrow)")
    if "h" in fig["offsets"]:
        lines.append(f"HEIGHT_OFFSET = {point(fig['offsets']['h'])}  # where the height is written")
    if fig.get("given"):
        lines.append("\n".join(given.setup_lines(*fig["given"])))
    lines.append(f'HIDDEN = (0, (4, 3))  # dash pattern of hidden edges\nLIMITS = {fig["lims"]}\n'
                 f'FIGSIZE = {fig["figsize"]}  # inches: the page is cropped to the figure')
    return "\n\n".join(lines)


def funcs(p: dict, section: dict | None = None) -> tuple:
    out = (kernels.edge_visibility,) + ((kernels.on_visible_face,) if section or p.get("diagonal") else ())
    return out + ((kernels.dimension,) if p["show_dims"] else ())


def body_source(solid: solids.Solid, p: dict, section: dict | None = None, boxed: bool = False) -> str:
    extra = "".join(f', "{k}": {k}' for k in solid.extra)
    named = "VERTS | SECTION" if section else "VERTS"
    body = [
        "fig = plt.figure(figsize=FIGSIZE)",
        "ax = fig.add_axes([0, 0, 1, 1])",
        f"xy = {{name: np.array(p) @ P.T for name, p in ({named} | {{{extra[2:]}}}).items()}}" if extra
        else f"xy = {{name: np.array(p) @ P.T for name, p in ({named}).items()}}",
        "for (a, b), visible in edge_visibility(VERTS, FACES, TOWARD).items():",
        '    ax.plot(*zip(xy[a], xy[b]), color="k", lw=1.6, ls="-" if visible else HIDDEN)',
    ]
    if solid.altitude:
        apex, foot = solid.altitude
        body += [f'ax.plot(*zip(xy["{apex}"], xy["{foot}"]), color="k", lw=1.6, ls=HIDDEN)  # altitude']
    if section:
        body += [
            "ring = list(SECTION)",
            'ax.fill(*np.array([xy[k] for k in ring]).T, color="#9ecae1", alpha=0.55, lw=0)  # the section',
            "for a, b in zip(ring, ring[1:] + ring[:1]):",
            "    seen = on_visible_face(SECTION[a], SECTION[b], VERTS, FACES, TOWARD)",
            '    ax.plot(*zip(xy[a], xy[b]), color="k", lw=1.6, ls="-" if seen else HIDDEN)',
        ]
    if p.get("diagonal"):
        a, b = p["diagonal"]
        body += [f'seen = on_visible_face(VERTS["{a}"], VERTS["{b}"], VERTS, FACES, TOWARD)  # on a face turned to us?',
                 f'ax.plot(*zip(xy["{a}"], xy["{b}"]), color="k", lw=1.6, ls="-" if seen else HIDDEN)  # the diagonal']
    body += [
        "for name, (dx, dy) in LABEL_OFFSETS.items():",
        '    ax.text(xy[name][0] + dx, xy[name][1] + dy, f"${name}$", fontsize=15, ha="center", va="center")',
    ]
    if p["show_dims"]:
        body += ["for a, b, length, offset in DIMENSIONS:",
                 "    dimension(ax, xy[a], xy[b], length, offset)"]
        if solid.altitude:
            apex, foot = solid.altitude
            body += [f'mid = (xy["{apex}"] + xy["{foot}"]) / 2',
                     f'ax.text(mid[0] + HEIGHT_OFFSET[0], mid[1] + HEIGHT_OFFSET[1], "{p["h"]:g}", '
                     'fontsize=13, ha="center", va="center")']
    if boxed:
        body.append(given.BODY)
    body += ["ax.set_xlim(LIMITS[0])", "ax.set_ylim(LIMITS[1])", 'ax.set_aspect("equal")', 'ax.axis("off")']
    return "\n".join(body)
