"""The curriculum: stage 1 = problems the grader often fails that have a verified teacher
response; stage 2 = the harder part of stage 1 under a stronger grader whose teacher samples
are neither all right nor all wrong. Exports follow Light-R1-SFTData (ShareGPT JSON) with a
LLaMA-Factory dataset_info.json, and a funnel table counts what survives each filter."""

from __future__ import annotations

import polars as pl

from lightr1.errors import Lightr1Error
from lightr1.tables import FUNNEL, SFT

STAGE1_FILTERS = ("kept", "verified teacher response", "graded", "pass rate below alpha")
STAGE2_FILTERS = ("graded", "pass rate below alpha", "teacher samples mixed")


class EmptySelection(Lightr1Error):
    """A filter left nothing: the run stops and says which filter and how many it saw."""


def _counts_line(stage: str, steps: list[tuple[str, int]]) -> str:
    return f"{stage}: " + " -> ".join(f"{name} {count}" for name, count in steps)


def _stop_if_empty(stage: str, steps: list[tuple[str, int]], hint: str) -> None:
    if steps[-1][1] == 0:
        empty = next(name for name, count in steps if count == 0)
        raise EmptySelection(f"the filter '{empty}' left no problem for {stage} ({_counts_line(stage, steps)}); {hint}")


def select_stage1(problems: pl.DataFrame, teacher: pl.DataFrame, rates: pl.DataFrame, alpha: float) -> pl.DataFrame:
    """Problems with a verified teacher response whose stage-1 pass rate is below `alpha`."""
    with_teacher = problems.join(teacher, on="problem_id").filter(pl.col("chosen").is_not_null())
    graded = with_teacher.join(rates.select("problem_id", "pass_rate"), on="problem_id")
    selected = graded.filter(pl.col("pass_rate") < alpha)
    steps = [("kept", len(problems)), ("verified teacher response", len(with_teacher)), ("graded", len(graded)), (f"pass rate < {alpha}", len(selected))]
    _stop_if_empty("stage 1", steps, "raise curriculum.stage1_max_pass_rate, or check the grader and teacher")
    return _sft_rows(selected)


def select_stage2(stage1: pl.DataFrame, rates: pl.DataFrame, alpha: float, require_mixed_teacher: bool) -> pl.DataFrame:
    """Stage-1 problems whose stage-2 pass rate is below `alpha` and (optionally) whose teacher
    samples were neither all right nor all wrong (at least two, some of each)."""
    graded = stage1.drop("pass_rate").rename({"response": "chosen"}).join(rates.select("problem_id", "pass_rate"), on="problem_id")
    harder = graded.filter(pl.col("pass_rate") < alpha)
    mixed = harder.filter((pl.col("teacher_correct") > 0) & (pl.col("teacher_correct") < pl.col("teacher_n"))) if require_mixed_teacher else harder
    steps = [("stage 1", len(stage1)), ("graded", len(graded)), (f"pass rate < {alpha}", len(harder))]
    if require_mixed_teacher:
        steps.append(("teacher samples mixed", len(mixed)))
    _stop_if_empty("stage 2", steps, "raise curriculum.stage2_max_pass_rate or set curriculum.stage2_mixed_teacher false")
    return _sft_rows(mixed)


def _sft_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        "problem_id", "source", "problem", "answer", pl.col("chosen").alias("response"), "pass_rate", "teacher_n", "teacher_correct"
    ).cast(SFT).sort("problem_id")


def sharegpt(sft: pl.DataFrame) -> list[dict]:
    """Light-R1-SFTData's layout: a list of {"conversations": [user turn, assistant turn]}."""
    return [
        {"conversations": [{"from": "user", "value": problem}, {"from": "assistant", "value": response}]}
        for problem, response in zip(sft["problem"].to_list(), sft["response"].to_list())
    ]


def dataset_info(files: dict[str, str]) -> dict:
    """LLaMA-Factory's dataset_info.json entries for ShareGPT files: {dataset name: file name}."""
    tags = {"role_tag": "from", "content_tag": "value", "user_tag": "user", "assistant_tag": "assistant"}
    return {name: {"file_name": file, "formatting": "sharegpt", "columns": {"messages": "conversations"}, "tags": tags} for name, file in files.items()}


def funnel(
    ledger: pl.DataFrame, problems: pl.DataFrame, teacher: pl.DataFrame, rates1: pl.DataFrame, stage1: pl.DataFrame, rates2: pl.DataFrame, stage2: pl.DataFrame
) -> pl.DataFrame:
    """Problems surviving each filter, by source (raw rows first, as the ledger counts them)."""
    source_of = problems.select("problem_id", "source")
    with_teacher = teacher.filter(pl.col("chosen").is_not_null()).select("problem_id")
    steps = [
        ("raw rows", ledger.select("source")),
        ("kept after rejects, dedup, decontamination", ledger.filter(pl.col("status") == "kept").select("source")),
        ("verified teacher response", with_teacher.join(source_of, on="problem_id").select("source")),
        ("graded, stage 1", rates1.join(with_teacher, on="problem_id").join(source_of, on="problem_id").select("source")),
        ("stage 1", stage1.select("source")),
        ("graded, stage 2", rates2.join(stage1.select("problem_id", "source"), on="problem_id").select("source")),
        ("stage 2", stage2.select("source")),
    ]
    sources = ledger["source"].unique(maintain_order=True).to_list()
    rows = []
    for step, frame in steps:
        counts = dict(frame.group_by("source").len().iter_rows())
        rows += [(step, source, counts.get(source, 0)) for source in sources]
    return pl.DataFrame(rows, schema=FUNNEL, orient="row")
