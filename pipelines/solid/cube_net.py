"""Cube nets with labelled faces and folding questions (opposite, adjacent, orientation)."""
from __future__ import annotations

import textwrap

import numpy as np

from pipelines.solid import kernels, nets
from pipelines.solid.base import SolidSample, choose, join_words, phrase
from pipelines.solid.program import num, program

LABEL_SETS = [list("ABCDEF"), list("123456"), list("UVWXYZ")]
PALETTE = {"#8ecae6": "sky blue", "#ffb703": "amber", "#90be6d": "green", "#f28482": "salmon",
           "#cdb4db": "lilac", "#bdbdbd": "grey", "#2a9d8f": "teal", "#e9c46a": "sand", "#f4a261": "orange",
           "#a8dadc": "pale cyan", "#b5838d": "mauve", "#ffe5ec": "pale pink"}
PLAIN = "#f2f2f2"
QUESTIONS_BY_DIFFICULTY = {1: ["opposite", "fold", "choice"], 2: ["opposite", "adjacent", "fold", "choice"],
                           3: ["adjacent", "right", "fold", "choice"]}
ROMAN = ["i", "ii", "iii", "iv"]


def layout(p: dict) -> tuple[tuple[nets.Cell, ...], dict[nets.Cell, str]]:
    cells = nets.transform(nets.all_nets()[p["net"]], p["symmetry"])
    return cells, dict(zip(cells, p["labels"]))


def folded(p: dict) -> dict[str, np.ndarray]:
    """Outward normal of the cube face that each label ends up on."""
    cells, label = layout(p)
    return {label[c]: np.array(f["n"]) for c, f in nets.fold(cells).items()}


def opposite(p: dict, x: str) -> str:
    normals = folded(p)
    return next(k for k, n in normals.items() if (n == -normals[x]).all())


def adjacent(p: dict, x: str) -> list[str]:
    normals = folded(p)
    return sorted(k for k, n in normals.items() if np.dot(n, normals[x]) == 0)


def on_right(p: dict, bottom: str, front: str) -> str:
    """With `bottom` down and `front` facing the viewer, the face on the viewer's right."""
    normals = folded(p)
    right = np.cross(normals[front], normals[bottom])  # x = y × z with y = -front, z = -bottom
    return next(k for k, n in normals.items() if (n == right).all())


class CubeNet:
    name = "cube_net"

    def sample(self, rng: np.random.Generator, difficulty: int = 1) -> dict:
        labels = list(choose(rng, LABEL_SETS))
        rng.shuffle(labels)
        d = min(max(difficulty, 1), 3)
        p = {"net": int(rng.integers(11)), "symmetry": int(rng.integers(8)), "labels": labels,
             "question": choose(rng, QUESTIONS_BY_DIFFICULTY[d]),
             "focus": choose(rng, labels), "front": None, "style": int(rng.integers(1000)),
             # six of the palette's colours, light and dark, so that nets differ in more than outline
             "colors": [str(c) for c in rng.choice(list(PALETTE), 6, replace=False)] if rng.random() < 0.85 else None,
             "cube": None, "cube_at": None}
        if p["question"] in ("right", "fold"):
            p["front"] = choose(rng, adjacent(p, p["focus"]))
        if p["question"] == "fold":
            p["cube"] = _cube(p, p["focus"], p["front"], valid=bool(rng.random() < 0.5), subtle=d == 3)
            p["cube_at"] = choose(rng, ["right", "below"])
        if p["question"] == "choice":
            p["choices"] = _choices(rng, p)
            p["cube_at"] = choose(rng, ["right", "below"])
        return p

    def build(self, p: dict) -> SolidSample:
        cells, label = layout(p)
        kind = nets.arrangement(cells)
        cols, rows = max(c for c, _ in cells) + 1, max(r for _, r in cells) + 1
        fills = p["colors"] or [PLAIN] * 6
        colour = dict(zip((label[c] for c in cells), fills))
        squares = "\n".join(f'    (({c}, {r}), "{label[(c, r)]}", "{colour[label[(c, r)]]}"),' for c, r in cells)
        setup = f"# ((column, row), label, colour) of each square; row 0 is the top row\nSQUARES = [\n{squares}\n]"
        origin, (x0, x1), (y0, y1) = _page(p, cols, rows)
        half = max(x1 - x0, y1 - y0) / 2 + 0.4
        body = """
            fig = plt.figure(figsize=(6, 6))
            ax = fig.add_axes([0, 0, 1, 1])
            for (col, row), label, colour in SQUARES:
                ax.add_patch(plt.Rectangle((col, -row - 1), 1, 1, facecolor=colour, edgecolor="k", lw=1.6))
                ax.text(col + 0.5, -row - 0.5, label, fontsize=24, ha="center", va="center")
            """
        if p["cube"]:
            sides = ", ".join(f'"{k}": ("{p["cube"][k]}", "{colour[p["cube"][k]]}")' for k in ("front", "right", "top"))
            setup += (f"\n\n# a cube beside the net, in cabinet projection: face -> (label, colour)\nCUBE = {{{sides}}}\n"
                      f"ORIGIN = ({num(origin[0])}, {num(origin[1])})  # front-bottom-left corner\n"
                      f"S = {CUBE_SIZE}  # edge of the drawn cube")
            body += """
            oblique_cube(ax, ORIGIN, CUBE, S, fontsize=20)
            """
        body += f"""
            ax.set_xlim({num((x0 + x1) / 2 - half)}, {num((x0 + x1) / 2 + half)})  # a square frame round the figure
            ax.set_ylim({num((y0 + y1) / 2 - half)}, {num((y0 + y1) / 2 + half)})
            ax.set_aspect("equal")
            ax.axis("off")
            """
        if p.get("choices"):
            rows_ = ",\n".join("    {" + ", ".join(f'"{k}": ("{c[k]}", "{colour[c[k]]}")' for k in ("front", "right", "top"))
                               + "}" for c in p["choices"])
            setup += (f"\n\n# four candidate cubes in cabinet projection, (i) to (iv): face -> (label, colour)\n"
                      f"CHOICES = [\n{rows_},\n]\n"
                      f"ORIGINS = [{', '.join(f'({num(x)}, {num(y)})' for x, y in _choice_origins(p, cols, rows))}]"
                      "  # front-bottom-left corners\n"
                      f"S = {CUBE_SIZE}  # edge of a drawn cube")
            body += """
            for name, faces, o in zip(["(i)", "(ii)", "(iii)", "(iv)"], CHOICES, ORIGINS):
                oblique_cube(ax, o, faces, S, fontsize=18)
                ax.text(o[0] + 0.6 * S, o[1] - 0.35, name, fontsize=16, ha="center", va="center")
            """
        doc = f"Net of a cube in the {kind} arrangement: six unit squares, each labelled"
        doc += (", and a cube that may be folded from it." if p["cube"] else
                ", and four cubes of which one can be folded from it." if p.get("choices") else ".")
        helpers = (kernels.oblique_cube,) if p["cube"] or p.get("choices") else ()
        code = program(doc, setup, helpers, textwrap.dedent(body))
        question, answer = _question(p)
        template = f"cube_net/{kind}" + ("/fold" if p["cube"] else "/choice" if p.get("choices") else "")
        return SolidSample(self.name, template, p, code, _caption(p, cells, label, kind), question, answer)


CUBE_GAP, CUBE_SIZE = 1.2, 1.4


def _page(p: dict, cols: int, rows: int) -> tuple[tuple | None, tuple, tuple]:
    """The drawn cube's front-bottom-left corner (to the right of the net or below it) and the
    x and y extent of everything drawn; the net's squares span x 0..cols and y -rows..0."""
    if p.get("choices"):
        xy = np.array(_choice_origins(p, cols, rows))
        size = CUBE_SIZE * 1.36
        return None, (min(0, xy[:, 0].min()), max(cols, xy[:, 0].max() + size)), \
            (min(-rows, xy[:, 1].min() - 0.7), max(0, xy[:, 1].max() + size))
    if not p["cube"]:
        return None, (0, cols), (-rows, 0)
    size = CUBE_SIZE * 1.36  # the cube in cabinet projection, depth included
    if p["cube_at"] == "right":
        origin = (cols + CUBE_GAP, -rows / 2 - CUBE_SIZE * 0.68)
        return origin, (0, cols + CUBE_GAP + size), (min(-rows, origin[1]), max(0, origin[1] + size))
    origin = (cols / 2 - CUBE_SIZE * 0.68, -rows - CUBE_GAP - size)
    return origin, (min(0, origin[0]), max(cols, origin[0] + size)), (origin[1], 0)


def _choice_origins(p: dict, cols: int, rows: int) -> list[tuple[float, float]]:
    """Front-bottom-left corners of the four candidate cubes: a row below the net, or a 2 x 2
    block to its right; each cube with its name under it takes a 2.4 by 2.6 cell."""
    if p["cube_at"] == "below":
        left = cols / 2 - 2 * 2.4
        return [(round(left + 2.4 * i + 0.2, 2), -rows - 1.2 - CUBE_SIZE * 1.36) for i in range(4)]
    top = -rows / 2 + 2.6
    return [(cols + 0.9 + 2.4 * (i % 2), round(top - 2.6 * (i // 2 + 1) + 0.7, 2)) for i in range(4)]


def foldable(p: dict, cube: dict) -> bool:
    """Can the net fold into this cube (top, front and right faces as drawn)?"""
    top, front, right = cube["top"], cube["front"], cube["right"]
    if len({top, front, right}) < 3 or front not in adjacent(p, top):
        return False
    return on_right(p, opposite(p, top), front) == right


def _choices(rng: np.random.Generator, p: dict) -> list[dict]:
    """Four different candidate cubes, exactly one of which folds from the net."""
    labels = p["labels"]
    out = []
    bottom = p["focus"]
    out.append(_cube(p, bottom, choose(rng, adjacent(p, bottom)), valid=True, subtle=False))
    for _ in range(200):
        if len(out) == 4:
            break
        b = choose(rng, labels)
        c = _cube(p, b, choose(rng, adjacent(p, b)), valid=False, subtle=bool(rng.random() < 0.5))
        faces = [(x["top"], x["front"], x["right"]) for x in out]
        if not foldable(p, c) and (c["top"], c["front"], c["right"]) not in faces:
            out.append(c)
    order = rng.permutation(4)
    return [{k: v for k, v in out[int(i)].items() if k != "valid"} for i in order]


def _cube(p: dict, bottom: str, front: str, valid: bool, subtle: bool) -> dict:
    """The three visible faces of the folded cube resting on `bottom`; an impossible one if not
    valid: front and right swapped (mirror image) or, plainer, a face beside its opposite."""
    top, right = opposite(p, bottom), on_right(p, bottom, front)
    if valid:
        return {"top": top, "front": front, "right": right, "valid": True}
    if subtle:
        return {"top": top, "front": right, "right": front, "valid": False}
    return {"top": top, "front": front, "right": opposite(p, front), "valid": False}


def _caption(p: dict, cells, label, kind: str) -> str:
    cols, rows = max(c for c, _ in cells) + 1, max(r for _, r in cells) + 1
    by_row = []
    for r in range(rows):
        here = [(c, label[(c, rr)]) for c, rr in cells if rr == r]
        where = ", ".join(f"{lab} (column {c + 1})" for c, lab in here)
        by_row.append(f"row {r + 1}: {where}")
    pairs = sorted({tuple(sorted((k, opposite(p, k)))) for k in p["labels"]})
    return " ".join(part for part in [
        phrase(p, [
            f"A net of a cube made of six labelled unit squares in the {kind} arrangement, spanning {cols} columns and {rows} rows.",
            f"The figure shows a cube net ({kind} type): six squares labelled {join_words(sorted(p['labels']))} on a {cols} × {rows} grid.",
            f"Six unit squares form a {kind} net of a cube, {cols} squares wide and {rows} high, each carrying one label.",
        ]),
        "Counting rows from the top and columns from the left — " + "; ".join(by_row) + ".",
        ("The squares are coloured " + join_words([f"{lab} {PALETTE[col]}" for lab, col in
                                                   zip((label[c] for c in cells), p["colors"])]) + "."
         if p["colors"] else "All squares are plain light grey."),
        (f"{'To the right of' if p['cube_at'] == 'right' else 'Below'} the net a cube is drawn in oblique projection, showing {p['cube']['top']} on top, "
         f"{p['cube']['front']} in front and {p['cube']['right']} on the right." if p["cube"] else ""),
        (f"{'To the right of' if p['cube_at'] == 'right' else 'Below'} the net four cubes (i) to (iv) are drawn in "
         "oblique projection, each showing its top, front and right faces: "
         + "; ".join(f"({n}) {c['top']} on top, {c['front']} in front and {c['right']} on the right"
                     for n, c in zip(ROMAN, p["choices"])) + "." if p.get("choices") else ""),
        phrase(p, ["When it is folded into a cube, the opposite faces are ",
                   "Folded up, the net gives a cube whose opposite face pairs are "], "style")
        + join_words([f"{a}–{b}" for a, b in pairs]) + ".",
    ] if part)


def _question(p: dict) -> tuple[str, str]:
    x = p["focus"]
    if p["question"] == "opposite":
        q = phrase(p, [f"When the net is folded into a cube, which face is opposite face {x}?",
                       f"Fold the net into a cube. Which label ends up opposite {x}?"])
        return q, opposite(p, x)
    if p["question"] == "adjacent":
        return (f"When the net is folded into a cube, which faces share an edge with face {x}?",
                ", ".join(adjacent(p, x)))
    if p["question"] == "fold":
        where = "on the right" if p["cube_at"] == "right" else "below the net"
        return (f"Can the cube {where} be folded from the net, with the labels on the outside? Answer yes or no.",
                "yes" if p["cube"]["valid"] else "no")
    if p["question"] == "choice":
        good = next(n for n, c in zip(ROMAN, p["choices"]) if foldable(p, c))
        return ("Which of the cubes (i) to (iv) can be folded from the net, with the labels on the outside?",
                f"({good})")
    y = p["front"]
    return (f"The net is folded into a cube with the labels on the outside. Face {x} is on the bottom "
            f"and face {y} faces you. Which face is on your right?", on_right(p, x, y))
