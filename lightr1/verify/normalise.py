"""Answer normalisation on strings (Hendrycks MATH / PRM800K style): the first step of the
verifier's fast path, before parsing."""

from __future__ import annotations

import re

# ------------------------------------------------------------------------------------------
# Normalisation (Hendrycks MATH / PRM800K style), on strings.

_UNICODE = {"−": "-", "–": "-", "×": "\\times ", "·": "\\cdot ", "÷": "\\div ", "π": "\\pi ", "√": "\\sqrt", "∞": "\\infty ", "°": "^\\circ",
            "≤": "\\le ", "≥": "\\ge ", "≠": "\\ne ", "∪": "\\cup ", "±": "\\pm ", "\u00a0": " ", "\u2009": " ", "\u202f": " "}
_DROP = ("\\displaystyle", "\\limits", "\\left", "\\right", "\\biggl", "\\biggr", "\\Biggl", "\\Biggr", "\\bigg", "\\Bigg", "\\bigl", "\\bigr",
         "\\Bigl", "\\Bigr", "\\big", "\\Big", "\\!", "\\,", "\\;", "\\:", "\\quad", "\\qquad", "\\$", "$")
_SAME = (("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\cfrac", "\\frac"), ("\\dbinom", "\\binom"), ("\\tbinom", "\\binom"),
         ("\\leqslant", "\\le"), ("\\geqslant", "\\ge"), ("\\leq", "\\le"), ("\\geq", "\\ge"), ("\\neq", "\\ne"), ("<=", "\\le"), (">=", "\\ge"),
         ("\\lbrace", "\\{"), ("\\rbrace", "\\}"), ("\\lvert", "|"), ("\\rvert", "|"), ("\\vert", "|"), ("\\emptyset", "\\{\\}"),
         ("\\varnothing", "\\{\\}"), ("\\operatorname", "\\text"), ("\\textrm", "\\text"), ("\\textnormal", "\\text"), ("\\mbox", "\\text"),
         ("\\mathrm", "\\text"), ("\\textbf", "\\text"), ("\\mathbf", "\\text"), ("\\boldsymbol", "\\text"), ("\\textit", "\\text"),
         ("\\mathit", "\\text"), ("\\dots", ""), ("\\ldots", ""), ("\\cdots", ""))
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree")
_PRIME = re.compile(r"\^\{((?:\\prime\s*)+)\}|\^\\prime")
_THOUSANDS_SPACED = re.compile(r"(\d),\\!\s*(?=\d{3}(?!\d))")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_UNIT_TEXT = re.compile(r"(?<=\S)\s*\\text\{\s*[a-zA-Z][a-zA-Z\s.]*\}(?:\^\{?-?\d+\}?)?\s*$")
_UNIT_WORD = re.compile(r"(?<=[\d}])\s*(?:cm|mm|km|inches|inch|feet|foot|ft|meters|metres|units|unit|degrees|degree|cents|cent|dollars|dollar|seconds|"
                        r"minutes|hours|days|sq|Hz|kg|mph)(?:\^\{?-?\d+\}?)?\s*$")
_AND = re.compile(r"\\text\{\s*(?:and|or)\s*\}|\s(?:and|or)\s")
_TEXT_ONLY = re.compile(r"\\text\{([^{}]*)\}")
_WORD = re.compile(r"[A-Za-z]{4,}(?: [A-Za-z]+)*")
_SPACES = re.compile(r"\s+")
PLAIN_NUMBER = re.compile(r"-?(?:\d+(?:\.\d+)?|\.\d+)")


def normalise(text: str) -> str:
    """The string form two answers are first compared in, and the parser's input: unicode and
    LaTeX variants mapped to one spelling, spacing, units, degrees, `\\%`, `\\$` and
    thousands separators dropped. Lossy on purpose (as Hendrycks' `strip_string` is)."""
    s = text.strip()
    if any(ch in s for ch in _UNICODE):
        s = "".join(_UNICODE.get(ch, ch) for ch in s)
    s = _THOUSANDS_SPACED.sub(r"\1", s)
    for old in _DROP:
        if old in s:
            s = s.replace(old, " " if old[1:].isalpha() else "")
    s = s.replace("~", " ")
    for old, new in _SAME:
        if old in s:
            s = s.replace(old, new)
    s = s.replace("\\%", "%").replace("%", "")
    s = _PRIME.sub(lambda m: "'" * max(1, (m.group(1) or "").count("prime")), s)
    s = _DEGREES.sub("", s)
    s = _AND.sub(",", s)
    for _ in range(3):  # "15000 \text{kcal m}^{-2} \text{yr}^{-1}": units may be stacked
        stripped = _UNIT_WORD.sub("", _UNIT_TEXT.sub("", s))
        if stripped == s:
            break
        s = stripped
    s = s.strip().rstrip(".").strip()
    if _THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    return _SPACES.sub(" ", s)


def flat(text: str) -> str:
    """A normalised answer as bare lowercase text, for words like `\\text{(C)}` or `Evelyn`."""
    s = _TEXT_ONLY.sub(r"\1", text).replace("{", "").replace("}", "").replace(" ", "").lower()
    if len(s) == 3 and s[0] == "(" and s[2] == ")":
        s = s[1]
    return s


def is_text(normalised: str) -> bool:
    """A word answer (`\\text{east}`, `Evelyn`) rather than math: compared as text."""
    match = _TEXT_ONLY.fullmatch(normalised)
    if match:
        inner = match.group(1).strip()
        return bool(re.fullmatch(r"\(?[A-Za-z]\)?|[A-Za-z]{2,}(?: [A-Za-z]+)*", inner)) and not re.fullmatch(r"[A-Za-z]", inner)
    return bool(_WORD.fullmatch(normalised))
