"""Difficulty grading: shard a prompt set, score raw samples with the verifier, and aggregate
per-problem pass rates.

Scoring is apart from sampling (a verifier change re-scores kept samples), and a problem lives
in exactly one shard (chosen from its id), so per-shard pass rates concatenate to the pass
rates of the whole set.
"""

from __future__ import annotations

import hashlib

import polars as pl

from lightr1.errors import Lightr1Error
from lightr1.tables import PASS_RATES, PROMPT_SET, SCORED


def shard_of(problem_id: str, shards: int) -> int:
    """The shard a problem belongs to: from a hash of its id (any string: ids of files made
    elsewhere need not be hex), so shards agree across runs and stages."""
    return int.from_bytes(hashlib.sha256(problem_id.encode()).digest()[:8], "big") % shards


def select_shard(prompt_set: pl.DataFrame, shard: int, shards: int) -> pl.DataFrame:
    if not 0 <= shard < shards:
        raise Lightr1Error(f"shard {shard} is not in 0..{shards - 1}")
    return prompt_set.filter(pl.col("problem_id").map_elements(lambda pid: shard_of(pid, shards), return_dtype=pl.Int64) == shard)


def problems_prompt_set(problems: pl.DataFrame) -> pl.DataFrame:
    """Training problems as a prompt set: one gold answer each, graded as math."""
    return problems.select(
        "problem_id",
        "problem",
        pl.concat_list(pl.col("answer")).alias("answer"),
        pl.lit("math").alias("kind"),
    ).cast(PROMPT_SET)


def score_samples(
    samples: pl.DataFrame, prompt_set: pl.DataFrame, *, workers: int = 1, timeout: float = 5.0, whole_response: bool = False, forced_think: bool = False
) -> pl.DataFrame:
    """Every sample with the verifier's verdict against its problem's golds."""
    from lightr1.verify.verdicts import verify_many

    golds = prompt_set.select("problem_id", "answer", "kind")
    joined = samples.join(golds, on="problem_id", how="left")
    missing = joined.filter(pl.col("kind").is_null())
    if len(missing):
        raise Lightr1Error(f"{len(missing)} samples belong to no problem of the prompt set (e.g. {missing['problem_id'][0]!r})")
    rows = zip(joined["answer"].to_list(), joined["response"].to_list(), joined["kind"].to_list())
    verdicts = verify_many(rows, workers=workers, timeout=timeout, whole_response=whole_response, forced_think=forced_think)
    return samples.with_columns(
        pl.Series("correct", [v.correct for v in verdicts], pl.Boolean),
        pl.Series("extracted", [v.extracted for v in verdicts], pl.String),
        pl.Series("reason", [v.reason for v in verdicts], pl.String),
    ).cast(SCORED)


def pass_rates(scored: pl.DataFrame, grader: str) -> pl.DataFrame:
    """Per problem: samples, correct samples, pass rate and truncated samples."""
    return (
        scored.group_by("problem_id")
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("correct").sum().cast(pl.Int64).alias("correct"),
            (pl.col("finish_reason") == "length").sum().cast(pl.Int64).alias("truncated"),
        )
        .with_columns((pl.col("correct") / pl.col("n")).alias("pass_rate"), pl.lit(grader).alias("grader"))
        .select(PASS_RATES.names())
        .cast(PASS_RATES)
        .sort("problem_id")
    )


def check_complete(rates: pl.DataFrame, prompt_set: pl.DataFrame, n: int) -> None:
    """Every problem of the prompt set graded with exactly `n` samples, and nothing else: a
    missing shard or a short batch must not pass as a pass rate."""
    missing = prompt_set.join(rates, on="problem_id", how="anti")
    extra = rates.join(prompt_set, on="problem_id", how="anti")
    short = rates.filter(pl.col("n") != n)
    if len(missing) or len(extra) or len(short):
        raise Lightr1Error(
            f"pass rates do not cover the prompt set: {len(missing)} problems without samples, "
            f"{len(extra)} samples of unknown problems, {len(short)} problems without exactly {n} samples"
        )
