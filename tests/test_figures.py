"""The documents' figures come from a run: the blocks scripts/demo-figures.py renders, and its
check that fails when README.md no longer says what the run printed."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from lightr1.report import figures

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "demo-figures.py"


def test_benchmark_files_fall_into_their_stages():
    assert figures.stage_of("sample/tiny_base/grade_stage1/shard-0-of-2") == "grading, stage 1"
    assert figures.stage_of("score/sft1/grade_stage2/shard-1-of-2") == "grading, stage 2"
    assert figures.stage_of("sample/sft2/dpo/shard-0-of-2") == "DPO sampling"
    assert figures.stage_of("sample/sft2/grpo/shard-0-of-2") == "GRPO prompt selection"
    assert figures.stage_of("sample/grpo/eval_aime_tiny/shard-0-of-1") == "evaluation"
    assert figures.stage_of("train/dpo_v2") == "DPO and DPO v2"
    assert figures.stage_of("train/grpo") == "GRPO"
    assert figures.stage_of("stage_source/limo") == figures.STAGES[0][0]
    assert figures.stage_of("something_new") == figures.OTHER


def test_stage_times_are_in_dag_order_with_the_uncovered_rest():
    times = pl.DataFrame({"rule": ["eval_metrics", "train/sft1", "tiny_model", "sample/m/eval_x/shard-0-of-1"], "seconds": [1.0, 60.0, 600.0, 9.0]})
    text = figures.stage_times_markdown(times, total_seconds=700.0)
    stages = re.findall(r"^\| ([^|]+?) \|", text, re.M)[1:]  # past the header
    assert stages == ["tiny base model", "SFT stage 1", "evaluation", "rules without a benchmark file, Snakemake itself", "**total** (`make demo`)"]
    assert "| evaluation | 2 | 0:00:10 |" in text
    assert "0:00:30" in text  # 700 s in all, 670 s in benchmark files
    assert "**0:11:40**" in text


def _metrics() -> pl.DataFrame:
    rows = [("base", "b1", 0, 0.2, 0.1, 0.3), ("sft1", "b1", 1, 0.6, 0.5, 0.7), ("base", "b2", 0, 0.5, 0.4, 0.6), ("sft1", "b2", 1, 0.55, 0.45, 0.65)]
    return pl.DataFrame(
        [{"model": m, "benchmark": b, "order": o, "problems": 30, "n": 4, "pass1": p, "ci_low": lo, "ci_high": hi} for m, b, o, p, lo, hi in rows]
    )


def test_results_mark_the_distinguishable_differences():
    comparisons = pl.DataFrame(
        {
            "benchmark": ["b1", "b2"],
            "model": ["sft1", "sft1"],
            "reference": ["base", "base"],
            "diff": [0.4, 0.05],
            "ci_low": [0.25, -0.05],
            "ci_high": [0.55, 0.15],
            "p_value": [0.0001, 0.31],
            "distinguishable": [True, False],
        }
    )
    text = figures.results_markdown(_metrics(), comparisons)
    assert "| model | b1 (30 × 4) | b2 (30 × 4) |" in text
    assert "| sft1 | 60.0 (50.0–70.0) | 55.0 (45.0–65.0) |" in text
    assert "| sft1 vs base | **+40.0 (+25.0 to +55.0), p < 0.001** | +5.0 (-5.0 to +15.0), p 0.310 |" in text


def test_a_document_without_the_markers_is_named():
    with pytest.raises(figures.MissingBlock, match="results"):
        figures.replace_block("# no figures here\n", "results", "x")
    document = "a\n" + figures.block("results", "old") + "\nb\n"
    assert figures.replace_block(document, "results", "new") == "a\n" + figures.block("results", "new") + "\nb\n"


def _script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True)


def test_the_check_fails_when_the_readme_drifts_from_the_run(micro_world, tmp_path):
    docs = tmp_path / "docs"
    (docs / "bench").mkdir(parents=True)
    shutil.copy(ROOT / "README.md", docs / "README.md")
    shutil.copy(ROOT / "bench" / "README.md", docs / "bench" / "README.md")
    common = ("--workdir", str(micro_world), "--docs", str(docs))
    written = _script(*common, "--total-seconds", "600", "--write")
    assert written.returncode == 0, written.stderr
    readme = (docs / "README.md").read_text()
    assert "| tiny_base |" in figures.read_block(readme, "results")
    assert "| SFT stage 1 |" in figures.read_block((docs / "bench" / "README.md").read_text(), "stage-times")
    assert _script(*common, "--check").returncode == 0

    drifted = re.sub(r"(\| sft1 \| )\d+\.\d", r"\g<1>99.9", readme, count=1)
    assert drifted != readme
    (docs / "README.md").write_text(drifted)
    check = _script(*common, "--check")
    assert check.returncode == 1
    assert "README.md: the results figures differ" in check.stderr


def test_the_readme_says_where_its_figures_were_measured():
    provenance = figures.read_block((ROOT / "README.md").read_text(), "results-provenance")
    assert re.search(r"commit `[0-9a-f]{40}", provenance) and "cores" in provenance
    figures.read_block((ROOT / "README.md").read_text(), "results")
    figures.read_block((ROOT / "bench" / "README.md").read_text(), "stage-times")
