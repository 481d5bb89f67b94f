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

**Engine.** No per-row sets of n-gram strings: polars hashes every token to uint64 (the
tokens themselves never leave the query; only the few rows found by hash are tokenised again,
to verify); numpy hashes every window of a chunk at once from one polynomial prefix hash
(``G[k] = sum_{j<k} h[j] * B**j`` mod 2**64 by uint64 wraparound, B odd; the window at i of
length n is ``(G[i+n] - G[i]) * B**-i``, the same wherever it lies; windows that cross two
problems are masked, and problems with fewer tokens than any pattern get none). Train windows
are screened against the small benchmark set (a cache-sized bitmap), joined with the benchmark
windows in polars, and only the few candidate pairs are compared token by token (hashes can
collide), which also gives the evidence. Training problems go in chunks of ``CHUNK_BYTES`` of
text, so memory is bounded; a few chunks are in flight at once, each in its own thread (polars
releases the GIL, and so does most of numpy), so both cores stay busy. Light-R1 keys are
built only where they can matter: a trie-shaped regex of the benchmark keys' first
``SCREEN_CHARS`` characters, anchored at the start of the text, leaves out almost every
problem after reading a few characters (for ASCII text the key is one ``bytes.translate``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from lightr1 import tables
from lightr1.data.decontam_modes import LETTER, MODE_SPECS, MODES, Mode
from lightr1.errors import Lightr1Error
from lightr1.io import read_table, write_table

log = logging.getLogger(__name__)

DEFAULT_NGRAM = 32
MIN_CONTAINED = 10  # shorter benchmark skeletons are too generic to look for inside others

COVERAGE_CAP = 4  # ... or that share of COVERAGE_CAP * ngram tokens when it is longer
CHUNK_BYTES = 8 << 20  # of problem text per chunk: bounds memory (tokens <= bytes); small
# chunks are also faster (arrays are reused from the heap and stay in cache)
IN_FLIGHT = 4  # chunks read and matched at once (memory: about IN_FLIGHT chunks' worth)

# Polynomial hash: odd base (invertible mod 2**64), its inverse, and the polars hash seed.
BASE = 0x9E3779B97F4A7C15
BASE_INV = pow(BASE, -1, 1 << 64)
HASH_SEED = 20250304


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
    def from_hashes(cls, hashes: pl.Series, empty: pl.Series, min_tokens: int = 0) -> Tokens:
        """From list[u64] token hashes and the count of empty strings per row, which are
        dropped: runs of spaces leave them, and they are not words. A row with fewer than
        `min_tokens` tokens (too few to match) keeps none."""
        counts = hashes.list.len().to_numpy().astype(np.int64)
        lengths = counts - empty.to_numpy()
        lengths[lengths < min_tokens] = 0
        flat = hashes.explode(empty_as_null=False)
        kept = (flat != EMPTY_HASH) & pl.Series(np.repeat(lengths > 0, counts))
        if kept.sum() != lengths.sum():  # a word hashed like the empty string (2**-64 odds): count per problem
            lengths = np.bincount(np.repeat(np.arange(len(counts)), counts)[kept.to_numpy()], minlength=len(counts))
        flat = flat.filter(kept).to_numpy()
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
        prefix = np.empty(count + 1, np.uint64)
        prefix[0] = 0
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
    bitmap: np.ndarray  # bool, indexed by the top bits of a hash: a cache-sized screen

    @classmethod
    def build(cls, anchor: int, table: pl.DataFrame) -> Patterns:
        anchors = table["anchor_hash"].unique().to_numpy()
        # About 32 slots per anchor: 1 in 32 train windows passes the screen by chance.
        bits = min(max(int(len(anchors) * 32).bit_length(), 12), 26)
        bitmap = np.zeros(1 << bits, bool)
        bitmap[anchors >> np.uint64(64 - bits)] = True
        return cls(anchor, table, bitmap)

    @property
    def empty(self) -> bool:
        return self.table.height == 0

    def screen(self, windows: np.ndarray) -> np.ndarray:
        """Indices of the windows whose hash can be an anchor hash: all of those that are, and
        a few that are not (the join with the patterns drops them)."""
        shift = np.uint64(64 - (len(self.bitmap).bit_length() - 1))
        return np.flatnonzero(self.bitmap[(windows >> shift).view(np.int64)])  # int64 indices: no conversion


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

    hash_lists: pl.Series  # list[u64], one hash per token
    empty: pl.Series  # empty strings among each problem's tokens (not tokens: not hashed)
    keys: pl.DataFrame  # row, key (against a benchmark: of the problems whose key passes its screen)

    def hashes(self, min_tokens: int = 0) -> Tokens:
        """The token hashes of the problems with at least `min_tokens` tokens."""
        return Tokens.from_hashes(self.hash_lists, self.empty, min_tokens)


def read_tokens(problems: pl.Series, mode: Mode, bench: _Bench | None = None) -> Read:
    """Token hashes and exact keys of problems: one streaming query (all cores), which gives
    no tokens, only their hashes. Against a benchmark with a key screen, only the few problems
    that pass it get keys."""
    text, tok = pl.col("text"), pl.col("tok")
    screen = bench.key_screen if bench else None
    # The text is a column of its own, read by both the tokeniser and the screen (an expression
    # in both would be computed twice).
    lazy = pl.DataFrame({"problem": problems}).lazy().select(text=mode.text(pl.col("problem").fill_null("")))
    lazy = lazy.select(tok=mode.tokens(text), **({"maybe": screen(text)} if screen else {}))
    columns = {"hashes": tok.list.eval(pl.element().hash(HASH_SEED)), "empty": tok.list.count_matches("")}
    if mode.keys is None:
        columns["key"] = tok.list.join(" ")
    elif screen:
        columns["maybe"] = pl.col("maybe")
    read = lazy.select(**columns).collect(engine="streaming")
    if mode.keys is None:
        keys = read.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"), "key")
    else:
        rows = read["maybe"].arg_true() if screen else pl.int_range(len(problems), eager=True)
        keys = pl.DataFrame({"row": rows, "key": mode.keys(problems.gather(rows))}, schema={"row": pl.Int64, "key": pl.String})
    return Read(read["hashes"], read["empty"], keys)


def nonempty(tokens: pl.Series) -> pl.Series:
    """Tokens without the empty strings that runs of spaces leave, as they were hashed."""
    return tokens.list.eval(pl.element().filter(pl.element() != ""))


def tokens_of(problems: pl.Series, mode: Mode) -> pl.Series:
    """The tokens of problems (list[str]), as hashed: without empty strings."""
    return nonempty(pl.select(mode.tokens(mode.text(pl.lit(problems, pl.String).fill_null("")))).to_series())


@dataclass(frozen=True)
class _Bench:
    """The benchmark side of one mode, prepared once."""

    ids: pl.DataFrame  # bench_row, benchmark, benchmark_id
    keys: pl.DataFrame  # key, bench_row
    key_screen: Callable[[pl.Expr], pl.Expr] | None  # text the tokens are read from -> whether the key can be a benchmark key
    tokens: pl.Series  # list[str], without empty strings
    lengths: np.ndarray  # tokens per benchmark problem
    patterns: dict[str, Patterns]  # method -> patterns

    @property
    def min_tokens(self) -> int:
        """Tokens a problem needs to hold a pattern."""
        return min(patterns.anchor for patterns in self.patterns.values())


def _prepare_bench(benchmarks: pl.DataFrame, mode: Mode, ngram: int) -> _Bench:
    problems = benchmarks["problem"]
    read = read_tokens(problems, mode)
    hashes = read.hashes()
    keys = read.keys.select("key", bench_row="row").filter(pl.col("key").str.contains(LETTER))
    patterns = {"ngram": ngram_patterns(hashes, ngram)}
    if mode.contained and MIN_CONTAINED < ngram:
        patterns["contained"] = contained_patterns(hashes, MIN_CONTAINED, ngram)
    return _Bench(
        ids=benchmarks.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("bench_row"), "benchmark", pl.col("problem_id").alias("benchmark_id")),
        keys=keys,
        key_screen=mode.key_screen(keys["key"]) if mode.key_screen else None,
        tokens=tokens_of(problems, mode),
        lengths=hashes.lengths,
        patterns=patterns,
    )


def _match_chunk(chunk: pl.DataFrame, read: Read, bench: _Bench, mode: Mode) -> pl.DataFrame:
    """Matches of one chunk of training rows, in the MATCHES schema."""
    hashes = read.hashes(bench.min_tokens)
    parts = [read.keys.join(bench.keys, on="key").select("row", "bench_row", evidence="key", method=pl.lit("exact"))]
    found = {}
    for method, patterns in bench.patterns.items():
        found[method] = find_occurrences(hashes, patterns)
        if method == "ngram" and mode.min_coverage is not None:
            found[method] = well_covered(found[method], patterns.anchor, bench.lengths, mode.min_coverage, COVERAGE_CAP * patterns.anchor)
    # Tokens to verify with: of the few rows found by hash only (null for the others).
    rows = pl.concat([f["row"] for f in found.values()]).unique()
    found_tokens = pl.DataFrame({"row": rows, "tokens": tokens_of(chunk["problem"].gather(rows), mode)})
    tokens = pl.DataFrame({"row": np.arange(chunk.height)}).join(found_tokens, on="row", how="left", maintain_order="left")["tokens"]
    for method, occurrences in found.items():
        parts.append(verify_occurrences(occurrences, tokens, bench.tokens).with_columns(method=pl.lit(method)))
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
    # A few chunks in flight, each read (polars, which releases the GIL) and matched (numpy and
    # some Python) in its own thread: while some are matched others are read, and the serial
    # parts of one fill the gaps of another, so both cores stay busy.
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        parts += pool.map(lambda chunk: _match_chunk(chunk, read_tokens(chunk["problem"], spec, bench), bench, spec), chunks)
    return (
        pl.concat(parts)
        .unique(["train_id", "benchmark", "benchmark_id", "method"], keep="first", maintain_order=True)
        .sort("train_id", "benchmark", "benchmark_id", "method")
    )


# ---------------------------------------------------------------------------------------
# Files.


def _load(path: str | Path) -> pl.DataFrame:
    """A file's problems: problem_id and problem as text (ids may be numbers), the rows with
    status ok where there is a status, and no row without a problem (it can copy nothing)."""
    frame = read_table(path, {"problem_id": pl.String, "problem": pl.String})
    if "status" in frame.columns:
        frame = frame.filter(pl.col("status").cast(pl.String) == "ok")
    blank = frame.filter(pl.col("problem").is_null()).height
    if blank:
        log.warning("%s: %d row(s) without a problem: nothing to match", path, blank)
    return frame.filter(pl.col("problem").is_not_null())


def load_train(paths: Sequence[str | Path]) -> pl.DataFrame:
    """Training problems from every file (status ok only), one row per problem_id."""
    frames = [_load(p).select("problem_id", "problem") for p in paths]
    return pl.concat(frames).unique("problem_id", keep="first", maintain_order=True)


def load_benchmarks(paths: Sequence[str | Path]) -> pl.DataFrame:
    """Benchmark problems; the benchmark is the `benchmark` column, else the file's stem."""
    frames = []
    for path in paths:
        frame = _load(path)
        name = pl.col("benchmark").cast(pl.String) if "benchmark" in frame.columns else pl.lit(Path(path).stem)
        frames.append(frame.select(name.alias("benchmark"), "problem_id", "problem"))
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
