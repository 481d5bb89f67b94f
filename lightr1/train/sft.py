"""SFT stage 1 and 2 on TRL's SFTTrainer. Each example is the generation prompt exactly as
sampling renders it (chat template, forced `<think>`) plus the teacher's response: the model
trains on the text it will continue at inference, with the loss on the response and its
end-of-turn token only."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import polars as pl

from lightr1.generation.prompts import completion_text, messages, render


def sft_examples(table: pl.DataFrame, tokenizer, form: str, force_think: bool) -> list[dict[str, str]]:
    """Prompt-completion examples (TRL's non-conversational form: it appends the end-of-turn
    token to the completion and masks the prompt out of the loss)."""
    return [
        {"problem_id": pid, "prompt": render(tokenizer, messages(problem, form), force_think), "completion": completion_text(response, force_think)}
        for pid, problem, response in table.select("problem_id", "problem", "response").iter_rows()
    ]


def sft_config(settings: Mapping[str, Any], work_dir: str | os.PathLike, seed: int, has_eval: bool):
    from trl import SFTConfig

    from lightr1.train.common import trainer_arguments

    return SFTConfig(
        **trainer_arguments(settings, work_dir, seed),
        max_length=settings["cutoff"],
        packing=settings.get("packing", False),
        completion_only_loss=True,
        eval_strategy="epoch" if has_eval else "no",
        dataset_num_proc=None,
    )


def build_trainer(
    data: pl.DataFrame, init: str | os.PathLike, work_dir: str | os.PathLike, settings: Mapping[str, Any], *, form: str, force_think: bool, seed: int
):
    """The SFTTrainer for one stage (not yet run): tests inspect its tokenised dataset."""
    from trl import SFTTrainer

    from lightr1.train.common import offline_trainer

    return offline_trainer(
        SFTTrainer, sft_examples, sft_config, data, init, work_dir, settings, form=form, force_think=force_think, seed=seed, what="SFT data"
    )


def train_sft(
    data_path: str | os.PathLike,
    init: str | os.PathLike,
    out: str | os.PathLike,
    work_dir: str | os.PathLike,
    settings: Mapping[str, Any],
    *,
    form: str,
    force_think: bool,
    seed: int,
) -> dict:
    """Train one SFT stage, resuming from the work folder, and publish the picked epoch."""
    from lightr1.io import read_table
    from lightr1.train.common import train_and_publish

    table = read_table(data_path, {"problem_id": pl.String, "problem": pl.String, "response": pl.String})
    trainer = build_trainer(table, init, work_dir, settings, form=form, force_think=force_think, seed=seed)
    return train_and_publish(trainer, stage="sft", init=init, data=data_path, out=out, work_dir=work_dir, settings=settings, form=form, force_think=force_think)
