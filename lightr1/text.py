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
    found = {command: text.rfind(command) for command in _BOX_COMMANDS}
    limit = len(text)  # an earlier box cannot close past a box that never closes
    while True:
        command = max(found, key=found.__getitem__)
        start = found[command]
        if start < 0:
            return None
        content = _box_content(text, start + len(command), limit)
        if content is not None:
            return content.strip()
        if text.startswith("{", start + len(command)):
            limit = start  # so the scans stay linear in the text, even with many unclosed boxes
        found[command] = text.rfind(command, 0, start)


_SPACE_ARGUMENT = re.compile(r" +([^\s$]+)")
_BRACES = re.compile(r"[{}]")


def _box_content(text: str, pos: int, limit: int) -> str | None:
    if text.startswith(" ", pos):  # "\boxed 5": the argument runs to the next space or "$"
        match = _SPACE_ARGUMENT.match(text, pos)
        return match.group(1) if match else None
    if not text.startswith("{", pos):
        return None
    depth = 0
    for brace in _BRACES.finditer(text, pos, limit):
        if brace.group() == "{":
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return text[pos + 1 : brace.start()]
    return None
