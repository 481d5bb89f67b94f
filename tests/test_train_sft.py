"""SFT on TRL's SFTTrainer with the tiny model: the training text, the loss mask, per-epoch
weights with held-out loss, resume after a kill, and the same with two processes or two nodes
started by torchrun (gloo on this CPU)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import polars as pl
import pytest
from helpers import kill_after_save, resume, train_cli

from lightr1.generation.prompts import completion_text, messages, render
from lightr1.tiny.problems import TRAIN, make_problem, teacher_trace
from lightr1.train.common import held_out, resume_point
from lightr1.train.sft import build_trainer

FORM = "deepseek-r1"
SETTINGS = {"lr": 2e-3, "epochs": 2, "batch_size": 4, "cutoff": 1024, "eval_fraction": 0.25, "save_steps": 2, "warmup_ratio": 0.0}


def sft_table(count: int, seed: int = 0) -> pl.DataFrame:
    rng = random.Random(seed)
    problems = [make_problem(rng, 1 + i % 3, TRAIN) for i in range(count)]
    return pl.DataFrame(
        {"problem_id": [f"p{i}" for i in range(count)], "problem": [p.text for p in problems], "response": [teacher_trace(p, rng) for p in problems]}
    )


def test_completion_drops_the_opening_tag_only_when_the_prompt_forces_it():
    assert completion_text("<think>\nwork\n</think>\n\n\\boxed{1}", force_think=True) == "work\n</think>\n\n\\boxed{1}"
    assert completion_text("<think>\nwork\n</think>\n\n\\boxed{1}", force_think=False).startswith("<think>\nwork")
    assert completion_text("\\boxed{1}", force_think=True) == "\\boxed{1}"


def test_resume_skips_a_state_whose_save_was_cut_off(tmp_path):
    """A kill during a save leaves a newer checkpoint folder without (or with half) its trainer
    state: resume uses the last complete one and removes the broken ones."""
    state = tmp_path / "state"
    for step, trainer_state in ((5, '{"global_step": 5}'), (10, None), (15, '{"global_st')):
        (state / f"checkpoint-{step}").mkdir(parents=True)
        (state / f"checkpoint-{step}" / "model.safetensors").write_bytes(b"")
        if trainer_state is not None:
            (state / f"checkpoint-{step}" / "trainer_state.json").write_text(trainer_state)
    assert resume_point(tmp_path) == str(state / "checkpoint-5")
    assert sorted(p.name for p in state.iterdir()) == ["checkpoint-5"]
    assert resume_point(tmp_path / "nothing") is None


def test_held_out_split_is_seeded_by_problem_and_never_empty_or_total():
    rows = [{"problem_id": f"p{i}"} for i in range(40)]
    train, held = held_out(rows, 0.1, seed=3)
    assert len(held) == 4 and len(train) == 36
    again = held_out(list(reversed(rows)), 0.1, seed=3)[1]
    assert {r["problem_id"] for r in again} == {r["problem_id"] for r in held}
    assert held_out(rows[:2], 0.01, seed=3)[1] and held_out(rows[:2], 0.99, seed=3)[0]
    assert held_out(rows, 0.0, seed=3) == (rows, [])


def test_training_text_is_the_rendered_prompt_plus_the_response(untrained_model_dir, tmp_path):
    table = sft_table(6)
    trainer = build_trainer(table, untrained_model_dir, tmp_path / "work", SETTINGS, form=FORM, force_think=True, seed=0)
    tokenizer = trainer.processing_class
    by_text = {render(tokenizer, messages(p, FORM), True): r for p, r in table.select("problem", "response").iter_rows()}
    assert len(trainer.train_dataset) + len(trainer.eval_dataset) == 6
    for row in trainer.train_dataset:
        ids, labels = row["input_ids"], row["labels"]
        start = next(i for i, label in enumerate(labels) if label != -100)
        prompt = tokenizer.decode(ids[:start])
        assert prompt.endswith("<|im_start|>assistant\n<think>\n")  # the forced think is prompt
        response = by_text[prompt]
        assert tokenizer.decode(ids[start:]) == response.removeprefix("<think>\n") + "<|im_end|>"
        assert labels[start:] == ids[start:] and ids[-1] == tokenizer.convert_tokens_to_ids("<|im_end|>")  # end of turn is learnt


@pytest.fixture(scope="module")
def trained(untrained_model_dir, tmp_path_factory):
    """One short SFT run through the CLI (2 epochs), shared by the tests below."""
    root = tmp_path_factory.mktemp("sft")
    sft_table(24).write_parquet(root / "data.parquet")
    result = run_cli(root, untrained_model_dir, SETTINGS)
    assert result.returncode == 0, result.stderr[-3000:]
    return root, result.stderr


def run_cli(root: Path, init: Path, settings: dict, processes: int = 1):
    return train_cli("train-sft", root, init, settings, form=FORM, processes=processes)


def test_sft_writes_a_loadable_model_with_per_epoch_held_out_loss(trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root, _ = trained
    out = root / "out"
    AutoModelForCausalLM.from_pretrained(out)
    assert AutoTokenizer.from_pretrained(out).chat_template
    log = json.loads((out / "training_log.json").read_text())
    assert log["picked"] == "epoch-2" and [e["epoch"] for e in log["epochs"]] == [1, 2]
    assert log["epochs"][1]["eval_loss"] < log["epochs"][0]["eval_loss"]  # training lowers held-out loss
    assert sorted(p.name for p in (root / "work/epochs").iterdir()) == ["epoch-1", "epoch-2"]
    assert len(list((root / "work/state").glob("checkpoint-*"))) == 1  # one rolling full state


def test_pick_epoch_publishes_that_epochs_weights(trained, tmp_path):
    from lightr1.train.common import pick_epoch, publish

    root, _ = trained
    publish(pick_epoch(root / "work", 1), tmp_path / "first", {"picked": "epoch-1"})
    first = (tmp_path / "first/model.safetensors").read_bytes()
    assert first == (root / "work/epochs/epoch-1/model.safetensors").read_bytes() != (root / "out/model.safetensors").read_bytes()
    with pytest.raises(Exception, match="only epochs"):
        pick_epoch(root / "work", 5)


@pytest.mark.parametrize("processes", [1, 2])
def test_killed_sft_resumes_from_its_last_checkpoint(untrained_model_dir, tmp_path, processes):
    """Killed right after a save early in epoch 2, the job resumes from that state: epoch 1 is
    not trained again (its weights stay untouched) and the step count ends where one run
    would. With two processes (torchrun) every one of them resumes, or the run would not finish."""
    sft_table(24).write_parquet(tmp_path / "data.parquet")
    # 18 training rows, batch 4: 5 steps an epoch on one process, 3 on two; 15 in all either way.
    epochs, step = {1: (3, 6), 2: (5, 4)}[processes]
    settings = {**SETTINGS, "epochs": epochs}
    kill_after_save("train-sft", tmp_path, untrained_model_dir, settings, form=FORM, step=step, processes=processes)
    epoch1 = tmp_path / "work/epochs/epoch-1/model.safetensors"
    written = epoch1.stat().st_mtime_ns
    log = resume("train-sft", tmp_path, untrained_model_dir, settings, form=FORM, step=step, processes=processes)
    assert epoch1.stat().st_mtime_ns == written
    assert [e["epoch"] for e in log["epochs"]] == list(range(1, epochs + 1)) and log["processes"] == processes
    steps = [entry["step"] for entry in log["log_history"] if "loss" in entry]
    assert min(steps) == 1 and max(steps) == 15  # the kept history of the first run, then the rest


def test_killed_at_an_epochs_last_save_keeps_that_epoch(trained, untrained_model_dir, tmp_path):
    """A state saved at an epoch's last step comes before that epoch's weights and held-out
    loss: killed in between and resumed, the job makes up for both, as an unkilled run has them."""
    root, _ = trained
    shutil.copy(root / "data.parquet", tmp_path / "data.parquet")
    settings = {**SETTINGS, "save_steps": 5}  # 5 steps an epoch: the save ends epoch 1
    kill_after_save("train-sft", tmp_path, untrained_model_dir, settings, form=FORM, step=5)
    assert not (tmp_path / "work/epochs/epoch-1").exists()
    result = run_cli(tmp_path, untrained_model_dir, settings)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed at the end of epoch 1, whose weights were not saved yet" in result.stderr
    assert sorted(p.name for p in (tmp_path / "work/epochs").iterdir()) == ["epoch-1", "epoch-2"]
    resumed, unkilled = (json.loads((r / "out/training_log.json").read_text())["epochs"] for r in (tmp_path, root))
    assert [e["eval_loss"] for e in resumed] == pytest.approx([e["eval_loss"] for e in unkilled], abs=1e-5)


def test_a_state_from_other_inputs_is_started_over_not_resumed(trained, untrained_model_dir, tmp_path):
    """Re-run because its data changed, a stage starts over instead of carrying the old run on;
    re-run for a setting that changes no weights (the picked epoch), it resumes its finished
    state and only publishes that epoch."""
    root, _ = trained
    shutil.copytree(root / "work", tmp_path / "work")
    sft_table(24, seed=1).write_parquet(tmp_path / "data.parquet")
    result = run_cli(tmp_path, untrained_model_dir, SETTINGS)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "was trained from other inputs (data changed): starting over" in result.stderr
    assert "resuming from" not in result.stderr
    log = json.loads((tmp_path / "out/training_log.json").read_text())
    assert min(entry["step"] for entry in log["log_history"]) == 1  # trained from the first step

    result = run_cli(tmp_path, untrained_model_dir, {**SETTINGS, "pick_epoch": 1})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming from" in result.stderr and "starting over" not in result.stderr
    log = json.loads((tmp_path / "out/training_log.json").read_text())
    assert log["picked"] == "epoch-1"
    assert all(epoch["eval_loss"] is not None for epoch in log["epochs"])  # the last one is evaluated again


@pytest.fixture(scope="module")
def two_processes(trained, untrained_model_dir, tmp_path_factory):
    """The shared run's data trained again by two processes, from a copy of its work folder."""
    root, _ = trained
    again = tmp_path_factory.mktemp("sft-two-processes")
    shutil.copytree(root / "work", again / "work")
    shutil.copy(root / "data.parquet", again / "data.parquet")
    result = run_cli(again, untrained_model_dir, SETTINGS, processes=2)
    assert result.returncode == 0, result.stderr[-3000:]
    return again, result.stderr


def test_a_state_saved_by_another_process_count_is_started_over(two_processes):
    """The process count sets the global batch: a one-process state is not resumed by two
    processes, and only the first of them removes it, saying so once."""
    root, stderr = two_processes
    assert stderr.count("was trained from other inputs (processes changed): starting over") == 1
    assert "resuming from" not in stderr and "[rank 1]" not in stderr  # the other process has nothing to say
    log = json.loads((root / "out/training_log.json").read_text())
    assert log["processes"] == 2 and [e["epoch"] for e in log["epochs"]] == [1, 2]
    steps = [entry["step"] for entry in log["log_history"]]
    assert min(steps) == 1 and max(steps) == 6  # 18 training rows, 4 a process: 3 steps an epoch


def test_two_nodes_of_one_process_train_as_one_node_of_two(two_processes, untrained_model_dir, tmp_path):
    """Two torchruns on loopback, node ranks 0 and 1 with one process each (as the multi-node
    launch starts one per node): one rendezvous, the same held-out losses as two processes on
    one node, and one log and one published model, from node 0."""
    root, _ = two_processes
    shutil.copy(root / "data.parquet", tmp_path / "data.parquet")
    result = train_cli("train-sft", tmp_path, untrained_model_dir, SETTINGS, form=FORM, processes=2, nodes=2)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("published epoch-2") == 1 and "[rank 1]" not in result.stderr
    one_node, two_nodes = (json.loads((where / "out/training_log.json").read_text()) for where in (root, tmp_path))
    assert two_nodes["processes"] == 2
    assert [e["eval_loss"] for e in two_nodes["epochs"]] == pytest.approx([e["eval_loss"] for e in one_node["epochs"]], rel=1e-4)
