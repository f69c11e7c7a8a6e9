"""The samples of an evaluation: STEM2Code-Eval's released JSONL, or an iccgen job's held-out rows.

Released layout: one JSON object a line with `messages`; the image is at
`messages[1].content[0].image` and the reference program at `messages[3].content[0].text`, the
sample id is the line index. The same roles at other positions are accepted (the first user
image, the last assistant text). Image paths are resolved against --images, then the JSONL's
folder; data URLs work too. iccgen shards: the rows `iccgen export` puts in validation (the same
hash of the id), rendered with the job's own sandbox settings so a perfect answer is pixel-exact.
"""

from __future__ import annotations

import base64
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from iccgen.errors import InputError
from pipelines.codeblock import extract_code
from sandbox import Limits


@dataclass(frozen=True)
class Sample:
    id: str
    reference_code: str
    image: bytes | None = None  # encoded image, or
    image_path: Path | None = None  # read when the sample is evaluated

    def png(self) -> bytes:
        """The reference image as PNG (JPEG/WebP inputs re-encoded; PNG bytes pass unchanged)."""
        data = self.image if self.image is not None else self._read()
        if data[:8] == b"\x89PNG\r\n\x1a\n":
            return data
        try:
            with Image.open(io.BytesIO(data)) as im:
                buf = io.BytesIO()
                im.convert("RGB").save(buf, format="PNG")
                return buf.getvalue()
        except (UnidentifiedImageError, OSError) as e:
            raise InputError(f"sample {self.id}: the reference image is unreadable ({e})") from None

    def _read(self) -> bytes:
        try:
            return self.image_path.read_bytes()
        except OSError as e:
            raise InputError(f"sample {self.id}: cannot read its image {self.image_path} ({e}); "
                             "pass --images DIR, the folder of the benchmark's images") from None


@dataclass(frozen=True)
class EvalData:
    samples: list[Sample]
    limits: Limits
    source: str  # "stem2code" or "iccgen"


def read(data: str, images: str | None = None, split: str = "val", val_fraction: float = 0.05) -> EvalData:
    path = Path(data)
    if path.is_dir() and (path / "_job.json").is_file() or "://" in data:
        return _read_job(data, split, val_fraction)
    if not path.is_file():
        raise InputError(f"{data}: neither a JSONL file nor an iccgen output folder (no _job.json)")
    return EvalData(_read_jsonl(path, Path(images) if images else None), Limits(), "stem2code")


def _parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [p for p in content or [] if isinstance(p, dict)]


def _image_ref(part: dict[str, Any]) -> str | None:
    ref = part.get("image") or part.get("image_url")
    return ref.get("url") if isinstance(ref, dict) else ref


def _fields(messages: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """(image reference, reference text) at the released positions, else by role."""
    try:
        image = _image_ref(messages[1]["content"][0])
        text = messages[3]["content"][0]["text"]
        if image and text:
            return image, text
    except (IndexError, KeyError, TypeError):
        pass
    image = next((ref for m in messages if m.get("role") == "user"
                  for ref in map(_image_ref, _parts(m)) if ref), None)
    texts = [p.get("text") for m in messages if m.get("role") == "assistant" for p in _parts(m)
             if p.get("text")]
    return image, texts[-1] if texts else None


def _locate(ref: str, line: int, jsonl: Path, images: Path | None) -> dict[str, Any]:
    if ref.startswith("data:"):
        return {"image": base64.b64decode(ref.split(",", 1)[1])}
    if ref.startswith(("http://", "https://")):
        raise InputError(f"{jsonl}:{line + 1}: image {ref} is a URL; download the benchmark's images "
                         "and pass --images DIR")
    candidates = [Path(ref)] if Path(ref).is_absolute() else []
    for root in filter(None, (images, jsonl.parent)):
        candidates += [root / ref, root / Path(ref).name]
    for candidate in candidates:
        if candidate.is_file():
            return {"image_path": candidate}
    raise InputError(f"{jsonl}:{line + 1}: image {ref} not found (looked in "
                     f"{', '.join(str(c.parent) for c in candidates) or 'nowhere'}); pass --images DIR, "
                     "the folder of the benchmark's images")


def _read_jsonl(path: Path, images: Path | None) -> list[Sample]:
    samples = []
    for line, text in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not text.strip():
            continue
        try:
            messages = json.loads(text)["messages"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(f"{path}:{line + 1}: not a STEM2Code sample ({e}); each line must be a "
                             "JSON object with `messages`") from None
        ref, reference = _fields(messages)
        if not ref or not reference:
            raise InputError(f"{path}:{line + 1}: no {'image' if not ref else 'reference program'} in "
                             "`messages` (expected at messages[1].content[0].image and "
                             "messages[3].content[0].text)")
        code = extract_code(reference) or reference
        samples.append(Sample(str(line), code, **_locate(ref, line, path, images)))
    return samples


def _read_job(out: str, split: str, val_fraction: float) -> EvalData:
    from iccgen.config import SandboxConfig
    from iccgen.export import split_of
    from iccgen.readers import open_dataset
    from iccgen.report import open_job

    _, job = open_job(out)
    samples = [Sample(r["id"], r["code"], image=r["image"]["bytes"])
               for fragment in open_dataset(out).get_fragments()
               for r in fragment.to_table(columns=["id", "code", "image"]).to_pylist()
               if split == "all" or split_of(r["id"], val_fraction) == "val"]
    if not samples:
        raise InputError(f"{out}: no held-out rows (validation share {val_fraction:g}); "
                         "pass --split all, or a larger --val")
    # The job's own rendering settings, as its workers applied them.
    cfg = SandboxConfig.model_validate(job.get("config", {}).get("sandbox", {}))
    return EvalData(samples, cfg.limits(), "iccgen")
