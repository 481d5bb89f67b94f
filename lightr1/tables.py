"""Column schemas of the tables that stages hand to each other (the design's file contracts)."""

from __future__ import annotations

import polars as pl

TEACHER_RESPONSE = pl.Struct({"text": pl.String, "correct": pl.Boolean, "model": pl.String})

# results/data/problems.parquet: one row per kept problem.
PROBLEMS = pl.Schema(
    {
        "problem_id": pl.String,
        "source": pl.String,
        "problem": pl.String,
        "answer": pl.String,
        "solution": pl.String,
        "teacher_responses": pl.List(TEACHER_RESPONSE),
        "meta": pl.String,  # JSON object: source-specific fields, kept as text
    }
)

# results/data/sources/{source}.parquet: every raw row of one source after its adapter,
# status "ok" (problem fields filled) or "rejected" (reason says why).
STAGED = pl.Schema(
    {
        "source": pl.String,
        "row_index": pl.Int64,
        "status": pl.String,
        "reason": pl.String,
        **{name: dtype for name, dtype in PROBLEMS.items() if name != "source"},
    }
)

# results/data/ledger.parquet: every raw row and where it went.
LEDGER_STATUSES = ("kept", "duplicate", "contaminated", "rejected")
LEDGER = pl.Schema(
    {
        "source": pl.String,
        "row_index": pl.Int64,
        "status": pl.String,
        "reason": pl.String,
        "problem_id": pl.String,
        "kept_as": pl.String,  # problem_id of the kept row this one was merged into
    }
)

# results/data/benchmarks/{benchmark}.parquet: every raw benchmark row, status "ok" or
# "rejected"; answer is a list (any match counts), kind is "math" or "choice".
BENCHMARK = pl.Schema(
    {
        "benchmark": pl.String,
        "row_index": pl.Int64,
        "status": pl.String,
        "reason": pl.String,
        "problem_id": pl.String,
        "problem": pl.String,
        "answer": pl.List(pl.String),
        "kind": pl.String,
        "meta": pl.String,
    }
)

# results/decontam/matches.parquet: one row per (train problem, benchmark problem, method).
MATCHES = pl.Schema(
    {
        "train_id": pl.String,
        "benchmark": pl.String,
        "benchmark_id": pl.String,
        "mode": pl.String,
        "method": pl.String,
        "evidence": pl.String,
    }
)


def empty(schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)
