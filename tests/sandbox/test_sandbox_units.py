"""Pieces that need no pool: limits, frames, bounded output, rendering rules, doctor."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from hosts import failing_bwrap
from sandbox import Limits, doctor  # noqa: E402
from sandbox import protocol  # noqa: E402
from sandbox.capture import OutputTooLarge, TailBuffer, render  # noqa: E402


def test_limits_defaults_and_validation():
    lim = Limits()
    assert (lim.dpi, lim.cpu_seconds, lim.wall_seconds, lim.memory_mb) == (100, 20, 30, 2048)
    assert Limits.from_dict(lim.to_dict()) == lim
    with pytest.raises(ValueError, match="figure_policy"):
        Limits(figure_policy="middle")
    with pytest.raises(ValueError, match="cpu_seconds"):
        Limits(cpu_seconds=0)
    with pytest.raises(AttributeError):
        lim.dpi = 5  # frozen


def test_frames_roundtrip_and_bounds():
    data = protocol.encode({"a": 1}, b"png") + protocol.encode({"b": 2})
    buf = protocol.FrameBuffer(1000)
    frames = buf.feed(data[:5]) + buf.feed(data[5:])
    assert frames == [({"a": 1}, b"png"), ({"b": 2}, b"")]
    with pytest.raises(protocol.FrameError):
        protocol.FrameBuffer(100).feed(protocol.encode({"x": "y" * 200}))
    with pytest.raises(protocol.FrameError):
        protocol.read_frame(io.BytesIO(protocol.encode({"x": 1}, b"z" * 50)), 20)
    with pytest.raises(protocol.FrameError, match="not JSON"):
        protocol.FrameBuffer(100).feed(b"\x00\x00\x00\x03\x00\x00\x00\x00abc")


def test_tail_buffer_keeps_the_end():
    t = TailBuffer(10)
    for i in range(1000):
        t.write(f"{i},")
    assert t.getvalue() == "97,998,999,"[-10:]


def _png_size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_render_scales_dpi_to_max_pixels():
    fig = plt.figure(figsize=(20, 10))
    out = render(fig, {}, Limits(max_pixels=200_000))
    w, h = _png_size(out.png)
    assert w * h <= 200_000 and w == 2 * h
    plt.close(fig)


def test_render_limits_png_bytes():
    fig = plt.figure()
    plt.imshow(__import__("numpy").random.rand(300, 300))
    with pytest.raises(OutputTooLarge, match="PNG"):
        render(fig, {}, Limits(max_png_bytes=1000))
    plt.close(fig)


def test_render_honours_tight_bbox():
    fig = plt.figure(figsize=(8, 6))
    plt.plot([1, 2])
    full = _png_size(render(fig, {}, Limits()).png)
    tight = _png_size(render(fig, {"bbox_inches": "tight"}, Limits()).png)
    assert full == (800, 600) and tight[0] < 800 and tight[1] < 600
    plt.close(fig)


def test_doctor_lists_every_layer():
    layers = {layer.name: layer for layer in doctor()}
    assert {"confinement", "others_out_of_reach", "read_only_system", "forkserver", "rlimits", "wall_clock_kill", "private_workdir", "clean_environment",
            "nobody", "seccomp", "bubblewrap", "no_network", "private_tmp"} <= set(layers)
    for layer in layers.values():
        assert layer.detail, layer
    for name in ("forkserver", "rlimits", "private_workdir", "clean_environment"):
        assert layers[name].active, layers[name]


def test_doctor_without_the_jail_says_what_is_missing(tmp_path):
    with failing_bwrap(tmp_path):
        layers = {layer.name: layer for layer in doctor()}
    assert not layers["confinement"].active
    assert "apt-get install bubblewrap" in layers["confinement"].detail
    assert "systempaths=unconfined" in layers["confinement"].detail
    assert not layers["bubblewrap"].active and "UNCONFINED" in layers["bubblewrap"].detail
    assert not layers["private_tmp"].active
    assert layers["seccomp"].active == layers["no_network"].active
    if not layers["nobody"].active:  # e.g. an interpreter under a 0700 /root
        assert "uid" in layers["nobody"].detail and "readable" in layers["nobody"].detail

