"""Length-prefixed frames: a JSON header and an optional binary blob.

Every hop (driver <-> pool, pool <-> child) uses them. Frames coming from a child are written by
untrusted code, so they are parsed as JSON only (never pickle) and every length is bounded.
"""
from __future__ import annotations

import json
import os
import struct
from typing import Any, BinaryIO

_PREFIX = struct.Struct(">II")


class FrameError(ValueError):
    """A frame is malformed or larger than allowed."""


def encode(header: dict[str, Any], blob: bytes = b"") -> bytes:
    # default=str: a value a program smuggled into its trace must not cost the whole report.
    head = json.dumps(header, separators=(",", ":"), default=str).encode()
    return _PREFIX.pack(len(head), len(blob)) + head + blob


def _decode(head: bytes, blob: bytes) -> tuple[dict[str, Any], bytes]:
    try:
        header = json.loads(head)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FrameError(f"frame header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise FrameError("frame header is not a JSON object")
    return header, blob


class FrameBuffer:
    """Accumulates bytes read without blocking and yields complete frames."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[dict[str, Any], bytes]]:
        self._buf += data
        frames = []
        while len(self._buf) >= _PREFIX.size:
            head_len, blob_len = _PREFIX.unpack_from(self._buf)
            total = _PREFIX.size + head_len + blob_len
            if total > self.max_bytes:
                raise FrameError(f"frame of {total} bytes exceeds the limit of {self.max_bytes}")
            if len(self._buf) < total:
                break
            head = bytes(self._buf[_PREFIX.size:_PREFIX.size + head_len])
            blob = bytes(self._buf[_PREFIX.size + head_len:total])
            del self._buf[:total]
            frames.append(_decode(head, blob))
        if len(self._buf) > self.max_bytes:
            raise FrameError(f"more than {self.max_bytes} bytes without a complete frame")
        return frames

    @property
    def pending(self) -> int:
        return len(self._buf)


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = stream.read(n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO, max_bytes: int) -> tuple[dict[str, Any], bytes] | None:
    """Blocking read of one frame; None at a clean end of stream."""
    prefix = _read_exact(stream, _PREFIX.size)
    if prefix is None:
        return None
    head_len, blob_len = _PREFIX.unpack(prefix)
    if _PREFIX.size + head_len + blob_len > max_bytes:
        raise FrameError(f"frame of {head_len + blob_len} bytes exceeds the limit of {max_bytes}")
    head = _read_exact(stream, head_len)
    blob = _read_exact(stream, blob_len) if blob_len else b""
    if head is None or blob is None:
        raise FrameError("stream ended inside a frame")
    return _decode(head, blob)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
