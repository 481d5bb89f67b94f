"""Benchmark evaluation tables: a benchmark's prompt set, and the scored samples of one model on
one benchmark gathered from its shards and checked complete (results/eval/{model}/{bench}.parquet)."""

from __future__ import annotations

import polars as pl

from lightr1.errors import Lightr1Error
from lightr1.tables import EVAL_SAMPLES, PROMPT_SET


def benchmark_prompt_set(benchmark: pl.DataFrame) -> pl.DataFrame:
    """The usable rows of a staged benchmark as a prompt set (rejected rows were reported when
    the benchmark was staged; they cannot be asked)."""
    usable = benchmark.filter(pl.col("status") == "ok")
    if usable.is_empty():
        name = benchmark["benchmark"][0] if len(benchmark) else "?"
        raise Lightr1Error(f"benchmark {name} has no usable row ({len(benchmark)} rows, all rejected): nothing to evaluate")
    return usable.select(PROMPT_SET.names()).cast(PROMPT_SET)


def eval_table(scored: list[pl.DataFrame], prompt_set: pl.DataFrame, benchmark: str, n: int) -> pl.DataFrame:
    """One model's scored samples on one benchmark, from all its shards: every problem of the
    prompt set exactly `n` times, so a lost shard or a short batch cannot pass as a score."""
    from lightr1.curriculum.grading import check_complete, pass_rates

    samples = pl.concat(scored) if scored else pl.DataFrame(schema=EVAL_SAMPLES)
    models = samples["model"].unique().to_list() if len(samples) else []
    if len(models) > 1:
        raise Lightr1Error(f"the shards of benchmark {benchmark} were sampled by several models: {', '.join(sorted(models))}")
    check_complete(pass_rates(samples, models[0] if models else "?"), prompt_set, n)
    return samples.with_columns(pl.lit(benchmark).alias("benchmark")).select(EVAL_SAMPLES.names()).cast(EVAL_SAMPLES).sort("problem_id", "sample")
