"""What the report shows (`ReportData`) and `load`, the thin part that reads the run's files."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from lightr1 import tables
from lightr1.curriculum.pairs import PAIRS
from lightr1.errors import InputFileError
from lightr1.io import read_table
from lightr1.train.grpo import METRICS_SCHEMA as GRPO_METRICS

PathLike = str | os.PathLike


# Packages whose versions the provenance section lists.
PACKAGES = ("lightr1", "polars", "numpy", "sympy", "math-verify", "torch", "transformers", "trl", "vllm", "mergekit", "snakemake")


# ------------------------------------------------------------------------------------------
# The data.


@dataclass
class ReportData:
    """Everything the report shows, already read (tables as in lightr1.tables)."""

    metrics: pl.DataFrame  # tables.METRICS
    comparisons: pl.DataFrame  # tables.COMPARISONS
    eval_samples: pl.DataFrame  # tables.EVAL_SAMPLES of every model and benchmark
    benchmark_problems: pl.DataFrame  # benchmark, problem_id, problem, answer (list of golds)
    funnel: pl.DataFrame  # tables.FUNNEL
    ledger: pl.DataFrame  # tables.LEDGER
    problems: pl.DataFrame  # problem_id, source, problem of train rows (kept ones first)
    config: dict[str, Any]
    provenance: dict[str, Any]  # commit, packages {name: version}, seeds {key: value}, ...
    wall_times: pl.DataFrame  # rule, seconds: one row per Snakemake benchmark file
    pairs: pl.DataFrame | None = None  # lightr1.dpo.PAIRS
    matches: pl.DataFrame | None = None  # tables.MATCHES
    grpo_metrics: pl.DataFrame | None = None  # lightr1.train.grpo.METRICS_SCHEMA


def models_of(metrics: pl.DataFrame) -> list[str]:
    return metrics.group_by("model").agg(pl.col("order").min()).sort("order", "model")["model"].to_list()


def benchmarks_of(metrics: pl.DataFrame) -> list[str]:
    return metrics["benchmark"].unique(maintain_order=True).to_list()


# ------------------------------------------------------------------------------------------
# Reading the run.


def wall_times(benchmarks_dir: PathLike) -> pl.DataFrame:
    """Seconds per Snakemake benchmark file (`s`, averaged over repeats), the rule named by the
    file's path under the folder without `.tsv`; no folder gives an empty table."""
    root = Path(benchmarks_dir)
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        try:
            frame = pl.read_csv(path, separator="\t")
        except (OSError, pl.exceptions.PolarsError) as err:
            raise InputFileError(f"{path}: cannot read Snakemake benchmark file: {err}") from err
        if "s" not in frame.columns:
            raise InputFileError(f"{path}: Snakemake benchmark file without an 's' column")
        seconds = frame["s"].cast(pl.Float64, strict=False).mean()
        rows.append((path.relative_to(root).as_posix().removesuffix(".tsv"), float(seconds or 0.0)))
    return pl.DataFrame(rows, schema={"rule": pl.String, "seconds": pl.Float64}, orient="row")


def package_versions(names: Iterable[str]) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(repo_dir: PathLike) -> str:
    """HEAD's commit, with "-dirty" when tracked files have changes (as `git describe --dirty`:
    a log or a results folder beside the code is no change to it); "unknown" outside a repo."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=repo_dir, capture_output=True, text=True)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return "unknown"
        status = git("status", "--porcelain", "--untracked-files=no")
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def config_seeds(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every seed in the config, by its dotted key."""
    seeds: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            seeds.update(config_seeds(value, f"{path}."))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    seeds.update(config_seeds(item, f"{path}[{i}]."))
        elif key == "seed" or str(key).endswith("_seed"):
            seeds[path] = value
    return seeds


def _concat(paths: Sequence[PathLike], schema: pl.Schema) -> pl.DataFrame:
    if not paths:
        return tables.empty(schema)
    return pl.concat([read_table(path, schema) for path in paths], how="diagonal_relaxed")


def load(
    *,
    metrics: PathLike,
    comparisons: PathLike,
    eval_samples: Sequence[PathLike],
    benchmarks: Sequence[PathLike],
    funnel: PathLike,
    ledger: PathLike,
    problems: Sequence[PathLike],
    config: Mapping[str, Any],
    pairs: PathLike | None = None,
    matches: PathLike | None = None,
    grpo_metrics: PathLike | None = None,
    benchmarks_dir: PathLike = "benchmarks",
    repo_dir: PathLike = ".",
    packages: Sequence[str] = PACKAGES,
) -> ReportData:
    """Read a run's files. `problems` is problems.parquet first, then optionally the staged
    source tables (which also hold the text of contaminated rows); `config` is the run's config."""
    text = {"problem_id": pl.String, "source": pl.String, "problem": pl.String}
    train = pl.concat([read_table(path, text).select(list(text)) for path in problems])
    bench = _concat(benchmarks, tables.BENCHMARK).filter(pl.col("status") == "ok")
    config_data = dict(config)
    return ReportData(
        metrics=read_table(metrics, tables.METRICS),
        comparisons=read_table(comparisons, tables.COMPARISONS),
        eval_samples=_concat(eval_samples, tables.EVAL_SAMPLES),
        benchmark_problems=bench.select("benchmark", "problem_id", "problem", "answer"),
        funnel=read_table(funnel, tables.FUNNEL),
        ledger=read_table(ledger, tables.LEDGER),
        problems=train.filter(pl.col("problem_id").is_not_null()).unique("problem_id", keep="first", maintain_order=True),
        config=config_data,
        provenance={
            "commit": git_commit(repo_dir),
            "python": platform.python_version(),
            "packages": package_versions(packages),
            "seeds": config_seeds(config_data),
        },
        wall_times=wall_times(benchmarks_dir),
        pairs=None if pairs is None else read_table(pairs, PAIRS),
        matches=None if matches is None else read_table(matches, tables.MATCHES),
        grpo_metrics=None if grpo_metrics is None else read_table(grpo_metrics, GRPO_METRICS),
    )
