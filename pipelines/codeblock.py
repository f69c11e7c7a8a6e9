"""The program inside a model's answer: its fenced python block.

Models wrap code in prose and sometimes in reasoning (`<think>…</think>` with Qwen3 thinking
variants); only a closed fence counts, because an unclosed one means the answer was cut off at
max_tokens and the program is incomplete.
"""

from __future__ import annotations

import re

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_PYTHON_TAGS = {"python", "python3", "py"}


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of every closed ``` block, scanned line by line."""
    blocks: list[tuple[str, str]] = []
    info: str | None = None
    body: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if info is None and stripped.startswith("```"):
            info, body = stripped[3:].strip().lower(), []
        elif info is not None and stripped == "```":
            blocks.append((info, "\n".join(body)))
            info = None
        elif info is not None:
            body.append(line)
    return blocks


def without_thinking(answer: str) -> str:
    return _THINK.sub("", answer).strip()


def has_python_fence(answer: str) -> bool:
    """A closed python-tagged block outside any reasoning: the reward's format part."""
    return any(info in _PYTHON_TAGS for info, _ in fenced_blocks(without_thinking(answer)))


def extract_code(answer: str) -> str | None:
    """The longest python-tagged block, else the longest untagged one; None if there is none."""
    blocks = fenced_blocks(without_thinking(answer))
    tagged = [code for info, code in blocks if info in _PYTHON_TAGS]
    untagged = [code for info, code in blocks if not info]
    candidates = [c for c in (tagged or untagged) if c.strip()]
    if not candidates:
        return None
    return max(candidates, key=len).strip("\n") + "\n"
