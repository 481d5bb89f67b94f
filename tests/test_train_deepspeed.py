"""DeepSpeed ZeRO-3 with the project's CPU-offload config (configs/deepspeed/zero3_offload.json),
each trainer started by torchrun with two processes on this CPU (DeepSpeed's CPU accelerator
stands in for the cluster's GPUs): SFT reaches the held-out losses plain data parallelism
reaches, DPO's reference model is partitioned too (NCA's first loss is still 2 ln 2), GRPO
generates from the partitioned policy, and each publishes whole weights that load. SFT also
runs with the recipe's bf16 and gradient checkpointing (bf16 on the CPU).

DeepSpeed compiles its CPU Adam and shared-memory ops on first use (about a minute, cached in
~/.cache/torch_extensions) and each run takes seconds more than without it, so the module is
marked `slow`: `python -m pytest -m slow tests/test_train_deepspeed.py` runs it."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest
from helpers import train_cli
from test_dpo import tiny_pairs
from test_train_grpo import SETTINGS as GRPO_SETTINGS
from test_train_grpo import problem_table
from test_train_sft import FORM, sft_table
from test_train_sft import SETTINGS as SFT_SETTINGS

from lightr1.train.grpo import METRICS_FILE

pytestmark = pytest.mark.slow

ZERO3 = str(Path(__file__).resolve().parents[1] / "configs/deepspeed/zero3_offload.json")


def train(command: str, root: Path, init: Path, settings: dict, data: str = "data.parquet") -> dict:
    """Two processes run `lightr1 COMMAND`; its training log."""
    result = train_cli(command, root, init, settings, form=FORM, data=data, processes=2)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads((root / "out/training_log.json").read_text())


def assert_whole_weights(trained: Path, init: Path) -> None:
    """Gathered from the partitions: the same tensors, by name and shape, as the initial model."""
    from safetensors import safe_open

    with safe_open(trained / "model.safetensors", "pt") as out, safe_open(init / "model.safetensors", "pt") as start:
        assert set(out.keys()) == set(start.keys())
        for name in start.keys():
            assert out.get_slice(name).get_shape() == start.get_slice(name).get_shape(), name


def test_zero3_sft_learns_what_data_parallel_learns(untrained_model_dir, tmp_path):
    """In fp32 the same held-out losses; with the recipe's bf16 and gradient checkpointing,
    the same within bf16's rounding, and a bf16 model published."""
    from transformers import AutoConfig

    runs = {"ddp": {}, "zero3": {"deepspeed": ZERO3}, "zero3-bf16": {"deepspeed": ZERO3, "precision": "bf16", "gradient_checkpointing": True}}
    logs = {}
    for name, extra in runs.items():
        (tmp_path / name).mkdir()
        sft_table(24).write_parquet(tmp_path / name / "data.parquet")
        logs[name] = train("train-sft", tmp_path / name, untrained_model_dir, {**SFT_SETTINGS, **extra})
    assert {log["processes"] for log in logs.values()} == {2}
    losses = {name: [epoch["eval_loss"] for epoch in log["epochs"]] for name, log in logs.items()}
    assert losses["zero3"] == pytest.approx(losses["ddp"], rel=1e-3) and losses["zero3"][1] < losses["zero3"][0]
    assert losses["zero3-bf16"] == pytest.approx(losses["ddp"], rel=1e-2)
    assert str(AutoConfig.from_pretrained(tmp_path / "zero3-bf16/out").dtype) == "torch.bfloat16"
    for name in ("zero3", "zero3-bf16"):
        assert_whole_weights(tmp_path / name / "out", untrained_model_dir)


def test_zero3_dpo_partitions_the_reference_model_too(untrained_model_dir, tmp_path):
    tiny_pairs(8).write_parquet(tmp_path / "pairs.parquet")
    settings = {"lr": 1e-4, "epochs": 1, "batch_size": 2, "cutoff": 1024, "save_steps": 2, "loss_type": "nca_pair", "beta": 0.3, "scheduler": "constant"}
    history = train("train-dpo", tmp_path, untrained_model_dir, {**settings, "deepspeed": ZERO3}, data="pairs.parquet")["log_history"]
    first = next(entry["loss"] for entry in history if "loss" in entry)
    assert first == pytest.approx(2 * math.log(2), abs=1e-4)  # policy = reference at the start
    assert_whole_weights(tmp_path / "out", untrained_model_dir)


def test_zero3_grpo_generates_and_steps(untrained_model_dir, tmp_path):
    problem_table(8).write_parquet(tmp_path / "prompts.parquet")
    train("train-grpo", tmp_path, untrained_model_dir, {**GRPO_SETTINGS, "deepspeed": ZERO3}, data="prompts.parquet")
    metrics = pl.read_parquet(tmp_path / "out" / METRICS_FILE)
    # 8 prompts; 4 completions a process, 2 processes, 2 per prompt: 4 prompts a step.
    assert metrics["step"].to_list() == [1, 2] and metrics["response_length"].is_between(1, 32).all()
    assert_whole_weights(tmp_path / "out", untrained_model_dir)
