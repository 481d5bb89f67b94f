# Helpers the rule files share (config validation, lookups by name, code inputs).
import functools
import json
import os
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError

from lightr1.config import ConfigError, enabled_stages, eval_benchmarks, eval_comparisons, eval_models, validate
from lightr1.seeds import derived_seed

try:
    validate(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

PACKAGE = Path(workflow.basedir) / "lightr1"
SOURCES = {entry["name"]: entry for entry in config["sources"]}
BENCHMARKS = {entry["name"]: entry for entry in config["benchmarks"]}

# Rules run the package from this checkout (`python -m lightr1`), so a cluster conda env (envs/)
# needs only the dependencies, not an install of lightr1 itself. A shell prefix rather than a
# variable in each command: `snakemake --lint` wants a command to name only its rule's values.
shell.prefix(f"set -euo pipefail; export PYTHONPATH={shlex.quote(workflow.basedir)}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; ")


def code(*modules):
    """The package modules a job runs, as its inputs - Snakemake's code trigger sees only the
    rule's own text, so editing a module re-runs exactly the rules that name it. A folder
    (`verify`) stands for all its modules."""
    return [path for module in modules for path in code_files(module)]


def checkout_file(path):
    """A file of the checkout (or a path relative to it) as a job names it: relative to the
    working directory when it lies inside it, as in `make demo`, since Snakemake's input and
    params triggers compare the names and absolute ones would re-run every job once the folder
    moves with its results; absolute otherwise, which stays valid when the working directory
    moves."""
    path = Path(workflow.basedir, path)
    return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd().resolve()) else str(path)


@functools.cache  # sampling and scoring jobs number thousands at full scale
def code_files(module):
    path = PACKAGE.joinpath(*module.split("."))
    files = sorted(path.glob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return tuple(checkout_file(file) for file in files)


def raw_file(entry, folder):
    """A source's or benchmark's raw file: its local path, or where its download lands."""
    return entry.get("path") or f"resources/{folder}/{entry['name']}.parquet"


def cli_args(**flags):
    """Command-line flags, shell-quoted; None values are left out."""
    return " ".join(f"--{flag.replace('_', '-')} {shlex.quote(str(value))}" for flag, value in flags.items() if value is not None)


def stage_args(entry):
    return cli_args(
        name=entry["name"],
        adapter=entry["adapter"],
        options=json.dumps(entry["options"]),
        max_problem_chars=config["data"]["max_problem_chars"],
        max_response_chars=config["data"]["max_response_chars"],
    )


def download_args(entry):
    return cli_args(
        hub=entry["hub"],
        hub_config=entry["hub_config"],
        split=entry["split"],
        revision=entry["revision"],
    )


def decontam_modes():
    """The configured mode first; with compare_modes, the other one too (it removes nothing)."""
    mode = config["decontam"]["mode"]
    others = [m for m in ("default", "light-r1") if m != mode]
    return [mode] + (others if config["decontam"]["compare_modes"] else [])


# --- models and sampling ---------------------------------------------------------------------

MODELS = {entry["name"]: entry for entry in config["models"]}


def checkpoint_dir(stage):
    return f"results/checkpoints/{stage}"


# Enabled training stages; each is also a model (its checkpoint) that later rules can name.
TRAIN = enabled_stages(config)


def stage_force_think(stage):
    """Whether a stage's prompts end in the forced <think>: SFT and DPO teach the format
    (train.force_think); GRPO samples on-policy, so it keeps the format of the model it starts
    from."""
    if stage == "grpo":
        return MODELS[TRAIN["grpo"]["init"]]["force_think"]
    return config["train"]["force_think"]


for _stage in TRAIN:  # in DAG order: a stage's init is in MODELS before the stage
    MODELS[_stage] = {
        "name": _stage,
        "path": checkpoint_dir(_stage),
        "backend": None,
        "force_think": stage_force_think(_stage),
        "options": {},
    }

# Prompt sets a model is sampled on, with their sampling blocks and shard counts.
SAMPLING = {
    "grade_stage1": config["grading"]["stage1"],
    "grade_stage2": config["grading"]["stage2"],
}
SHARDS = {"grade_stage1": config["grading"]["shards"], "grade_stage2": config["grading"]["shards"]}
if config["teacher"]["sampling"]:
    SAMPLING["teacher"] = config["teacher"]["sampling"]
    SHARDS["teacher"] = config["teacher"]["shards"]
if "dpo" in TRAIN or "dpo_v2" in TRAIN:
    SAMPLING["dpo"] = config["dpo"]["sampling"]
    SHARDS["dpo"] = config["dpo"]["shards"]
if "grpo" in TRAIN:
    SAMPLING["grpo"] = config["grpo"]["sampling"]
    SHARDS["grpo"] = config["grpo"]["shards"]

# Evaluation: every evaluated model samples each benchmark's prompt set (eval_{benchmark}) with
# the same settings; these blocks name no model, the sample file's {model} does.
EVAL_MODELS = eval_models(config)
EVAL_BENCHMARKS = eval_benchmarks(config)
for _benchmark in EVAL_BENCHMARKS:
    SAMPLING[f"eval_{_benchmark}"] = config["eval"]["sampling"]
    SHARDS[f"eval_{_benchmark}"] = config["eval"]["shards"]


def model_path(name):
    """A model's local folder (a path, or where its hub download lands), or a served name."""
    entry = MODELS[name]
    return entry.get("path") or entry.get("served") or f"resources/models/{name}"


def model_input(name):
    return [] if "served" in MODELS[name] else [model_path(name)]


def backend_of(name):
    return MODELS[name]["backend"] or config["generation"]["backend"]


def backend_options(name):
    """generation.{backend} overridden by the model's own options; rope scaling for local
    engines, a request cache under work/ for servers."""
    backend = backend_of(name)
    options = {**config["generation"][backend], **MODELS[name]["options"]}
    if backend in ("hf", "vllm") and config["generation"]["rope_scaling"]:
        options.setdefault("rope_scaling", config["generation"]["rope_scaling"])
    if backend == "openai":
        options.setdefault("cache_dir", f"work/openai-cache/{name}")
    return options


def sample_files(promptset, folder="samples", model=None):
    """The shard files of a prompt set sampled by a model (by default its configured one)."""
    model = model or SAMPLING[promptset]["model"]
    shards = SHARDS[promptset]
    return [f"results/{folder}/{model}/{promptset}/shard-{i}-of-{shards}.parquet" for i in range(shards)]


def sample_args(wildcards):
    block = SAMPLING[wildcards.promptset]
    name = wildcards.model
    settings = {key: block[key] for key in ("n", "temperature", "top_p", "max_tokens")}
    flags = cli_args(
        model=model_path(name),
        model_name=name,
        backend=backend_of(name),
        backend_options=json.dumps(backend_options(name)),
        sampling=json.dumps(settings),
        seed=config["seed"],
        prompt_form=block["prompt_form"] or config["prompts"]["math"],
        # Only benchmarks hold multiple-choice rows; grading sets keep their params (and jobs).
        choice_form=config["prompts"]["choice"] if wildcards.promptset.startswith("eval_") else None,
        shard=wildcards.shard,
        shards=wildcards.shards,
        batch_prompts=config["generation"]["batch_prompts"],
        work_dir=f"work/sample/{name}/{wildcards.promptset}/shard-{wildcards.shard}-of-{wildcards.shards}",
    )
    return flags + (" --force-think" if MODELS[name]["force_think"] else "")


def verify_args(model=None):
    """Verifier flags; for samples, `--forced-think` where the sampled model's prompt forced it."""
    flags = cli_args(workers=config["verify"]["workers"], timeout=config["verify"]["timeout"])
    if config["verify"]["whole_response"]:
        flags += " --whole-response"
    if model and MODELS[model]["force_think"]:
        flags += " --forced-think"
    return flags


# --- training --------------------------------------------------------------------------------

# torchrun takes the node count, node rank and rendezvous from SLURM's environment at run time;
# the defaults make a single-node run work anywhere. Multi-node jobs start it once per node with
# TRAIN_SRUN and TRAIN_NODE_LAUNCH instead (see train_command).
TRAIN_LAUNCHERS = {
    "python": "python -m lightr1",
    "torchrun": (
        "torchrun --nnodes ${SLURM_NNODES:-1} --node-rank ${SLURM_NODEID:-0}"
        f" --nproc-per-node {config['train']['gpus_per_node']}"
        " --master-addr ${MASTER_ADDR:-127.0.0.1} --master-port ${MASTER_PORT:-29500} -m lightr1"
    ),
}
TRAIN_LAUNCH = TRAIN_LAUNCHERS[config["train"]["launcher"]]


# What each stage's `data` key names.
TRAIN_DATA = {
    "stage1": "results/sft/stage1.parquet",
    "stage2": "results/sft/stage2.parquet",
    "pairs": "results/dpo/pairs.parquet",
    "pairs_v2": "results/dpo/pairs_v2.parquet",
    "grpo": "results/grpo/prompts.parquet",
}


def deepspeed_config(stage):
    """The stage's DeepSpeed file, relative paths taken from the repository (shipped configs)."""
    path = TRAIN[stage]["deepspeed"]
    return [] if path is None else [checkout_file(path)]


def train_data(stage):
    return TRAIN_DATA[TRAIN[stage].get("data", stage)]


# A stage's keys that say where its job runs, not how it trains: not passed to the trainer.
TRAIN_RESOURCE_KEYS = ("nodes", "runtime", "mem_mb")


def train_args(stage):
    block = TRAIN[stage]
    skip = ("enabled", "init", "data", *TRAIN_RESOURCE_KEYS)
    settings = {key: value for key, value in block.items() if key not in skip}
    settings["deepspeed"] = (deepspeed_config(stage) or [None])[0]
    flags = cli_args(
        init=model_path(block["init"]),
        settings=json.dumps(settings),
        prompt_form=config["prompts"]["math"],
        seed=derived_seed(config["seed"], "train", stage),
        work_dir=f"work/train/{stage}",
    )
    return flags + (" --force-think" if stage_force_think(stage) else " --no-force-think")


def merge_args():
    block = TRAIN["merged"]
    flags = cli_args(method=block["method"], options=json.dumps(block["options"]))
    if block["weights"]:
        flags += f" --weights {' '.join(str(w) for w in block['weights'])}"
    if block["base_model"]:
        flags += f" {cli_args(base_model=model_path(block['base_model']))}"
    return flags


# --- cluster resources -----------------------------------------------------------------------
#
# What a job asks the cluster for follows from config (a model's tensor_parallel_size, a stage's
# node count, runtime and memory); profiles/ only say where jobs go and the defaults of all other
# rules. A resource left null in config is not declared, so the profile's default-resources apply.
#
# How snakemake-executor-plugin-slurm 2.8.0 turns resources into sbatch flags
# (submit_string.py get_submit_command, utils.py set_gres_string) and how the jobstep plugin
# (snakemake_executor_plugin_slurm_jobstep/__init__.py) runs the command in the allocation:
# - runtime -> `-t`, mem_mb -> `--mem` (per node; mem_mb_per_cpu would win), nodes -> `--nodes`,
#   gres -> `--gres` (per node), gpu -> `--gpus` (per job), cpus_per_task -> `--cpus-per-task`
#   (else the rule's threads), slurm_extra appended as it is.
# - A job with a GPU (gpu, or "gpu" in gres) gets no `--ntasks` but `--ntasks-per-gpu=<tasks>`
#   whenever `tasks` is set (unless tasks_per_gpu says otherwise); other jobs get
#   `--ntasks=<tasks or 1>`. `tasks_per_node` is only read for `mpi` jobs, and must be > 1 there.
# - Inside the job, the jobstep runs the command as `srun -n1 --nodes=<nodes> ...`: one task on one
#   node (srun cuts the nodes to the task count), after dropping every SLURM_* variable but the job
#   id. Only a job with an `mpi` resource is run without srun, in the batch step on the first
#   node, leaving the launch to the command; sbatch then needs `tasks` (> 1) or `tasks_per_node`
#   (> 1) and gets `--ntasks=<tasks>`.
# Hence: GPUs as gres ("gpu:N" per node, the same count on every node), never `gpu`; one-node jobs
# as the jobstep runs them (one task; it leaves the GPUs to the step); multi-node training as an
# `mpi` job with tasks = nodes and tasks_per_gpu = 0 (no --ntasks-per-gpu), which sbatch receives
# as `--nodes=N --ntasks=N --cpus-per-task=C --gres=gpu:G`: N tasks on N nodes is one task per
# node. Its command then starts one task per node itself (train_command, TRAIN_SRUN).


def sampling_gpus(model):
    """GPUs one sampling job of `model` uses: vLLM's tensor_parallel_size, one for the hf backend
    on cuda (on `auto` it asks for none and runs where it lands), none for a server's client."""
    backend = backend_of(model)
    options = backend_options(model)
    if backend == "vllm":
        return int(options.get("tensor_parallel_size", 1))
    if backend == "hf":
        return 1 if str(options.get("device", "auto")).startswith("cuda") else 0
    return 0


def present(**resources):
    """The resources that are set (a null leaves the key to the profile's default-resources)."""
    return {key: value for key, value in resources.items() if value is not None}


def sample_resources(model):
    """A sampling job's resources (the `sample` rule: grading, teacher, DPO, GRPO-pool and evaluation
    shards): its model's GPUs, generation.cpus_per_gpu CPUs per GPU, generation.runtime/mem_mb."""
    gpus = sampling_gpus(model)
    block = config["generation"]
    return present(
        gres=f"gpu:{gpus}" if gpus else None,
        cpus_per_task=block["cpus_per_gpu"] * gpus if block["cpus_per_gpu"] and gpus else None,
        runtime=block["runtime"],
        mem_mb=block["mem_mb"],
    )


def train_resources(stage):
    """A training stage's job: train.{stage}.nodes nodes with train.gpus_per_node GPUs (torchrun)
    and train.cpus_per_node CPUs each, its runtime and its memory per node; nodes > 1 as an `mpi`
    job with one task per node (see above). The merge runs on the CPU of one node."""
    block = TRAIN[stage]
    nodes = block.get("nodes", 1)
    merge = stage == "merged"
    gpus = config["train"]["gpus_per_node"] if config["train"]["launcher"] == "torchrun" and not merge else 0
    resources = present(
        nodes=nodes,
        gres=f"gpu:{gpus}" if gpus else None,
        cpus_per_task=None if merge else config["train"]["cpus_per_node"],
        runtime=block["runtime"],
        mem_mb=block["mem_mb"],
    )
    if nodes > 1:
        resources.update(mpi="srun", tasks=nodes, tasks_per_gpu=0)
    return resources


def stage_resources(stage):
    """`resources:` of a one-stage rule (merge, train_grpo); nothing when the stage is off."""
    return train_resources(stage) if stage in TRAIN else {}


def per_job_resources(resources_of, wildcard, names):
    """The resources of rules whose jobs differ by `wildcard` (sample: the model; train_sft and
    train_dpo: the stage), one callable per resource that any of `names` sets. A job that leaves
    a declared resource null asks for none (the profile's default does not come back)."""
    keys = dict.fromkeys(key for name in names for key in resources_of(name))

    def entry(key):
        return lambda wildcards: resources_of(getattr(wildcards, wildcard)).get(key)

    return {key: entry(key) for key in keys}


SFT_STAGES = [stage for stage in TRAIN if stage.startswith("sft")]
DPO_STAGES = [stage for stage in TRAIN if stage.startswith("dpo")]

# A multi-node job (no srun around it, SLURM_* dropped but the job id) starts one task per node,
# with the job's CPUs and GPUs of that node; a failing node ends the step.
TRAIN_SRUN = f"srun --ntasks-per-node=1 --gres=gpu:{config['train']['gpus_per_node']} --kill-on-bad-exit=1"
# Each task runs torchrun with the step's node count and its node's rank (srun sets them for the
# task) and the job's first node as rendezvous host, read there from SLURM's node list; the
# lightr1 arguments follow as "$@" (bash -c keeps them as they were quoted).
TRAIN_NODE_LAUNCH = (
    "bash -c '"
    'export MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"'
    ' MASTER_PORT="${MASTER_PORT:-29500}";'
    ' exec torchrun --nnodes "$SLURM_NNODES" --node-rank "$SLURM_NODEID"'
    f" --nproc-per-node {config['train']['gpus_per_node']}"
    ' --master-addr "$MASTER_ADDR" --master-port "$MASTER_PORT" -m lightr1 "$@"'
    "' lightr1"
)
# The launchers as each training rule's params: a command names only its own rule's values.
# They hold no path of the checkout (the shell prefix exports PYTHONPATH, which torchrun and srun
# pass on), so moving the checkout changes no params and re-trains nothing.
TRAIN_PARAMS = {"launch": TRAIN_LAUNCH, "srun": TRAIN_SRUN, "node_launch": TRAIN_NODE_LAUNCH}


def train_command(subcommand, stages):
    """The shell command of the training jobs of `stages` - `lightr1 SUBCOMMAND` through
    TRAIN_LAUNCH; where a stage spans several nodes, its jobs start one task per node instead
    (TRAIN_SRUN, TRAIN_NODE_LAUNCH). Configs without a multi-node stage (the tiny world) keep
    the plain command, whose text is what Snakemake's code trigger compares."""
    stages = [stage for stage in stages if stage in TRAIN]
    command = f"{subcommand} --data {{input.data}} {{params.args}} --out {{output}} > {{log}} 2>&1"
    plain = f"{{params.launch}} {command}"
    if all(TRAIN[stage]["nodes"] == 1 for stage in stages):
        return plain
    cpus = "{resources.cpus_per_task}" if config["train"]["cpus_per_node"] else "{threads}"
    srun = f"{{params.srun}} --nodes={{resources.nodes}} --ntasks={{resources.nodes}} --cpus-per-task={cpus}"
    return f"if [ {{resources.nodes}} -gt 1 ]; then {srun} {{params.node_launch}} {command}; else {plain}; fi"


# --- report ---------------------------------------------------------------------------------


def report_inputs(wildcards):
    inputs = {
        "metrics": "results/eval/metrics.parquet",
        "comparisons": "results/eval/comparisons.parquet",
        "eval": expand("results/eval/{model}/{benchmark}.parquet", model=EVAL_MODELS, benchmark=EVAL_BENCHMARKS),
        "benchmarks": expand("results/data/benchmarks/{benchmark}.parquet", benchmark=EVAL_BENCHMARKS),
        "funnel": "results/sft/funnel.parquet",
        "ledger": "results/data/ledger.parquet",
        "problems": ["results/data/problems.parquet", *expand("results/data/sources/{source}.parquet", source=SOURCES)],
        "matches": "results/decontam/matches.parquet",
        "code": code("report"),
    }
    if "dpo" in TRAIN:
        inputs["pairs"] = "results/dpo/pairs.parquet"
    if "grpo" in TRAIN:
        inputs["grpo"] = checkpoint_dir("grpo")
    return inputs


def report_args(wildcards, input):
    flags = cli_args(
        pairs=input.get("pairs"),
        grpo_metrics=f"{input.grpo}/metrics.parquet" if "grpo" in input.keys() else None,
        samples_per_model=config["eval"]["report"]["samples_per_model"],
        response_chars=config["eval"]["report"]["response_chars"],
        repo_dir=checkout_file("."),
    )
    return flags
