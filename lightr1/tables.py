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

# results/prompts/{promptset}.parquet: what a model is asked, with the golds to score it by.
PROMPT_SET = pl.Schema(
    {
        "problem_id": pl.String,
        "problem": pl.String,
        "answer": pl.List(pl.String),  # any match counts
        "kind": pl.String,  # "math" or "choice"
    }
)

# results/samples/{model}/{promptset}/shard-{i}-of-{k}.parquet: raw generations, unscored.
SAMPLES = pl.Schema(
    {
        "problem_id": pl.String,
        "sample": pl.Int64,
        "response": pl.String,
        "finish_reason": pl.String,  # "stop" or "length"
        "tokens": pl.Int64,
        "model": pl.String,
        "fingerprint": pl.String,  # of the model's weights and tokenizer
    }
)

# Scored samples: the verifier's verdict added to every sample.
SCORED = pl.Schema({**SAMPLES, "correct": pl.Boolean, "extracted": pl.String, "reason": pl.String})

# results/grading/{stage}/pass_rates.parquet: per problem, how often the grader solved it.
PASS_RATES = pl.Schema(
    {
        "problem_id": pl.String,
        "grader": pl.String,
        "n": pl.Int64,
        "correct": pl.Int64,
        "pass_rate": pl.Float64,
        "truncated": pl.Int64,  # samples cut at max_tokens
    }
)

# results/teacher/teacher.parquet: per kept problem, its teacher responses verified and one
# verified-correct response chosen at random (seeded); null where none is correct.
TEACHER = pl.Schema(
    {
        "problem_id": pl.String,
        "teacher_n": pl.Int64,
        "teacher_correct": pl.Int64,
        "chosen": pl.String,
        "chosen_model": pl.String,
    }
)

# results/sft/stage{1,2}.parquet: one training example per selected problem.
SFT = pl.Schema(
    {
        "problem_id": pl.String,
        "source": pl.String,
        "problem": pl.String,
        "answer": pl.String,
        "response": pl.String,
        "pass_rate": pl.Float64,
        "teacher_n": pl.Int64,
        "teacher_correct": pl.Int64,
    }
)

# results/sft/funnel.parquet: how many problems survive each filter, by source.
FUNNEL = pl.Schema({"step": pl.String, "source": pl.String, "problems": pl.Int64})

# results/eval/{model}/{benchmark}.parquet: every evaluation sample with its verdict.
EVAL_SAMPLES = pl.Schema({**SCORED, "benchmark": pl.String})

PASS_AT_K = pl.Struct({"k": pl.Int64, "value": pl.Float64})

# results/eval/metrics.parquet: one row per model x benchmark. `order` is the model's place in
# the evaluation order (base models, then training stages in DAG order). Token statistics are
# null where no response is correct (or none wrong); `warning` is null when all is well.
METRICS = pl.Schema(
    {
        "model": pl.String,
        "benchmark": pl.String,
        "order": pl.Int64,
        "problems": pl.Int64,
        "n": pl.Int64,  # samples per problem
        "pass1": pl.Float64,  # pass@1 averaged over the n samples
        "ci_low": pl.Float64,  # bootstrap interval of pass1 over problems and samples
        "ci_high": pl.Float64,
        "confidence": pl.Float64,
        "run_std": pl.Float64,  # standard deviation of accuracy across the n runs
        "pass_at_k": pl.List(PASS_AT_K),  # unbiased pass@k, k = 1, 2, 4, ... <= n
        "cons": pl.Float64,  # cons@n: majority vote over extracted answers
        "truncated": pl.Float64,  # share of samples cut at max_tokens
        "tokens_mean_correct": pl.Float64,
        "tokens_median_correct": pl.Float64,
        "tokens_mean_wrong": pl.Float64,
        "tokens_median_wrong": pl.Float64,
        "warning": pl.String,
    }
)

# results/eval/comparisons.parquet: a model against the model it was trained from, per
# benchmark: paired bootstrap over problems of the difference in pass1.
COMPARISONS = pl.Schema(
    {
        "benchmark": pl.String,
        "model": pl.String,
        "reference": pl.String,
        "diff": pl.Float64,  # pass1(model) - pass1(reference)
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "p_value": pl.Float64,  # two-sided, from the bootstrap distribution
        "distinguishable": pl.Boolean,  # the interval excludes 0
    }
)
