"""Row storage: append-only arrays, and ids kept as crc32s beside zlib-compressed chunks."""

from __future__ import annotations

import zlib

import numpy as np

_ID_CHUNK = 256


class Rows:
    """Append-only array with modest over-allocation (the memory budget is tight)."""

    def __init__(self, dtype: type = np.uint64) -> None:
        self.data = np.zeros(0, dtype=dtype)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.n + len(values)
        if need > len(self.data):
            grown = np.zeros(max(need, int(len(self.data) * 1.25), 1024), dtype=self.data.dtype)
            grown[: self.n] = self.data[: self.n]
            self.data = grown
        self.data[self.n : need] = values
        self.n = need

    @property
    def view(self) -> np.ndarray:
        return self.data[: self.n]


class Ids:
    """Row -> id. A Python str per id costs ~80 B and a fixed-width byte array ~27 B (pipeline
    ids), too much beside the index, so each row keeps only a crc32 of its id, which tells
    different ids apart; the ids themselves are zlib-compressed in chunks (~2 B per pipeline
    id) and decoded only when a crc matches (a re-admitted id) or for `nearest`."""

    def __init__(self) -> None:
        self.crc = Rows(np.uint32)
        self.chunks: list[bytes] = []
        self.tail: list[str] = []
        self._decoded: tuple[int, list[str]] = (-1, [])

    def extend(self, ids: list[str]) -> None:
        self.crc.extend(_crc(ids))
        self.tail.extend(ids)
        while len(self.tail) >= _ID_CHUNK:
            head, self.tail = self.tail[:_ID_CHUNK], self.tail[_ID_CHUNK:]
            self.chunks.append(zlib.compress("\0".join(head).encode()))

    def __getitem__(self, row: int) -> str:
        c, i = divmod(row, _ID_CHUNK)
        if c == len(self.chunks):
            return self.tail[i]
        if self._decoded[0] != c:
            self._decoded = (c, zlib.decompress(self.chunks[c]).decode().split("\0"))
        return self._decoded[1][i]

    def differ(self, rows: np.ndarray, ids: list[str], qi: np.ndarray) -> np.ndarray:
        """Per hit: does stored row `rows[k]` hold an id other than `ids[qi[k]]`?"""
        out = self.crc.view[rows] != _crc([ids[i] for i in qi.tolist()])
        for k in np.flatnonzero(~out).tolist():
            out[k] = self[int(rows[k])] != ids[qi[k]]
        return out

    def nbytes(self) -> int:
        return (self.crc.data.nbytes + sum(len(c) for c in self.chunks)
                + sum(len(i) + 49 for i in self.tail))


def _crc(ids: list[str]) -> np.ndarray:
    return np.array([zlib.crc32(i.encode()) for i in ids], dtype=np.uint32)
