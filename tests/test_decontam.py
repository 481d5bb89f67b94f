"""Decontamination: both modes on hand-made problems, the hashing engine, and the file API."""

from __future__ import annotations

import json
import re
import unicodedata

import numpy as np
import polars as pl
import pytest

from lightr1 import tables
from lightr1.data import decontam, decontam_modes
from lightr1.errors import Lightr1Error
from lightr1.io import read_table

REMAINDER = "What is the remainder when $2^{19}$ is divided by $7$?"
OTHER_REMAINDER = "What is the remainder when $129^{34}+96^{38}$ is divided by $11$?"
LONG = (
    "A rectangular band formation is a formation with $m$ band members in each of $r$ rows, where $m$ and $r$ "
    "are integers. A particular band has less than 100 band members. The director arranges them in a rectangular "
    "formation and finds that he has two members left over. If he increases the number of members in each row by 1 "
    "and reduces the number of rows by 2, there are exactly enough places in the new formation for each band member. "
    "What is the largest number of members the band could have?"
)
SHORT = "Find the sum of all positive divisors of $36$ that are also divisors of $48$ and $60$."
UNRELATED = [
    "How many ways are there to put 5 balls in 2 boxes if the balls are distinguishable but the boxes are not?",
    "Compute $\\dbinom{8}{4}$.",
    "Let $f(x) = 3x + 2$. Find $f(f(1))$.",
    "What is the remainder when the sum of the first 102 counting numbers is divided by 5250?",
    "In triangle $ABC$, $AB = 5$, $BC = 8$, and the length of median $AM$ is 4. Find $AC$.",
]


def frame(problems: list[str], prefix: str = "t") -> pl.DataFrame:
    return pl.DataFrame({"problem_id": [f"{prefix}{i}" for i in range(len(problems))], "problem": problems})


def bench_frame(problems: list[str]) -> pl.DataFrame:
    return frame(problems, "b").with_columns(benchmark=pl.lit("bench")).select("benchmark", "problem_id", "problem")


def pairs(train: list[str], bench: list[str], mode: str, **kwargs) -> set[tuple[str, str, str]]:
    """(train text, benchmark text, method) of every match."""
    matches = decontam.find_matches(frame(train), bench_frame(bench), mode, **kwargs)
    texts = dict(zip(frame(train)["problem_id"], train)) | dict(zip(frame(bench, "b")["problem_id"], bench))
    return {(texts[r["train_id"]], texts[r["benchmark_id"]], r["method"]) for r in matches.iter_rows(named=True)}


def caught(train: str, bench: str, mode: str) -> set[str]:
    """The methods by which `train` is matched to `bench`."""
    return {method for t, b, method in pairs([train], [bench], mode)}


BOTH = pytest.mark.parametrize("mode", decontam.MODES)


# ------------------------------------------------------------------------------------------
# What each mode catches and misses.


@BOTH
def test_digit_changed_copy_is_caught(mode: str) -> None:
    assert "exact" in caught("Find the sum of all positive divisors of $24$ that are also divisors of $42$ and $66$.", SHORT, mode)


@BOTH
def test_reformatted_copy_is_caught(mode: str) -> None:
    reformatted = "  Find the sum of all positive\ndivisors of  $36$ that are also\n\ndivisors of $48$ and $60$. "
    assert "exact" in caught(reformatted, SHORT, mode)


@pytest.mark.parametrize(
    ("copy", "bench"),
    [
        ("What is the remainder when $2^19$ is divided by $7$?", REMAINDER),
        ("What is the remainder when $2 ^ {19}$ is divided by $7$?", REMAINDER),
        ("What is the remainder when \\(2^{19}\\) is divided by \\(7\\)?", REMAINDER),
        ("What is the remainder when $\\left(2^{19}\\right)$ is divided by $7$?", "What is the remainder when $(2^{19})$ is divided by $7$?"),
    ],
)
def test_latex_respaced_short_copy_is_caught_by_default(copy: str, bench: str) -> None:
    assert "exact" in caught(copy, bench, "default")


def test_latex_respaced_fractions_and_spacing() -> None:
    bench = "Compute $\\frac{1}{2} + \\frac{3}{4}$, where $x, y$ satisfy $x \\le y$ and $y \\neq 0$, and then simplify."
    copy = "Compute \\(\\dfrac12 + \\tfrac{3}{4}\\), where $x,\\, y$ satisfy $x \\leq y$ and $y \\ne 0$, and then simplify."
    assert caught(copy, bench, "default") >= {"exact"}
    assert caught(copy, bench, "light-r1") == set()  # "dfrac", "tfrac", "leq" change Light-R1's key


@BOTH
@pytest.mark.parametrize("copy", ["Problem 7. " + LONG, LONG + " Justify your answer.", "Question 3: " + LONG + "\n\nShow your work."])
def test_long_problem_with_a_prefix_or_suffix_is_caught_by_ngrams(mode: str, copy: str) -> None:
    assert len(LONG.split()) > 40
    assert "ngram" in caught(copy, LONG, mode)


def test_long_digit_changed_problem_behind_a_prefix_is_caught_by_default() -> None:
    copy = "Problem 7. " + LONG.replace("100", "300").replace("by 1", "by 3").replace("by 2", "by 5")
    assert "ngram" in caught(copy, LONG, "default")


def test_short_problem_behind_a_prefix_is_caught_by_default_only() -> None:
    copy = "Problem 4. " + SHORT.replace("36", "72")
    assert caught(copy, SHORT, "default") == {"contained"}
    assert caught(copy, SHORT, "light-r1") == set()


def test_short_problem_before_a_suffix_is_caught_by_default_only() -> None:
    copy = SHORT + " Express your answer as an integer."
    assert caught(copy, SHORT, "default") == {"contained"}
    assert caught(copy, SHORT, "light-r1") == set()


def test_remainder_problems_collide_in_light_r1_only() -> None:
    assert caught(REMAINDER, OTHER_REMAINDER, "light-r1") == {"exact"}
    assert caught(REMAINDER, OTHER_REMAINDER, "default") == set()


@BOTH
def test_different_problems_do_not_match(mode: str) -> None:
    bench = [SHORT, LONG, REMAINDER]
    assert pairs(UNRELATED, bench, mode) == set()


def test_shared_boilerplate_is_not_a_copy_in_default() -> None:
    hint = (
        " (Reminder: The number $n!$ is the product of the integers from 1 to $n$. "
        "For example, $5!=5\\cdot 4\\cdot3\\cdot2\\cdot 1= 120$.)"
    )
    bench = "How many zeroes are at the end of $42!$ (42 factorial)?" + hint
    train = "In the prime factorization of $24!$, what is the exponent of $3$?" + hint
    assert caught(train, bench, "default") == set()


@BOTH
def test_evidence_is_shared_text(mode: str) -> None:
    train = ["Problem 7. " + LONG, SHORT.replace("36", "72")]
    matches = decontam.find_matches(frame(train), bench_frame([LONG, SHORT]), mode)
    assert matches.height >= 2
    assert matches["evidence"].str.len_chars().min() > 0
    texts = dict(zip(frame(train)["problem_id"], train)) | dict(zip(frame([LONG, SHORT], "b")["problem_id"], [LONG, SHORT]))
    spec = decontam.MODE_SPECS[mode]
    for row in matches.iter_rows(named=True):
        a, b = (texts[row["train_id"]], texts[row["benchmark_id"]])
        problems = pl.Series([a, b])
        tokens = decontam.tokens_of(problems, spec)
        if row["method"] == "exact":
            assert decontam.read_tokens(problems, spec).keys["key"].to_list() == [row["evidence"]] * 2
        else:
            for text in decontam.nonempty(tokens).list.join(" "):
                assert row["evidence"] in text


def test_ngram_evidence_in_light_r1_is_the_shared_words() -> None:
    matches = decontam.find_matches(frame(["Problem 7. " + LONG]), bench_frame([LONG]), "light-r1")
    evidence = matches.filter(pl.col("method") == "ngram")["evidence"][0]
    assert len(evidence.split()) == 32
    assert evidence in " ".join(LONG.lower().split())


def test_several_methods_give_several_rows() -> None:
    matches = decontam.find_matches(frame([LONG]), bench_frame([LONG]), "light-r1")
    assert sorted(matches["method"]) == ["exact", "ngram"]
    assert matches.schema == tables.MATCHES
    assert set(matches["mode"]) == {"light-r1"}


def test_ngram_length_is_a_parameter() -> None:
    shared = "the quick brown fox jumps over the lazy dog near the river bank today"  # 13 words
    a, b = "Alpha beta gamma. " + shared, shared + " Delta epsilon."
    assert caught(a, b, "light-r1") == set()
    assert pairs([a], [b], "light-r1", ngram=8) == {(a, b, "ngram")}


def test_results_do_not_depend_on_chunking() -> None:
    train = UNRELATED + ["Problem 7. " + LONG, SHORT.replace("36", "12"), "Problem 4. " + SHORT, REMAINDER]
    for mode in decontam.MODES:
        whole = decontam.find_matches(frame(train), bench_frame([LONG, SHORT, OTHER_REMAINDER]), mode)
        chunked = decontam.find_matches(frame(train), bench_frame([LONG, SHORT, OTHER_REMAINDER]), mode, chunk_bytes=200)
        assert whole.equals(chunked)
        assert whole.height > 0


def test_unknown_mode_is_an_error() -> None:
    with pytest.raises(Lightr1Error, match="unknown decontamination mode"):
        decontam.find_matches(frame([SHORT]), bench_frame([SHORT]), "fuzzy")


def test_empty_inputs_give_an_empty_table() -> None:
    empty = frame([])
    assert decontam.find_matches(empty, bench_frame([SHORT]), "default").schema == tables.MATCHES
    assert decontam.find_matches(frame([SHORT]), bench_frame([]), "default").height == 0


# ------------------------------------------------------------------------------------------
# Light-R1 mode is Light-R1's Python semantics.


def _python_light_r1(train: list[str], bench: list[str], n: int = 32) -> set[tuple[int, int, str]]:
    def key(text: str) -> str:
        return re.sub(r"[\W\d]", "", text.lower())

    def grams(text: str) -> set[str]:
        words = text.lower().split()
        return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}

    found = set()
    for i, t in enumerate(train):
        for j, b in enumerate(bench):
            if key(t) and key(t) == key(b):
                found.add((i, j, "exact"))
            if grams(t) & grams(b):
                found.add((i, j, "ngram"))
    return found


def test_light_r1_mode_agrees_with_a_plain_python_implementation() -> None:
    rng = np.random.default_rng(0)
    vocab = ["the", "a", "x²", "$x$", "Ünïcode", "αβγ", "½", "3", "x_1", "(a+b)", "İstanbul", "ΣΑΣ", "—", "\\frac{1}{2}", "n!"]
    spaces = [" ", "  ", "\n", "\t", "\u00a0", "\u3000", "\x1c"]
    def text(words: int) -> str:
        parts = rng.choice(vocab, words)
        return "".join(str(p) + str(rng.choice(spaces)) for p in parts)
    bench = [text(int(rng.integers(1, 50))) for _ in range(12)]
    train = [text(int(rng.integers(1, 60))) for _ in range(40)]
    train += [b.upper().replace(" ", "\u2003") for b in bench[:4]]  # same key, same words
    train += ["intro " + b[: len(b) // 2] for b in bench[4:8]]  # shared leading words
    expected = _python_light_r1(train, bench, n=6)
    matches = decontam.find_matches(frame(train), bench_frame(bench), "light-r1", ngram=6)
    got = {(int(r["train_id"][1:]), int(r["benchmark_id"][1:]), r["method"]) for r in matches.iter_rows(named=True)}
    assert got == expected
    assert {m for _, _, m in expected} == {"exact", "ngram"}


def test_light_r1_keys_are_built_only_where_they_can_match() -> None:
    spec = decontam.MODE_SPECS["light-r1"]
    math_start = "$1+2+3+4+5+6+7+8+9+10+11+12+13+14$ is the sum; now find the sum of the first hundred odd numbers please."
    bench_problems = [LONG, SHORT, math_start, "Ünïcode problem with ümlauts and more than twelve words in it, to be found again here."]
    train_problems = [
        LONG.replace("100", "700").replace(", ", " , "),  # same key, other digits and spacing: long
        SHORT.replace("36", "12"),  # short
        math_start.replace("14", "15"),  # its first characters hold few letters
        bench_problems[3].replace(" ", "  "),  # non-ASCII
        "A different problem entirely, about twelve apples and oranges shared among many children at school.",
        LONG[:200],
    ]
    bench = decontam._prepare_bench(bench_frame(bench_problems), spec, 32)
    keys = decontam.read_tokens(pl.Series(train_problems), spec, bench).keys
    full = decontam_modes.lightr1_keys(pl.Series(train_problems))
    assert all(full[row] == key for row, key in keys.iter_rows())  # the keys it gives are the keys
    matched = set(keys.join(bench.keys, on="key")["row"])
    assert matched == {0, 1, 2, 3}
    assert 4 not in set(keys["row"])  # ruled out by the screen, its key never built


def test_chunks_cover_every_row_within_the_byte_budget() -> None:
    problems = ["x" * n for n in (5, 50, 7, 300, 1, 1, 1, 60)]
    chunks = decontam.chunked(frame(problems), 64)
    assert pl.concat(chunks)["problem"].to_list() == problems
    for chunk in chunks:
        assert chunk.height == 1 or chunk["problem"].str.len_bytes().sum() <= 64


def test_empty_strings_are_not_tokens() -> None:
    read = decontam.read_tokens(pl.Series(["  a  b ", "", "c"]), decontam.MODE_SPECS["light-r1"])
    tokens = read.hashes()
    assert tokens.lengths.tolist() == [2, 0, 1]
    expected = pl.Series(["a", "b", "c"]).hash(decontam.HASH_SEED).to_list()
    assert tokens.hashes.tolist() == expected


def test_space_chars_are_pythons_whitespace() -> None:
    assert set(decontam_modes.SPACE_CHARS) == {chr(c) for c in range(0x110000) if chr(c).isspace()}


def test_light_r1_key_follows_python_re_on_assigned_characters() -> None:
    chars = [chr(c) for c in range(0x3000) if unicodedata.category(chr(c)) not in ("Cn", "Cs")]
    text = pl.Series(chars)
    got = pl.DataFrame({"t": text}).select(decontam_modes.lightr1_key(pl.col("t")))["t"].to_list()
    assert got == [re.sub(r"[\W\d]", "", c.lower()) for c in chars]


# ------------------------------------------------------------------------------------------
# The hashing engine.


def _naive_window_hash(hashes: list[int], start: int, n: int) -> int:
    return sum(h * pow(decontam.BASE, k, 1 << 64) for k, h in enumerate(hashes[start : start + n])) % (1 << 64)


@pytest.mark.parametrize("seed", range(5))
def test_window_hashes_equal_a_naive_computation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0, 12, 30)  # empty documents and documents shorter than n included
    hashes = rng.integers(0, 2**64, int(lengths.sum()), dtype=np.uint64)
    offsets = np.concatenate(([0], np.cumsum(lengths)))
    tokens = decontam.Tokens(hashes, offsets)
    for n in (1, 3, 5, 11):
        starts, got = decontam.window_hashes(tokens, n)
        expected = [
            (int(offsets[d]) + i, _naive_window_hash([int(h) for h in hashes[offsets[d] : offsets[d + 1]]], i, n))
            for d in range(len(lengths))
            for i in range(int(lengths[d]) - n + 1)
        ]
        assert list(zip(starts.tolist(), [int(h) for h in got])) == expected


def test_span_hashes_do_not_depend_on_position() -> None:
    rng = np.random.default_rng(7)
    run = rng.integers(0, 2**64, 9, dtype=np.uint64)
    docs = [rng.integers(0, 2**64, 5, dtype=np.uint64), run, rng.integers(0, 2**64, 20, dtype=np.uint64), run]
    stream = np.concatenate(docs)
    tokens = decontam.Tokens(stream, np.array([0, 14, 43]))  # the run ends document 0 and is document 1's tail
    a, b = decontam.PrefixHash.of(tokens).spans(np.array([5, 34]), 9)
    assert a == b == _naive_window_hash([int(h) for h in run], 0, 9)


def test_hash_collisions_are_ruled_out_by_verification() -> None:
    found = pl.DataFrame({"row": [0, 0], "pos": [0, 1], "bench_row": [0, 0], "bench_pos": [0, 0], "length": [2, 2]})
    train, bench = pl.Series([["x", "", "a", "b"]]), pl.Series([["a", "b"]])
    verified = decontam.verify_occurrences(found, train, bench)
    assert verified.rows() == [(0, 0, "a b")]  # the window at pos 0 ("x a") was a false hash hit
    assert decontam.verify_occurrences(found.head(1), train, bench).height == 0


# ------------------------------------------------------------------------------------------
# Files.


def _write(path, rows: list[dict]) -> str:
    if path.suffix == ".parquet":
        pl.DataFrame(rows).write_parquet(path)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_decontaminate_files(tmp_path, suffix: str) -> None:
    train_a = _write(tmp_path / f"a{suffix}", [
        {"problem_id": "p1", "problem": "Problem 4. " + SHORT.replace("36", "12"), "status": "ok"},
        {"problem_id": "p2", "problem": SHORT, "status": "rejected"},  # rejected rows are not training rows
        {"problem_id": "p3", "problem": UNRELATED[0], "status": "ok"},
    ])
    train_b = _write(tmp_path / f"b{suffix}", [
        {"problem_id": "p1", "problem": "Problem 4. " + SHORT.replace("36", "12")},
        {"problem_id": "p4", "problem": REMAINDER},
    ])
    named = _write(tmp_path / f"x{suffix}", [{"benchmark": "math500", "problem_id": "m1", "problem": SHORT, "status": "ok"}])
    stem = _write(tmp_path / f"aime{suffix}", [{"problem_id": "r1", "problem": OTHER_REMAINDER}])
    out = tmp_path / "out" / f"matches{suffix}"
    decontam.decontaminate_files([train_a, train_b], [named, stem], out, modes=["default", "light-r1"], ngram=32)
    matches = read_table(out)
    assert matches.columns == list(tables.MATCHES)
    got = {(r["train_id"], r["benchmark"], r["benchmark_id"], r["mode"], r["method"]) for r in matches.iter_rows(named=True)}
    assert got == {
        ("p1", "math500", "m1", "default", "contained"),  # once, though p1 is in both files
        ("p4", "aime", "r1", "light-r1", "exact"),
    }
    assert not list(out.parent.glob(".*.tmp"))


def test_missing_column_is_a_clear_error(tmp_path) -> None:
    train = _write(tmp_path / "train.jsonl", [{"id": "p1", "problem": SHORT}])
    bench = _write(tmp_path / "bench.jsonl", [{"problem_id": "b1", "problem": SHORT}])
    with pytest.raises(Lightr1Error, match=r"train\.jsonl: missing column\(s\) problem_id"):
        decontam.decontaminate_files([train], [bench], tmp_path / "m.parquet", modes=["default"], ngram=32)
    assert not (tmp_path / "m.parquet").exists()


def test_unknown_output_format_is_a_clear_error(tmp_path) -> None:
    train = _write(tmp_path / "train.jsonl", [{"problem_id": "p1", "problem": SHORT}])
    with pytest.raises(Lightr1Error, match=r"\.parquet or \.jsonl"):
        decontam.decontaminate_files([train], [train], tmp_path / "m.csv", modes=["default"], ngram=32)
