"""Answers that are no caption: a refusal, a program, an empty or off-topic answer, a one-liner.

A model may refuse ("I need the image to answer." - the refine step is sent no image), ramble
about something else, or answer in five words. None of these describes the figure, and a
grounding check cannot tell: it finds no false claim in a text that makes none. These checks
say why a text is not a caption, or None when it may be one.
"""

from __future__ import annotations

import re

#: the shortest text that can describe a figure ("A bar chart of 6 months' rainfall." is 7)
MIN_WORDS = 7
#: of a caption's content words, at least this share must occur in what it describes
MIN_ON_TOPIC = 0.3

_REFUSAL = re.compile(
    r"\b(?:I|we)\s*(?:'m|’m| am| are)?\s*(?:cannot|can't|can’t|can not|unable|need|would need|"
    r"do not have|don't have|don’t have|won't|will not|apologi[sz]e)\b"
    r"|\bas an ai\b|\blanguage model\b|\b(?:sorry|unfortunately)\b"
    r"|\bplease (?:provide|upload|share|send|attach)\b"
    r"|\b(?:no|without (?:the|an|any)) (?:image|figure|picture) (?:was |is )?(?:provided|given|attached|shared)\b",
    re.IGNORECASE)
# A fenced block, or a line that only a program has: an import, a call on plt/ax/fig/np.
_CODE_FENCE = re.compile(r"^\s*(?:```|~~~)", re.MULTILINE)
_CODE_LINE = re.compile(r"^\s*(?:import \w|from [\w.]+ import |(?:plt|ax\w*|fig|np)\.\w+\()",
                        re.MULTILINE)
#: lines of code in a text that no caption has
MAX_CODE_LINES = 1
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]+|\d+(?:\.\d+)?")
_STOP = frozenset(
    "the a an and or of in on at to for with by from as is are was were be been it its this that "
    "these those there their which who whom whose has have had not but into onto over under than "
    "then so such each every all any some more most other also shows show shown showing figure "
    "image plot chart panel drawn draws".split())


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def no_description(text: str) -> str | None:
    """Why `text` is no caption on its own face: empty, a refusal, or a program. A model asked
    for a caption may answer with code, whose literals the grounding check would find backed."""
    if not text.strip():
        return "empty answer"
    if _CODE_FENCE.search(text) or len(_CODE_LINE.findall(text)) > MAX_CODE_LINES:
        return "a program, not a description of the figure"
    found = _REFUSAL.search(text)
    return f"a refusal ({found.group().strip()!r})" if found else None


def _content(text: str) -> set[str]:
    return {w.lower() for w in words(text) if w.lower() not in _STOP and len(w) > 2}


def off_topic(text: str, context: str) -> str | None:
    """`text` shares too few content words with `context` (the draft, the facts, the strings
    drawn): it is about something else."""
    own = _content(text)
    if not own:
        return None
    share = len(own & _content(context)) / len(own)
    return f"off topic: {share:.0%} of its words occur in the draft or the facts" if share < MIN_ON_TOPIC else None


def not_a_caption(text: str, context: str) -> str | None:
    """Why a model's answer cannot stand as a caption of the figure `context` describes."""
    if reason := no_description(text):
        return reason
    if len(words(text)) < MIN_WORDS:
        return f"a one-liner of {len(words(text))} words"
    return off_topic(text, context)
