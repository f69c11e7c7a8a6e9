"""Versioned prompt files: `prompts/<pipeline>/<version>/<name>.txt` with `$name` placeholders.

A prompt is never edited in place once rows were made with it: a change is a new version folder,
and every row records the version that made it (`prompt_version`). Prompts every model pipeline
shares (the repair prompt) live in `prompts/common/` and are found when a version lacks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from iccgen.errors import ConfigError

ROOT = Path(__file__).parent
COMMON = ROOT / "common"


@dataclass(frozen=True)
class Prompts:
    version: str  # as recorded in rows: "<pipeline>/<version>"
    templates: dict[str, Template]

    def render(self, name: str, **values: str) -> str:
        return self.templates[name].substitute(values)


def available(pipeline: str) -> list[str]:
    folder = ROOT / pipeline
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []


def load(pipeline: str, version: str, names: tuple[str, ...]) -> Prompts:
    folder = ROOT / pipeline / version
    if not folder.is_dir() or version.startswith((".", "_")) or "/" in version:
        raise ConfigError(
            f"{pipeline}.prompt_version {version!r} does not exist; available: {available(pipeline)}"
        )
    templates = {}
    for name in names:
        path = folder / f"{name}.txt"
        templates[name] = Template((path if path.is_file() else COMMON / f"{name}.txt").read_text())
    return Prompts(f"{pipeline}/{version}", templates)
