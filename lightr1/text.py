"""Text helpers shared by every stage: problem normalisation, stable ids, boxed answers."""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WHITESPACE = re.compile(r"\s+")
_BOX_COMMANDS = ("\\boxed", "\\fbox")


def normalise_problem(text: str) -> str:
    """The canonical form behind problem ids and exact dedup: Unicode NFKC, lowercased,
    whitespace collapsed. Formatting-only differences map to one form; content does not."""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()


def problem_id(text: str) -> str:
    """Stable id of a problem: a hash of its normalised text, so re-runs and shards agree."""
    return hashlib.sha1(normalise_problem(text).encode("utf-8")).hexdigest()[:16]


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` / `\\fbox{...}` (nested braces matched) or of the
    `\\boxed 5` form; None when there is none or its braces never close."""
    start = max(text.rfind(command) for command in _BOX_COMMANDS)
    while start >= 0:
        command = next(c for c in _BOX_COMMANDS if text.startswith(c, start))
        content = _box_content(text, start + len(command))
        if content is not None:
            return content.strip()
        start = max(text.rfind(c, 0, start) for c in _BOX_COMMANDS)
    return None


def _box_content(text: str, pos: int) -> str | None:
    if text.startswith(" ", pos):  # "\boxed 5": the argument runs to the next space or "$"
        match = re.match(r" +([^\s$]+)", text[pos:])
        return match.group(1) if match else None
    if not text.startswith("{", pos):
        return None
    depth = 0
    for end in range(pos, len(text)):
        if text[end] == "{":
            depth += 1
        elif text[end] == "}":
            depth -= 1
            if depth == 0:
                return text[pos + 1 : end]
    return None
