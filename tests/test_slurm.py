"""The workflow on a real SLURM: scripts/slurm-local.sh runs a single-node cluster with
accounting, Snakemake submits through snakemake-executor-plugin-slurm (profiles/slurm-test)."""

import re
import subprocess
from collections import Counter
from datetime import datetime, timedelta

import polars as pl
from conftest import BIN, ROOT, snakemake
from slurm import poll, sacct

TARGET = "results/data/problems.parquet"
OUTPUTS = ("results/data/problems.parquet", "results/data/ledger.parquet")
# The micro world's data stages, one SLURM job each.
JOBS = Counter(tiny_world=1, stage_source=3, stage_benchmark=3, decontaminate=1, build_problems=1)


def test_sbatch_runs_a_job_and_sacct_accounts_it(slurm_env, tmp_path):
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--wait", "--output", str(tmp_path / "hi-%j.out"), "--wrap", "echo hi"],
        env=slurm_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.strip().split(";")[0]
    assert (tmp_path / f"hi-{job_id}.out").read_text() == "hi\n"

    def state():  # sacct may lag behind the job's end
        rows = {row[0]: row[1] for row in sacct(slurm_env, "-j", job_id, "--format=JobID,State")}
        return rows if rows.get(job_id) == "COMPLETED" else None

    assert poll(state, timeout=30, what=f"COMPLETED in sacct for job {job_id}")[job_id] == "COMPLETED"


def test_workflow_on_slurm_matches_a_local_run(slurm_env, tmp_path):
    on_slurm, local = tmp_path / "slurm", tmp_path / "local"
    command = [
        str(BIN / "snakemake"), TARGET, "-s", str(ROOT / "Snakefile"), "-d", str(on_slurm),
        "--profile", str(ROOT / "profiles" / "slurm-test"), "--configfile", str(ROOT / "tests" / "micro.yaml"),
    ]  # fmt: skip
    since = (datetime.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")  # sacct --name: since midnight otherwise
    run = subprocess.run(command, env=slurm_env, capture_output=True, text=True, timeout=600)
    log = f"{run.stdout[-4000:]}\n{run.stderr[-8000:]}"
    assert run.returncode == 0, f"snakemake on SLURM failed:\n{log}"
    run_id = re.search(r"SLURM run ID: (\S+)", run.stderr + run.stdout).group(1)
    submitted = re.findall(r"submitted with SLURM jobid (\d+)", run.stderr + run.stdout)
    assert len(submitted) == sum(JOBS.values()), log

    # Every job is in the accounting: named after the run, its rule in the comment.
    def accounted():
        rows = sacct(slurm_env, "-X", "--starttime", since, "--name", run_id, "--format=JobID,JobName,Comment,State")
        return rows if len(rows) == len(submitted) else None

    rows = poll(accounted, timeout=30, what=f"{len(submitted)} jobs of run {run_id} in sacct")
    assert sorted(row[0] for row in rows) == sorted(submitted)
    assert {row[1] for row in rows} == {run_id}
    assert {row[3] for row in rows} == {"COMPLETED"}, rows
    rules = Counter(re.match(r"rule_(.+?)(?:_wildcards_.*)?$", row[2]).group(1) for row in rows)
    assert rules == JOBS

    # Same results as on this machine.
    snakemake(local, TARGET, "--configfile", str(ROOT / "tests" / "micro.yaml"))
    for output in OUTPUTS:
        assert pl.read_parquet(on_slurm / output).equals(pl.read_parquet(local / output)), output


def test_a_training_stage_runs_on_slurm(slurm_env, micro_world, tmp_path):
    """SFT stage 1 of the micro world, resubmitted through SLURM in a copy whose upstream tables
    are up to date: exactly one SLURM job, the train_sft rule, publishing a loadable model."""
    import shutil

    from transformers import AutoConfig

    world = tmp_path / "world"
    shutil.copytree(micro_world, world, symlinks=True)  # copy2 keeps mtimes: upstream stays up to date
    shutil.rmtree(world / "results/checkpoints/sft1")
    shutil.rmtree(world / "work/train/sft1")  # no resumable state: train from the start
    command = [
        str(BIN / "snakemake"), "results/checkpoints/sft1", "-s", str(ROOT / "Snakefile"), "-d", str(world),
        "--profile", str(ROOT / "profiles" / "slurm-test"), "--configfile", str(ROOT / "tests" / "micro.yaml"),
    ]  # fmt: skip
    since = (datetime.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    run = subprocess.run(command, env=slurm_env, capture_output=True, text=True, timeout=600)
    log = f"{run.stdout[-4000:]}\n{run.stderr[-8000:]}"
    assert run.returncode == 0, f"snakemake on SLURM failed:\n{log}"
    run_id = re.search(r"SLURM run ID: (\S+)", run.stderr + run.stdout).group(1)

    def accounted():
        rows = sacct(slurm_env, "-X", "--starttime", since, "--name", run_id, "--format=JobID,JobName,Comment,State")
        return rows or None

    rows = poll(accounted, timeout=30, what=f"the jobs of run {run_id} in sacct")
    assert [(row[2], row[3]) for row in rows] == [("rule_train_sft_wildcards_sft1", "COMPLETED")], rows
    assert AutoConfig.from_pretrained(world / "results/checkpoints/sft1").model_type == "qwen2"
    assert "resuming" not in (world / "logs/train/sft1.log").read_text()
