"""Where a path or URI points: a pyarrow filesystem and the path of the place on it.

`s3://bucket/x` and `gs://b` name object stores, anything without `://` a local path. A URI
that lost its `//` (`s3:/bucket`, `s3:bucket`) would be a local folder named `s3:`, so a job
would write there silently; it is refused instead, asking for the `scheme://` form.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pyarrow as pa
import pyarrow.fs as pafs

from iccgen.errors import UserError

#: the schemes pyarrow.fs.FileSystem.from_uri knows
SCHEMES = frozenset({"s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss", "file", "local", "mock"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(.*)$", re.DOTALL)

#: how long one GCS request is retried. pyarrow's default (15 min) also covers looking up
#: credentials, so a machine without any would sit silently that long before the first error.
GCS_RETRY_LIMIT_S = 60

#: builds the caller's typed error from what went wrong, in the caller's own wording
Refuse = Callable[[str], UserError]


def is_uri(path: str) -> bool:
    return "://" in path


def scheme(path: str) -> str:
    """The scheme of a URI, lowercased; "file" for a local path."""
    return path.split("://", 1)[0].lower() if is_uri(path) else "file"


def check_scheme(path: str, refuse: Refuse) -> None:
    """Refuse a path whose first component is a known scheme and ':' without the '//'."""
    m = _SCHEME.match(path)
    if is_uri(path) or not m or m.group(1).lower() not in SCHEMES:
        return
    scheme, rest = m.group(1).lower(), m.group(2)
    if scheme in ("file", "local"):  # `file:runs/a` meant the folder runs/a here, not /runs/a
        meant = f"file://{os.path.abspath(rest or '.')}"
    else:
        meant = f"{scheme}://{rest.lstrip('/') or 'bucket/prefix'}"
    raise refuse(
        f"a URI needs '//' after '{m.group(1)}:': write {meant} (or ./{path} for a local folder "
        f"named '{path.split('/', 1)[0]}')"
    )


def resolve(path: str, refuse: Refuse) -> tuple[pafs.FileSystem, str]:
    """(filesystem, path on it) of a URI, or of a local path made absolute."""
    check_scheme(path, refuse)
    if not is_uri(path):
        return pafs.LocalFileSystem(), os.path.abspath(path)
    scheme, rest = path.split("://", 1)
    path = f"{scheme.lower()}://{rest}"  # pyarrow knows `s3`, not `S3`
    # An object store needs a bucket (hdfs:/// is fine: the default namenode).
    if scheme.lower() in ("s3", "gs", "gcs") and not urlsplit(path).netloc:
        raise refuse(f"{path} names no bucket: write {scheme.lower()}://BUCKET/PREFIX")
    if "#" in rest:  # pyarrow drops a fragment: `gs://b/run#1` would be written to b/run
        raise refuse(f"'#' starts a URI's fragment, which is dropped ({path.split('#')[0]} would be "
                     "used); choose a name without '#'")
    try:
        return pafs.FileSystem.from_uri(_bounded_retries(path))
    except (pa.ArrowInvalid, OSError) as e:
        raise refuse(str(e)) from None


def _bounded_retries(uri: str) -> str:
    """A gs:// URI gets `retry_limit_seconds` unless it names its own."""
    return with_default(uri, ("gs", "gcs"), "retry_limit_seconds", str(GCS_RETRY_LIMIT_S))


def with_default(uri: str, schemes: tuple[str, ...], key: str, value: str) -> str:
    """`uri` with `key=value` in its query where its scheme is one of `schemes` and it sets no
    `key` of its own."""
    parts = urlsplit(uri)
    query = dict(parse_qsl(parts.query))
    # Without a netloc urlunsplit drops the '//' as well: s3:// would come back as s3:?key=value.
    if not is_uri(uri) or parts.scheme not in schemes or not parts.netloc or key in query:
        return uri
    return urlunsplit(parts._replace(query=urlencode({**query, key: value})))
