"""The seeded tiny world: same seed same bytes, the real sources' schemas, planted rows where
the manifest says, traces whose boxed answers agree with their correctness flags, and training
problems that resemble benchmark problems only where planted."""

from __future__ import annotations

import csv
import json
import random
import re
from collections import defaultdict
from pathlib import Path

import polars as pl
import pytest
import sympy
from rapidfuzz import fuzz

from lightr1.cli import main as cli_main
from lightr1.io import read_raw
from lightr1.text import last_boxed, normalise_problem
from lightr1.tiny import problems as tp
from lightr1.tiny.world import FILES, LONG_WORDS, SUFFIX, build_world, decontam_keys, decontam_marks, swap_word, write_world

SEED, N = 7, 120
TRAIN_FILES = (FILES["openr1_math"], FILES["limo"], FILES["deepscaler"])
BENCH_FILES = (FILES["aime"], FILES["math500"], FILES["gpqa"])
CONTAMINATION = {"digits-changed", "reformatted", "latex-respaced", "prefixed", "suffixed"}
DUPLICATION = {"exact-duplicate", "near-duplicate", "near-duplicate-different-answer"}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("tiny")
    return out, write_world(out, seed=SEED, n_problems=N)


@pytest.fixture(scope="module")
def raw(world) -> dict[str, list]:
    out, manifest = world
    return {path: list(read_raw(out / path)) for path in manifest["files"].values()}


def problem_text(record: dict) -> object:
    for key in ("problem", "question", "Question"):
        if key in record:
            return record[key]
    raise KeyError(record)


def planted_rows(manifest: dict) -> dict[tuple[str, int], dict]:
    return {(p["file"], p["row"]): p for p in manifest["planted"]}


def ordinary_training_texts(raw: dict, manifest: dict) -> list[str]:
    planted = planted_rows(manifest)
    return [problem_text(r.record) for path in TRAIN_FILES for r in raw[path] if (path, r.index) not in planted]


def benchmark_texts(raw: dict) -> list[str]:
    return [problem_text(r.record) for path in BENCH_FILES for r in raw[path]]


def word_ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    words = re.sub(r"\d+", "<n>", normalise_problem(text)).split()
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


# ---------------------------------------------------------------------------------------------
# Determinism


def test_same_seed_gives_same_bytes(world, tmp_path):
    out, manifest = world
    again = write_world(tmp_path, seed=SEED, n_problems=N)
    assert again == manifest
    assert json.loads((out / "planted.json").read_text()) == manifest["planted"]
    for path in [*manifest["files"].values(), "planted.json"]:
        assert (tmp_path / path).read_bytes() == (out / path).read_bytes(), path


def test_other_seed_gives_other_content(world, tmp_path):
    out, manifest = world
    write_world(tmp_path, seed=SEED + 1, n_problems=N)
    for path in manifest["files"].values():
        assert (tmp_path / path).read_bytes() != (out / path).read_bytes(), path
    mine = {normalise_problem(t) for t in pl.read_parquet(out / FILES["openr1_math"])["problem"]}
    other = {normalise_problem(t) for t in pl.read_parquet(tmp_path / FILES["openr1_math"])["problem"]}
    assert len(mine & other) < len(mine) // 4


def test_cli_writes_the_world(tmp_path):
    cli_main(["tiny-world", "--out-dir", str(tmp_path), "--seed", "3", "--n-problems", "40"])
    planted = json.loads((tmp_path / "planted.json").read_text())
    assert {p["kind"] for p in planted} >= CONTAMINATION | DUPLICATION
    assert all((tmp_path / path).is_file() for path in FILES.values())
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave nothing behind


# ---------------------------------------------------------------------------------------------
# Schemas


def test_openr1_math_schema(world):
    out, _ = world
    frame = pl.read_parquet(out / FILES["openr1_math"])
    assert dict(frame.schema) == {
        "problem": pl.String,
        "solution": pl.String,
        "answer": pl.String,
        "problem_type": pl.String,
        "question_type": pl.String,
        "source": pl.String,
        "uuid": pl.String,
        "is_reasoning_complete": pl.List(pl.Boolean),
        "generations": pl.List(pl.String),
        "correctness_math_verify": pl.List(pl.Boolean),
        "correctness_llama": pl.List(pl.Boolean),
        "finish_reasons": pl.List(pl.String),
        "correctness_count": pl.Int64,
        "messages": pl.List(pl.Struct({"content": pl.String, "role": pl.String})),
    }
    assert frame["correctness_llama"].null_count() == frame.height
    assert set(frame["question_type"]) == {"math-word-problem", "proof"}
    assert frame["uuid"].n_unique() == frame.height
    lengths = frame["generations"].list.len()
    assert lengths.min() >= 1 and lengths.max() <= 4
    for column in ("is_reasoning_complete", "correctness_math_verify", "finish_reasons"):
        assert (frame[column].list.len() == lengths).all(), column


def test_limo_and_deepscaler_schemas(world, raw):
    out, manifest = world
    planted = planted_rows(manifest)
    for row in raw[FILES["limo"]]:
        if (FILES["limo"], row.index) not in planted:
            assert set(row.record) == {"question", "solution", "answer"}
            assert row.record["solution"].endswith(f"**Final Answer**\n\\boxed{{{row.record['answer']}}}")
    data = json.loads((out / FILES["deepscaler"]).read_text())
    assert isinstance(data, list)
    assert all(set(r) == {"problem", "answer", "solution"} and isinstance(r["answer"], str) for r in data)


def test_benchmark_schemas(world):
    out, _ = world
    aime = json.loads((out / FILES["aime"]).read_text())
    assert all(set(r) == {"problem", "solution", "answer", "year", "aime_number", "problem_number", "difficulty"} for r in aime)
    assert all(isinstance(r["answer"], str) and 0 <= int(r["answer"]) <= 999 for r in aime)
    math500 = [json.loads(line) for line in (out / FILES["math500"]).read_text().splitlines()]
    assert all(set(r) == {"problem", "solution", "answer", "subject", "level", "unique_id"} for r in math500)
    assert len({r["unique_id"] for r in math500}) == len(math500)
    with open(out / FILES["gpqa"], newline="", encoding="utf-8") as handle:
        gpqa = list(csv.DictReader(handle))
    options = ("Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3")
    assert all(c in gpqa[0] for c in ("Question", *options))
    assert all(len({int(r[c]) for c in options}) == 4 for r in gpqa)
    assert 10 <= len(aime) <= 30 and 15 <= len(math500) <= 40 and 10 <= len(gpqa) <= 30
    minerva = [json.loads(line) for line in (out / FILES["minerva"]).read_text().splitlines()]
    assert all(set(r) == {"problem", "solution", "answer", "type", "idx"} for r in minerva)
    # The GPQA-like questions asked open: each answer is the value of its question's correct option.
    assert [(r["problem"], r["answer"]) for r in minerva] == [(r["Question"], r["Correct Answer"]) for r in gpqa]


def test_sizes_follow_n_problems(world):
    _, manifest = world
    rows = manifest["rows"]
    extra = sum(1 for p in manifest["planted"] if p["file"] in TRAIN_FILES)
    assert sum(rows[path] for path in TRAIN_FILES) == N + extra


# ---------------------------------------------------------------------------------------------
# Planted rows


def test_every_kind_is_planted(world):
    _, manifest = world
    kinds = {p["kind"] for p in manifest["planted"]}
    malformed = {
        "malformed-json",
        "malformed-utf8",
        "malformed-missing-answer",
        "malformed-non-string-problem",
        "malformed-empty-problem",
        "malformed-too-long",
    }
    assert CONTAMINATION | DUPLICATION | malformed | {"proof"} <= kinds
    contaminated = [p for p in manifest["planted"] if p["kind"] in CONTAMINATION]
    assert {p["file"] for p in contaminated} == {FILES["openr1_math"], FILES["limo"]}
    assert {p["long"] for p in contaminated} == {True, False}


def test_malformed_rows_are_where_the_manifest_says(world, raw):
    _, manifest = world
    for p in manifest["planted"]:
        if not p["kind"].startswith("malformed"):
            continue
        row = raw[p["file"]][p["row"]]
        kind = p["kind"]
        if kind in ("malformed-json", "malformed-utf8"):
            assert row.record is None and row.error, kind
        elif kind == "malformed-missing-answer":
            assert "answer" not in row.record
        elif kind == "malformed-non-string-problem":
            assert not isinstance(row.record["question"], str)
        elif kind == "malformed-empty-problem":
            assert row.record["question"].strip() == ""
        elif kind == "malformed-too-long":
            assert len(row.record["question"]) > 20_000


def test_contamination_copies_its_benchmark_row(world, raw):
    _, manifest = world
    for p in manifest["planted"]:
        if p["kind"] not in CONTAMINATION:
            continue
        copy = problem_text(raw[p["file"]][p["row"]].record)
        bench_row = raw[p["benchmark_file"]][p["benchmark_row"]].record
        original = problem_text(bench_row)
        assert p["long"] == (len(original.split()) > LONG_WORDS)
        assert copy != original
        kind = p["kind"]
        if kind == "digits-changed":
            assert decontam_keys(copy) == decontam_keys(original)
        elif kind == "reformatted":
            assert normalise_problem(copy) == normalise_problem(original)
        elif kind == "latex-respaced":
            assert decontam_keys(copy)[1] == decontam_keys(original)[1]
            assert normalise_problem(copy) != normalise_problem(original)
        elif kind == "prefixed":
            assert re.match(r"Problem \d+\. ", copy)
            assert decontam_keys(copy.split(". ", 1)[1]) == decontam_keys(original)
        elif kind == "suffixed":
            assert copy == original + SUFFIX
        if kind in ("reformatted", "latex-respaced", "suffixed"):
            assert p["answer"] == str(bench_row.get("answer", bench_row.get("Correct Answer")))
        if p["long"]:
            assert word_ngrams(copy, 32) & word_ngrams(original, 32), "a long copy shares a 32-gram"


def test_duplicates_copy_their_source_row(world, raw):
    _, manifest = world
    for p in manifest["planted"]:
        if p["kind"] not in DUPLICATION:
            continue
        dup = raw[p["file"]][p["row"]].record
        source = raw[p["copies_file"]][p["copies_row"]].record
        a, b = problem_text(dup), problem_text(source)
        ratio = fuzz.ratio(normalise_problem(a), normalise_problem(b))
        if p["kind"] == "exact-duplicate":
            assert a == b and dup["answer"] == source["answer"]
        else:
            assert a != b and ratio >= 95, (p, ratio)
            same_answer = dup["answer"] == source["answer"]
            assert same_answer == (p["kind"] == "near-duplicate")


def test_every_training_wording_has_a_word_to_swap():
    rng = random.Random(2)
    for level in tp.LEVELS:
        for _ in range(100):
            text = tp.make_problem(rng, level, long=rng.random() < 0.3).text
            assert normalise_problem(swap_word(text)) != normalise_problem(text)


def test_proof_rows(world, raw):
    _, manifest = world
    proofs = [p for p in manifest["planted"] if p["kind"] == "proof"]
    assert proofs
    for p in proofs:
        record = raw[p["file"]][p["row"]].record
        assert record["answer"] == "proof" and record["question_type"] == "proof"


# ---------------------------------------------------------------------------------------------
# Teacher traces


def test_traces_agree_with_their_correctness_flags(world):
    out, _ = world
    frame = pl.read_parquet(out / FILES["openr1_math"]).filter(pl.col("question_type") != "proof")
    seen_wrong = seen_truncated = 0
    for row in frame.iter_rows(named=True):
        flags = zip(row["generations"], row["correctness_math_verify"], row["finish_reasons"], row["is_reasoning_complete"])
        for text, correct, finish, complete in flags:
            assert text.startswith("<think>\n")
            if finish == "length":
                assert not correct and not complete and "</think>" not in text
                seen_truncated += 1
                continue
            assert complete and "\n</think>\n\n" in text and text.endswith("}")
            assert len(text) > 1.5 * len(row["solution"])  # long reasoning, next to the short solution
            boxed = last_boxed(text)
            assert text.endswith(f"\\boxed{{{boxed}}}")
            assert (boxed == row["answer"]) == correct
            seen_wrong += not correct
        assert row["correctness_count"] == sum(row["correctness_math_verify"])
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"]
        assert row["messages"][0]["content"] == row["problem"]
    assert seen_wrong and seen_truncated


def test_teacher_errs_more_on_harder_problems():
    world, _ = build_world(SEED, 400)
    wrong, total = defaultdict(int), defaultdict(int)
    for entry in world.files["openr1_math"]:
        if entry.problem is None or entry.planted is not None:
            continue
        for text, correct in zip(entry.record["generations"], entry.record["correctness_math_verify"]):
            if "</think>" in text:  # truncated traces say nothing about difficulty
                wrong[entry.problem.level] += not correct
                total[entry.problem.level] += 1
    rate = {level: wrong[level] / total[level] for level in tp.LEVELS}
    assert rate[1] < rate[3] < rate[5], rate


def test_trace_functions():
    rng = random.Random(0)
    for level in tp.LEVELS:
        for _ in range(20):
            problem = tp.make_problem(rng, level)
            assert sympy.sympify(tp.sympy_expression(problem.terms)) == problem.answer
            right = tp.teacher_trace(problem, rng)
            wrong = tp.teacher_trace(problem, rng, wrong=True)
            assert last_boxed(right) == str(problem.answer)
            assert last_boxed(wrong) != str(problem.answer)
            assert right.isascii() and problem.text.isascii()
    assert tp.calculate(7, "+", 8).result == 15 and tp.calculate(7, "+", 8, slip=0).result == 16 and tp.calculate(7, "+", 8, slip=1).result == 25
    assert tp.calculate(14, "-", 6).equation == "14 - 6 = 8" and tp.calculate(3, "*", 4).result == 12
    terms = ((1, (3, 4)), (1, (7,)), (-1, (5,)))
    assert tp.work(terms).lines[1:3] == ("3 * 4 = 12.", "12 + 7 = 19.")
    assert tp.work(terms, tp.Slip(step=1, column=0)).value == 15  # 12 + 7 = 20 is carried along


def test_every_step_is_a_small_fact():
    """What makes step-by-step working learnable for a 1M model in minutes: every step of every
    level is a sum or difference under 40 or a product under 25, with a one-digit right side."""
    rng = random.Random(1)
    for level in tp.LEVELS:
        for _ in range(200):
            for step in tp.work(tp.make_problem(rng, level).terms).steps:
                assert step.right <= 9 or step.op == "+" and step.left <= 9, step
                assert step.result < (25 if step.op == "*" else 40), step


def test_problems_are_pure_functions_of_the_rng():
    first = tp.make_problem(random.Random(5), 4, tp.BENCH, long=True)
    assert first == tp.make_problem(random.Random(5), 4, tp.BENCH, long=True)
    assert first.words > LONG_WORDS
    changed = tp.with_new_numbers(first, random.Random(1))
    assert changed.answer != first.answer and decontam_keys(changed.text) == decontam_keys(first.text)


# ---------------------------------------------------------------------------------------------
# Levels, sizes and the separation between training and benchmark problems


def test_levels_and_long_problems_in_every_source():
    world, benchmarks = build_world(SEED, N)
    for name in ("openr1_math", "limo", "deepscaler"):
        ordinary = [e.problem for e in world.files[name] if e.planted is None and e.problem is not None]
        assert {p.level for p in ordinary} == set(tp.LEVELS), name
    training = [e.problem for name in ("openr1_math", "limo", "deepscaler") for e in world.files[name] if e.planted is None and e.problem]
    assert len(training) == N
    assert any(p.words > LONG_WORDS for p in training)
    assert {p.level for p in benchmarks["aime"]} == {4, 5}
    assert {p.level for p in benchmarks["math500"]} == set(tp.LEVELS)
    for problems in benchmarks.values():
        assert all(sympy.sympify(tp.sympy_expression(p.terms)) == p.answer for p in problems)


def test_training_problems_are_distinct(world, raw):
    _, manifest = world
    texts = [normalise_problem(t) for t in ordinary_training_texts(raw, manifest) if isinstance(t, str)]
    assert len(texts) == N == len(set(texts))


def test_vocabularies_are_disjoint():
    for field in ("names", "objects", "containers", "places"):
        train, bench, gpqa = (set(getattr(v, field)) for v in (tp.TRAIN, tp.BENCH, tp.GPQA))
        assert not (train & bench) and not (train & gpqa), field


def test_training_resembles_benchmarks_only_where_planted(world, raw):
    _, manifest = world
    bench = benchmark_texts(raw)
    bench_marks = set().union(*(decontam_marks(text) for text in bench))
    bench_grams = set().union(*(word_ngrams(text, 8) for text in bench))
    for text in ordinary_training_texts(raw, manifest):
        if not isinstance(text, str) or not text.strip():
            continue
        assert bench_marks.isdisjoint(decontam_marks(text)), text
        assert not (word_ngrams(text, 8) & bench_grams), text


def test_benchmark_problems_never_match_each_other(raw):
    """So that a planted copy matches exactly the benchmark row it copies."""
    seen: set = set()
    for text in benchmark_texts(raw):
        marks = decontam_marks(text)
        assert seen.isdisjoint(marks), text
        seen |= marks


def test_no_unplanted_near_duplicates(world, raw):
    """Two ordinary training rows with the same answer are never near-duplicates: the only ones
    a deduplicator should merge are the planted ones."""
    _, manifest = world
    planted = planted_rows(manifest)
    by_answer = defaultdict(list)
    for path in TRAIN_FILES:
        for r in raw[path]:
            if (path, r.index) not in planted and r.record:
                by_answer[r.record["answer"]].append(normalise_problem(problem_text(r.record)))
    for answer, texts in by_answer.items():
        for i, a in enumerate(texts):
            for b in texts[i + 1 :]:
                assert fuzz.ratio(a, b) < 90, (answer, a, b)
