"""Cluster resources: what each job of the real recipes asks SLURM for (the per-rule resources of
a dry-run with profiles/slurm, checked against the recipes), the sbatch flags that
snakemake-executor-plugin-slurm 2.8.0 builds from them, and, on a real single-node SLURM, the
sbatch call of a two-node training job and its one-torchrun-per-node launch."""

import json
import re
import shlex
import subprocess
from types import SimpleNamespace

import pytest
import yaml
from conftest import BIN, ROOT, snakemake
from snakemake_executor_plugin_slurm.submit_string import get_submit_command
from snakemake_executor_plugin_slurm.utils import set_gres_string
from snakemake_executor_plugin_slurm_jobstep import get_cpu_setting, get_gpu_setting, get_node_setting
from test_config import recipe_config

PROFILE = ROOT / "profiles" / "slurm"
RECIPES = ROOT / "recipes"
THREADS = 2  # the training and sampling rules' threads
TRAINING = {"train_sft", "train_dpo", "train_grpo", "merge"}


def parse_jobs(output: str) -> list[dict]:
    """The job blocks of a dry-run: rule, wildcards, resources (ints where they are) and command."""
    jobs = []
    for line in output.splitlines():
        if match := re.match(r"(?:local)?rule (\w+):$", line):
            jobs.append({"rule": match.group(1), "wildcards": {}, "resources": {}, "shell": None})
        elif jobs and (match := re.match(r"    (wildcards|resources): (.*)$", line)):
            pairs = re.findall(r"(\w+)=([^,]*)", match.group(2))
            jobs[-1][match.group(1)] = {k: int(v) if v.isdigit() else v for k, v in pairs}
        elif jobs and line.startswith("Shell command: "):
            jobs[-1]["shell"] = line.removeprefix("Shell command: ")
    return jobs


def plan(workdir, *configfiles, profile=PROFILE) -> list[dict]:
    """The jobs of `rule all` as the profile would submit them (a dry-run needs no SLURM)."""
    config = ["--configfile", *map(str, configfiles)] if configfiles else []  # nargs+: last
    return parse_jobs(snakemake(workdir, "-n", "--profile", str(profile), *config).stdout)


def stages(jobs) -> dict[str, dict]:
    """Training jobs by stage."""
    named = {job["wildcards"].get("sft_stage") or job["wildcards"].get("dpo_stage") or job["rule"]: job for job in jobs if job["rule"] in TRAINING}
    return {{"train_grpo": "grpo", "merge": "merged"}.get(name, name): job for name, job in named.items()}


@pytest.fixture(scope="module")
def plan_32b(tmp_path_factory):
    return plan(tmp_path_factory.mktemp("plan32b"), RECIPES / "light-r1-32b.yaml")


@pytest.fixture(scope="module")
def plan_14b(tmp_path_factory):
    return plan(tmp_path_factory.mktemp("plan14b"), RECIPES / "light-r1-32b.yaml", RECIPES / "light-r1-14b-ds.yaml")


def test_training_stages_ask_for_the_recipe_resources(plan_32b):
    config = recipe_config("light-r1-32b.yaml")
    jobs = stages(plan_32b)
    assert set(jobs) == {"sft1", "sft2", "dpo", "dpo_v2", "merged"}
    # Light-R1's node counts: SFT stage 1 on 12 nodes of 8 GPUs, stage 2 on 8, each DPO on 2.
    assert {stage: job["resources"]["nodes"] for stage, job in jobs.items()} == {"sft1": 12, "sft2": 8, "dpo": 2, "dpo_v2": 2, "merged": 1}
    for stage, job in jobs.items():
        block, res = config["train"][stage], job["resources"]
        assert (res["runtime"], res["mem_mb"]) == (block["runtime"], block["mem_mb"]), stage
        if stage == "merged":  # mergekit on the CPU of one node
            assert "gres" not in res and "mpi" not in res and "cpus_per_task" not in res
            continue
        assert res["gres"] == "gpu:8" and res["cpus_per_task"] == config["train"]["cpus_per_node"] == 64, stage
        # Several nodes: an `mpi` job (the jobstep leaves the launch to the command), one task per
        # node, and no --ntasks-per-gpu.
        assert (res["mpi"], res["tasks"], res["tasks_per_gpu"]) == ("srun", res["nodes"], 0), stage
    assert jobs["sft1"]["resources"]["runtime"] == 2880


def test_ds_overlays_size_their_stages(plan_14b, tmp_path):
    jobs = stages(plan_14b)
    assert set(jobs) == {"sft2", "grpo"}
    assert jobs["grpo"]["resources"]["nodes"] == 4 and jobs["sft2"]["resources"]["nodes"] == 4
    assert jobs["grpo"]["resources"]["gres"] == "gpu:8" and jobs["grpo"]["resources"]["tasks"] == 4
    # Fewer nodes, same global batch as the 32B recipe's stage 2 (1 x 1 x 8 nodes x 8 GPUs).
    for recipe in ("light-r1-32b.yaml", "light-r1-14b-ds.yaml", "light-r1-7b-ds.yaml"):
        config = recipe_config(recipe)
        block = config["train"]["sft2"]
        assert block["batch_size"] * block["grad_accum"] * block["nodes"] * config["train"]["gpus_per_node"] == 64, recipe


@pytest.mark.parametrize("recipe", ["light-r1-32b.yaml", "light-r1-14b-ds.yaml"])
def test_sampling_shards_ask_for_their_models_gpus(recipe, plan_32b, plan_14b):
    config = recipe_config(recipe)
    jobs = [job for job in (plan_32b if recipe == "light-r1-32b.yaml" else plan_14b) if job["rule"] == "sample"]
    models = {entry["name"]: entry for entry in config["models"]}
    default = config["generation"]["vllm"]["tensor_parallel_size"]
    seen = set()
    for job in jobs:
        model = job["wildcards"]["model"]
        gpus = models.get(model, {}).get("options", {}).get("tensor_parallel_size", default)
        res = job["resources"]
        assert res["gres"] == f"gpu:{gpus}", job["wildcards"]
        assert res["cpus_per_task"] == config["generation"]["cpus_per_gpu"] * gpus
        assert (res["runtime"], res["mem_mb"]) == (config["generation"]["runtime"], config["generation"]["mem_mb"])
        assert "nodes" not in res and "mpi" not in res  # one node: the jobstep's srun -n1
        seen.add(job["wildcards"]["promptset"].split("_")[0])
    assert seen >= {"grade", "eval"} | ({"dpo"} if recipe == "light-r1-32b.yaml" else {"grpo"})
    if recipe == "light-r1-32b.yaml":  # the 1.5B grader on one GPU, the 32B models on two
        by_model = {job["wildcards"]["model"]: job["resources"]["gres"] for job in jobs}
        assert by_model["deepscaler_1_5b"] == "gpu:1"
        assert {by_model[m] for m in ("r1_distill_qwen_32b", "qwen25_32b_instruct", "sft2", "merged")} == {"gpu:2"}


def test_tiny_world_asks_for_no_gpu(tmp_path):
    jobs = plan(tmp_path)  # config.yaml: hf on the CPU, the python launcher
    assert {"sample", "train_sft", "train_dpo", "merge", "train_grpo"} <= {job["rule"] for job in jobs}
    for job in jobs:
        res = job["resources"]
        assert not {"gres", "gpu", "gpus", "mpi", "tasks"} & set(res), job
        assert res.get("nodes", 1) == 1
        # The profile's defaults fill in what the tiny world's config leaves null.
        assert (res["runtime"], res["mem_mb"]) == (240, 16000) and "cpus_per_task" not in res
    for stage in ("sft1", "sft2", "dpo", "dpo_v2", "grpo"):
        assert stages(jobs)[stage]["resources"]["nodes"] == 1
    assert "cpus_per_task" not in yaml.safe_load((PROFILE / "config.yaml").read_text())["default-resources"]


class Resources(dict):
    """A job's resources as the plugin reads them: .get() and attributes."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def sbatch(job) -> str:
    """The sbatch call the plugin builds for a dry-run job (partition and account left out)."""
    fake = SimpleNamespace(resources=Resources(job["resources"]), threads=THREADS)
    params = {"run_uuid": "RUN", "slurm_logfile": "LOG", "comment_str": "C", "account": "", "partition": "", "workdir": "."}
    return get_submit_command(fake, params) + set_gres_string(fake)


def jobstep_srun(job) -> str | None:
    """How the jobstep runs the job inside its allocation: `srun -n1 ...`, or None (an `mpi` job:
    the command itself, in the batch step)."""
    fake = SimpleNamespace(resources=Resources(job["resources"]), threads=THREADS)
    if "mpi" in fake.resources:
        return None
    return " ".join(["srun -n1", get_cpu_setting(fake, None), get_gpu_setting(fake), get_node_setting(fake)])


def flags(call: str) -> list[str]:
    return shlex.split(call)


def test_plugin_turns_them_into_sbatch_flags(plan_32b):
    jobs = stages(plan_32b)
    call = sbatch(jobs["sft1"])
    sft1 = flags(call)
    # 12 nodes, one task on each (12 tasks on 12 nodes), 64 CPUs and 8 GPUs per node.
    for flag in ("--nodes=12", "--ntasks=12", "--cpus-per-task=64", "--gres=gpu:8"):
        assert flag in sft1, (flag, call)
    assert " -t 2880 " in call and " --mem 512000 " in call, call
    assert not [f for f in sft1 if f.startswith(("--ntasks-per-gpu", "--gpus"))], sft1
    assert jobstep_srun(jobs["sft1"]) is None
    # ...and the command starts torchrun once per node, with the rendezvous read in the job.
    shell = jobs["sft1"]["shell"]
    assert re.search(r"srun --ntasks-per-node=1 --gres=gpu:8 --kill-on-bad-exit=1 --nodes=12 --ntasks=12 --cpus-per-task=64 bash -c ", shell)
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1' in shell
    assert '--nnodes "$SLURM_NNODES" --node-rank "$SLURM_NODEID" --nproc-per-node 8' in shell

    merge = flags(sbatch(jobs["merged"]))
    assert "--nodes=1" in merge and "--ntasks=1" in merge and "--cpus-per-task=2" in merge
    assert not [f for f in merge if "gpu" in f]
    assert jobstep_srun(jobs["merged"]) == "srun -n1 --cpus-per-task=2  --nodes=1"

    shard = next(job for job in plan_32b if job["rule"] == "sample" and job["wildcards"]["model"] == "r1_distill_qwen_32b")
    call = flags(sbatch(shard))
    assert "--gres=gpu:2" in call and "--cpus-per-task=16" in call
    assert not [f for f in call if f.startswith("--ntasks")]  # one task: sbatch's default
    # One task on one node; the step gets the job's GPUs (srun's default for GRES).
    assert jobstep_srun(shard) == "srun -n1 --cpus-per-task=16  --nodes=1"


MULTI_NODE = """\
train:
  launcher: torchrun
  gpus_per_node: 2
  cpus_per_node: 1
  sft1: {nodes: 2, runtime: 5, mem_mb: 100}
"""

# A batch script that runs a command as the jobstep plugin runs an `mpi` job's: in the batch step,
# every SLURM_* variable dropped but the job's identity (and SLURM_CONF, for the local cluster).
JOBSTEP = """\
#!/bin/bash
for v in $(env | sed -n 's/^\\(S\\(LURM\\|RUN\\|BATCH\\)_[A-Za-z0-9_]*\\)=.*/\\1/p'); do
  case $v in SLURM_JOB_ID|SLURM_JOBID|SLURM_CLUSTER_NAME|SLURM_SUBMIT_DIR|SLURM_SUBMIT_HOST|SLURM_CONF) ;; *) unset "$v" ;; esac
done
"""

# Stands in for torchrun: records its arguments and the rendezvous it was given.
FAKE_TORCHRUN = """\
#!/usr/bin/env python3
import json, os, sys
with open(os.environ["LIGHTR1_RECORD"], "a") as out:
    env = {k: v for k, v in os.environ.items() if k.startswith(("SLURM_N", "MASTER_")) or k == "PYTHONPATH"}
    out.write(json.dumps({"argv": sys.argv[1:], "env": env}) + "\\n")
"""


def test_two_node_training_job_on_slurm(slurm_env, tmp_path):
    """The sbatch call the plugin makes for a two-node SFT job (the local cluster has one node and
    no GPUs, so SLURM refuses it at submission: nothing runs), then its command, cut to one node
    and no GPUs, run as the jobstep would run it: one torchrun per node, rendezvous from SLURM."""
    (tmp_path / "multi.yaml").write_text(MULTI_NODE)
    (tmp_path / "results/sft").mkdir(parents=True)
    (tmp_path / "results/sft/stage1.parquet").touch()  # train_sft's inputs, never read
    (tmp_path / "resources/models/tiny_base").mkdir(parents=True)
    command = [
        str(BIN / "snakemake"), "results/checkpoints/sft1", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path),
        "--profile", str(ROOT / "profiles" / "slurm-test"), "--allowed-rules", "train_sft",
        "--configfile", str(ROOT / "tests" / "micro.yaml"), str(tmp_path / "multi.yaml"),
    ]  # fmt: skip
    run = subprocess.run(command, env=slurm_env, capture_output=True, text=True, timeout=300)
    log = run.stdout + run.stderr
    assert run.returncode != 0, log  # sbatch refused it
    call = re.search(r"sbatch call:\s*\n\s*(sbatch .*)", log).group(1)
    head = flags(call.split(" --wrap=", 1)[0])
    for flag in ("--nodes=2", "--ntasks=2", "--cpus-per-task=1", "--gres=gpu:2"):
        assert flag in head, (flag, call)
    assert " -t 5 " in call and " --mem 100 " in call, call
    assert not [f for f in head if f.startswith(("--ntasks-per-gpu", "--gpus"))], call

    shell = re.search(r"^Shell command: (.*)$", log, re.M).group(1)
    assert "srun --ntasks-per-node=1 --gres=gpu:2 --kill-on-bad-exit=1 --nodes=2 --ntasks=2" in shell
    one_node = shell.replace("--gres=gpu:2 ", "").replace("--nodes=2 --ntasks=2", "--nodes=1 --ntasks=1")
    prefix = f"export PYTHONPATH={ROOT}\n"  # what the rules' shell prefix exports; the printed command leaves it out
    (tmp_path / "job.sh").write_text(JOBSTEP + prefix + one_node + "\n")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/torchrun").write_text(FAKE_TORCHRUN)
    (tmp_path / "bin/torchrun").chmod(0o755)
    (tmp_path / "logs/train").mkdir(parents=True, exist_ok=True)  # snakemake made it
    record = tmp_path / "record.jsonl"
    env = {**slurm_env, "PATH": f"{tmp_path / 'bin'}:{slurm_env['PATH']}", "LIGHTR1_RECORD": str(record)}
    batch = ["sbatch", "--parsable", "--wait", "-N1", "-n1", "-c1", "--mem", "200", "-o", str(tmp_path / "job.out"), "job.sh"]
    done = subprocess.run(batch, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{done.stderr}\n{(tmp_path / 'job.out').read_text()}\n{(tmp_path / 'logs/train/sft1.log').read_text()}"

    (started,) = [json.loads(line) for line in record.read_text().splitlines()]  # one per node
    host = subprocess.run(["hostname", "-s"], capture_output=True, text=True).stdout.strip()
    argv = started["argv"]
    assert argv[:12] == ["--nnodes", "1", "--node-rank", "0", "--nproc-per-node", "2", "--master-addr", host, "--master-port", "29500", "-m", "lightr1"]
    # The lightr1 arguments arrive as the rule quoted them (the settings JSON included).
    lightr1 = shlex.split(shell.split("' lightr1 ", 1)[1].split(" > logs/", 1)[0])
    assert argv[12:] == lightr1 and json.loads(argv[argv.index("--settings") + 1])["epochs"] == 2
    assert started["env"]["SLURM_NNODES"] == "1" and started["env"]["MASTER_ADDR"] == host
    assert started["env"]["PYTHONPATH"].split(":")[0] == str(ROOT)


def test_the_torchrun_launcher_trains_on_every_process(micro_world, tmp_path):
    """SFT stage 1 of the micro world through the single-node torchrun launcher, for real on this
    CPU: two processes (gloo data parallelism) split each epoch's batches, the first writes the
    log and publishes, and only the stage's own job runs (upstream is up to date in the copy)."""
    import shutil

    from transformers import AutoConfig

    world = tmp_path / "world"
    shutil.copytree(micro_world, world, symlinks=True)  # copy2 keeps mtimes: upstream stays up to date
    shutil.rmtree(world / "results/checkpoints/sft1")
    shutil.rmtree(world / "work/train/sft1")
    (tmp_path / "torchrun.yaml").write_text("train:\n  launcher: torchrun\n  gpus_per_node: 2\n")
    run = snakemake(world, "results/checkpoints/sft1", "--configfile", str(ROOT / "tests" / "micro.yaml"), str(tmp_path / "torchrun.yaml"))
    assert re.findall(r"^(?:local)?rule (\w+):", run.stderr, re.M) == ["train_sft"], run.stderr[-4000:]

    checkpoint = world / "results/checkpoints/sft1"
    assert AutoConfig.from_pretrained(checkpoint).model_type == "qwen2"
    alone = json.loads((micro_world / "results/checkpoints/sft1/training_log.json").read_text())
    shared = json.loads((checkpoint / "training_log.json").read_text())
    assert (alone["processes"], shared["processes"]) == (1, 2)

    def steps_per_epoch(log):
        return max(entry["step"] for entry in log["log_history"]) // len(log["epochs"])

    assert steps_per_epoch(shared) == -(-steps_per_epoch(alone) // 2)  # each process takes half the batches
    log = (world / "logs/train/sft1.log").read_text()
    assert log.count("2 process(es)") == 1 and "[rank 1]" not in log
