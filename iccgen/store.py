"""The shard store: one Parquet shard per work unit, committed exactly once.

A shard is written under a temporary name, fsynced, then renamed into place (on S3 and GCS, one
upload of the final key, visible all at once when its stream closes). The final name existing
means the unit is done; nothing else records it. Per-unit statistics ride in the file's key-value
metadata, so there is no second file to keep consistent. Paths go through `pyarrow.fs`, so local
folders and `s3://`/`gs://` URIs both work; another filesystem (HDFS, ...) cannot make a file
appear whole, and a job refuses it unless the user opts out (`[output] allow_nonatomic`).
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from iccgen import location
from iccgen.errors import NonAtomicOutput, OutputError, ShardError
from iccgen.schema import rejects_table

JOB_FILE = "_job.json"
REJECTS_DIR = "_rejects"  # sampled rejected candidates, one file per committed unit
STATS_KEY = b"iccgen"
_SHARD = re.compile(r"^part-(\d{5,})\.parquet$")
_TEMP = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$")
CommitMode = Literal["rename", "put", "nonatomic"]
# A local rename is atomic, and so is one upload to these object stores; anything else is not.
_COMMIT_MODES: dict[str, CommitMode] = {
    "file": "rename", "local": "rename", "s3": "put", "gs": "put", "gcs": "put"}
# Deleting the record would not start OUT afresh: its shards would count under the next config.
_LOST_RECORD = "restore it from a backup, or write the job to a new --out"


def shard_name(unit: int) -> str:
    return f"part-{unit:05d}.parquet"


def refuse_output(uri: str) -> location.Refuse:
    return lambda why: OutputError(f"{uri}: cannot open output location: {why}")


def unreadable(path: str, e: OSError) -> OutputError:
    """A file or folder in OUT that cannot be read: its owner, mode or the connection is to fix,
    not its content (deleting it would throw away work)."""
    if os.path.isabs(path):  # a local path; pyarrow names an object store's "bucket/key"
        fix = ("make it readable by this user (its owner, its mode, or a folder standing where a "
               "file should)")
    else:  # an object store's access denied, a network error, an I/O error
        fix = "check that this user may read it and, on s3:// or gs://, the connection and credentials"
    return OutputError(f"{path}: cannot be read ({e}); {fix}, then run the command again")


def commit_mode(uri: str) -> CommitMode:
    """How a shard is made visible all at once on `uri`'s filesystem, if it can be."""
    return _COMMIT_MODES.get(location.scheme(uri), "nonatomic")


def require_atomic(uri: str, allow_nonatomic: bool) -> None:
    """Refuse an output where a partial shard could look committed, unless the user accepts that
    risk. It needs no connection: opening hdfs:// would load a JVM and print its errors first."""
    if commit_mode(uri) == "nonatomic" and not allow_nonatomic:
        raise NonAtomicOutput(
            f"{uri}: a {location.scheme(uri)}:// filesystem does not make a written "
            "file visible all at once, so a killed writer could leave a partial shard that looks "
            "committed; write to a local folder, s3:// or gs:// instead, or set "
            "`allow_nonatomic = true` under [output] to accept that (it is recorded in _job.json)"
        )


def _delayed_open(uri: str) -> str:
    """S3 URIs get `allow_delayed_open`: a small file is then sent as one PUT when its stream
    closes, so a writer killed before that leaves nothing behind (not even a pending upload).
    GCS has no such option: its stream is a resumable upload from the start, and one a killed
    writer never finalised holds no object (GCS drops the session after a week)."""
    return location.with_default(uri, ("s3",), "allow_delayed_open", "true")


class ShardStore:
    """The output folder of one job: `OUT/_job.json` and `OUT/<pipeline>/part-<unit>.parquet`."""

    def __init__(self, uri: str):
        self.uri = uri
        self.fs, self.root = location.resolve(_delayed_open(uri), refuse_output(uri))
        self.local = isinstance(self.fs, pafs.LocalFileSystem)
        self.commit_mode = commit_mode(uri)
        self._root_made = False

    # -- paths ------------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def shard_path(self, pipeline: str, unit: int) -> str:
        return self.path(pipeline, shard_name(unit))

    def list_dir(self, path: str) -> list[pafs.FileInfo]:
        try:
            return self.fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
        except PermissionError as e:
            raise unreadable(path, e) from None

    # -- job file ---------------------------------------------------------------------------
    def read_job(self) -> dict[str, Any] | None:
        path = self.path(JOB_FILE)
        try:
            if self.fs.get_file_info(path).type == pafs.FileType.NotFound:
                return None
            with self.fs.open_input_stream(path) as f:
                data = f.read()
        except OSError as e:
            raise unreadable(path, e) from None
        try:
            job = json.loads(data)
        except ValueError as e:  # not JSON, or not UTF-8 text at all
            raise OutputError(f"{path}: not valid JSON ({e}); {_LOST_RECORD}") from None
        if not isinstance(job, dict):  # `null` would read as a new job and be written over
            raise OutputError(f"{path}: holds {json.dumps(job)[:40]}, not a job record (a JSON "
                              f"object); {_LOST_RECORD}")
        return job

    def write_job(self, job: dict[str, Any]) -> None:
        self._make_root()
        self._write_atomic(self.path(JOB_FILE), json.dumps(job, indent=2).encode())

    def _make_root(self) -> None:
        # Once per store: on an object store each call is a request, and _job.json is rewritten
        # on every quarantine event.
        if not self._root_made:
            self.fs.create_dir(self.root, recursive=True)
            self._root_made = True

    def check_writable(self) -> None:
        """Fail early, before any work, if the output location refuses writes."""
        probe = self.path(f".probe-{uuid.uuid4().hex}")
        try:
            self._make_root()
            with self.fs.open_output_stream(probe) as f:
                f.write(b"ok")
            self.fs.delete_file(probe)
        except (OSError, pa.ArrowException) as e:
            raise OutputError(f"{self.uri}: output is not writable ({e}); choose another --out") from None

    # -- shards -----------------------------------------------------------------------------
    def committed_units(self, pipeline: str) -> set[int]:
        return set(self.shard_infos(pipeline))

    def shard_infos(self, pipeline: str) -> dict[int, pafs.FileInfo]:
        """{unit: listing entry} of the committed shards, from one listing of the folder."""
        infos = {}
        for info in self.list_dir(self.path(pipeline)):
            m = _SHARD.match(info.base_name)
            if m and info.type == pafs.FileType.File:
                infos[int(m.group(1))] = info
        return infos

    def pipelines(self) -> list[str]:
        return sorted(
            i.base_name for i in self.list_dir(self.root)
            if i.type == pafs.FileType.Directory and not i.base_name.startswith(("_", "."))
        )

    def commit(self, pipeline: str, unit: int, table: pa.Table, stats: dict[str, Any]) -> str:
        """Write the unit's shard with its statistics; after this returns the unit is done."""
        final = self.shard_path(pipeline, unit)
        self.write_parquet(final, table, stats)
        return final

    def write_parquet(self, final: str, table: pa.Table, stats: dict[str, Any]) -> None:
        """Write `table` to `final` atomically, `stats` in its key-value metadata."""
        meta = dict(table.schema.metadata or {})
        meta[STATS_KEY] = json.dumps(stats, sort_keys=True, default=str).encode()
        sink = pa.BufferOutputStream()
        pq.write_table(table.replace_schema_metadata(meta), sink, compression="zstd", row_group_size=64)
        self.fs.create_dir(final.rsplit("/", 1)[0], recursive=True)
        self._write_atomic(final, sink.getvalue().to_pybytes())

    def _write_atomic(self, final: str, data: bytes) -> None:
        folder, name = final.rsplit("/", 1)
        tmp = f"{folder}/.{name}.{uuid.uuid4().hex}.tmp"
        if self.commit_mode == "put":
            # One write then close: the final key appears when the upload completes, whole.
            with self.fs.open_output_stream(final) as f:
                f.write(data)
            return
        if self.commit_mode == "nonatomic":
            # The best this filesystem offers (the user opted out): a move that may not be atomic.
            with self.fs.open_output_stream(tmp) as f:
                f.write(data)
            self.fs.move(tmp, final)
            return
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself must survive a power cut
        finally:
            os.close(dir_fd)

    def sweep_temporaries(self) -> int:
        """Delete temporaries left by a killed writer; they were never visible as shards."""
        temps = self.temporaries()
        for path in temps:
            self.fs.delete_file(path)
        return len(temps)

    def temporaries(self) -> list[str]:
        selector = pafs.FileSelector(self.root, allow_not_found=True, recursive=True)
        return [i.path for i in self.fs.get_file_info(selector) if _TEMP.match(i.base_name)]

    # -- sampled rejects -----------------------------------------------------------------
    # Written just before the unit's shard (and overwritten when an uncommitted unit reruns), so
    # the shard's name stays the one commit marker; readers take a unit's file only once its
    # shard is committed. The `_` folder keeps it out of every reader's glob of the shards.
    def rejects_path(self, pipeline: str, unit: int) -> str:
        return self.path(REJECTS_DIR, pipeline, shard_name(unit))

    def write_rejects(self, pipeline: str, unit: int, evidence: list[dict[str, Any]]) -> None:
        path = self.rejects_path(pipeline, unit)
        if evidence:
            self.write_parquet(path, rejects_table(pipeline, unit, evidence), {})
        elif self.fs.get_file_info(path).type == pafs.FileType.File:
            self.fs.delete_file(path)  # a rerun that rejected nothing must not keep an old sample

    def read_rejects(self, pipeline: str, unit: int, columns: list[str] | None = None) -> pa.Table | None:
        """A committed unit's sampled rejects, or None (no rejects, or an older shard); callers
        ask only for committed units, as a rejects file without its shard is not yet done."""
        path = self.rejects_path(pipeline, unit)
        if self.fs.get_file_info(path).type != pafs.FileType.File:
            return None
        try:
            return pq.ParquetFile(self.fs.open_input_file(path)).read(columns=columns)
        except PermissionError as e:
            raise unreadable(path, e) from None
        except (pa.ArrowInvalid, OSError) as e:
            raise ShardError(f"{path}: unreadable rejects file ({e}); delete it (only the sample is lost)") from None

    # -- reading ----------------------------------------------------------------------------
    def _parquet(self, pipeline: str, unit: int) -> pq.ParquetFile:
        path = self.shard_path(pipeline, unit)
        try:  # refused here (a mode, an object store's access denied) is no fault of the file's
            handle = self.fs.open_input_file(path)
        except OSError as e:
            raise unreadable(path, e) from None
        try:
            return pq.ParquetFile(handle)
        except (OSError, pa.ArrowInvalid) as e:
            raise self._read_failure(path, e) from None

    def _read_failure(self, path: str, e: OSError | pa.ArrowInvalid) -> OutputError | ShardError:
        """Only bytes that do not parse are the shard's fault; on an object store an OSError
        while reading may be the network, and deleting the shard would throw work away."""
        if isinstance(e, PermissionError) or (isinstance(e, OSError) and not self.local):
            return unreadable(path, e)
        return ShardError(f"{path}: corrupt shard ({e}); delete it and run the job again to "
                          "regenerate it")

    def stats(self, pipeline: str, unit: int) -> dict[str, Any]:
        return self.footer(pipeline, unit)[1]

    def footer(self, pipeline: str, unit: int) -> tuple[int, dict[str, Any]]:
        """The shard's row count and stats, from one read of its footer."""
        parquet = self._parquet(pipeline, unit)
        meta = parquet.schema_arrow.metadata or {}
        return parquet.metadata.num_rows, json.loads(meta.get(STATS_KEY, b"{}"))

    def read_unit(self, pipeline: str, unit: int, columns: list[str] | None = None) -> pa.Table:
        try:
            return self._parquet(pipeline, unit).read(columns=columns)
        except (pa.ArrowInvalid, OSError) as e:
            raise self._read_failure(self.shard_path(pipeline, unit), e) from None

    def read(self, pipeline: str, columns: list[str] | None = None) -> pa.Table | None:
        tables = [self.read_unit(pipeline, u, columns) for u in sorted(self.committed_units(pipeline))]
        return pa.concat_tables(tables) if tables else None

    def iter_stats(self, pipeline: str) -> Iterator[tuple[int, dict[str, Any]]]:
        for unit in sorted(self.committed_units(pipeline)):
            yield unit, self.stats(pipeline, unit)
