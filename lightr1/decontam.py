"""Decontamination: find training problems that copy benchmark problems.

Two modes share one engine; a mode is a *reading* of a problem: a token sequence and an
exact-match key (polars string expressions, run in Rust on all cores). The engine then
matches each training problem against the benchmark problems by:

- ``exact``: equal keys. Keys without a letter never match (otherwise every problem made of
  symbols and digits would collide on the empty key).
- ``ngram``: a shared run of ``ngram`` consecutive tokens (none in a problem with fewer).
- ``contained`` (default mode): the whole token sequence of a short benchmark problem
  (``MIN_CONTAINED`` <= tokens < ``ngram``) appears as a contiguous run in the training
  problem: short copies behind a prefix or before a suffix, which n-grams cannot see.

One row per (training problem, benchmark problem, method); ``evidence`` is the shared text
(the key, or the shared tokens joined by spaces).

**Mode ``light-r1``** is Light-R1's method, exactly: the key is the lowercased text without
non-word characters and digits (Python ``re``'s ``[\\W\\d]``, written for Rust's regex as
``[^\\p{L}\\p{Nl}\\p{No}_]``: the two agree on every assigned character), tokens are the
words of the lowercased text split on whitespace (every character ``str.isspace`` accepts),
n = 32 by default. Its faults: the letters-only key collapses different short problems
("the remainder when $2^{19}$ is divided by $7$" = "... $129^{34}+96^{38}$ ... $11$"), and a
short problem is invisible to 32-grams, so a prefixed or suffixed copy gets through.

**Mode ``default``** reads a *skeleton*: lowercased; ``[asy]`` diagram code reduced to one
marker (coordinates and drawing boilerplate would make unrelated diagrams alike); spellings
unified (``\\dfrac``/``\\tfrac`` -> ``\\frac``, ``\\dbinom`` -> ``\\binom``, ``\\leq`` ->
``\\le``, ``\\cdots`` -> ``\\dots``, ...); typesetting dropped (``$``, ``\\(``, ``\\[``,
braces, ``\\left``/``\\right``/``\\big``, ``\\displaystyle``, ``\\text``-like wrappers,
``\\,``-like spacing, ``~``); every number, with its sign where a minus cannot be an operator,
replaced by one placeholder ``0`` (digits with dots and spaces between them are one number,
so ``2^{19}``, ``2^19``, ``2 ^ {19}`` and ``\\frac{1}{2}``, ``\\frac12`` read alike); then
words, LaTeX commands and single symbols as tokens. The key is the whole skeleton: a copy
with other numbers or other typesetting matches, while different expressions stay different
(``0 ^ 0`` is not ``0 ^ 0 + 0 ^ 0``). N-grams count skeleton tokens, which are finer than
words, so a shared sentence of boilerplate (a hint, an answer format) would already be a
32-gram: an ``ngram`` match therefore needs the shared n-grams to cover ``MIN_COVERAGE`` of
the benchmark problem's tokens (that share of ``COVERAGE_CAP * ngram`` tokens when it is
longer, so that a long problem partly copied still counts). Short
benchmark problems are looked for whole (``contained``).

**Engine.** No per-row sets of n-gram strings: polars hashes every token to uint64; numpy
hashes every window of a chunk at once from one polynomial prefix hash
(``G[k] = sum_{j<k} h[j] * B**j`` mod 2**64 by uint64 wraparound, B odd; the window at i of
length n is ``(G[i+n] - G[i]) * B**-i``, the same wherever it lies; windows that cross two
problems are masked). Train windows are screened against the small benchmark set (a
cache-sized bitmap, then a sorted lookup), joined with the benchmark windows in polars, and
only the few candidate pairs are compared token by token (hashes can collide), which also
gives the evidence. Training problems go in chunks of ``CHUNK_BYTES`` of text, so memory is
bounded; a worker thread tokenises the next chunk (polars releases the GIL) while this one
is matched. Light-R1 keys are built only where they can matter: the key of a problem's
first ``KEY_WORDS`` words is the head of its key, so a problem whose head starts no
benchmark key is left out (for ASCII text the key is one ``bytes.translate``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from lightr1 import tables
from lightr1.errors import Lightr1Error
from lightr1.io import read_table, write_table

MODES = ("default", "light-r1")
DEFAULT_NGRAM = 32
MIN_CONTAINED = 10  # shorter benchmark skeletons are too generic to look for inside others
MIN_COVERAGE = 0.8  # default: shared n-grams must cover this share of the benchmark problem,
COVERAGE_CAP = 4  # ... or that share of COVERAGE_CAP * ngram tokens when it is longer
CHUNK_BYTES = 8 << 20  # of problem text per chunk: bounds memory (tokens <= bytes); small
# chunks are also faster (arrays are reused from the heap and stay in cache)

# Polynomial hash: odd base (invertible mod 2**64), its inverse, and the polars hash seed.
BASE = 0x9E3779B97F4A7C15
BASE_INV = pow(BASE, -1, 1 << 64)
HASH_SEED = 20250304

# ---------------------------------------------------------------------------------------
# Tokenisers: polars expressions, so tokenising a million rows runs in Rust on all cores.

# Every character Python's str.isspace() accepts (tests check this list against Python).
SPACE_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Python's [\W\d] is "neither a letter nor a non-decimal number nor _".
_NOT_WORD_OR_DIGIT = r"[^\p{L}\p{Nl}\p{No}_]+"
_LETTER = r"\p{L}"
KEY_WORDS, KEY_PREFIX = 12, 24  # a key head from the first 12 words; 24 characters compared


def lightr1_key(text: pl.Expr) -> pl.Expr:
    """Light-R1's exact key: lowercased, non-word characters and digits removed."""
    return text.str.to_lowercase().str.replace_all(_NOT_WORD_OR_DIGIT, "")


# For ASCII text the key is one bytes.translate: upper case to lower, every byte that is not
# a-z or _ deleted (C speed, several times faster than a regex). \x01 separates problems.
_ASCII_LOWER = bytes(c + 32 if 65 <= c <= 90 else c for c in range(256))
_ASCII_DROP = bytes(c for c in range(128) if not (chr(_ASCII_LOWER[c]).isalpha() or c == ord("_")) and c != 1)


def lightr1_key_head(words: pl.Expr) -> pl.Expr:
    """The head of Light-R1's key from the first words alone (the key of the first words is
    the head of the key; of all words, the key): cheap for every problem, it rules out
    almost all. A struct: head, and whether it is the whole key."""
    head = words.list.head(KEY_WORDS).list.join("").str.replace_all(_NOT_WORD_OR_DIGIT, "")
    return pl.struct(head=head, whole=words.list.len() <= KEY_WORDS)


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


def lightr1_words(text: pl.Expr) -> pl.Expr:
    """Light-R1's n-gram tokens: the words of the lowercased text. Other whitespace becomes a
    space (non-ASCII whitespace only looked for in non-ASCII text), and the empty strings that
    runs of spaces leave are dropped by the engine: together, Python's str.split()."""
    text = text.str.to_lowercase()
    spaced = text.str.replace_all(r"[\t\n\x0b\x0c\r\x1c-\x1f]", " ")
    wide = [c for c in SPACE_CHARS if ord(c) > 127]
    ascii_text = text.str.len_bytes() == text.str.len_chars()
    return pl.when(ascii_text).then(spaced).otherwise(spaced.str.replace_many(wide, [" "] * len(wide))).str.split(" ")


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


def skeleton_tokens(text: pl.Expr) -> pl.Expr:
    """The default tokeniser: typesetting removed, numbers replaced by one placeholder."""
    text = text.str.to_lowercase().str.replace_all(_DIAGRAM, " [asy] ")
    text = text.str.replace_many(list(SPELLINGS), list(SPELLINGS.values())).str.replace_all(_SIGN, "$1$2")
    text = text.str.replace_all(_NOISE, " ").str.replace_all(_NUMBER, " 0 ")
    return text.str.extract_all(_SKELETON_TOKEN)


@dataclass(frozen=True)
class Mode:
    """How one mode reads problems; the engine behind every mode is the same."""

    name: str
    tokens: Callable[[pl.Expr], pl.Expr]  # problem text -> list of tokens
    keys: Callable[[pl.Series, pl.Series], pl.Series]  # (problems, their tokens) -> exact keys
    key_head: Callable[[pl.Expr], pl.Expr] | None  # tokens -> {head of the key, whether whole}, to screen with
    contained: bool  # look for whole short benchmark problems inside training problems
    min_coverage: float | None  # share of a benchmark problem its shared n-grams must cover


MODE_SPECS = {
    "light-r1": Mode(
        "light-r1",
        tokens=lightr1_words,
        keys=lambda problems, tokens: lightr1_keys(problems),
        key_head=lightr1_key_head,
        contained=False,
        min_coverage=None,
    ),
    "default": Mode(
        "default",
        tokens=skeleton_tokens,
        keys=lambda problems, tokens: tokens.list.join(" "),
        key_head=None,  # the key comes with the tokens: nothing to save
        contained=True,
        min_coverage=MIN_COVERAGE,
    ),
}

# ---------------------------------------------------------------------------------------
# Hashing engine.


@dataclass(frozen=True)
class Tokens:
    """Token hashes of many documents, concatenated; document d is hashes[offsets[d]:offsets[d+1]]."""

    hashes: np.ndarray  # uint64
    offsets: np.ndarray  # int64, one more than documents

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @classmethod
    def from_hashes(cls, hashes: pl.Series, empty: pl.Series) -> Tokens:
        """From list[u64] token hashes and the count of empty strings per row, which are
        dropped: runs of spaces leave them, and they are not words."""
        lengths = hashes.list.len().to_numpy().astype(np.int64)
        flat = hashes.explode(empty_as_null=False).to_numpy()
        empty = empty.to_numpy()
        if empty.any():
            kept = flat != EMPTY_HASH
            if (~kept).sum() == empty.sum():
                lengths = lengths - empty
            else:  # a word hashed like the empty string (2**-64 odds): count per problem
                lengths = np.bincount(np.repeat(np.arange(len(lengths)), lengths)[kept], minlength=len(lengths))
            flat = flat[kept]
        offsets = np.zeros(len(lengths) + 1, np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(flat, offsets)


EMPTY_HASH = pl.Series([""]).hash(HASH_SEED).to_numpy()[0]


_POWERS = (np.ones(1, np.uint64), np.ones(1, np.uint64))


def powers(size: int) -> tuple[np.ndarray, np.ndarray]:
    """BASE**j and BASE**-j mod 2**64 for j < size (cached; grown by doubling). Positions
    count within one chunk, whose size is bounded, so the tables are too."""
    global _POWERS
    if len(_POWERS[0]) < size:
        grown = 1 << max(16, int(size - 1).bit_length())
        pos, neg = np.full(grown, BASE, np.uint64), np.full(grown, BASE_INV, np.uint64)
        pos[0] = neg[0] = 1
        _POWERS = (np.cumprod(pos), np.cumprod(neg))  # uint64 products wrap mod 2**64
    return _POWERS[0][:size], _POWERS[1][:size]


@dataclass(frozen=True)
class PrefixHash:
    """G[k] = sum_{j<k} h[j] * B**j (mod 2**64) over a token stream: the hash of the span
    tokens[s:s+L] is (G[s+L] - G[s]) * B**-s = sum_k h[s+k] * B**k, the same wherever the
    span lies."""

    prefix: np.ndarray  # uint64, one more than tokens
    inverse: np.ndarray  # uint64, BASE**-j for every position j

    @classmethod
    def of(cls, tokens: Tokens) -> PrefixHash:
        count = len(tokens.hashes)
        pos, neg = powers(count + 1)
        prefix = np.zeros(count + 1, np.uint64)
        np.multiply(tokens.hashes, pos[:count], out=prefix[1:])
        np.cumsum(prefix[1:], out=prefix[1:])
        return cls(prefix, neg)

    def spans(self, starts: np.ndarray, lengths: np.ndarray | int) -> np.ndarray:
        """Hashes of the spans tokens[s:s+L]."""
        return (self.prefix[starts + lengths] - self.prefix[starts]) * self.inverse[starts]

    def rolling(self, n: int) -> np.ndarray:
        """Hashes of the n-token windows at every start (those crossing documents included:
        callers check `within_document`)."""
        count = len(self.prefix) - n
        if count <= 0:
            return np.zeros(0, np.uint64)
        out = np.subtract(self.prefix[n:], self.prefix[:count])
        return np.multiply(out, self.inverse[:count], out=out)


def document_of(offsets: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.searchsorted(offsets, starts, side="right") - 1


def within_document(offsets: np.ndarray, starts: np.ndarray, lengths: np.ndarray | int) -> np.ndarray:
    """Whether the span starting at each global position stays inside its document."""
    return starts + lengths <= offsets[document_of(offsets, starts) + 1]


def window_hashes(tokens: Tokens, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(starts, hashes) of every n-token window lying inside one document."""
    windows = PrefixHash.of(tokens).rolling(n)
    starts = np.flatnonzero(within_document(tokens.offsets, np.arange(len(windows)), n))
    return starts, windows[starts]


@dataclass(frozen=True)
class Patterns:
    """Benchmark token runs to look for, found in train by their first `anchor` tokens."""

    anchor: int
    table: pl.DataFrame  # anchor_hash, full_hash, length, bench_row, bench_pos
    bitmap: np.ndarray  # bool, indexed by the top bits of a hash: a cache-sized first screen
    anchors: np.ndarray  # sorted unique anchor hashes

    @classmethod
    def build(cls, anchor: int, table: pl.DataFrame) -> Patterns:
        anchors = np.unique(table["anchor_hash"].to_numpy())
        # About 32 slots per anchor: 1 in 32 train windows passes the screen by chance.
        bits = min(max(int(len(anchors) * 32).bit_length(), 12), 26)
        bitmap = np.zeros(1 << bits, bool)
        bitmap[anchors >> np.uint64(64 - bits)] = True
        return cls(anchor, table, bitmap, anchors)

    @property
    def empty(self) -> bool:
        return self.table.height == 0

    def screen(self, windows: np.ndarray) -> np.ndarray:
        """Indices of the windows whose hash is an anchor hash."""
        shift = np.uint64(64 - (len(self.bitmap).bit_length() - 1))
        hits = np.flatnonzero(self.bitmap[windows >> shift])
        where = np.searchsorted(self.anchors, windows[hits]).clip(max=len(self.anchors) - 1)
        return hits[self.anchors[where] == windows[hits]]


_PATTERN_SCHEMA = {"anchor_hash": pl.UInt64, "full_hash": pl.UInt64, "length": pl.Int64, "bench_row": pl.Int64, "bench_pos": pl.Int64}


def ngram_patterns(bench: Tokens, n: int) -> Patterns:
    """Every n-token window of every benchmark problem."""
    starts, hashes = window_hashes(bench, n)
    rows = document_of(bench.offsets, starts)
    columns = (hashes, hashes, np.full(len(starts), n), rows, starts - bench.offsets[rows])
    return Patterns.build(n, pl.DataFrame(dict(zip(_PATTERN_SCHEMA, columns)), schema=_PATTERN_SCHEMA))


def contained_patterns(bench: Tokens, anchor: int, below: int) -> Patterns:
    """Whole benchmark problems with anchor <= tokens < below, anchored on their first tokens."""
    lengths = bench.lengths
    rows = np.flatnonzero((lengths >= anchor) & (lengths < below))
    prefix, starts = PrefixHash.of(bench), bench.offsets[rows]
    columns = (prefix.spans(starts, anchor), prefix.spans(starts, lengths[rows]), lengths[rows], rows, np.zeros(len(rows)))
    return Patterns.build(anchor, pl.DataFrame(dict(zip(_PATTERN_SCHEMA, columns)), schema=_PATTERN_SCHEMA))


_FOUND_SCHEMA = {"row": pl.Int64, "pos": pl.Int64, "bench_row": pl.Int64, "bench_pos": pl.Int64, "length": pl.Int64}


def find_occurrences(train: Tokens, patterns: Patterns) -> pl.DataFrame:
    """Every place a pattern occurs in a train document, by hash (verified later):
    columns row, pos, bench_row, bench_pos, length."""
    if patterns.empty or len(train.hashes) < patterns.anchor:
        return pl.DataFrame(schema=_FOUND_SCHEMA)
    prefix = PrefixHash.of(train)
    windows = prefix.rolling(patterns.anchor)
    starts = patterns.screen(windows)
    found = pl.DataFrame({"start": starts, "anchor_hash": windows[starts]}, schema={"start": pl.Int64, "anchor_hash": pl.UInt64})
    found = found.join(patterns.table, on="anchor_hash")
    start, length = found["start"].to_numpy(), found["length"].to_numpy()
    keep = within_document(train.offsets, start, length)
    longer = keep & (length > patterns.anchor)  # contained: the whole problem, not just its anchor
    keep[longer] = prefix.spans(start[longer], length[longer]) == found["full_hash"].to_numpy()[longer]
    start = start[keep]
    row = document_of(train.offsets, start)
    return pl.DataFrame(
        {"row": row, "pos": start - train.offsets[row], **{c: found[c].to_numpy()[keep] for c in ("bench_row", "bench_pos", "length")}},
        schema=_FOUND_SCHEMA,
    )


def verify_occurrences(found: pl.DataFrame, train_tokens: pl.Series, bench_tokens: pl.Series) -> pl.DataFrame:
    """The first occurrence per (train row, benchmark row) that holds token by token (hashes
    can collide), with the shared tokens as evidence: columns row, bench_row, evidence.
    `bench_tokens` are without empty strings, as hashed."""
    found = found.sort("row", "bench_row", "pos")
    first = found.unique(["row", "bench_row"], keep="first", maintain_order=True)
    verified = _shared(first, train_tokens, bench_tokens)
    if verified.height < first.height:  # a hash collision (astronomically rare): try the pair's other windows
        rest = _shared(found.join(verified, on=["row", "bench_row"], how="anti"), train_tokens, bench_tokens)
        verified = pl.concat([verified, rest.unique(["row", "bench_row"], keep="first", maintain_order=True)])
    return verified


def _shared(found: pl.DataFrame, train_tokens: pl.Series, bench_tokens: pl.Series) -> pl.DataFrame:
    """The occurrences whose train and benchmark windows are equal, with the window's text."""
    windows = found.with_columns(
        mine=nonempty(train_tokens.gather(found["row"])), theirs=bench_tokens.gather(found["bench_row"])
    ).select(
        "row",
        "bench_row",
        mine=pl.col("mine").list.slice(pl.col("pos"), pl.col("length")),
        theirs=pl.col("theirs").list.slice(pl.col("bench_pos"), pl.col("length")),
    )
    return windows.filter(pl.col("mine") == pl.col("theirs")).select("row", "bench_row", evidence=pl.col("mine").list.join(" "))


def well_covered(found: pl.DataFrame, n: int, bench_lengths: np.ndarray, min_coverage: float, cap: int) -> pl.DataFrame:
    """The n-gram occurrences of the (train row, benchmark row) pairs whose shared n-grams
    cover at least min_coverage of the benchmark problem's tokens (of `cap` tokens when it is
    longer): a copy shares nearly all of it, a problem that merely shares a sentence of
    boilerplate (a hint, an answer format) does not."""
    pair = ["row", "bench_row"]
    # Tokens covered by windows starting at sorted positions p_i: n + sum(min(p_i - p_{i-1}, n)).
    steps = pl.col("bench_pos").diff().over(pair).fill_null(n).clip(upper_bound=n)
    positions = found.select(*pair, "bench_pos").unique().sort(*pair, "bench_pos")
    covered = positions.with_columns(step=steps).group_by(pair).agg(covered=pl.col("step").sum())
    rows = np.arange(len(bench_lengths))
    need = pl.DataFrame({"bench_row": rows, "need": np.minimum(bench_lengths, cap) * min_coverage}, schema={"bench_row": pl.Int64, "need": pl.Float64})
    enough = covered.join(need, on="bench_row").filter(pl.col("covered") >= pl.col("need"))
    return found.join(enough, on=pair, how="semi")


# ---------------------------------------------------------------------------------------
# Matching.


@dataclass(frozen=True)
class Read:
    """What matching needs of some problems."""

    tokens: pl.Series  # list[str]
    hash_lists: pl.Series  # list[u64], one hash per token
    empty: pl.Series  # empty strings among each problem's tokens (not tokens: not hashed)
    key_heads: pl.Series | None  # a head of each exact key, when the mode screens with them

    def hashes(self) -> Tokens:
        return Tokens.from_hashes(self.hash_lists, self.empty)


def read_tokens(problems: pl.Series, mode: Mode) -> Read:
    """Every problem's tokens, their hashes and key heads: one streaming query (all cores)."""
    lazy = pl.DataFrame({"problem": problems}).lazy().select(tok=mode.tokens(pl.col("problem").fill_null("")))
    tok = pl.col("tok")
    columns = {"hashes": tok.list.eval(pl.element().hash(HASH_SEED)), "empty": tok.list.count_matches("")}
    if mode.key_head is not None:
        columns["head"] = mode.key_head(tok)
    read = lazy.with_columns(**columns).collect(engine="streaming")
    return Read(read["tok"], read["hashes"], read["empty"], read["head"] if mode.key_head else None)


def nonempty(tokens: pl.Series) -> pl.Series:
    """Tokens without the empty strings that runs of spaces leave, as they were hashed."""
    return tokens.list.eval(pl.element().filter(pl.element() != ""))


@dataclass(frozen=True)
class _Bench:
    """The benchmark side of one mode, prepared once."""

    ids: pl.DataFrame  # bench_row, benchmark, benchmark_id
    keys: pl.DataFrame  # key, bench_row
    key_starts: pl.Series  # the first KEY_PREFIX characters of keys at least that long
    tokens: pl.Series  # list[str], without empty strings
    lengths: np.ndarray  # tokens per benchmark problem
    patterns: dict[str, Patterns]  # method -> patterns


def _prepare_bench(benchmarks: pl.DataFrame, mode: Mode, ngram: int) -> _Bench:
    read = read_tokens(benchmarks["problem"], mode)
    tokens, hashes = read.tokens, read.hashes()
    row = pl.int_range(pl.len(), dtype=pl.Int64).alias("bench_row")
    keys = pl.DataFrame({"key": mode.keys(benchmarks["problem"], tokens)}).select("key", row)
    keys = keys.filter(pl.col("key").str.contains(_LETTER))
    patterns = {"ngram": ngram_patterns(hashes, ngram)}
    if mode.contained and MIN_CONTAINED < ngram:
        patterns["contained"] = contained_patterns(hashes, MIN_CONTAINED, ngram)
    return _Bench(
        ids=benchmarks.select(row, "benchmark", pl.col("problem_id").alias("benchmark_id")),
        keys=keys,
        key_starts=keys["key"].filter(keys["key"].str.len_chars() >= KEY_PREFIX).str.slice(0, KEY_PREFIX).unique(),
        tokens=nonempty(tokens),
        lengths=hashes.lengths,
        patterns=patterns,
    )


def train_keys(problems: pl.Series, read: Read, bench: _Bench, mode: Mode) -> pl.DataFrame:
    """(row, key) of the problems whose key can be a benchmark key. With key heads, a whole
    head is the key, and the key of another problem is only built when its head's first
    KEY_PREFIX characters start some benchmark key (or the head is shorter than that)."""
    schema = {"row": pl.Int64, "key": pl.String}
    if read.key_heads is None:
        return pl.DataFrame({"row": np.arange(len(problems)), "key": mode.keys(problems, read.tokens)}, schema=schema)
    head, whole = read.key_heads.struct.field("head"), read.key_heads.struct.field("whole")
    starts = head.str.slice(0, KEY_PREFIX)
    maybe = ~whole & ((head.str.len_chars() < KEY_PREFIX) | starts.is_in(bench.key_starts.implode()))
    rows = maybe.arg_true()
    return pl.concat([
        pl.DataFrame({"row": whole.arg_true(), "key": head.filter(whole)}, schema=schema),
        pl.DataFrame({"row": rows, "key": mode.keys(problems.gather(rows), read.tokens.gather(rows))}, schema=schema),
    ])


def _match_chunk(chunk: pl.DataFrame, read: Read, bench: _Bench, mode: Mode) -> pl.DataFrame:
    """Matches of one chunk of training rows, in the MATCHES schema."""
    tokens, hashes = read.tokens, read.hashes()
    keys = train_keys(chunk["problem"], read, bench, mode)
    parts = [keys.join(bench.keys, on="key").select("row", "bench_row", evidence="key", method=pl.lit("exact"))]
    for method, patterns in bench.patterns.items():
        found = find_occurrences(hashes, patterns)
        if method == "ngram" and mode.min_coverage is not None:
            found = well_covered(found, patterns.anchor, bench.lengths, mode.min_coverage, COVERAGE_CAP * patterns.anchor)
        parts.append(verify_occurrences(found, tokens, bench.tokens).with_columns(method=pl.lit(method)))
    matches = pl.concat(parts)
    ids = chunk.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), pl.col("problem_id").alias("train_id"))
    matches = matches.join(ids, on="row").join(bench.ids, on="bench_row").with_columns(mode=pl.lit(mode.name))
    return matches.select(tables.MATCHES.names()).cast(dict(tables.MATCHES))


def chunked(train: pl.DataFrame, chunk_bytes: int) -> list[pl.DataFrame]:
    """Consecutive slices of at most chunk_bytes of problem text (one row at least)."""
    ends = np.cumsum(train["problem"].str.len_bytes().fill_null(0).to_numpy())
    chunks, start = [], 0
    while start < train.height:
        before = ends[start - 1] if start else 0
        end = max(int(np.searchsorted(ends, before + chunk_bytes, side="right")), start + 1)
        chunks.append(train.slice(start, end - start))
        start = end
    return chunks


def find_matches(
    train: pl.DataFrame, benchmarks: pl.DataFrame, mode: str, ngram: int = DEFAULT_NGRAM, chunk_bytes: int = CHUNK_BYTES
) -> pl.DataFrame:
    """Training problems that copy benchmark problems, in the MATCHES schema: one row per
    (train problem, benchmark problem, method); evidence is the shared key or token run."""
    if mode not in MODE_SPECS:
        raise Lightr1Error(f"unknown decontamination mode {mode!r} (expected one of {', '.join(MODES)})")
    if ngram < 1:
        raise Lightr1Error(f"ngram must be at least 1, got {ngram}")
    spec = MODE_SPECS[mode]
    train = train.select(pl.col("problem_id", "problem").cast(pl.String))
    bench = _prepare_bench(benchmarks.select(pl.col("benchmark", "problem_id", "problem").cast(pl.String)), spec, ngram)
    chunks = chunked(train, chunk_bytes)
    parts = [tables.empty(tables.MATCHES)]
    # Tokenising the next chunk (polars, which releases the GIL) overlaps matching this one
    # (numpy and some Python), so both cores stay busy. Two chunks in flight at most.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(read_tokens, chunks[0]["problem"], spec) if chunks else None
        for i, chunk in enumerate(chunks):
            read = pending.result()
            if i + 1 < len(chunks):
                pending = pool.submit(read_tokens, chunks[i + 1]["problem"], spec)
            parts.append(_match_chunk(chunk, read, bench, spec))
    return (
        pl.concat(parts)
        .unique(["train_id", "benchmark", "benchmark_id", "method"], keep="first", maintain_order=True)
        .sort("train_id", "benchmark", "benchmark_id", "method")
    )


# ---------------------------------------------------------------------------------------
# Files.


def _load(path: str | Path, required: Iterable[str]) -> pl.DataFrame:
    frame = read_table(path)
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise Lightr1Error(f"{path}: missing column(s) {', '.join(missing)} (have: {', '.join(frame.columns)})")
    if "status" in frame.columns:
        frame = frame.filter(pl.col("status") == "ok")
    return frame.filter(pl.col("problem").is_not_null())


def load_train(paths: Sequence[str | Path]) -> pl.DataFrame:
    """Training problems from every file (status ok only), one row per problem_id."""
    frames = [_load(p, ("problem_id", "problem")).select(pl.col("problem_id").cast(pl.String), pl.col("problem").cast(pl.String)) for p in paths]
    return pl.concat(frames).unique("problem_id", keep="first", maintain_order=True)


def load_benchmarks(paths: Sequence[str | Path]) -> pl.DataFrame:
    """Benchmark problems; the benchmark is the `benchmark` column, else the file's stem."""
    frames = []
    for path in paths:
        frame = _load(path, ("problem_id", "problem"))
        name = pl.col("benchmark").cast(pl.String) if "benchmark" in frame.columns else pl.lit(Path(path).stem)
        frames.append(frame.select(name.alias("benchmark"), pl.col("problem_id").cast(pl.String), pl.col("problem").cast(pl.String)))
    return pl.concat(frames)


def decontaminate_files(
    train_paths: Sequence[str | Path], benchmark_paths: Sequence[str | Path], out: str | Path, modes: Sequence[str], ngram: int = DEFAULT_NGRAM
) -> pl.DataFrame:
    """Match every training file against every benchmark file in each mode; write the matches
    (parquet or jsonl, by the extension of `out`) in one atomic step."""
    unknown = [m for m in modes if m not in MODE_SPECS]
    if unknown:
        raise Lightr1Error(f"unknown decontamination mode(s) {', '.join(unknown)} (expected {', '.join(MODES)})")
    if Path(out).suffix not in (".parquet", ".jsonl"):
        raise Lightr1Error(f"{out}: the matches are written as .parquet or .jsonl")
    train, benchmarks = load_train(train_paths), load_benchmarks(benchmark_paths)
    matches = pl.concat([tables.empty(tables.MATCHES)] + [find_matches(train, benchmarks, mode, ngram) for mode in dict.fromkeys(modes)])
    write_table(matches, out)
    return matches
