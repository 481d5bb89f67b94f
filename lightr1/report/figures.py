"""The documentation's figures, rendered from a finished run: the stage table and paired
comparisons (README.md) and the wall time per stage (bench/README.md) as Markdown blocks kept
between markers, so that a check can tell when the documents stop saying what a run printed."""

from __future__ import annotations

import re

import polars as pl

from lightr1.errors import Lightr1Error
from lightr1.report.html import duration, p_value, pct, points

MARK = "<!-- figures:{name}:{edge} (scripts/demo-figures.py writes this block from a run; do not edit) -->"

# Pipeline stages in DAG order, each with the benchmark files (paths under benchmarks/, without
# .tsv) that belong to it. Sampling and scoring belong to the stage whose prompt set they serve.
STAGES = (
    ("data: sources, benchmarks, dedup, decontamination", r"stage_source/.*|stage_benchmark/.*|decontaminate|build_problems|teacher"),
    ("tiny base model", r"tiny_model"),
    ("grading, stage 1", r"(sample|score)/[^/]+/grade_stage1/.*"),
    ("SFT stage 1", r"train/sft1"),
    ("grading, stage 2", r"(sample|score)/[^/]+/grade_stage2/.*"),
    ("SFT stage 2", r"train/sft2"),
    ("DPO sampling", r"(sample|score)/[^/]+/dpo[^/]*/.*"),
    ("DPO and DPO v2", r"train/dpo.*"),
    ("merge", r"train/merged"),
    ("GRPO prompt selection", r"(sample|score)/[^/]+/grpo[^/]*/.*"),
    ("GRPO", r"train/grpo"),
    ("evaluation", r"(sample|score)/[^/]+/eval_[^/]+/.*|eval_metrics"),
)
OTHER = "other"


class MissingBlock(Lightr1Error):
    """A document lacks the markers of a figures block."""


def stage_of(rule: str) -> str:
    """The pipeline stage of a Snakemake benchmark file (its path under benchmarks/, no .tsv)."""
    return next((stage for stage, pattern in STAGES if re.fullmatch(pattern, rule)), OTHER)


def stage_times(times: pl.DataFrame) -> pl.DataFrame:
    """Seconds and job count per stage, in DAG order, from `report.data.wall_times`' table."""
    order = {stage: i for i, (stage, _) in enumerate((*STAGES, (OTHER, "")))}
    staged = times.with_columns(pl.col("rule").map_elements(stage_of, return_dtype=pl.String).alias("stage"))
    per_stage = staged.group_by("stage").agg(pl.col("seconds").sum(), pl.len().alias("jobs"))
    return per_stage.sort(pl.col("stage").replace_strict(order, return_dtype=pl.Int64))


def stage_times_markdown(times: pl.DataFrame, total_seconds: float | None) -> str:
    """The wall time per stage as a Markdown table; with the run's total wall time, the part
    that no benchmark file covers (rules without one, Snakemake itself) as a last row."""
    per_stage = stage_times(times)
    rows = [f"| {r['stage']} | {r['jobs']} | {duration(r['seconds'])} |" for r in per_stage.iter_rows(named=True)]
    covered = float(per_stage["seconds"].sum())
    if total_seconds is not None:
        rows.append(f"| rules without a benchmark file, Snakemake itself | | {duration(max(0.0, total_seconds - covered))} |")
        rows.append(f"| **total** (`make demo`) | {int(per_stage['jobs'].sum())} | **{duration(total_seconds)}** |")
    else:
        rows.append(f"| **total** (benchmark files) | {int(per_stage['jobs'].sum())} | **{duration(covered)}** |")
    return "\n".join(["| stage | jobs | wall time |", "|---|---:|---:|", *rows])


def results_markdown(metrics: pl.DataFrame, comparisons: pl.DataFrame) -> str:
    """pass@1 in % with its interval per model and benchmark (problems × samples in the
    header), then each stage against the model it started from: the difference in points with
    its paired-bootstrap interval and p-value, bold where distinguishable from noise."""
    models = metrics.sort("order")["model"].unique(maintain_order=True).to_list()
    benchmarks = metrics["benchmark"].unique(maintain_order=True).to_list()
    cells = {(r["model"], r["benchmark"]): r for r in metrics.iter_rows(named=True)}

    def size(benchmark: str) -> str:
        r = next(r for (m, b), r in cells.items() if b == benchmark)
        return f"{benchmark} ({r['problems']} × {r['n']})"

    def cell(model: str, benchmark: str) -> str:
        r = cells.get((model, benchmark))
        return "—" if r is None else f"{pct(r['pass1'])} ({pct(r['ci_low'])}–{pct(r['ci_high'])})"

    lines = [
        "| model | " + " | ".join(size(b) for b in benchmarks) + " |",
        "|---|" + "---|" * len(benchmarks),
        *(f"| {m} | " + " | ".join(cell(m, b) for b in benchmarks) + " |" for m in models),
    ]
    if not comparisons.is_empty():
        pairs = {(r["model"], r["reference"], r["benchmark"]): r for r in comparisons.iter_rows(named=True)}
        rank = {model: i for i, model in enumerate(models)}
        stages = sorted(dict.fromkeys((r["model"], r["reference"]) for r in comparisons.iter_rows(named=True)), key=lambda pair: rank.get(pair[0], len(rank)))

        def diff(model: str, reference: str, benchmark: str) -> str:
            r = pairs.get((model, reference, benchmark))
            if r is None:
                return "—"
            text = f"{points(r['diff'])} ({points(r['ci_low'])} to {points(r['ci_high'])}), p {p_value(r['p_value'])}"
            return f"**{text}**" if r["distinguishable"] else text

        lines += [
            "",
            "| stage vs its start | " + " | ".join(benchmarks) + " |",
            "|---|" + "---|" * len(benchmarks),
            *(f"| {m} vs {ref} | " + " | ".join(diff(m, ref, b) for b in benchmarks) + " |" for m, ref in stages),
        ]
    return "\n".join(lines)


def block(name: str, body: str) -> str:
    return "\n".join([MARK.format(name=name, edge="begin"), body, MARK.format(name=name, edge="end")])


def _block_pattern(name: str) -> re.Pattern:
    begin, end = (re.escape(MARK.format(name=name, edge=edge)) for edge in ("begin", "end"))
    return re.compile(begin + r"\n(?:(.*?)\n)?" + end, re.S)  # a new block may be empty


def read_block(document: str, name: str) -> str:
    match = _block_pattern(name).search(document)
    if match is None:
        raise MissingBlock(f"no figures block {name!r}: the document needs the lines {MARK.format(name=name, edge='begin')!r} and its end marker")
    return match.group(1) or ""


def replace_block(document: str, name: str, body: str) -> str:
    read_block(document, name)  # the markers must exist
    return _block_pattern(name).sub(lambda _: block(name, body), document, count=1)
