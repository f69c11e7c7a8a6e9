"""Length-prefixed frames: a JSON header and an optional binary blob.

Every hop (driver <-> pool, pool <-> child) uses them. Frames coming from a child are written by
untrusted code, so they are parsed as JSON only (never pickle) and every length is bounded.
"""
from __future__ import annotations

import json
import os
import re
import struct
from typing import Any, BinaryIO

import numpy as np

_PREFIX = struct.Struct(">II")
# Our own headers nest three levels deep (result -> trace -> items -> geometry); a child's
# frame nested deeper is hostile, and json's recursive parser must never see it.
MAX_DEPTH = 32


class FrameError(ValueError):
    """A frame is malformed or larger than allowed."""


class FrameTooLarge(FrameError):
    """A frame, or bytes waiting to become one, exceed the reader's bound."""


def encode(header: dict[str, Any], blob: bytes = b"") -> bytes:
    # default=str: a value a program smuggled into its trace must not cost the whole report.
    head = json.dumps(header, separators=(",", ":"), default=str).encode()
    return _PREFIX.pack(len(head), len(blob)) + head + blob


_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"')
_BRACKETS = np.zeros(256, dtype=np.int8)
_BRACKETS[list(b"[{")], _BRACKETS[list(b"]}")] = 1, -1


def nesting(head: bytes) -> int:
    """Deepest bracket nesting outside strings, found without a recursive parser."""
    bare = _STRING.sub(b"", head)
    if not bare:
        return 0
    return int(np.cumsum(_BRACKETS[np.frombuffer(bare, dtype=np.uint8)], dtype=np.int64).max())


def _decode(head: bytes, blob: bytes) -> tuple[dict[str, Any], bytes]:
    if nesting(head) > MAX_DEPTH:
        raise FrameError(f"frame header nests deeper than {MAX_DEPTH} levels")
    try:
        header = json.loads(head)
    except (UnicodeDecodeError, ValueError, RecursionError, MemoryError) as exc:
        raise FrameError(f"frame header is not JSON: {type(exc).__name__}: {str(exc)[:200]}") from None
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
                raise FrameTooLarge(f"frame of {total} bytes exceeds the limit of {self.max_bytes}")
            if len(self._buf) < total:
                break
            head = bytes(self._buf[_PREFIX.size:_PREFIX.size + head_len])
            blob = bytes(self._buf[_PREFIX.size + head_len:total])
            del self._buf[:total]
            frames.append(_decode(head, blob))
        if len(self._buf) > self.max_bytes:
            raise FrameTooLarge(f"more than {self.max_bytes} bytes without a complete frame")
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
        raise FrameTooLarge(f"frame of {head_len + blob_len} bytes exceeds the limit of {max_bytes}")
    head = _read_exact(stream, head_len)
    blob = _read_exact(stream, blob_len) if blob_len else b""
    if head is None or blob is None:
        raise FrameError("stream ended inside a frame")
    return _decode(head, blob)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
