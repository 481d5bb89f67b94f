"""What every training stage shares: trainer arguments from a config block, weights saved per
epoch beside one rolling resumable state, resume after a kill, and the picked epoch moved
into the stage's output atomically with its training log."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lightr1.errors import Lightr1Error, loading_model
from lightr1.faults import kill_point
from lightr1.io import atomic_folder
from lightr1.seeds import derived_seed

log = logging.getLogger(__name__)

EPOCHS = "epochs"  # work/<stage>/epochs/epoch-<k>/: the weights (no optimizer) after each epoch
STATE = "state"  # work/<stage>/state/checkpoint-<step>/: one rolling full state to resume from
RUN = "run.json"  # work/<stage>/run.json: what the saved state and epochs were trained from
# Settings that change neither what is trained nor how: a state saved under other values resumes.
_NOT_IN_RUN = frozenset({"pick_epoch", "save_steps", "logging_steps", "runtime", "mem_mb"})


def trainer_arguments(settings: Mapping[str, Any], work_dir: str | os.PathLike, seed: int) -> dict[str, Any]:
    """Keyword arguments shared by TRL's SFT, DPO and GRPO configs, from a stage's config
    block. bf16 is set explicitly: TRL's configs default to it, which a CPU cannot run."""
    import torch

    precision = settings.get("precision", "fp32")
    seed %= 2**32  # transformers seeds numpy, which takes 32-bit seeds only
    return {
        "output_dir": str(Path(work_dir) / STATE),
        "seed": seed,
        "data_seed": seed,
        "learning_rate": settings["lr"],
        "lr_scheduler_type": settings.get("scheduler", "cosine"),
        # transformers 5 folds warmup_ratio into warmup_steps: a value below 1 is a fraction.
        "warmup_steps": settings.get("warmup_ratio", 0.0),
        "adam_beta1": settings.get("adam_beta1", 0.9),
        "adam_beta2": settings.get("adam_beta2", 0.999),
        "weight_decay": settings.get("weight_decay", 0.0),
        "max_grad_norm": settings.get("max_grad_norm", 1.0),
        "num_train_epochs": settings.get("epochs", 1),
        "per_device_train_batch_size": settings["batch_size"],
        "per_device_eval_batch_size": settings["batch_size"],
        "gradient_accumulation_steps": settings.get("grad_accum", 1),
        "activation_checkpointing": settings.get("gradient_checkpointing", False),
        "bf16": precision == "bf16",
        "fp16": False,
        # Without it, processes started by torchrun on a machine without GPUs each train alone
        # and all act as the main one (accelerate sets up gloo data parallelism only when told).
        "use_cpu": not torch.cuda.is_available(),
        # Every parameter takes part in each step (no search for unused ones, which costs a pass).
        "ddp_find_unused_parameters": False,
        "deepspeed": settings.get("deepspeed"),
        "save_strategy": "steps",
        "save_steps": settings.get("save_steps", 100),
        "save_total_limit": 1,
        "logging_steps": settings.get("logging_steps", 1),
        "logging_first_step": True,
        "report_to": "none",
        "disable_tqdm": False,
        "dataloader_num_workers": 0,
    }


def held_out(examples: list[dict[str, Any]], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """A seeded split by problem id (stable when rows are added or reordered): (train, held out)."""
    if fraction <= 0 or len(examples) < 2:
        return examples, []
    ranked = sorted(examples, key=lambda e: derived_seed(seed, "held-out", e["problem_id"]))
    count = min(len(examples) - 1, max(1, round(fraction * len(examples))))
    held = {e["problem_id"] for e in ranked[:count]}
    return [e for e in examples if e["problem_id"] not in held], [e for e in examples if e["problem_id"] in held]


def datasets(examples: list[dict[str, Any]], fraction: float, seed: int):
    """Training and held-out datasets (None when nothing is held out) from examples keyed by
    `problem_id`, split by `held_out`; the id is dropped, trainers need only the text."""
    from datasets import Dataset

    train_rows, eval_rows = held_out(examples, fraction, seed)
    train_set = Dataset.from_list(train_rows).remove_columns(["problem_id"])
    return train_set, Dataset.from_list(eval_rows).remove_columns(["problem_id"]) if eval_rows else None


def offline_trainer(
    trainer_class, examples: Callable, config: Callable, table, init, work_dir, settings: Mapping[str, Any], *, form: str, force_think: bool, seed: int,
    what: str,
):
    """A TRL trainer on a fixed table (SFT, DPO): examples rendered with the initial model's
    tokenizer, a seeded held-out split, and the stage's config (`config(settings, work_dir,
    seed, has_eval)`). An empty table is an error naming `what`."""
    if table.is_empty():
        raise Lightr1Error(f"the {what} has no rows: nothing to train on")
    tokenizer = load_tokenizer(init)
    train_set, eval_set = datasets(examples(table, tokenizer, form, force_think), settings.get("eval_fraction", 0.0), seed)
    args = config(settings, work_dir, seed, eval_set is not None)
    return trainer_class(
        model=load_model(init, args, settings.get("attn_implementation")),
        args=args,
        train_dataset=train_set,
        eval_dataset=eval_set,
        processing_class=tokenizer,
    )


def load_model(path: str | os.PathLike, args, attn_implementation: str | None = None):
    """The model to train, in the precision of the trainer's arguments `args`. They must exist
    first: under ZeRO-3 they make transformers partition the weights while loading them
    (deepspeed.zero.Init), rather than every process holding the whole model."""
    import torch
    from transformers import AutoModelForCausalLM

    if args.deepspeed and not torch.cuda.is_available() and torch.distributed.is_initialized():
        # On a CPU accelerate starts the process group itself (use_cpu) and leaves DeepSpeed's
        # communication unset, which zero.Init needs: DeepSpeed takes the running group over.
        import deepspeed

        deepspeed.init_distributed()
    kwargs = {"dtype": torch.bfloat16 if args.bf16 else torch.float32}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    with loading_model(path):
        return AutoModelForCausalLM.from_pretrained(path, **kwargs)


def load_tokenizer(path: str | os.PathLike):
    from transformers import AutoTokenizer

    with loading_model(path):
        tokenizer = AutoTokenizer.from_pretrained(path)
    if tokenizer.chat_template is None:
        raise Lightr1Error(f"{path}: the tokenizer has no chat template; training renders prompts with it")
    return tokenizer


def _complete(checkpoint: Path) -> bool:
    """Whether a save finished: the Trainer writes trainer_state.json last."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def resume_point(work_dir: str | os.PathLike) -> str | None:
    """The newest complete full state in the work folder, or None for a fresh start. A kill
    during a save leaves a newer folder without its trainer state: it is removed (the Trainer
    would otherwise resume from it and fail, or rotate the good one away) and the one before
    it is used, as the Trainer deletes the older state only after the new one is written."""
    state = Path(work_dir) / STATE
    steps = {int(p.name.split("-")[1]): p for p in state.glob("checkpoint-*") if p.name.split("-")[1].isdigit()} if state.is_dir() else {}
    for step in sorted(steps, reverse=True):
        if _complete(steps[step]):
            return str(steps[step])
        log.warning("removing %s: its save did not finish (no trainer state)", steps[step])
        shutil.rmtree(steps[step])
    return None


def _epoch_weights(trainer, work_dir: Path):
    """A callback that saves the weights after every epoch into work/<stage>/epochs/epoch-<k>
    (atomically: a kill mid-save leaves no half folder). Optimizer state is not kept per
    epoch: for a 32B model it is hundreds of GB, so only the rolling resume state has it.
    Saving goes through the trainer, which gathers ZeRO-3 shards.

    A state saved at an epoch's last step comes before that epoch's end: a job killed in
    between kept neither its weights nor its held-out loss, and one resumed there goes on with
    the next epoch. Resumed at such a step, the callback makes up for both (the weights are
    that epoch's own); this also gives a finished run re-run only to publish its last loss."""
    from transformers import TrainerCallback

    epochs_dir = work_dir / EPOCHS

    def save(epoch: int, state) -> None:
        target = epochs_dir / f"epoch-{epoch}"
        staging = epochs_dir / f".epoch-{epoch}.partial"
        trainer.save_model(str(staging))
        if state.is_world_process_zero:
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
            log.info("epoch %d: weights saved to %s", epoch, target)

    class EpochWeights(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            epoch = round(state.epoch or 0)
            if state.global_step == 0 or abs(state.epoch - epoch) > 1e-9:
                return  # a fresh start, or resumed within an epoch
            if not (epochs_dir / f"epoch-{epoch}").is_dir():
                log.info("resumed at the end of epoch %d, whose weights were not saved yet", epoch)
                save(epoch, state)
            evaluated = any("eval_loss" in entry and round(entry["epoch"]) == epoch for entry in state.log_history)
            if trainer.eval_dataset is not None and not evaluated:
                trainer.evaluate()

        def on_epoch_end(self, args, state, control, **kwargs):
            save(round(state.epoch), state)

    return EpochWeights()


def _kill_point():
    """A callback for kill tests (lightr1.faults): the main process dies right after the
    save at the named step is complete, old states rotated away and all."""
    from transformers import TrainerCallback

    class KillPoint(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                kill_point("train-save", state.global_step)

    return KillPoint()


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def run_identity(init, data, settings: Mapping[str, Any], **prompting: Any) -> dict[str, Any]:
    """What a saved state belongs to: the training data's content hash, the initial model's
    files by name, size and modification time (its weights are too large to hash; a retrained
    or re-downloaded model is rewritten), the settings that shape training, and how prompts
    are rendered."""
    init = Path(init)
    files = sorted(p for p in init.rglob("*") if p.is_file()) if init.is_dir() else []
    identity = {
        "data": _sha256(Path(data)),
        "init": [[str(p.relative_to(init)), p.stat().st_size, p.stat().st_mtime_ns] for p in files] or str(init),
        "settings": {k: v for k, v in settings.items() if k not in _NOT_IN_RUN},
        **prompting,
    }
    return json.loads(json.dumps(identity, sort_keys=True, default=str))  # as it reads back


def _prepare_work_dir(trainer, work_dir: Path, identity: Mapping[str, Any]) -> None:
    """Remove the saved state and epoch weights when they were trained from other data, another
    initial model or other settings (Snakemake re-runs a stage because its inputs changed, and
    resuming would carry the old run on), and saves a kill cut off. Every process reads the
    record before the main one alone deletes; the others wait until it is done."""
    try:
        saved = json.loads((work_dir / RUN).read_text())
    except (OSError, ValueError):
        saved = None
    trainer.accelerator.wait_for_everyone()
    if trainer.is_world_process_zero():
        # The Trainer makes its output folder (STATE) when it is built: an empty one holds nothing.
        stale = [name for name in (STATE, EPOCHS) if (work_dir / name).is_dir() and any((work_dir / name).iterdir())]
        if saved != identity and stale:
            if saved is None:
                log.warning("%s holds a state with no record of what it was trained from: starting over", work_dir)
            else:
                changed = sorted(k for k in {*identity, *saved} if saved.get(k) != identity.get(k))
                log.warning("%s was trained from other inputs (%s changed): starting over", work_dir, ", ".join(changed))
            for name in stale:
                shutil.rmtree(work_dir / name)
        resume_point(work_dir)  # removes cut-off saves
        work_dir.mkdir(parents=True, exist_ok=True)
        partial = work_dir / f".{RUN}.partial"
        partial.write_text(json.dumps(identity, indent=1) + "\n")
        partial.replace(work_dir / RUN)
    trainer.accelerator.wait_for_everyone()


def train(trainer, work_dir: str | os.PathLike, identity: Mapping[str, Any]) -> None:
    """Run the trainer with per-epoch weights, resuming from the last full state in the work
    folder if it was saved by the same run (`identity`); another run's state is removed."""
    _prepare_work_dir(trainer, Path(work_dir), identity)
    trainer.add_callback(_epoch_weights(trainer, Path(work_dir)))
    trainer.add_callback(_kill_point())
    checkpoint = resume_point(work_dir)
    if checkpoint:
        log.info("resuming from %s", checkpoint)
    else:
        log.info("no checkpoint in %s: starting from the initial weights", Path(work_dir) / STATE)
    trainer.train(resume_from_checkpoint=checkpoint)


def epoch_summary(log_history: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per epoch: the mean training loss logged during it and the held-out loss at its end."""
    summary: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        if "epoch" not in entry:
            continue
        if "eval_loss" in entry:
            summary.setdefault(round(entry["epoch"]), {})["eval_loss"] = entry["eval_loss"]
        elif "loss" in entry:
            # A step logged at epoch 1.0 belongs to epoch 1: epochs count from 1, steps end them.
            epoch = max(1, -int(-entry["epoch"] // 1))
            summary.setdefault(epoch, {}).setdefault("losses", []).append(entry["loss"])
    rows = []
    for epoch in sorted(summary):
        losses = summary[epoch].pop("losses", [])
        rows.append({"epoch": epoch, "train_loss": sum(losses) / len(losses) if losses else None, **summary[epoch]})
    return rows


def pick_epoch(work_dir: str | os.PathLike, wanted: int | None) -> Path:
    """The saved weights of the wanted epoch (None: the last one)."""
    saved = {int(p.name.split("-")[1]): p for p in (Path(work_dir) / EPOCHS).glob("epoch-*")}
    if not saved:
        raise Lightr1Error(f"{Path(work_dir) / EPOCHS}: training saved no epoch weights")
    epoch = max(saved) if wanted is None else wanted
    if epoch not in saved:
        raise Lightr1Error(f"epoch {epoch} was asked for, but only epochs {sorted(saved)} were saved in {Path(work_dir) / EPOCHS}")
    return saved[epoch]


def publish(weights: Path, out: str | os.PathLike, training_log: Mapping[str, Any], tables: Mapping[str, Any] | None = None) -> None:
    """Copy the picked weights into the stage's output folder with its training log (and any
    tables, by file name), in one rename at the end (a reader never sees a half-written model)."""
    with atomic_folder(out) as staging:
        shutil.copytree(weights, staging, dirs_exist_ok=True)
        (staging / "training_log.json").write_text(json.dumps(training_log, indent=1) + "\n")
        for name, table in (tables or {}).items():
            table.write_parquet(staging / name)


def train_and_publish(
    trainer,
    *,
    stage: str,
    init: str | os.PathLike,
    data: str | os.PathLike,
    out: str | os.PathLike,
    work_dir: str | os.PathLike,
    settings: Mapping[str, Any],
    tables: Callable[[list[dict[str, Any]]], Mapping[str, Any]] | None = None,
    **prompting: Any,
) -> dict:
    """Train (resuming), then publish the picked epoch with a log of settings, held-out loss by
    epoch and the trainer's whole log history, plus the tables `tables` makes from that history
    (e.g. GRPO's per-step metrics). Only the main process publishes. `prompting` (prompt form,
    forced `<think>`) joins the run's identity: a state saved under others is not resumed."""
    # The process count sets the global batch: a state saved by another count is another run.
    processes = trainer.args.world_size
    log.info("%s on %d examples (%d held out) from %s, %d process(es)", stage, len(trainer.train_dataset), len(trainer.eval_dataset or []), init, processes)
    train(trainer, work_dir, run_identity(init, data, settings, seed=trainer.args.seed, processes=processes, **prompting))
    training_log = _publish_picked(trainer, stage, init, data, out, work_dir, settings, tables) if trainer.is_world_process_zero() else {}
    _close_process_group(trainer)
    return training_log


def _publish_picked(trainer, stage, init, data, out, work_dir, settings, tables) -> dict:
    """Publish the picked epoch with its training log (see train_and_publish); the log."""
    epochs = epoch_summary(trainer.state.log_history)
    weights = pick_epoch(work_dir, settings.get("pick_epoch"))
    training_log = {
        "stage": stage,
        "init": str(init),
        "data": str(data),
        "picked": weights.name,
        "processes": trainer.args.world_size,
        "epochs": epochs,
        "settings": dict(settings),
        "log_history": trainer.state.log_history,
    }
    publish(weights, out, training_log, tables(trainer.state.log_history) if tables else None)
    log.info("published %s as %s; held-out loss by epoch: %s", weights.name, out, [(e["epoch"], e.get("eval_loss")) for e in epochs])
    return training_log


def _close_process_group(trainer) -> None:
    """Once the main process has published, close the process group. Left to the interpreter's
    exit, its threads can abort a process whose work is done (seen with DeepSpeed on the CPU),
    and torchrun then fails the job."""
    import torch.distributed

    if torch.distributed.is_initialized():
        trainer.accelerator.wait_for_everyone()
        torch.distributed.destroy_process_group()
