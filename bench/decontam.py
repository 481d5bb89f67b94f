"""Decontamination benchmark: speed, memory, growth and recall of both modes against a plain
Python baseline of Light-R1's method, on ~1M training problems made from real ones.

    .venv/bin/python bench/decontam.py [--rows 1000000] [--data ../shared/data]

Training rows are the real MATH and AIME training problems (train/math.json, train/aime.json),
mutated (digits changed, adjacent words swapped, whitespace reformatted, prefixes, suffixes,
two problems concatenated), with copies of benchmark problems planted at random rows, of
known kinds (digit-changed, reformatted, LaTeX-respaced, prefixed, suffixed; short and
long). Each method runs in its own process per size, so peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BENCHMARKS = ("aime", "aime25", "amc", "math", "minerva", "olympiad_bench", "gpqa")
METHODS = ("baseline", "light-r1", "default")
KINDS = ("digits", "reformat", "latex", "prefix", "suffix")
PLANT_PER_KIND = 200
SHORT_WORDS = (8, 32)  # short: too few words for a 32-gram
LONG_WORDS = 40
PREFIXES = ["Problem 4. ", "Question: ", "Exercise 12. ", "(5 points) ", "1. ", "Solve the following problem. "]
SUFFIXES = [" Express your answer in simplest form.", " Give your answer as an integer.", " Justify your answer.", "\n\nPut your final answer in \\boxed{}."]

# ------------------------------------------------------------------------------------------
# Data.


def load_json(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def load_benchmarks(data: Path) -> pl.DataFrame:
    rows = [
        {"benchmark": name, "problem_id": f"{name}-{i}", "problem": row["problem"]}
        for name in BENCHMARKS
        for i, row in enumerate(load_json(data / "benchmarks" / f"{name}.json"))
    ]
    return pl.DataFrame(rows)


def load_real_train(data: Path) -> dict[str, list[str]]:
    return {name: [row["problem"] for row in load_json(data / "train" / f"{name}.json")] for name in ("math", "aime")}


def change_digits(text: str, rng: np.random.Generator, share: float = 1.0) -> str:
    """Replace digits by other digits (every digit when share is 1)."""
    def swap(match: re.Match) -> str:
        digit = match.group()
        if rng.random() >= share:
            return digit
        return str((int(digit) + int(rng.integers(1, 10))) % 10)

    return re.sub(r"[0-9]", swap, text)


def swap_words(text: str, rng: np.random.Generator) -> str:
    words = text.split(" ")
    if len(words) > 3:
        i = int(rng.integers(0, len(words) - 1))
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def reformat(text: str, rng: np.random.Generator) -> str:
    """Whitespace only: doubled spaces, line breaks, a trailing space."""
    pieces = text.split(" ")
    glue = rng.choice(np.array([" ", "  ", "\n", " \n"]), size=max(len(pieces) - 1, 0), p=[0.7, 0.15, 0.1, 0.05])
    out = pieces[0] + "".join(g + p for g, p in zip(glue, pieces[1:]))
    return "  " + out + " \n"


def latex_respace(text: str) -> str:
    """Typesetting only: other math delimiters, display fractions, braces, spacing, \\left/\\right."""
    text = re.sub(r"\^\{(\d)\}", r"^\1", text)  # 2^{5} -> 2^5
    text = re.sub(r"\^(\d+)\b", r" ^ {\1}", text)  # 2^19 -> 2 ^ {19}
    text = text.replace("\\frac", "\\dfrac").replace("\\le ", "\\leq ")
    text = text.replace("\\$", "\x00")  # an escaped dollar is a character, not a delimiter
    text = re.sub(r"\$([^$]+)\$", lambda m: "\\(" + m.group(1).replace(",", ",\\,").replace("(", "\\left(").replace(")", "\\right)") + "\\)", text)
    return text.replace("\x00", "\\$")


def mutate(text: str, rng: np.random.Generator) -> str:
    """A training-set variant of a real problem."""
    if rng.random() < 0.6:
        text = change_digits(text, rng, share=0.5)
    if rng.random() < 0.3:
        text = swap_words(text, rng)
    if rng.random() < 0.3:
        text = reformat(text, rng)
    return text


def plant(kind: str, text: str, rng: np.random.Generator) -> str:
    if kind == "digits":
        return change_digits(text, rng)
    if kind == "reformat":
        return reformat(text, rng)
    if kind == "latex":
        return latex_respace(text)
    if kind == "prefix":
        return "Problem 4. " + change_digits(text, rng)
    return text + SUFFIXES[int(rng.integers(len(SUFFIXES)))]  # suffix


def eligible(kind: str, problem: str, length: str) -> bool:
    words = len(problem.split())
    if length == "short" and not SHORT_WORDS[0] <= words < SHORT_WORDS[1]:
        return False
    if length == "long" and words < LONG_WORDS:
        return False
    if kind in ("digits", "prefix"):
        return bool(re.search(r"[0-9]", problem))
    if kind == "latex":
        return latex_respace(problem) != problem
    return True


def pick(table: list[str] | pl.Series, index: np.ndarray) -> pl.Series:
    """table[i] where i >= 0, the empty string where i < 0."""
    values = pl.concat([pl.Series(table, dtype=pl.String), pl.Series([""])])
    return values.gather(np.where(index < 0, len(values) - 1, index))


def make_train(real: dict[str, list[str]], bench: pl.DataFrame, rows: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`rows` training problems (problem_id, problem) and the planted copies (row, benchmark_id, kind, length)."""
    rng = np.random.default_rng(seed)
    base = real["math"] + real["aime"]
    # A pool of mutated variants (Python, ~50k), then rows assembled from it with numpy
    # indices and polars string concatenation: fast and seeded.
    variants = pl.Series([mutate(text, rng) for text in base for _ in range(6)])
    first = rng.integers(0, len(variants), rows)
    second = np.where(rng.random(rows) < 0.2, rng.integers(0, len(variants), rows), -1)
    prefix = np.where(rng.random(rows) < 0.2, rng.integers(0, len(PREFIXES), rows), -1)
    suffix = np.where(rng.random(rows) < 0.2, rng.integers(0, len(SUFFIXES), rows), -1)
    problem = (
        pl.DataFrame({"p": pick(PREFIXES, prefix), "a": variants.gather(first), "b": pick(variants, second), "s": pick(SUFFIXES, suffix)})
        .select(pl.concat_str("p", "a", pl.when(pl.col("b") != "").then(pl.lit(" ") + pl.col("b")).otherwise(pl.lit("")), "s"))
        .to_series()
        .to_list()
    )
    planted = []
    positions = iter(rng.permutation(rows))
    problems = bench["problem"].to_list()
    ids = bench["problem_id"].to_list()
    for kind in KINDS:
        for length in ("short", "long"):
            pool = [i for i, p in enumerate(problems) if eligible(kind, p, length)]
            for i in rng.choice(pool, size=min(PLANT_PER_KIND, len(pool)), replace=False):
                row = int(next(positions))
                problem[row] = plant(kind, problems[i], rng)
                planted.append({"row": row, "benchmark_id": ids[i], "kind": kind, "length": length})
    train = pl.DataFrame({"problem_id": [f"t{i}" for i in range(rows)], "problem": problem})
    return train, pl.DataFrame(planted)


# ------------------------------------------------------------------------------------------
# Methods.


def baseline(train: pl.DataFrame, bench: pl.DataFrame, n: int = 32) -> pl.DataFrame:
    """Light-R1's method as plain Python: a set of exact keys, a set of n-gram strings."""
    strip = re.compile(r"[\W\d]")

    def key(text: str) -> str:
        return strip.sub("", text.lower())

    def grams(text: str) -> set[str]:
        words = text.lower().split()
        return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}

    keys: dict[str, list[str]] = {}
    ngrams: dict[str, set[str]] = {}
    for bid, text in zip(bench["problem_id"], bench["problem"]):
        if k := key(text):
            keys.setdefault(k, []).append(bid)
        for g in grams(text):
            ngrams.setdefault(g, set()).add(bid)
    bench_grams = set(ngrams)
    out = []
    for tid, text in zip(train["problem_id"].to_list(), train["problem"].to_list()):
        for bid in keys.get(key(text), ()):
            out.append((tid, bid, "exact"))
        for g in grams(text) & bench_grams:
            out.extend((tid, bid, "ngram") for bid in ngrams[g])
    return pl.DataFrame(out, schema={"train_id": pl.String, "benchmark_id": pl.String, "method": pl.String}, orient="row").unique()


def run_method(method: str, train: pl.DataFrame, bench: pl.DataFrame) -> pl.DataFrame:
    if method == "baseline":
        return baseline(train, bench)
    from lightr1.data.decontam import find_matches

    return find_matches(train, bench, method).select("train_id", "benchmark_id", "method")


def memory_mb(field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of this process. ru_maxrss would do for the peak, but
    Linux carries it over from the parent across exec, so it would report the parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker(args: argparse.Namespace) -> None:
    """One method on the first `size` rows, in its own process: prints a JSON line."""
    train = pl.read_parquet(args.train).head(args.size)
    bench = pl.read_parquet(args.bench)
    loaded = memory_mb("VmRSS")
    start = time.perf_counter()
    matches = run_method(args.worker, train, bench)
    seconds = time.perf_counter() - start
    peak = memory_mb("VmHWM")
    if args.out:
        matches.write_parquet(args.out)
    print(json.dumps({"seconds": seconds, "peak_mb": peak, "loaded_mb": loaded, "matches": matches.height}))


def spawn(method: str, size: int, train: Path, bench: Path, out: Path | None) -> dict:
    command = [sys.executable, __file__, "--worker", method, "--size", str(size), "--train", str(train), "--bench", str(bench)]
    if out:
        command += ["--out", str(out)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------
# Report.


def recall(planted: pl.DataFrame, matches: pl.DataFrame) -> pl.DataFrame:
    caught = matches.select(pl.col("train_id").str.slice(1).cast(pl.Int64).alias("row"), "benchmark_id").unique()
    hits = planted.join(caught.with_columns(caught=pl.lit(True)), on=["row", "benchmark_id"], how="left")
    return hits.group_by("kind", "length").agg(pl.col("caught").fill_null(False).mean().alias("recall"), pl.len().alias("n"))


LIGHT_R1_BENCHMARKS = ("aime", "aime25", "math", "gpqa")  # what Light-R1 decontaminated against


def real_share(real: dict[str, list[str]], bench: pl.DataFrame) -> None:
    print("\nShare of the REAL (unmutated) training rows flagged (all 7 benchmarks | Light-R1's 4: AIME24, AIME25, MATH-500, GPQA):")
    flagged: dict[tuple[str, str], pl.DataFrame] = {}
    four = set(bench.filter(pl.col("benchmark").is_in(LIGHT_R1_BENCHMARKS))["problem_id"])
    for name, problems in real.items():
        train = pl.DataFrame({"problem_id": [f"t{i}" for i in range(len(problems))], "problem": problems})
        cells = []
        for method in METHODS:
            m = run_method(method, train, bench)
            flagged[name, method] = m
            rows, rows4 = m["train_id"].n_unique(), m.filter(pl.col("benchmark_id").is_in(four))["train_id"].n_unique()
            cells.append(f"{method} {rows / len(problems):5.2%} | {rows4 / len(problems):5.2%}")
        print(f"  {name:5s} ({len(problems)} rows): " + "   ".join(cells))
    texts = dict(zip(bench["problem_id"], bench["problem"]))
    math = dict(zip([f"t{i}" for i in range(len(real["math"]))], real["math"]))
    only = flagged["math", "light-r1"].join(flagged["math", "default"], on=["train_id", "benchmark_id"], how="anti").unique(["train_id", "benchmark_id"])
    print(f"  MATH pairs flagged by light-r1 but not by default: {only.height}; a few:")
    for row in only.sort("train_id").head(6).iter_rows(named=True):
        print(f"    train {math[row['train_id']][:90]!r}\n    bench {texts[row['benchmark_id']][:90]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--train", help=argparse.SUPPRESS)
    parser.add_argument("--bench", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    if not (args.data / "train" / "math.json").is_file():
        sys.exit(f"bench/decontam.py: no data at {args.data} (expected train/math.json there; see --data)")
    bench = load_benchmarks(args.data)
    real = load_real_train(args.data)
    start = time.perf_counter()
    train, planted = make_train(real, bench, args.rows, args.seed)
    print(f"generated {train.height} training rows ({planted.height} planted copies) in {time.perf_counter() - start:.1f} s;"
          f" {bench.height} benchmark problems from {len(BENCHMARKS)} benchmarks")

    sizes = sorted({args.rows // 4, args.rows // 2, args.rows})
    with tempfile.TemporaryDirectory(prefix="decontam-bench-") as tmp:
        tmp = Path(tmp)
        train.write_parquet(tmp / "train.parquet")
        bench.write_parquet(tmp / "bench.parquet")
        stats: dict[str, dict[int, dict]] = {}
        matches: dict[str, pl.DataFrame] = {}
        for method in METHODS:
            stats[method] = {}
            for size in sizes:
                out = tmp / f"{method}.parquet" if size == args.rows else None
                stats[method][size] = spawn(method, size, tmp / "train.parquet", tmp / "bench.parquet", out)
            matches[method] = pl.read_parquet(tmp / f"{method}.parquet")

    print(f"\n{'method':10s} {'rows/s':>10s} {'seconds':>8s} {'peak MB':>8s} {'(data MB)':>9s}  growth: seconds at " + " / ".join(f"{s:,}" for s in sizes))
    base_speed = args.rows / stats["baseline"][args.rows]["seconds"]
    for method in METHODS:
        full = stats[method][args.rows]
        speed = args.rows / full["seconds"]
        growth = " / ".join(f"{stats[method][s]['seconds']:.1f}" for s in sizes)
        figures = f"{speed:10,.0f} {full['seconds']:8.1f} {full['peak_mb']:8.0f} {full['loaded_mb']:9.0f}"
        print(f"{method:10s} {figures}  {growth}   ({speed / base_speed:.1f}x baseline)")

    same = matches["baseline"].sort(pl.all()).equals(matches["light-r1"].sort(pl.all()))
    print(f"\nlight-r1 mode finds exactly the baseline's (train, benchmark, method) matches: {same}")

    table = None
    for method in METHODS:
        r = recall(planted, matches[method]).rename({"recall": method})
        table = r if table is None else table.join(r.drop("n"), on=["kind", "length"])
    print("\nRecall on planted copies (caught = matched to the benchmark problem it copies):")
    order = {k: i for i, k in enumerate(KINDS)}
    for row in table.sort(pl.col("kind").replace_strict(order), "length", descending=[False, True]).iter_rows(named=True):
        print(f"  {row['kind']:9s} {row['length']:5s} n={row['n']:3d}  " + "  ".join(f"{m} {row[m]:6.1%}" for m in METHODS))

    planted_rows = planted["row"].unique()
    generated = args.rows - len(planted_rows)
    for method in METHODS:
        rows = matches[method].select(pl.col("train_id").str.slice(1).cast(pl.Int64)).unique().to_series()
        other = rows.filter(~rows.is_in(planted_rows.implode())).len()
        print(f"  {method:9s} flags {other:,} of the {generated:,} generated (not planted) rows ({other / generated:.2%})")

    real_share(real, bench)


if __name__ == "__main__":
    main()
