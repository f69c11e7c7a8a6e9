"""Seed images: where they are (a folder of images, or Parquet tables), and reading one safely.

The driver lists seeds as small references (a file, or a row of a Parquet file); a worker reads
each one when it works on it, so image bytes never travel with the plan. Every way a seed can be
unusable (gone, empty, corrupt, tiny, enormous) becomes a reject reason, never an exception.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import PurePosixPath
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from PIL import Image, UnidentifiedImageError

from iccgen import location
from iccgen.errors import InputError
from iccgen.unit import Rejected

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp"})
MAX_SEED_BYTES = 64 * 1024**2
MAX_SEED_PIXELS = 50_000_000
MIN_SEED_SIDE = 32
# The image the model sees is scaled to fit this side: Qwen3-VL spends about one token per
# 32x32 patch, so a 1024 px side is ~1k tokens, and finer detail rarely changes the program.
MODEL_MAX_SIDE = 1024


@dataclass(frozen=True)
class SeedRef:
    source_id: str  # stable lineage: the path under the seeds root, plus "#row" for tables
    uri: str
    row_group: int = -1  # -1: the file is an image; otherwise a Parquet row's location
    index: int = 0

    @property
    def where(self) -> str:
        """What a user searches for to find this seed: its file, and for a table the row."""
        if self.row_group < 0:
            return self.uri
        return f"{self.uri} row {self.source_id.rpartition('#')[2]}"


@dataclass(frozen=True)
class Seed:
    ref: SeedRef
    png: bytes  # RGB on white, at most MODEL_MAX_SIDE: what the model sees and what is compared
    width: int  # of the original image
    height: int


def _filesystem(path: str) -> tuple[pafs.FileSystem, str]:
    return location.resolve(path, lambda why: InputError(f"reproduce.seeds: cannot open {path}: {why}"))


def _uri(fs: pafs.FileSystem, path: str) -> str:
    return path if isinstance(fs, pafs.LocalFileSystem) else f"{fs.type_name}://{path}"


def check_exists(path: str) -> None:
    fs, root = _filesystem(path)
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        raise InputError(
            f"reproduce.seeds: {path} does not exist; pass --seeds with a folder of images "
            "(png, jpg, webp) or a Parquet table with an image column"
        )


def list_seeds(path: str, image_column: str) -> list[SeedRef]:
    """Every seed under `path`, in a stable order (sorted paths, then row order)."""
    check_exists(path)
    fs, root = _filesystem(path)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.Directory:
        files = fs.get_file_info(pafs.FileSelector(root, recursive=True))
        base = root.rstrip("/") + "/"
    else:
        files, base = [info], root.rsplit("/", 1)[0] + "/"
    refs: list[SeedRef] = []
    for f in sorted((f for f in files if f.type == pafs.FileType.File), key=lambda f: f.path):
        rel = f.path.removeprefix(base)
        if any(part.startswith(".") for part in rel.split("/")):
            continue
        suffix = PurePosixPath(rel).suffix.lower()
        if suffix in IMAGE_SUFFIXES:
            refs.append(SeedRef(rel, _uri(fs, f.path)))
        elif suffix == ".parquet":
            refs += _table_refs(fs, f.path, rel, image_column)
    if not refs:
        raise InputError(
            f"reproduce.seeds: {path} holds no images (png, jpg, webp) and no Parquet rows; "
            "point --seeds at the folder or table of seed images"
        )
    return refs


def _table_refs(fs: pafs.FileSystem, path: str, rel: str, column: str) -> list[SeedRef]:
    with fs.open_input_file(path) as f:
        try:
            meta = pq.ParquetFile(f).metadata
        except pa.ArrowException as e:
            raise InputError(f"reproduce.seeds: {rel} is not a readable Parquet file: {e}") from None
        names = meta.schema.to_arrow_schema().names
        if column not in names:
            raise InputError(
                f"reproduce.seeds: {rel} has no column {column!r} (columns: {names}); "
                "set reproduce.image_column"
            )
        refs, row = [], 0
        for g in range(meta.num_row_groups):
            for i in range(meta.row_group(g).num_rows):
                refs.append(SeedRef(f"{rel}#{row}", _uri(fs, path), g, i))
                row += 1
    return refs


@lru_cache(maxsize=2)  # the items of a unit are neighbouring rows: read each row group once
def _row_group(uri: str, group: int, column: str) -> list[Any]:
    fs, path = _filesystem(uri)
    with fs.open_input_file(path) as f:
        return pq.ParquetFile(f).read_row_group(group, columns=[column]).column(0).to_pylist()


def _read_bytes(ref: SeedRef, column: str) -> bytes | Rejected:
    try:
        if ref.row_group < 0:
            fs, path = _filesystem(ref.uri)
            with fs.open_input_file(path) as f:
                if f.size() > MAX_SEED_BYTES:
                    return Rejected("seed:too_large", f"{f.size()} bytes")
                return f.read()
        value = _row_group(ref.uri, ref.row_group, column)[ref.index]
    except (OSError, pa.ArrowException, InputError) as e:
        return Rejected("seed:unreadable", str(e))
    if isinstance(value, dict):  # the Hugging Face Image layout: struct<bytes, path>
        value = value.get("bytes")
    if not isinstance(value, bytes):
        return Rejected("seed:unreadable", "the row holds no image bytes; embed images in the table")
    return value


def _to_model_png(im: Image.Image) -> bytes:
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        im = Image.new("RGB", rgba.size, "white")
        im.paste(rgba, mask=rgba.getchannel("A"))
    im = im.convert("RGB")
    if max(im.size) > MODEL_MAX_SIDE:
        im.thumbnail((MODEL_MAX_SIDE, MODEL_MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    im.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def decode_seed(data: bytes) -> tuple[bytes, int, int] | Rejected:
    """Validate encoded image bytes; (model PNG, original width, height) or the reject reason."""
    if not data:
        return Rejected("seed:empty", "0 bytes")
    if len(data) > MAX_SEED_BYTES:
        return Rejected("seed:too_large", f"{len(data)} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > MAX_SEED_PIXELS:
                    return Rejected("seed:too_large", f"{w}x{h} pixels")
                if min(w, h) < MIN_SEED_SIDE:
                    return Rejected("seed:too_small", f"{w}x{h} pixels")
                im.load()
                return _to_model_png(im), w, h
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        return Rejected("seed:too_large", str(e))
    except UnidentifiedImageError:  # its message holds the repr of our BytesIO: no use to a user
        return Rejected("seed:corrupt", "not an image format PIL can read")
    except (OSError, ValueError, SyntaxError) as e:  # PIL's ways of saying "not an image"
        return Rejected("seed:corrupt", f"{type(e).__name__}: {e}")


def load_seed(ref: SeedRef, column: str) -> Seed | Rejected:
    """The seed, or a reject whose detail names the seed (among thousands, the user needs the file)."""
    data = _read_bytes(ref, column)
    decoded = data if isinstance(data, Rejected) else decode_seed(data)
    if isinstance(decoded, Rejected):
        return Rejected(decoded.reason, f"{ref.where}: {decoded.detail}")
    png, w, h = decoded
    return Seed(ref, png, w, h)
