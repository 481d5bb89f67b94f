"""Teacher responses: verify each against the problem's answer, keep per-problem counts, and
choose one verified-correct response at random (seeded per problem), as Light-R1 did with
DeepSeek-R1's responses. Responses come from a source's columns (OpenR1 generations) and,
where configured, from samples of a teacher model."""

from __future__ import annotations

import random

import polars as pl

from lightr1.seeds import derived_seed
from lightr1.tables import TEACHER


def teacher_candidates(problems: pl.DataFrame, teacher_samples: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per (problem, teacher response): problem_id, answer, text, model."""
    from_sources = (
        problems.select("problem_id", "answer", "teacher_responses")
        .explode("teacher_responses")
        .drop_nulls("teacher_responses")
        .select("problem_id", "answer", pl.col("teacher_responses").struct.field("text"), pl.col("teacher_responses").struct.field("model"))
    )
    if teacher_samples is None or teacher_samples.is_empty():
        return from_sources
    sampled = teacher_samples.join(problems.select("problem_id", "answer"), on="problem_id").select(
        "problem_id", "answer", pl.col("response").alias("text"), "model"
    )
    return pl.concat([from_sources, sampled])


def choose(candidates: pl.DataFrame, verdicts: list[bool], problem_ids: list[str], run_seed: int) -> pl.DataFrame:
    """Per problem: teacher_n, teacher_correct, and one verified-correct response drawn with a
    seed from (run seed, problem id); problems without responses get zero counts."""
    scored = candidates.with_columns(pl.Series("correct", verdicts, pl.Boolean), pl.int_range(pl.len()).alias("order"))
    rows = []
    groups = {key[0]: group.sort("order") for key, group in scored.group_by("problem_id")}
    for pid in problem_ids:
        group = groups.get(pid)
        if group is None:
            rows.append((pid, 0, 0, None, None))
            continue
        good = group.filter(pl.col("correct"))
        chosen = None
        if len(good):
            chosen = good.row(random.Random(derived_seed(run_seed, "teacher", pid)).randrange(len(good)), named=True)
        rows.append((pid, len(group), len(good), chosen and chosen["text"], chosen and chosen["model"]))
    return pl.DataFrame(rows, schema=TEACHER, orient="row")


def verify_teachers(problems: pl.DataFrame, teacher_samples: pl.DataFrame | None, run_seed: int, *, workers: int = 1, timeout: float = 5.0) -> pl.DataFrame:
    from lightr1.verify.verdicts import verify_many

    candidates = teacher_candidates(problems, teacher_samples)
    verdicts = verify_many(zip(candidates["answer"].to_list(), candidates["text"].to_list(), ["math"] * len(candidates)), workers=workers, timeout=timeout)
    return choose(candidates, [v.correct for v in verdicts], problems["problem_id"].to_list(), run_seed)
