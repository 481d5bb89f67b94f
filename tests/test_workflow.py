"""The tiny world end to end through the real Snakemake DAG (one shared micro run)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from conftest import ROOT, snakemake

from lightr1.faults import KILL_AT
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


CHECKOUT_ONLY = shutil.ignore_patterns(".git", ".venv", "results", "resources", "work", "logs", "benchmarks", ".snakemake", "__pycache__")


def test_a_moved_checkout_with_its_results_has_nothing_to_do(tmp_path):
    """Run in the checkout, as `make demo` does: jobs name the checkout's files (code inputs,
    DeepSpeed configs) by relative paths and no job's command holds the checkout's path, so
    moving the folder re-runs nothing (run: the data stage, for speed; planned: the 32B recipe,
    whose multi-node training commands use every launcher)."""
    first, moved = tmp_path / "first", tmp_path / "moved"
    shutil.copytree(ROOT, first, ignore=CHECKOUT_ONLY)

    def run(checkout: Path, config: str, *args: str) -> str:
        result = snakemake(checkout, "--configfile", str(checkout / config), *args, snakefile=checkout / "Snakefile")
        return result.stdout + result.stderr

    plan = run(first, "recipes/light-r1-32b.yaml", "-n", "-p")
    jobs_text = [line for line in plan.splitlines() if line.lstrip().startswith(("input:", "Shell command:"))]
    naming_the_checkout = [line for line in jobs_text if str(first) in line]
    assert len(jobs_text) > 1000 and not naming_the_checkout, naming_the_checkout[:3]
    target = ("--", "results/data/problems.parquet")
    run(first, "tests/micro.yaml", *target)
    first.rename(moved)
    assert "Nothing to be done" in run(moved, "tests/micro.yaml", "-n", *target)


def planned_jobs(output: str) -> dict[str, int]:
    """Snakemake's dry-run job stats table as {rule: count}."""
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


RECIPE_STAGES = {
    # recipe: (train_sft, train_dpo, merge, train_grpo) jobs; the -ds recipes overlay the 32B one
    "light-r1-32b.yaml": (2, 2, 1, 0),
    "light-r1-7b-ds.yaml": (1, 0, 0, 0),
    "light-r1-14b-ds.yaml": (1, 0, 0, 1),
}


@pytest.mark.parametrize("recipe", sorted(RECIPE_STAGES))
def test_recipe_plans_its_stages(tmp_path, recipe):
    layers = [str(ROOT / "recipes" / name) for name in dict.fromkeys(["light-r1-32b.yaml", recipe])]
    jobs = planned_jobs(snakemake(tmp_path, "-n", "--configfile", *layers).stdout)
    assert jobs["download_source"] == 9 and jobs["build_problems"] == 1 and jobs["sample"] >= 1024
    stages = tuple(jobs.get(rule, 0) for rule in ("train_sft", "train_dpo", "merge", "train_grpo"))
    assert stages == RECIPE_STAGES[recipe]


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



def test_verifier_change_rescores_without_regenerating(micro_world, tmp_path):
    """An edit to the verifier re-runs scoring; the sample jobs it re-plans (teacher choice
    depends on the verifier too) find every prompt already sampled and generate nothing."""
    world = tmp_path / "world"
    shutil.copytree(micro_world, world, symlinks=True)  # copy2 keeps mtimes: the copy is up to date
    samples = sorted((world / "results/samples").rglob("*.parquet"))
    before = {path: pl.read_parquet(path) for path in samples}
    scores = sorted((world / "results/scores").rglob("*.parquet"))
    scored_at = {path: path.stat().st_mtime for path in scores}
    module = ROOT / "lightr1" / "verify" / "mathexpr.py"  # any module of the folder
    original, stamp = module.read_text(), module.stat()
    try:
        module.write_text(original + "\n# a verifier change\n")
        snakemake(world, "results/grading/stage1/pass_rates.parquet", "--configfile", str(ROOT / "tests" / "micro.yaml"))
    finally:
        module.write_text(original)
        os.utime(module, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
    assert all(path.stat().st_mtime > scored_at[path] for path in scores if "grade_stage1" in str(path)), "scores were not recomputed"
    for path, frame in before.items():
        if "grade_stage1" in str(path):
            assert pl.read_parquet(path).equals(frame)
    logs = sorted((world / "logs/sample").rglob("*.log"))
    assert logs and all(" 0 to generate" in log.read_text() for log in logs if "grade_stage1" in str(log))


def test_every_training_stage_publishes_a_loadable_model(micro_world):
    from transformers import AutoConfig, AutoTokenizer

    for stage in ("sft1", "sft2", "dpo", "dpo_v2", "merged"):
        folder = micro_world / "results/checkpoints" / stage
        assert AutoConfig.from_pretrained(folder).model_type == "qwen2", stage
        assert AutoTokenizer.from_pretrained(folder).chat_template, stage
    log = json.loads((micro_world / "results/checkpoints/sft1/training_log.json").read_text())
    assert log["picked"] == "epoch-2" and log["epochs"][-1]["eval_loss"] < log["epochs"][0]["eval_loss"]
    merged = json.loads((micro_world / "results/checkpoints/merged/config.json").read_text())
    assert merged["architectures"] == ["Qwen2ForCausalLM"] and (micro_world / "results/checkpoints/merged/merge_config.yaml").is_file()


def test_stage2_is_graded_by_the_sft1_checkpoint(micro_world):
    rates = pl.read_parquet(micro_world / "results/grading/stage2/pass_rates.parquet")
    assert set(rates["grader"]) == {"sft1"}
    assert list((micro_world / "results/samples/sft1/grade_stage2").glob("shard-*.parquet"))


def test_dpo_pairs_and_their_exports(micro_world):
    results = micro_world / "results/dpo"
    pairs, stripped = pl.read_parquet(results / "pairs.parquet"), pl.read_parquet(results / "pairs_v2.parquet")
    pool = pl.read_parquet(micro_world / "results/sft/stage1.parquet")  # the tiny world's dpo.pool
    assert len(pairs) > 0 and set(pairs["problem_id"]) <= set(pool["problem_id"])
    assert pairs["rejected"].str.starts_with("<think>\n").all()  # the sampler's forced think, put back
    assert not stripped["rejected"].str.contains("<think>|</think>|<\\|im_end\\|>").any()
    exported = json.loads((results / "pairs.json").read_text())
    assert len(exported) == len(pairs) and exported[0]["rejected"]["value"] == pairs["rejected"][0]
    assert json.loads((results / "dataset_info.json").read_text())["light_r1_dpo_v2"]["ranking"] is True


def test_a_killed_run_resumes_without_redoing_finished_jobs(micro_world, tmp_path):
    """Retrain SFT stage 2 in a copy and kill Snakemake with all its jobs (SIGKILL, as a lost
    node) when the first job after it, a sampling job of the new model, has saved its first
    batch: the next plan redoes what was cut off, not what ended."""
    world = tmp_path / "world"
    shutil.copytree(micro_world, world, symlinks=True)  # copy2 keeps mtimes: the copy is up to date
    shutil.rmtree(world / "results/checkpoints/sft2")
    shutil.rmtree(world / "work/train/sft2")
    shutil.rmtree(world / "work/sample/sft2")  # same seed, same model: its old batches would be reused, none sampled
    micro = str(ROOT / "tests" / "micro.yaml")
    before = planned_jobs(snakemake(world, "-n", "--configfile", micro).stdout)
    assert before["train_sft"] == 1 and before["train_dpo"] == 2
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", KILL_AT: "sample-batch:1"}
    command = [str(Path(sys.executable).parent / "snakemake"), "-s", str(ROOT / "Snakefile"), "-d", str(world), "--cores", "2", "--configfile", micro]
    run = subprocess.run(command, env=env, capture_output=True, text=True, start_new_session=True, timeout=600)
    assert run.returncode == -9, run.stderr[-3000:]
    assert (world / "results/checkpoints/sft2").is_dir()
    after = planned_jobs(snakemake(world, "-n", "--configfile", micro).stdout)
    assert "train_sft" not in after  # finished before the kill: kept
    assert after["train_dpo"] == 2 and sum(after.values()) < sum(before.values())


def test_the_named_slurm_profile_installs_in_one_step(tmp_path):
    """`make profile` links profiles/slurm where Snakemake looks for named profiles, so that
    `snakemake --profile slurm` works as users type it."""
    home = tmp_path / "home"
    subprocess.run(["make", "-s", "-C", str(ROOT), "profile", f"PROFILE_HOME={home}/.config/snakemake"], check=True, capture_output=True)
    assert (home / ".config/snakemake/slurm").resolve() == ROOT / "profiles" / "slurm"
    env = {**os.environ, "HOME": str(home), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    snakemake_bin = str(Path(sys.executable).parent / "snakemake")
    command = [snakemake_bin, "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "-n", "--profile", "slurm", "results/data/problems.parquet"]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Using profile slurm" in result.stdout + result.stderr and "Job stats" in result.stdout


# What a second run of the same seed regenerates in a copy of the micro world (globs): the
# data stage, the base model, grading and SFT stage 1 (one plan), then the base's evaluation and
# the metrics (a second plan: asking for the metrics beside sft1 would retrain every later stage).
REGENERATED = (
    ("results/data/sources", "results/data/problems.parquet", "results/data/ledger.parquet", "results/decontam", "results/teacher",
     "results/prompts/grade_stage1.parquet", "results/*/tiny_base/grade_stage1", "results/grading/stage1", "results/sft/stage1.parquet",
     "resources/models/tiny_base", "results/checkpoints/sft1"),
    ("results/*/tiny_base/eval_*", "results/eval/tiny_base", "results/eval/metrics.*", "results/eval/comparisons.parquet"),
)
TARGETS = (("results/sft/stage1.parquet", "results/checkpoints/sft1"), ("results/eval/metrics.parquet",))
NOT_DATA = {"training_log.json"}  # wall-clock seconds beside the weights


def matching(root: Path, patterns: tuple[str, ...]) -> list[Path]:
    """The paths the patterns match, with everything under the folders among them."""
    paths = [path for pattern in patterns for path in root.glob(pattern)]
    return [inner for path in paths for inner in (path, *sorted(path.rglob("*")))]


def file_bytes(root: Path, patterns: tuple[str, ...]) -> dict[str, bytes]:
    files = matching(root, patterns)
    return {str(f.relative_to(root)): f.read_bytes() for f in files if f.is_file() and not f.name.startswith(".") and f.name not in NOT_DATA}


def test_the_same_seed_gives_the_same_bytes(micro_world, tmp_path):
    """Data files, samples, scores, the base and sft1 weights and the metrics come out byte
    for byte the same when a copy of the micro world makes them again (on this machine: see
    the README on what differs across machines)."""
    world = tmp_path / "world"
    shutil.copytree(micro_world, world, symlinks=True, ignore=shutil.ignore_patterns("work"))  # no samples to resume from
    micro = str(ROOT / "tests" / "micro.yaml")
    for patterns, targets in zip(REGENERATED, TARGETS):
        before = file_bytes(world, patterns)
        assert len(before) >= len(patterns), "the micro world lacks files this test regenerates"
        stamps = {path: path.stat() for path in matching(world, patterns)}
        for path in [path for pattern in patterns for path in world.glob(pattern)]:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        snakemake(world, *targets, "--configfile", micro)
        after = file_bytes(world, patterns)
        assert after.keys() == before.keys()
        differ = [name for name in before if after[name] != before[name]]
        assert not differ, f"a second run of the same seed wrote other bytes: {differ}"
        # The same bytes, so the old times too: newer inputs would re-run every later stage.
        for path, stamp in stamps.items():
            if path.exists():
                os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
