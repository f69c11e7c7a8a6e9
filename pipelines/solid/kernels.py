"""Functions copied verbatim into the emitted programs (see program.sources).

They may use only numpy (np) and matplotlib.pyplot (plt), the two imports every program has.
The generator calls the pure ones too, so captions are computed by the code that draws.
"""
import matplotlib.pyplot as plt
import numpy as np

HIDDEN = (0, (4, 3))  # dash pattern of hidden edges


def edge_visibility(verts, faces, toward):
    """Map each edge to True when visible: an edge is seen if a face beside it faces the viewer."""
    visible = {}
    for face in faces:
        a, b, c = (np.array(verts[k], float) for k in face[:3])
        front = np.dot(np.cross(b - a, c - a), toward) > 0  # faces run counter-clockwise from outside
        for p, q in zip(face, face[1:] + face[:1]):
            edge = tuple(sorted((p, q)))
            visible[edge] = visible.get(edge, False) or front
    return visible


def dimension(ax, p, q, text, offset):
    """Dimension of segment pq: a double arrow shifted by offset, extension lines, the value."""
    p, q, offset = np.asarray(p), np.asarray(q), np.asarray(offset)
    for end in (p, q):
        ax.plot(*zip(end + 0.2 * offset, end + 1.15 * offset), color="k", lw=0.8)
    ax.annotate("", xy=q + offset, xytext=p + offset,
                arrowprops=dict(arrowstyle="<|-|>", color="k", lw=0.8, mutation_scale=10,
                                shrinkA=0, shrinkB=0))
    ax.text(*((p + q) / 2 + offset), text, ha="center", va="center", fontsize=13,
            bbox=dict(facecolor="white", edgecolor="none", pad=1.5))


def draw_cubes(ax, cubes, P, toward):
    """Unit cubes painted back to front; each shows only the faces turned toward the viewer."""
    faces = {
        (1, 0, 0): [(1, 0, 0), (1, 1, 0), (1, 1, 1), (1, 0, 1)],
        (-1, 0, 0): [(0, 0, 0), (0, 0, 1), (0, 1, 1), (0, 1, 0)],
        (0, 1, 0): [(0, 1, 0), (0, 1, 1), (1, 1, 1), (1, 1, 0)],
        (0, -1, 0): [(0, 0, 0), (1, 0, 0), (1, 0, 1), (0, 0, 1)],
        (0, 0, 1): [(0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1)],
        (0, 0, -1): [(0, 0, 0), (0, 1, 0), (1, 1, 0), (1, 0, 0)],
    }
    shade = ["#b4b4b4", "#ffffff", "#dcdcdc"]  # side, front and top faces, by the normal's axis
    for cube in sorted(cubes, key=lambda c: np.dot(c, toward)):
        for normal, corners in faces.items():
            if np.dot(normal, toward) > 0:
                xy = np.add(cube, corners) @ P.T
                ax.add_patch(plt.Polygon(xy, facecolor=shade[np.argmax(np.abs(normal))],
                                         edgecolor="k", lw=1.2, joinstyle="round"))


def view_lines(vox):
    """Visible and hidden unit segments of one orthographic view of a solid made of unit cubes.

    vox[u, d, v] is True where a cube sits: u runs right on the page, v up, d away from the
    viewer. A segment is visible where the nearest surfaces on its two sides differ in depth, and
    hidden where only an edge of the solid further back lies behind it.
    """
    pad = np.pad(vox, 1)
    depth = np.where(pad.any(axis=1), pad.argmax(axis=1), -1)

    def crease(block):  # an edge of the solid runs along the view direction inside this 2x2 block
        return not ((block[0] == block[1]).all() or (block[:, 0] == block[:, 1]).all())

    visible, hidden = [], []
    nu, nd, nv = pad.shape
    for a in range(nu - 1):
        for b in range(nv - 1):
            sides = (  # (segment, depths on its two sides, 2x2 blocks along the depth)
                (((a, b - 1), (a, b)), (depth[a, b], depth[a + 1, b]),
                 [pad[a:a + 2, d:d + 2, b] for d in range(nd - 1)]),
                (((a - 1, b), (a, b)), (depth[a, b], depth[a, b + 1]),
                 [pad[a, d:d + 2, b:b + 2] for d in range(nd - 1)]),
            )
            for segment, (near0, near1), blocks in sides:
                if near0 != near1:
                    visible.append(segment)
                elif any(crease(block) for block in blocks):
                    hidden.append(segment)
    return visible, hidden


def merge(segments):
    """Join touching collinear unit segments into maximal lines."""
    lines = []
    for axis in (0, 1):  # vertical segments (constant u), then horizontal (constant v)
        group = sorted((s for s in segments if s[0][axis] == s[1][axis]),
                       key=lambda s: (s[0][axis], s[0][1 - axis]))
        start = len(lines)
        for p, q in group:
            if len(lines) > start and lines[-1][1] == p:
                lines[-1] = (lines[-1][0], q)
            else:
                lines.append((p, q))
    return lines


def draw_grid(ax, cols, rows, P):
    """The floor cells as thin grey lines, so empty cells and column positions can be read."""
    for x in range(cols + 1):
        ax.plot(*(np.array([(x, 0, 0), (x, rows, 0)]) @ P.T).T, color="0.55", lw=0.8, zorder=0)
    for y in range(rows + 1):
        ax.plot(*(np.array([(0, y, 0), (cols, y, 0)]) @ P.T).T, color="0.55", lw=0.8, zorder=0)


def on_visible_face(p, q, verts, faces, toward):
    """Is segment pq, drawn on the surface, on a face turned toward the viewer?"""
    for face in faces:
        a, b, c = (np.array(verts[k], float) for k in face[:3])
        n = np.cross(b - a, c - a)
        n = n / np.linalg.norm(n)
        if abs(np.dot(n, np.subtract(p, a))) < 1e-3 and abs(np.dot(n, np.subtract(q, a))) < 1e-3:
            if np.dot(n, toward) > 0:
                return True
    return False


def arc(ax, y, r, k, t0, t1, ls="-"):
    """Part of a horizontal circle seen from above: an ellipse r by r*k centred at (0, y);
    t runs counter-clockwise from the right, so 0..pi is the back half and pi..2pi the front."""
    t = np.linspace(t0, t1, 120)
    ax.plot(r * np.cos(t), y + r * k * np.sin(t), color="k", lw=1.6, ls=ls)


def cone_cap(ax, y, r, k, height, up):
    """A cone on the circle at page height y, its apex `height` above (below if not up) on the axis.
    Its outline lines touch the ellipse where the tangents from the apex meet it; seen from above,
    a cone standing up hides only the back of its rim between those points, one hanging down
    hides the whole back half."""
    s = 1 if up else -1
    touch = np.arcsin(r * k / height)
    seen = (np.pi - touch, 2 * np.pi + touch) if up else (np.pi, 2 * np.pi)
    arc(ax, y, r, k, *seen)
    arc(ax, y, r, k, seen[1] - 2 * np.pi, seen[0], HIDDEN)
    for side in (-1, 1):
        ax.plot([0, side * r * np.cos(touch)], [y + s * height, y + s * r * k * np.sin(touch)], color="k", lw=1.6)
    ax.plot([0, 0], [y, y + s * height], color="k", lw=1.2, ls=HIDDEN)  # the axis


def dome_cap(ax, y, r, k, up):
    """A hemisphere on the circle at page height y, bulging up (or down): its outline is half of
    a circle of radius r, the same size whatever the view; the back of its rim is hidden."""
    arc(ax, y, r, k, np.pi, 2 * np.pi)
    arc(ax, y, r, k, 0, np.pi, HIDDEN)
    u = np.linspace(0, np.pi, 120)
    ax.plot(r * np.cos(u), y + (1 if up else -1) * r * np.sin(u), color="k", lw=1.6)


def oblique_cube(ax, origin, faces, size, fontsize):
    """A cube in cabinet projection from its front-bottom-left corner; faces maps "front",
    "right" and "top" to (label, colour)."""
    o = np.asarray(origin, float)
    ex, ez = np.array([size, 0.0]), np.array([0.0, size])
    depth = 0.5 * size * np.array([np.cos(np.radians(45)), np.sin(np.radians(45))])
    quads = {"front": [o, o + ex, o + ex + ez, o + ez],
             "right": [o + ex, o + ex + depth, o + ex + depth + ez, o + ex + ez],
             "top": [o + ez, o + ex + ez, o + ex + ez + depth, o + ez + depth]}
    for side, corners in quads.items():
        label, colour = faces[side]
        ax.add_patch(plt.Polygon(corners, facecolor=colour, edgecolor="k", lw=1.6))
        ax.text(*np.mean(corners, axis=0), label, fontsize=fontsize, ha="center", va="center")
