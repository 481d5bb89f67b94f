"""The two decontamination modes as readings of a problem: text, tokens and exact key, as polars
expressions (see `lightr1.data.decontam` for what each mode catches)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import polars as pl

MODES = ("default", "light-r1")

MIN_COVERAGE = 0.8  # default: shared n-grams must cover this share of the benchmark problem,


# ---------------------------------------------------------------------------------------
# Tokenisers: polars expressions, so tokenising a million rows runs in Rust on all cores.

# Every character Python's str.isspace() accepts (tests check this list against Python).
SPACE_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Python's [\W\d] is "neither a letter nor a non-decimal number nor _".
_NOT_WORD_OR_DIGIT = r"[^\p{L}\p{Nl}\p{No}_]+"
LETTER = r"\p{L}"


def lightr1_key(text: pl.Expr) -> pl.Expr:
    """Light-R1's exact key: lowercased, non-word characters and digits removed."""
    return text.str.to_lowercase().str.replace_all(_NOT_WORD_OR_DIGIT, "")


# For ASCII text the key is one bytes.translate: upper case to lower, every byte that is not
# a-z or _ deleted (C speed, several times faster than a regex). \x01 separates problems.
_ASCII_LOWER = bytes(c + 32 if 65 <= c <= 90 else c for c in range(256))
_ASCII_DROP = bytes(c for c in range(128) if not (chr(_ASCII_LOWER[c]).isalpha() or c == ord("_")) and c != 1)


# A key screen: a problem's key is only built when it can be a benchmark key, which a regex
# tells from the first few characters of its text (cheap where a regex replacing every space
# is not). In ASCII text the key is the letters and _ in order; everything else is dropped.
SCREEN_CHARS = 16  # key characters compared
_DROPPED = r"[\x00-\x5e\x60\x7b-\x7f]*"  # in lowercased ASCII text


def _trie_regex(words: Iterable[str]) -> str:
    """A regex matching the words (trie-shaped: its automaton follows one branch), with any
    dropped characters between two characters; "$" stands for the end of the text."""
    trie: dict = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}  # a word ends here

    def branch(node: dict) -> str:
        if not node:
            return ""
        options = [char + _DROPPED + rest if (rest := branch(child)) else char for char, child in sorted(node.items())]
        return options[0] if len(options) == 1 else "(?:" + "|".join(options) + ")"

    return branch(trie) if trie else "[^\\s\\S]"  # no words: nothing matches


def lightr1_key_screen(keys: pl.Series) -> Callable[[pl.Expr], pl.Expr]:
    """Whether the key of a (lowercased) text can be one of `keys`: the text is not ASCII, or
    its key starts with the first SCREEN_CHARS characters of an ASCII key (or is a shorter one)."""
    keys = [k for k in keys.unique().sort() if k.isascii()]  # others are no key of ASCII text
    n = SCREEN_CHARS
    starts = "^" + _DROPPED + _trie_regex(k[:n] if len(k) >= n else k + "$" for k in keys)
    return lambda text: (text.str.len_bytes() != text.str.len_chars()) | text.str.contains(starts)


def lightr1_keys(problems: pl.Series) -> pl.Series:
    """lightr1_key of every problem: bytes.translate for ASCII problems, the regex for others."""
    problems = problems.fill_null("")
    fast = (problems.str.len_bytes() == problems.str.len_chars()) & ~problems.str.contains("\x01", literal=True)
    keys = pl.Series("key", [""] * len(problems), dtype=pl.String)
    if fast.any():
        joined = "\x01".join(problems.filter(fast).to_list()).encode()
        keys = keys.scatter(fast.arg_true(), joined.translate(_ASCII_LOWER, _ASCII_DROP).decode().split("\x01"))
    if not fast.all():
        keys = keys.scatter((~fast).arg_true(), pl.select(lightr1_key(pl.lit(problems.filter(~fast)))).to_series())
    return keys


def lightr1_text(text: pl.Expr) -> pl.Expr:
    """The text Light-R1's n-gram tokens are read from: lowercased, every whitespace a space
    (non-ASCII whitespace only looked for in non-ASCII text: the others are null there). Its
    words (the empty strings that runs of spaces leave are dropped by the engine) are Python's
    str.split() of the lowercased text."""
    spaced = text.str.to_lowercase().str.replace_all(r"[\t\n\x0b\x0c\r\x1c-\x1f]", " ")
    wide = [c for c in SPACE_CHARS if ord(c) > 127]
    non_ascii = pl.when(spaced.str.len_bytes() != spaced.str.len_chars()).then(spaced)
    return pl.coalesce(non_ascii.str.replace_many(wide, [" "] * len(wide)), spaced)


# Different spellings of one thing (applied after lowercasing, as literals).
SPELLINGS = {
    "\\dfrac": "\\frac",
    "\\tfrac": "\\frac",
    "\\cfrac": "\\frac",
    "\\dbinom": "\\binom",
    "\\tbinom": "\\binom",
    "\\leq": "\\le",
    "\\geq": "\\ge",
    "\\neq": "\\ne",
    "\\ldots": "\\dots",
    "\\cdots": "\\dots",
    "\u2212": "-",  # minus sign
    "\u00d7": "\\times",
    "\u00b0": "^\\circ",
    "\\\\": " \\cr ",  # a line break separates, as in matrices: keep it apart from numbers
}
# Diagram code becomes one marker: its coordinates are numbers and its drawing commands are
# boilerplate, so its skeleton would be much alike between unrelated problems.
_DIAGRAM = r"(?s)\[asy\].*?(?:\[/asy\]|$)"
# Typesetting that does not change the problem; each occurrence becomes a space.
_NOISE = "|".join(
    (
        r"\\(?:left|right|bigg?[lr]?|displaystyle|textstyle|scriptstyle|limits|nolimits"
        r"|text[a-z]*|math(?:rm|bf|it|sf|tt)|boldsymbol|operatorname|mbox|hbox|emph|quad|qquad)\b",
        r"\\[,;:!> ]",  # spacing commands
        r"\\[()\[\]]",  # math delimiters
        r"[${}~]",
    )
)
# A minus where it cannot be an operator (after an opening bracket, a math delimiter, a comma,
# a relation, a line break) is the sign of the number after it, which becomes the placeholder.
_SIGN = r"(^|[(\[{,=$&<>:]|\\cr|\\[()\[\]])\s*-\s*(\d)"
_NUMBER = r"\d(?:[\d\s.]*\d)?"  # digits, with dots and spaces between digits
_SKELETON_TOKEN = r"\\[a-z]+|[^\W\d_]+|[^\s\\]"  # command | word | any other single symbol


def skeleton_text(text: pl.Expr) -> pl.Expr:
    """The text the default tokens are read from: typesetting removed, numbers replaced by one
    placeholder."""
    text = text.str.to_lowercase().str.replace_all(_DIAGRAM, " [asy] ")
    text = text.str.replace_many(list(SPELLINGS), list(SPELLINGS.values())).str.replace_all(_SIGN, "$1$2")
    return text.str.replace_all(_NOISE, " ").str.replace_all(_NUMBER, " 0 ")


@dataclass(frozen=True)
class Mode:
    """How one mode reads problems; the engine behind every mode is the same."""

    name: str
    text: Callable[[pl.Expr], pl.Expr]  # problem -> the text its tokens are read from
    tokens: Callable[[pl.Expr], pl.Expr]  # that text -> list of tokens
    keys: Callable[[pl.Series], pl.Series] | None  # problems -> exact keys (None: the tokens joined by spaces)
    # benchmark keys -> (text the tokens are read from -> whether the key can be one of them)
    key_screen: Callable[[pl.Series], Callable[[pl.Expr], pl.Expr]] | None
    contained: bool  # look for whole short benchmark problems inside training problems
    min_coverage: float | None  # share of a benchmark problem its shared n-grams must cover


MODE_SPECS = {
    "light-r1": Mode(
        "light-r1",
        text=lightr1_text,
        tokens=lambda text: text.str.split(" "),
        keys=lightr1_keys,
        key_screen=lightr1_key_screen,
        contained=False,
        min_coverage=None,
    ),
    "default": Mode(
        "default",
        text=skeleton_text,
        tokens=lambda text: text.str.extract_all(_SKELETON_TOKEN),
        keys=None,  # the key is the tokens joined by spaces: it comes with them
        key_screen=None,
        contained=True,
        min_coverage=MIN_COVERAGE,
    ),
}
