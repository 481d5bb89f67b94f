"""DPO on TRL's DPOTrainer with the loss from config (Light-R1: NCA, `nca_pair`, beta 0.3).
Prompts are rendered as sampling renders them (forced `<think>`); chosen and rejected are the
continuations after it.

Long pairs (the recipe's 32k cutoff): TRL 1.16's DPOTrainer has no sequence parallelism, so a
32k pair fits by ZeRO-3 with CPU offload, gradient checkpointing and reference log-probs
computed once before training (`precompute_ref_log_probs`), which frees the reference model
during the policy's passes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from lightr1.errors import Lightr1Error
from lightr1.generation.prompts import completion_text, messages, render

# TRL 1.16's DPO losses. TRL does not reject an unknown name when the config is built, so the
# config schema enumerates these.
LOSS_TYPES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)


def dpo_examples(pairs: pl.DataFrame, tokenizer, form: str, force_think: bool) -> list[dict[str, str]]:
    """TRL's non-conversational preference rows (it appends the end-of-turn token to both sides)."""
    return [
        {
            "problem_id": pid,
            "prompt": render(tokenizer, messages(problem, form), force_think),
            "chosen": completion_text(chosen, force_think),
            "rejected": completion_text(rejected, force_think),
        }
        for pid, problem, chosen, rejected in pairs.select("problem_id", "problem", "chosen", "rejected").iter_rows()
    ]


def dpo_config(settings: Mapping[str, Any], work_dir: str | os.PathLike, seed: int, has_eval: bool):
    from trl import DPOConfig

    from lightr1.train.common import trainer_arguments

    if settings["loss_type"] not in LOSS_TYPES:
        raise Lightr1Error(f"unknown DPO loss_type {settings['loss_type']!r} (TRL 1.16 knows {', '.join(LOSS_TYPES)})")
    return DPOConfig(
        **trainer_arguments(settings, work_dir, seed),
        loss_type=[settings["loss_type"]],
        beta=settings["beta"],
        max_length=settings["cutoff"],
        precompute_ref_log_probs=settings.get("precompute_ref_log_probs", False),
        eval_strategy="epoch" if has_eval else "no",
    )


def build_trainer(
    pairs: pl.DataFrame, init: str | os.PathLike, work_dir: str | os.PathLike, settings: Mapping[str, Any], *, form: str, force_think: bool, seed: int
):
    """The DPOTrainer for one stage (not yet run). The reference model is the initial policy."""
    from trl import DPOTrainer

    from lightr1.train.common import offline_trainer

    return offline_trainer(
        DPOTrainer, dpo_examples, dpo_config, pairs, init, work_dir, settings, form=form, force_think=force_think, seed=seed, what="DPO pairs table"
    )


def train_dpo(
    pairs_path: str | os.PathLike,
    init: str | os.PathLike,
    out: str | os.PathLike,
    work_dir: str | os.PathLike,
    settings: Mapping[str, Any],
    *,
    form: str,
    force_think: bool,
    seed: int,
) -> dict:
    """Train one DPO stage, resuming from the work folder, and publish the picked epoch."""
    from lightr1.io import read_table
    from lightr1.train.common import train_and_publish

    pairs = read_table(pairs_path, {"problem_id": pl.String, "problem": pl.String, "chosen": pl.String, "rejected": pl.String})
    trainer = build_trainer(pairs, init, work_dir, settings, form=form, force_think=force_think, seed=seed)
    return train_and_publish(
        trainer, stage="dpo", init=init, data=pairs_path, out=out, work_dir=Path(work_dir), settings=settings, form=form, force_think=force_think
    )
