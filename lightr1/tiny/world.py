"""The tiny world: raw training sources and benchmarks in the real files' schemas, written from a
seed, with planted contamination, duplicates and malformed rows listed in `planted.json`.

    raw/openr1_math.parquet      OpenR1-Math-220k columns, 1-4 teacher traces per row
    raw/limo.jsonl               LIMO: question, solution, answer (+ malformed lines)
    raw/deepscaler.json          DeepScaleR: a list of {problem, answer, solution} (+ duplicates)
    benchmarks/aime.json         AIME24-like, benchmarks/math500.jsonl MATH-500-like,
    benchmarks/gpqa.csv          GPQA-like (numeric options)
    benchmarks/minerva.jsonl     the GPQA-like questions asked open, in Minerva-Math's schema
    planted.json                 every planted row, for tests: a JSON list of {file, row, kind, ...}

Every part draws from its own random stream (seed + label), so the same seed gives the same
bytes and changing one part does not reshuffle the others.

Over 500 lines: its four parts (problems, rows per source schema, planted rows, the world) draw
from one set of random streams and one list of planted rows, which tests read back.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
from rapidfuzz import fuzz, process

from lightr1.io import atomic_path, write_json
from lightr1.text import normalise_problem
from lightr1.tiny.problems import (
    BENCH,
    GPQA,
    LEVELS,
    TRAIN,
    TinyProblem,
    Vocab,
    limo_solution,
    make_problem,
    make_proof,
    reformat_whitespace,
    respace_latex,
    short_solution,
    teacher_trace,
    with_new_numbers,
    with_terms,
)

FILES = {
    "openr1_math": "raw/openr1_math.parquet",
    "limo": "raw/limo.jsonl",
    "deepscaler": "raw/deepscaler.json",
    "aime": "benchmarks/aime.json",
    "math500": "benchmarks/math500.jsonl",
    "gpqa": "benchmarks/gpqa.csv",
    "minerva": "benchmarks/minerva.jsonl",
}
MANIFEST = "planted.json"

CONTAMINATION_KINDS = ("digits-changed", "reformatted", "latex-respaced", "prefixed", "suffixed")
CONTAMINATION_PER_KIND = 4
SUFFIX = " Give your answer as an integer."
LONG_WORDS = 40  # a "long" problem: enough words for 32-gram decontamination to find
# Ordinary problems with one answer stay below this similarity ratio to each other, well below
# the near-duplicate threshold (95) that deduplication uses; planted near-duplicates are above.
UNPLANTED_SIMILARITY = 90
# Unplanted problems share no run of this many tokens with a benchmark problem (nor benchmark
# problems with each other): a margin under the 32-token runs n-gram decontamination compares.
SHARED_RUN = 24
MIN_LONG = 10  # near-duplicates are planted on long problems: have enough even when n is small

# The teacher errs more on harder problems, so that difficulty grading has signal.
WRONG_RATE = {1: 0.1, 2: 0.2, 3: 0.35, 4: 0.5, 5: 0.65}
TRUNCATE_RATE = 0.04  # traces cut off at the length limit, as in the real set
N_GENERATIONS = (1, 2, 2, 2, 3, 4)
TRAIN_LONG_RATE = 0.2
SOURCE_SHARES = {"openr1_math": 0.6, "limo": 0.15}  # deepscaler takes the rest

OPENR1_SOURCES = ("olympiads", "cn_contest", "aops_forum", "amc_aime", "cn_k12", "number_theory")
PROBLEM_TYPES = {1: "Other", 2: "Other", 3: "Algebra", 4: "Algebra", 5: "Logic and Puzzles"}
MATH_SUBJECTS = {1: "Prealgebra", 2: "Prealgebra", 3: "Prealgebra", 4: "Algebra", 5: "Algebra"}

MESSAGE = pl.Struct({"content": pl.String, "role": pl.String})
OPENR1_SCHEMA = pl.Schema(
    {
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
        "messages": pl.List(MESSAGE),
    }
)
GPQA_COLUMNS = (
    "Record ID",
    "Question",
    "Correct Answer",
    "Incorrect Answer 1",
    "Incorrect Answer 2",
    "Incorrect Answer 3",
    "Explanation",
    "High-level domain",
    "Subdomain",
)


@dataclass
class Entry:
    """One row of a raw file: its record (or raw bytes, for a malformed JSONL line), the problem
    behind it, and what was planted there (None for an ordinary row)."""

    record: dict[str, Any] | bytes
    problem: TinyProblem | None = None
    planted: dict[str, Any] | None = None


@dataclass
class World:
    files: dict[str, list[Entry]] = field(default_factory=dict)

    def manifest(self, seed: int, n_problems: int) -> dict[str, Any]:
        planted = [
            {"file": FILES[name], "row": row, **entry.planted}
            for name, entries in self.files.items()
            for row, entry in enumerate(entries)
            if entry.planted is not None
        ]
        return {
            "seed": seed,
            "n_problems": n_problems,
            "files": dict(FILES),
            "rows": {FILES[name]: len(entries) for name, entries in self.files.items()},
            "planted": planted,
        }


def _stream(seed: int, label: str) -> random.Random:
    # String seeds are hashed with SHA-512: stable across runs and Python hash seeds.
    return random.Random(f"lightr1-tiny/{seed}/{label}")


# ---------------------------------------------------------------------------------------------
# Problems


def decontam_keys(text: str) -> tuple[str, str]:
    """What the two decontamination modes compare exactly: numbers as a placeholder, and
    Light-R1's form (no digits, no non-word characters)."""
    norm = normalise_problem(text)
    return re.sub(r"\d+", "<n>", norm), re.sub(r"[\W\d_]+", "", norm)


def decontam_ngrams(text: str, n: int = SHARED_RUN) -> set[tuple[str, ...]]:
    """Runs of n tokens, numbers as a placeholder, tokenised both ways decontamination does:
    whitespace-separated words, and words and single symbols (without "$")."""
    norm = re.sub(r"\d+", "0", normalise_problem(text))
    grams: set[tuple[str, ...]] = set()
    for tokens in (norm.split(), re.findall(r"\w+|[^\w\s$]", norm)):
        grams.update(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def decontam_marks(text: str) -> set:
    """Everything by which decontamination could tie a training problem to a benchmark one."""
    return {*decontam_keys(text), *decontam_ngrams(text)}


def draw_unique(rng: random.Random, specs: Iterable[tuple[int, bool, str | None]], vocab: Vocab, taken: set, *, claim: bool) -> list[TinyProblem]:
    """One problem per (level, long, style) spec, none sharing a decontamination mark with
    `taken`, and none a near-duplicate of an earlier one with the same answer (a deduplicator
    would merge those, and only planted duplicates should be merged). With `claim`, each
    problem's marks join `taken`: benchmark problems must not match each other, training
    problems only never a benchmark."""
    problems: list[TinyProblem] = []
    by_answer: dict[int, list[str]] = defaultdict(list)
    for level, long, style in specs:
        for _ in range(10_000):
            problem = make_problem(rng, level, vocab, style=style, long=long)
            marks = decontam_marks(problem.text)
            norm = normalise_problem(problem.text)
            similar = process.extractOne(norm, by_answer[problem.answer], scorer=fuzz.ratio, score_cutoff=UNPLANTED_SIMILARITY)
            if taken.isdisjoint(marks) and similar is None:
                break
        else:
            raise RuntimeError(f"cannot draw a fresh level-{level} problem from the {vocab.name} vocabulary")
        by_answer[problem.answer].append(norm)
        if claim:
            taken.update(marks)
        problems.append(problem)
    return problems


def benchmark_sizes(n_problems: int) -> dict[str, int]:
    """About 100 AIME-like, 120 MATH-500-like and 100 GPQA-like questions at 800 problems (enough
    for pass@1 intervals of about ±0.1: the tiny models answer a problem almost always or almost
    never, so the interval narrows with problems, not samples), and the small sets of the test
    worlds (13, 19 and 13 at 120 problems)."""
    return {
        "aime": min(100, max(12, n_problems // 8 - 2)),
        "math500": min(120, max(16, n_problems // 6 - 1)),
        "gpqa": min(100, max(10, n_problems // 8 - 2)),
    }


def benchmark_specs(name: str, size: int) -> list[tuple[int, bool, str | None]]:
    """(level, long, style) per row: AIME-like rows are hard and often long; MATH-500-like and
    GPQA-like rows cover every level."""
    if name == "aime":
        return [(4 + i % 2, i % 2 == 0, "bare" if i % 3 == 1 else "word") for i in range(size)]
    bare_every = 2 if name == "math500" else 3
    return [(LEVELS[i % 5], i % 3 == 0, "bare" if i % bare_every == 1 and LEVELS[i % 5] != 5 else "word") for i in range(size)]


def make_benchmarks(rng: random.Random, n_problems: int, taken: set) -> dict[str, list[TinyProblem]]:
    return {
        name: draw_unique(rng, benchmark_specs(name, size), GPQA if name == "gpqa" else BENCH, taken, claim=True)
        for name, size in benchmark_sizes(n_problems).items()
    }


def make_training(rng: random.Random, count: int, taken: set) -> list[TinyProblem]:
    levels = [LEVELS[i % len(LEVELS)] for i in range(count)]
    rng.shuffle(levels)
    long = set(rng.sample(range(count), min(count, max(MIN_LONG, round(count * TRAIN_LONG_RATE)))))
    specs = [(level, i in long, None) for i, level in enumerate(levels)]
    return draw_unique(rng, specs, TRAIN, taken, claim=False)


# ---------------------------------------------------------------------------------------------
# Rows in each source's schema


@dataclass(frozen=True)
class Generation:
    text: str
    correct: bool
    complete: bool
    finish_reason: str


def generation(problem: TinyProblem, rng: random.Random) -> Generation:
    wrong = rng.random() < WRONG_RATE[problem.level]
    trace = teacher_trace(problem, rng, wrong=wrong)
    if rng.random() < TRUNCATE_RATE:
        cut = rng.randint(len(trace) // 4, len(trace) // 2)  # inside <think>, before any \boxed
        return Generation(trace[:cut], False, False, "length")
    return Generation(trace, not wrong, True, "stop")


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def openr1_record(
    problem: str, answer: str, solution: str, generations: list[Generation], rng: random.Random, *, problem_type: str, question_type: str = "math-word-problem"
) -> dict[str, Any]:
    correct = [g.correct for g in generations]
    shown = next((g for g in generations if g.correct), generations[0])
    return {
        "problem": problem,
        "solution": solution,
        "answer": answer,
        "problem_type": problem_type,
        "question_type": question_type,
        "source": rng.choice(OPENR1_SOURCES),
        "uuid": _uuid(rng),
        "is_reasoning_complete": [g.complete for g in generations],
        "generations": [g.text for g in generations],
        "correctness_math_verify": correct,
        "correctness_llama": None,
        "finish_reasons": [g.finish_reason for g in generations],
        "correctness_count": sum(correct),
        "messages": [{"content": problem, "role": "user"}, {"content": shown.text, "role": "assistant"}],
    }


def openr1_row(problem: TinyProblem, rng: random.Random) -> dict[str, Any]:
    generations = [generation(problem, rng) for _ in range(rng.choice(N_GENERATIONS))]
    return openr1_record(problem.text, str(problem.answer), short_solution(problem), generations, rng, problem_type=PROBLEM_TYPES[problem.level])


def openr1_proof_row(rng: random.Random) -> dict[str, Any]:
    text, trace = make_proof(rng)
    generations = [Generation(trace, False, True, "stop")] * rng.choice((1, 2))
    solution = trace.split("</think>\n\n", 1)[1]
    return openr1_record(text, "proof", solution, generations, rng, problem_type="Number Theory", question_type="proof")


def limo_row(problem: TinyProblem, rng: random.Random) -> dict[str, Any]:
    return {"question": problem.text, "solution": limo_solution(problem, rng), "answer": str(problem.answer)}


def deepscaler_row(problem: TinyProblem) -> dict[str, Any]:
    return {"problem": problem.text, "answer": str(problem.answer), "solution": short_solution(problem)}


ROW_MAKERS: dict[str, Callable[[TinyProblem, random.Random], dict[str, Any]]] = {
    "openr1_math": openr1_row,
    "limo": limo_row,
    "deepscaler": lambda problem, rng: deepscaler_row(problem),
}


def aime_rows(problems: list[TinyProblem]) -> list[dict[str, Any]]:
    return [
        {
            "problem": p.text,
            "solution": short_solution(p),
            "answer": str(p.answer),
            "year": 2024,
            "aime_number": 1 + i // 15,
            "problem_number": 1 + i % 15,
            "difficulty": float(p.level),
        }
        for i, p in enumerate(problems)
    ]


def math500_rows(problems: list[TinyProblem], rng: random.Random) -> list[dict[str, Any]]:
    ids = rng.sample(range(100, 5000), len(problems))
    return [
        {
            "problem": p.text,
            "solution": short_solution(p),
            "answer": str(p.answer),
            "subject": MATH_SUBJECTS[p.level],
            "level": p.level,
            "unique_id": f"test/{MATH_SUBJECTS[p.level].lower()}/{number}.json",
        }
        for p, number in zip(problems, ids)
    ]


def distractors(rng: random.Random, answer: int) -> list[int]:
    """Three wrong options, distinct and positive: near misses a careless solver would give."""
    offsets = [d for d in (-10, -2, -1, 1, 2, 10, 11, -11, 100) if answer + d > 0]
    return [answer + d for d in rng.sample(offsets, 3)]


def gpqa_rows(problems: list[TinyProblem], rng: random.Random) -> list[dict[str, Any]]:
    rows = []
    for p in problems:
        wrong = distractors(rng, p.answer)
        rows.append(
            {
                "Record ID": f"rec{rng.getrandbits(56):014x}",
                "Question": p.text,
                "Correct Answer": str(p.answer),
                **{f"Incorrect Answer {k}": str(w) for k, w in enumerate(wrong, 1)},
                "Explanation": short_solution(p),
                "High-level domain": "Chemistry",
                "Subdomain": "Chemistry (general)",
            }
        )
    return rows


def minerva_rows(problems: list[TinyProblem]) -> list[dict[str, Any]]:
    """The GPQA-like questions without options: an out-of-domain benchmark (laboratory wording,
    which no training row uses) that a model answers with the number itself. A 1M model never
    learns to look its number up among lettered options, so gpqa_tiny stays at 0 for every
    stage; asked open, the same questions show what math-only training carries over."""
    return [
        {"problem": p.text, "solution": short_solution(p), "answer": str(p.answer), "type": "Chemistry (laboratory)", "idx": i}
        for i, p in enumerate(problems)
    ]


# ---------------------------------------------------------------------------------------------
# Planted rows


def contaminate(kind: str, problem: TinyProblem, rng: random.Random) -> TinyProblem:
    """A training copy of a benchmark problem, disguised the way `kind` says."""
    if kind == "digits-changed":
        return with_new_numbers(problem, rng)
    if kind == "reformatted":
        return replace(problem, text=reformat_whitespace(problem.text, rng))
    if kind == "latex-respaced":
        return replace(problem, text=respace_latex(problem.text, rng))
    if kind == "prefixed":
        copy = with_new_numbers(problem, rng)
        return replace(copy, text=f"Problem {rng.randint(1, 15)}. {copy.text}")
    if kind == "suffixed":
        return replace(problem, text=problem.text + SUFFIX)
    raise ValueError(f"unknown contamination kind {kind!r}")


def plant_contamination(rng: random.Random, benchmarks: dict[str, list[TinyProblem]]) -> list[tuple[str, Entry]]:
    """A handful of each kind, from AIME-like and MATH-500-like rows, long and short, placed in
    openr1_math and limo; plus one long GPQA-like question copied with other whitespace."""
    used: set[tuple[str, int]] = set()

    def pick(bench: str, long: bool) -> int:
        rows = [i for i, p in enumerate(benchmarks[bench]) if (bench, i) not in used]
        fitting = [i for i in rows if (benchmarks[bench][i].words > LONG_WORDS) == long] or rows or list(range(len(benchmarks[bench])))
        row = rng.choice(fitting)
        used.add((bench, row))
        return row

    plan = [(kind, ("aime", "math500")[j % 2], j < CONTAMINATION_PER_KIND // 2) for kind in CONTAMINATION_KINDS for j in range(CONTAMINATION_PER_KIND)]
    plan.append(("reformatted", "gpqa", True))
    planted = []
    for index, (kind, bench, long) in enumerate(plan):
        row = pick(bench, long)
        original = benchmarks[bench][row]
        copy = contaminate(kind, original, rng)
        info = {
            "kind": kind,
            "benchmark": bench,
            "benchmark_file": FILES[bench],
            "benchmark_row": row,
            "long": original.words > LONG_WORDS,
            "answer": str(copy.answer),
        }
        planted.append((("openr1_math", "limo")[index % 2], Entry({}, copy, info)))
    return planted


def malformed_limo_lines(spare: list[TinyProblem]) -> list[Entry]:
    """The damage real JSONL files carry: one line per kind, each listed in the manifest."""
    missing, bad_bytes, too_long = spare[:3]
    filler = " ".join(s.format(name="Nobody", place="nowhere") for s in TRAIN.preambles)
    long_text = " ".join([filler] * (20_500 // len(filler) + 1)) + " " + too_long.text
    good = {"question": missing.text, "solution": "", "answer": str(missing.answer)}
    lines = {
        "malformed-json": json.dumps(good)[:-12].encode(),
        "malformed-utf8": b'{"question": '
        + json.dumps(bad_bytes.text).encode()[:-1]
        + b' \xff\xfe", "solution": "", "answer": "'
        + str(bad_bytes.answer).encode()
        + b'"}',
        "malformed-missing-answer": json.dumps({"question": missing.text, "solution": ""}).encode(),
        "malformed-non-string-problem": json.dumps({"question": 4096, "solution": "", "answer": "4096"}).encode(),
        "malformed-empty-problem": json.dumps({"question": "", "solution": "", "answer": "7"}).encode(),
        "malformed-too-long": json.dumps({"question": long_text, "solution": "", "answer": str(too_long.answer)}).encode(),
    }
    return [Entry(line, None, {"kind": kind}) for kind, line in lines.items()]


# One synonym per wording a training problem can have (preambles, story steps, bare questions).
_SYNONYMS = (
    ("bright", "sunny"),
    ("careful", "neat"),
    ("afternoons", "evenings"),
    ("busy", "hectic"),
    ("shelves", "cupboards"),
    ("friend", "pal"),
    ("finds", "spots"),
    ("buys", "orders"),
    ("loses", "drops"),
    ("uses", "needs"),
    ("gets", "receives"),
    ("starts", "begins"),
    ("Compute", "Calculate"),
    ("value", "result"),
    ("Work", "Figure"),
    ("What is", "What equals"),
    ("Then", "Next"),
)


def swap_word(text: str) -> str:
    """Change one word for a synonym: the same problem in a slightly different wording."""
    for word, other in _SYNONYMS:
        if re.search(rf"\b{word}\b", text):
            return re.sub(rf"\b{word}\b", other, text, count=1)
    raise ValueError(f"no word to swap in {text!r}")


def _change_punctuation(text: str) -> str:
    return text.replace(",", "", 1) if "," in text else text[:-1] + "!"


def _change_whitespace(text: str) -> str:
    return text.replace(". ", ".\n", 1) if ". " in text else text.replace(" ", "  ", 1)


def _bump_number(problem: TinyProblem) -> TinyProblem:
    """One number one higher: a near-duplicate whose answer differs, which must not be merged."""
    index = next(i for i, (sign, factors) in enumerate(problem.terms) if len(factors) == 1 and sign > 0)
    terms = list(problem.terms)
    sign, (value,) = terms[index]
    terms[index] = (sign, (value + 1,))
    return with_terms(problem, tuple(terms))


DUPLICATES = (
    ("exact-duplicate", None),
    ("exact-duplicate", None),
    ("exact-duplicate", None),
    ("near-duplicate", "word"),
    ("near-duplicate", "whitespace"),
    ("near-duplicate", "punctuation"),
    ("near-duplicate", "word"),
    ("near-duplicate-different-answer", "number"),
)
_CHANGES: dict[str, Callable[[str], str]] = {"word": swap_word, "whitespace": _change_whitespace, "punctuation": _change_punctuation}


def plant_duplicates(rng: random.Random, world: World) -> list[Entry]:
    """DeepScaleR rows that copy ordinary openr1_math / limo rows exactly or nearly. Near copies
    come from the longest problems, so that one changed word stays above a 95% similarity ratio."""
    originals = [
        (name, row, e.problem) for name in ("openr1_math", "limo") for row, e in enumerate(world.files[name]) if e.planted is None and e.problem is not None
    ]
    rng.shuffle(originals)
    long_first = sorted(originals, key=lambda o: -o[2].words)  # the longest first
    entries, used = [], set()
    for kind, change in DUPLICATES:
        pool = originals if kind == "exact-duplicate" else long_first
        name, row, problem = next(o for o in pool if (o[0], o[1]) not in used)
        used.add((name, row))
        if kind == "near-duplicate-different-answer":
            problem = _bump_number(problem)
        elif change is not None:
            problem = replace(problem, text=_CHANGES[change](problem.text))
        info = {"kind": kind, "copies_file": FILES[name], "copies_row": row, "answer": str(problem.answer)}
        if change is not None:
            info["change"] = change
        entries.append(Entry(deepscaler_row(problem), problem, info))
    return entries


# ---------------------------------------------------------------------------------------------
# The world


def build_world(seed: int, n_problems: int) -> tuple[World, dict[str, list[TinyProblem]]]:
    """Every file's rows, in order, and the benchmark problems behind them (pure: no I/O)."""
    if n_problems < 20:
        raise ValueError(f"n_problems must be at least 20 (got {n_problems}): the planted rows need ordinary rows to copy")
    taken: set = set()
    benchmarks = make_benchmarks(_stream(seed, "benchmarks"), n_problems, taken)
    problems = make_training(_stream(seed, "train"), n_problems + 3, taken)
    problems, spare = problems[:n_problems], problems[n_problems:]

    n_openr1 = round(n_problems * SOURCE_SHARES["openr1_math"])
    n_limo = round(n_problems * SOURCE_SHARES["limo"])
    split = {"openr1_math": problems[:n_openr1], "limo": problems[n_openr1 : n_openr1 + n_limo], "deepscaler": problems[n_openr1 + n_limo :]}

    rows = _stream(seed, "rows")
    entries = {name: [Entry(ROW_MAKERS[name](p, rows), p) for p in split[name]] for name in split}
    for name, entry in plant_contamination(_stream(seed, "contamination"), benchmarks):
        entry.record = ROW_MAKERS[name](entry.problem, rows)
        entries[name].append(entry)
    entries["openr1_math"] += [Entry(openr1_proof_row(rows), None, {"kind": "proof"}) for _ in range(3)]
    entries["limo"] += malformed_limo_lines(spare)

    layout = _stream(seed, "layout")
    world = World()
    for name in ("openr1_math", "limo"):
        layout.shuffle(entries[name])
        world.files[name] = entries[name]
    entries["deepscaler"] += plant_duplicates(_stream(seed, "duplicates"), world)
    layout.shuffle(entries["deepscaler"])
    world.files["deepscaler"] = entries["deepscaler"]

    bench_rows = _stream(seed, "benchmark-rows")
    world.files["aime"] = [Entry(r) for r in aime_rows(benchmarks["aime"])]
    world.files["math500"] = [Entry(r) for r in math500_rows(benchmarks["math500"], bench_rows)]
    world.files["gpqa"] = [Entry(r) for r in gpqa_rows(benchmarks["gpqa"], bench_rows)]
    world.files["minerva"] = [Entry(r) for r in minerva_rows(benchmarks["gpqa"])]
    return world, benchmarks


def _write_parquet(rows: list[dict[str, Any]], schema: pl.Schema, path: Path) -> None:
    frame = pl.DataFrame(rows, schema=schema)
    with atomic_path(path) as tmp:
        # Fixed settings, one row group: the same rows give the same bytes.
        frame.write_parquet(tmp, compression="zstd", compression_level=3, statistics=False, row_group_size=max(1, frame.height))


def _write_jsonl(lines: Iterable[bytes], path: Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"".join(line + b"\n" for line in lines))


def _json_line(record: dict[str, Any] | bytes) -> bytes:
    return record if isinstance(record, bytes) else json.dumps(record, ensure_ascii=False).encode("utf-8")


def _write_csv(rows: list[dict[str, Any]], columns: tuple[str, ...], path: Path) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)


def write_world(out_dir: str | os.PathLike, seed: int, n_problems: int) -> dict[str, Any]:
    """Write the tiny world's raw files under `out_dir` (each atomically), then `planted.json`
    (the list of planted rows); return the manifest: seed, n_problems, files, row counts and
    that list under "planted"."""
    out = Path(out_dir)
    world, _ = build_world(seed, n_problems)
    records = {name: [e.record for e in entries] for name, entries in world.files.items()}
    _write_parquet(records["openr1_math"], OPENR1_SCHEMA, out / FILES["openr1_math"])
    _write_jsonl((_json_line(r) for r in records["limo"]), out / FILES["limo"])
    write_json(records["deepscaler"], out / FILES["deepscaler"])
    write_json(records["aime"], out / FILES["aime"])
    _write_jsonl((_json_line(r) for r in records["math500"]), out / FILES["math500"])
    _write_csv(records["gpqa"], GPQA_COLUMNS, out / FILES["gpqa"])
    _write_jsonl((_json_line(r) for r in records["minerva"]), out / FILES["minerva"])
    manifest = world.manifest(seed, n_problems)
    write_json(manifest["planted"], out / MANIFEST)
    return manifest
