"""The tiny world end to end through the real Snakemake DAG (one shared micro run)."""

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT, snakemake

from lightr1.io import count_raw_rows

SOURCE_FILES = {"raw/openr1_math.parquet": "openr1_math", "raw/limo.jsonl": "limo", "raw/deepscaler.json": "deepscaler"}


@pytest.fixture(scope="module")
def ledger(micro_world):
    return pl.read_parquet(micro_world / "results/data/ledger.parquet")


@pytest.fixture(scope="module")
def planted(micro_world):
    return json.loads((micro_world / "resources/tiny/planted.json").read_text())


def ledger_row(ledger, item):
    source = SOURCE_FILES[item["file"]]
    return ledger.filter((pl.col.source == source) & (pl.col.row_index == item["row"])).row(0, named=True)


def test_outputs_exist_and_ledger_reconciles(micro_world, ledger):
    problems = pl.read_parquet(micro_world / "results/data/problems.parquet")
    for name, source in SOURCE_FILES.items():
        raw = count_raw_rows(micro_world / "resources/tiny" / name)
        assert ledger.filter(pl.col.source == source).height == raw
    assert ledger.filter(pl.col.status == "kept").height == problems.height > 0
    assert set(ledger["status"]) == {"kept", "duplicate", "contaminated", "rejected"}
    assert ledger.filter(pl.col.status != "kept")["reason"].null_count() == 0
    assert problems["problem_id"].is_unique().all()
    assert (problems["teacher_responses"].list.len() > 0).any()


def test_planted_contamination_is_caught(ledger, planted):
    contamination = [item for item in planted if item["kind"] in {"digits-changed", "reformatted", "latex-respaced", "prefixed", "suffixed"}]
    assert {item["kind"] for item in contamination} == {"digits-changed", "reformatted", "latex-respaced", "prefixed", "suffixed"}
    for item in contamination:
        row = ledger_row(ledger, item)
        assert row["status"] == "contaminated", (item, row)


def test_modes_disagree_on_prefixed_short_copies(micro_world, planted):
    matches = pl.read_parquet(micro_world / "results/decontam/matches.parquet")
    assert set(matches["mode"]) == {"default", "light-r1"}
    by_mode = {mode: set(group["train_id"]) for (mode,), group in matches.group_by("mode")}
    assert by_mode["default"] - by_mode["light-r1"], "the default mode should catch copies light-r1 misses"


def test_malformed_rows_are_rejected_with_reasons(ledger, planted):
    malformed = [item for item in planted if item["kind"].startswith("malformed")]
    assert len(malformed) >= 5
    for item in malformed:
        row = ledger_row(ledger, item)
        assert row["status"] == "rejected" and row["reason"], (item, row)


def test_duplicates(ledger, planted):
    for item in planted:
        if item["kind"] in {"exact-duplicate", "near-duplicate"}:
            row = ledger_row(ledger, item)
            assert row["status"] == "duplicate" and row["kept_as"], (item, row)
        if item["kind"] == "near-duplicate-different-answer":
            assert ledger_row(ledger, item)["status"] == "kept", item


def test_rerun_has_nothing_to_do(micro_world):
    result = snakemake(micro_world, "-n", "--configfile", str(ROOT / "tests" / "micro.yaml"))
    assert "Nothing to be done" in result.stdout + result.stderr


def test_recipe_plans(tmp_path):
    result = snakemake(tmp_path, "-n", "--configfile", str(ROOT / "recipes" / "light-r1-32b.yaml"))
    assert "download_source" in result.stdout and "build_problems" in result.stdout


def test_bad_config_stops_with_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("decontam:\n  mdoe: default\n")
    result = snakemake(tmp_path, "-n", "--configfile", str(bad), check=False)
    assert result.returncode != 0
    assert "unknown config key decontam.mdoe" in result.stderr + result.stdout


def test_missing_source_file_is_named(tmp_path):
    config = tmp_path / "missing.yaml"
    config.write_text("sources:\n  - {name: gone, adapter: limo, path: nowhere/limo.jsonl}\n")
    result = snakemake(tmp_path, "-n", "--configfile", str(config), check=False)
    assert result.returncode != 0 and "nowhere/limo.jsonl" in result.stdout + result.stderr


def test_decontaminate_command_on_files(micro_world, tmp_path):
    out = tmp_path / "matches.jsonl"
    train = micro_world / "results/data/sources/limo.parquet"
    bench = sorted((micro_world / "results/data/benchmarks").glob("*.parquet"))
    lightr1 = str(Path(sys.executable).parent / "lightr1")
    subprocess.run([lightr1, "decontaminate", "--train", str(train), "--benchmarks", *map(str, bench), "--out", str(out), "--mode", "light-r1"], check=True)
    matches = pl.read_ndjson(out)
    assert set(matches.columns) >= {"train_id", "benchmark_id", "method", "evidence"}


def test_curriculum_files(micro_world):
    results = micro_world / "results"
    stage1 = pl.read_parquet(results / "sft/stage1.parquet")
    stage2 = pl.read_parquet(results / "sft/stage2.parquet")
    assert len(stage1) > 0 and len(stage2) > 0
    assert set(stage2["problem_id"]) <= set(stage1["problem_id"])
    assert (stage2["teacher_correct"] > 0).all() and (stage2["teacher_correct"] < stage2["teacher_n"]).all()
    rates = pl.read_parquet(results / "grading/stage1/pass_rates.parquet")
    assert (rates["n"] == 4).all() and set(stage1["problem_id"]) <= set(rates["problem_id"])
    exported = json.loads((results / "sft/stage1.json").read_text())
    assert len(exported) == len(stage1) and exported[0]["conversations"][1]["value"] == stage1["response"][0]
    info = json.loads((results / "sft/dataset_info.json").read_text())
    assert info["light_r1_stage2"]["file_name"] == "stage2.json"


def test_funnel_accounts_for_every_raw_row(micro_world, ledger):
    funnel = pl.read_parquet(micro_world / "results/sft/funnel.parquet")
    steps = funnel["step"].unique(maintain_order=True).to_list()
    assert steps[0] == "raw rows" and steps[-1] == "stage 2"
    assert funnel.filter(pl.col("step") == "raw rows")["problems"].sum() == len(ledger)
    for source, counts in funnel.group_by("source", maintain_order=True).agg("problems").iter_rows():
        assert counts == sorted(counts, reverse=True), f"{source}: a later filter has more problems than an earlier one"

