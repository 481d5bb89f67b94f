"""Evaluation and the report on the shared micro-world run: every model on every benchmark, the
metrics and stage comparisons, the report in a real Chromium, Snakemake's own report, and
re-evaluation of exactly the models a change affects."""

import json
import re
import subprocess

import polars as pl
from browser import load_page
from conftest import BIN, ROOT, snakemake
from test_report import assert_leads_with_the_table_and_a_plot

from lightr1.tables import COMPARISONS, EVAL_SAMPLES, METRICS

MICRO = str(ROOT / "tests" / "micro.yaml")
MODELS = ["tiny_base", "sft1", "sft2", "dpo", "dpo_v2", "merged"]  # the micro world has no GRPO
BENCHMARKS = ["aime_tiny", "gpqa_tiny"]  # eval.benchmarks: math500_tiny is a decontamination target only
PAYLOAD = '<script>document.body.dataset.pwned="1"</script><img src=x onerror="document.body.dataset.pwned=\'2\'">'


def test_every_model_is_evaluated_on_every_benchmark(micro_world):
    metrics = pl.read_parquet(micro_world / "results/eval/metrics.parquet")
    assert metrics.schema == METRICS
    assert set(metrics.select("model", "benchmark").rows()) == {(m, b) for m in MODELS for b in BENCHMARKS}
    # A benchmark outside eval.benchmarks is staged (decontamination checks against it), not evaluated.
    assert (micro_world / "results/data/benchmarks/math500_tiny.parquet").exists()
    assert not list(micro_world.glob("results/*/*/eval_math500_tiny*")) and not (micro_world / "results/prompts/eval_math500_tiny.parquet").exists()
    assert metrics.sort("order")["model"].unique(maintain_order=True).to_list() == MODELS
    assert set(metrics["n"]) == {2} and metrics["pass1"].is_between(0, 1).all()
    assert (metrics["ci_low"] <= metrics["pass1"]).all() and (metrics["pass1"] <= metrics["ci_high"]).all()
    for model in MODELS:
        for benchmark in BENCHMARKS:
            table = pl.read_parquet(micro_world / f"results/eval/{model}/{benchmark}.parquet")
            prompts = pl.read_parquet(micro_world / f"results/prompts/eval_{benchmark}.parquet")
            assert table.schema == EVAL_SAMPLES
            assert table.group_by("problem_id").len()["len"].to_list() == [2] * len(prompts)
            assert set(table["model"]) == {model}
    # GPQA rows are multiple choice: asked in the choice form, scored as letters.
    assert set(pl.read_parquet(micro_world / "results/prompts/eval_gpqa_tiny.parquet")["kind"]) == {"choice"}
    comparisons = pl.read_parquet(micro_world / "results/eval/comparisons.parquet")
    assert comparisons.schema == COMPARISONS
    pairs = {("sft1", "tiny_base"), ("sft2", "sft1"), ("dpo", "sft2"), ("dpo_v2", "sft2"), ("merged", "sft2")}
    assert set(comparisons.select("model", "reference").rows()) == pairs
    assert len(comparisons) == len(pairs) * len(BENCHMARKS)


def test_the_report_opens_offline_and_shows_every_model(micro_world):
    page = load_page(micro_world / "results/report/index.html", ROOT / "tests" / "artifacts" / "report-micro.png")
    assert page.console == [] and page.requests == []
    assert re.search(r'<body[^>]*data-ready="1"', page.dom)
    progression = re.search(r'<section id="progression">.*?</table>', page.dom, re.DOTALL).group(0)
    assert re.findall(r'<tr data-model="([^"]+)">', progression) == MODELS
    assert_leads_with_the_table_and_a_plot(micro_world / "results/report/index.html", ROOT / "tests" / "artifacts" / "report-micro-first-screen.png")


def test_a_hostile_response_renders_as_text(micro_world, tmp_path):
    """A model answer carrying markup goes through the CLI into the report and stays text."""
    evals = sorted((micro_world / "results/eval").glob("*/*.parquet"))
    hostile = tmp_path / "hostile.parquet"
    first = [path for path in evals if path.parent.name == "tiny_base" and path.stem == "aime_tiny"][0]
    table = pl.read_parquet(first)
    table.with_columns(pl.when(pl.col("sample") == 0).then(pl.lit(PAYLOAD)).otherwise(pl.col("response")).alias("response")).write_parquet(hostile)
    results = micro_world / "results"
    out = tmp_path / "index.html"
    command = [
        str(BIN / "python"), "-m", "lightr1", "report",
        "--metrics", str(results / "eval/metrics.parquet"), "--comparisons", str(results / "eval/comparisons.parquet"),
        "--eval", str(hostile), *(str(path) for path in evals if path != first),
        "--benchmarks", *(str(path) for path in sorted((results / "data/benchmarks").glob("*.parquet"))),
        "--funnel", str(results / "sft/funnel.parquet"), "--ledger", str(results / "data/ledger.parquet"),
        "--problems", str(results / "data/problems.parquet"), "--config-json", json.dumps({"seed": 1}),
        "--pairs", str(results / "dpo/pairs.parquet"), "--matches", str(results / "decontam/matches.parquet"),
        "--benchmarks-dir", str(micro_world / "benchmarks"), "--out", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=ROOT, capture_output=True)
    page = load_page(out)
    assert page.console == [] and page.requests == []
    body = re.search(r"<body([^>]*)>", page.dom).group(1)
    assert 'data-ready="1"' in body and "pwned" not in body
    assert "&lt;script&gt;document.body.dataset.pwned" in page.dom


def test_snakemakes_own_report(micro_world, tmp_path):
    out = tmp_path / "snakemake-report.html"
    snakemake(micro_world, "--report", str(out), "--configfile", MICRO)
    text = out.read_text(errors="replace")
    assert "metrics.tsv" in text and "index.html" in text


def planned(workdir, *configs):
    from test_workflow import planned_jobs

    return planned_jobs(snakemake(workdir, "-n", "--configfile", MICRO, *configs).stdout)


def test_a_stage_change_reevaluates_only_the_models_it_affects(micro_world, tmp_path):
    change = tmp_path / "dpo-lr.yaml"
    change.write_text("train:\n  dpo: {lr: 0.00005}\n")
    result = snakemake(micro_world, "-n", "--configfile", MICRO, str(change))
    jobs = set(re.findall(r"output: results/eval/(\w+)/(\w+)\.parquet", result.stdout))
    # dpo is retrained, so dpo and the merge that includes it are re-evaluated; nothing else.
    assert {model for model, _ in jobs} == {"dpo", "merged"}
    plan = planned(micro_world, str(change))
    assert plan["train_dpo"] == 1 and plan["merge"] == 1 and plan["eval_table"] == 2 * len(BENCHMARKS)
    assert "train_sft" not in plan and plan["report"] == 1
