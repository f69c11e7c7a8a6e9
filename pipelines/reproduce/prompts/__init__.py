"""Versioned prompt files: `<version>/{caption,code,repair}.txt`, with `$name` placeholders.

A prompt is never edited in place once rows were made with it: a change is a new version folder,
and every row records the version that made it (`prompt_version`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from iccgen.errors import ConfigError

ROOT = Path(__file__).parent
NAMES = ("caption", "code", "repair")


@dataclass(frozen=True)
class Prompts:
    version: str  # as recorded in rows: "reproduce/<version>"
    templates: dict[str, Template]

    def caption(self) -> str:
        return self.templates["caption"].substitute()

    def code(self, caption: str) -> str:
        return self.templates["code"].substitute(caption=caption.strip())

    def repair(self, code: str, error: str) -> str:
        return self.templates["repair"].substitute(code=code.rstrip("\n"), error=error.strip())


def available() -> list[str]:
    return sorted(p.name for p in ROOT.iterdir() if p.is_dir() and (p / "code.txt").is_file())


def load(version: str) -> Prompts:
    folder = ROOT / version
    if not folder.is_dir() or version.startswith((".", "_")) or "/" in version:
        raise ConfigError(
            f"reproduce.prompt_version {version!r} does not exist; available: {available()}"
        )
    templates = {name: Template((folder / f"{name}.txt").read_text()) for name in NAMES}
    return Prompts(f"reproduce/{version}", templates)
