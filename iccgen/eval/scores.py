"""Per-sample results of STEM2Code-Eval and their aggregate, as the paper computes it.

Every mean is over all n samples of this run (the released script averages judge scores over the
samples that succeeded and counts image files on disk for the exec rate, so stale files and
dropped samples move its numbers). A sample whose program fails scores 0 for the image judge and
for every judge-free part; the code judge still reads its code. Judge answers without a
readable score are left out of that judge's mean and counted as `unscored`.

    score = (image_score + code_score + exec_rate) / 3             (CodePercept-8B-R1: 63.56)
    judge_free.score = (100 * trace + 100 * pixel + exec_rate) / 3  (the same shape, no model)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from iccgen.tracescore import PHASH_BITS

JUDGE_FREE = ("text_f1", "kind_f1", "colour_f1", "layout_f1", "trace", "ssim", "pixel")


@dataclass
class SampleResult:
    id: str
    status: str  # ok, no_code, model_refused, or exec:<sandbox status>
    code: str = ""
    error: str = ""
    image_score: float | None = None  # the judges' 0-100, None when not judged or unreadable
    code_score: float | None = None
    judge_free: dict[str, float] = field(default_factory=dict)
    judges: dict[str, Any] = field(default_factory=dict)  # rationales

    @property
    def executed(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SampleResult:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def failed_judge_free() -> dict[str, float]:
    return {**dict.fromkeys(JUDGE_FREE, 0.0), "phash_distance": PHASH_BITS}


def _mean(values: list[float], digits: int = 2) -> float | None:
    return round(sum(values) / len(values), digits) if values else None


def summarise(results: list[SampleResult], judged: bool) -> dict[str, Any]:
    n = len(results)
    exec_rate = round(100 * sum(r.executed for r in results) / n, 2) if n else 0.0
    free = {k: _mean([r.judge_free.get(k, 0.0) for r in results], 4) for k in JUDGE_FREE}
    free["phash_distance"] = _mean([r.judge_free.get("phash_distance", PHASH_BITS) for r in results])
    free["score"] = round((100 * (free["trace"] or 0) + 100 * (free["pixel"] or 0) + exec_rate) / 3, 2)
    summary: dict[str, Any] = {"score": None, "exec_rate": exec_rate, "image_score": None,
                               "code_score": None, "judge_free": free, "n": n}
    if judged:
        image = _mean([r.image_score for r in results if r.image_score is not None])
        code = _mean([r.code_score for r in results if r.code_score is not None])
        summary.update(image_score=image, code_score=code,
                       unscored={"image": sum(r.executed and r.image_score is None for r in results),
                                 "code": sum(r.code_score is None for r in results)})
        if image is not None and code is not None:
            summary["score"] = round((image + code + exec_rate) / 3, 2)
    summary["statuses"] = {s: sum(r.status == s for r in results) for s in sorted({r.status for r in results})}
    return summary
