"""Inside the child: bounded stdout/stderr, which figure the program meant, and its rendering."""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from .limits import Limits

# savefig arguments that change how the figure looks and are safe to honour; dpi, format and
# the destination are ours to choose.
_SAVEFIG_STYLE = ("bbox_inches", "pad_inches", "facecolor", "edgecolor", "transparent")
# Kept before FigureRecorder.install() replaces it for the program.
_savefig = Figure.savefig


class TailBuffer(io.TextIOBase):
    """A text stream that keeps only the last `limit` characters, whatever is written."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._parts: list[str] = []
        self._size = 0

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        s = str(s)
        self._parts.append(s[-self.limit:])
        self._size += min(len(s), self.limit)
        if self._size > 2 * self.limit:
            self._compact()
        return len(s)

    def _compact(self) -> None:
        text = "".join(self._parts)[-self.limit:]
        self._parts, self._size = [text], len(text)

    def getvalue(self) -> str:
        self._compact()
        return self._parts[0] if self._parts else ""


@dataclass
class FigureRecorder:
    """Remembers figures the program saved or showed, so closing them afterwards loses nothing."""

    chosen: list[tuple[Figure, dict[str, Any]]] = field(default_factory=list)

    def record(self, fig: Figure, kwargs: dict[str, Any]) -> None:
        style = {k: kwargs[k] for k in _SAVEFIG_STYLE if k in kwargs}
        self.chosen.append((fig, style))

    def install(self) -> None:
        recorder = self

        def savefig(fig: Figure, *args: Any, **kwargs: Any) -> None:
            # Rendering is deferred to the sandbox, at its size and DPI: a program's
            # savefig(dpi=100000) costs nothing and writes no file.
            recorder.record(fig, kwargs)

        def show(*args: Any, **kwargs: Any) -> None:
            for num in plt.get_fignums():
                recorder.record(plt.figure(num), {})

        def figure_show(fig: Figure, *args: Any, **kwargs: Any) -> None:
            recorder.record(fig, {})

        Figure.savefig = savefig
        Figure.show = figure_show
        plt.show = show
        plt.pause = lambda *a, **k: None

    def pick(self, policy: str) -> tuple[Figure, dict[str, Any]] | None:
        candidates = self.chosen or [(plt.figure(n), {}) for n in plt.get_fignums()]
        if not candidates:
            return None
        return candidates[-1] if policy == "last" else candidates[0]


def _pin_backend() -> None:
    """Programs written for a desktop ask for TkAgg or Qt; here everything renders with Agg."""
    matplotlib.use = lambda *args, **kwargs: None
    plt.switch_backend = lambda *args, **kwargs: None


def prepare_matplotlib(limits: Limits) -> None:
    _pin_backend()
    plt.close("all")
    matplotlib.rcParams.update({
        "figure.figsize": list(limits.figsize),
        "figure.dpi": limits.dpi,
        "savefig.dpi": limits.dpi,
        "figure.max_open_warning": 0,
        # There is no LaTeX on the machines; mathtext renders $...$ without it.
        "text.usetex": False,
    })


_MIN_DPI = 10


class OutputTooLarge(Exception):
    pass


@dataclass
class Rendering:
    png: bytes
    dpi: float
    # Where the saved image starts on the figure canvas, in pixels (non-zero when cropped).
    offset_px: tuple[float, float]
    height_px: float


def _fit_dpi(width_in: float, height_in: float, limits: Limits) -> float:
    area = width_in * height_in
    if not (area > 0 and math.isfinite(area)):
        raise OutputTooLarge(f"figure size {width_in}x{height_in} inches cannot be rendered")
    dpi = min(float(limits.dpi), math.sqrt(limits.max_pixels / area))
    # Below this, fonts are under a pixel (FreeType refuses) and the image says nothing.
    if dpi < _MIN_DPI or max(width_in, height_in) * dpi > 2**15:
        raise OutputTooLarge(
            f"a {width_in:.3g}x{height_in:.3g} inch figure cannot fit in {limits.max_pixels} pixels; "
            "use a figsize near the default")
    return dpi


def _tight_bbox(fig: Figure, style: dict[str, Any]) -> Bbox:
    renderer = fig.canvas.get_renderer()
    bbox = fig.get_tightbbox(renderer)
    pad = style.get("pad_inches", matplotlib.rcParams["savefig.pad_inches"])
    pad = pad if isinstance(pad, (int, float)) else 0.1
    return bbox.padded(pad)


def render(fig: Figure, style: dict[str, Any], limits: Limits) -> Rendering:
    """Renders at the configured DPI, lowered when the image would exceed max_pixels."""
    style = dict(style)
    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)  # plt.close() leaves a bare canvas behind; drawing needs Agg
    w, h = fig.get_size_inches()
    box = None
    if style.get("bbox_inches") == "tight":
        fig.set_dpi(_fit_dpi(w, h, limits))
        box = _tight_bbox(fig, style)
        style["bbox_inches"] = box
        style.pop("pad_inches", None)
    elif style.get("bbox_inches") is not None:
        style.pop("bbox_inches")  # an explicit Bbox from the program: ignored, the canvas is fixed
    dpi = _fit_dpi(box.width, box.height, limits) if box else _fit_dpi(w, h, limits)
    # Setting the figure's own DPI (not savefig's) keeps the canvas at the image's scale
    # afterwards, so the tracer's pixel coordinates match the PNG.
    fig.set_dpi(dpi)
    buf = io.BytesIO()
    _savefig(fig, buf, format="png", dpi=dpi, metadata={"Software": None}, **style)
    png = buf.getvalue()
    if len(png) > limits.max_png_bytes:
        raise OutputTooLarge(f"the PNG is {len(png)} bytes, over the limit of {limits.max_png_bytes}")
    if box is not None:
        return Rendering(png, dpi, (box.x0 * dpi, box.y0 * dpi), box.height * dpi)
    return Rendering(png, dpi, (0.0, 0.0), h * dpi)
