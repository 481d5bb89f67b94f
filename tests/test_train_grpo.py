"""GRPO on TRL's GRPOTrainer with the tiny model: offline prompt selection by pass rate, the
verifier as reward (with the length-aware variant), the knobs whose TRL defaults differ from
the recipe, and a short run that publishes a model with its per-step metrics."""

from __future__ import annotations

import json
import random

import polars as pl
import pytest
from helpers import kill_after_save, resume

from lightr1.errors import Lightr1Error
from lightr1.tiny.problems import TRAIN, make_problem
from lightr1.train.grpo import (
    LOSS_TYPES,
    METRICS_FILE,
    METRICS_SCHEMA,
    build_trainer,
    grpo_examples,
    grpo_prompts,
    prompts_per_step,
    resolved,
    select_prompts,
    train_grpo,
    verifier_reward,
)
from lightr1.verify.verdicts import verify

FORM = "deepseek-r1"
# Two optimizer steps: 4 prompts, 2 per step (batch 4 completions / 2 generations each).
SETTINGS = {
    "num_generations": 2,
    "batch_size": 4,
    "grad_accum": 1,
    "max_completion_length": 32,
    "precision": "fp32",
    "beta": 0.001,
    "loss_type": "grpo",
    "lr": 1e-3,
    "length_weight": 0.1,
    "save_steps": 1,
}


def rates(values: list[float], n: int = 8) -> pl.DataFrame:
    correct = [round(v * n) for v in values]
    return pl.DataFrame(
        {"problem_id": [f"p{i}" for i in range(len(values))], "n": [n] * len(values), "correct": correct, "pass_rate": [c / n for c in correct]}
    )


def problem_table(count: int, seed: int = 0) -> pl.DataFrame:
    rng = random.Random(seed)
    problems = [make_problem(rng, 1, TRAIN) for _ in range(count)]
    return pl.DataFrame({"problem_id": [f"p{i}" for i in range(count)], "problem": [p.text for p in problems], "answer": [str(p.answer) for p in problems]})


# ------------------------------------------------------------------------------------------
# Prompt selection.


def test_window_is_inclusive_and_never_keeps_0_or_1():
    table = rates([0.0, 0.125, 0.25, 0.375, 0.625, 0.75, 1.0, 0.5], n=8)
    kept = select_prompts(table, 0.25, 0.625)
    assert kept["pass_rate"].to_list() == [0.25, 0.375, 0.625, 0.5]  # both bounds inclusive, order kept
    everything = select_prompts(table, 0.0, 1.0)
    assert 0.0 not in everything["pass_rate"].to_list() and 1.0 not in everything["pass_rate"].to_list()
    assert everything.height == 6
    light_r1 = select_prompts(rates([0.2, 0.6, 0.8], n=5), 0.2, 0.625)  # 1/5 sits exactly on the bound
    assert light_r1["pass_rate"].to_list() == [0.2, 0.6]


def test_an_empty_window_names_the_filter_and_its_counts():
    table = rates([0.0, 0.0, 1.0, 0.875, 0.125], n=8)
    with pytest.raises(Lightr1Error) as error:
        select_prompts(table, 0.25, 0.625)
    message = str(error.value)
    assert "[0.25, 0.625]" in message and "of 5 graded problems" in message
    assert "2 have pass rate 0" in message and "1 have pass rate 1" in message and "0 lie in the window" in message
    with pytest.raises(Lightr1Error, match="2 have pass rate 0, 1 have pass rate 1, 3 lie in the window"):
        select_prompts(table.filter(pl.col("pass_rate").is_in([0.0, 1.0])), 0.0, 1.0)
    with pytest.raises(Lightr1Error, match="not a range"):
        select_prompts(table, 0.7, 0.2)


def test_selected_prompts_carry_their_problem_and_answer():
    problems = problem_table(4)
    table = grpo_prompts(problems, rates([0.5, 1.0, 0.25, 0.0]), 0.2, 0.625)
    assert table["problem_id"].to_list() == ["p0", "p2"] and {"problem", "answer", "pass_rate"} <= set(table.columns)


# ------------------------------------------------------------------------------------------
# Reward.

RIGHT = "2 + 2 is 4.\n</think>\n\nThe answer is \\boxed{4}."
COMPLETIONS = [
    RIGHT,
    "2 + 2 is 5.\n</think>\n\nThe answer is \\boxed{5}.",  # wrong
    "2 + 2 is 4, so \\boxed{4}",  # reasoning never closed: no answer
    "\\boxed{4}",  # no </think>: with a forced <think>, still inside the thought
    "quick\n</think>\n\n\\boxed{\\frac{8}{2}}",  # right, another form
]


def test_reward_is_the_verifiers_verdict():
    reward = verifier_reward()
    golds = ["4"] * len(COMPLETIONS)
    scores = reward(prompts=["p"] * len(COMPLETIONS), completions=COMPLETIONS, answer=golds)
    assert scores == [1.0, 0.0, 0.0, 0.0, 1.0]
    assert scores == [float(verify("4", c, forced_think=True).correct) for c in COMPLETIONS]
    # Without a forced <think>, an answer with no tags at all counts.
    assert verifier_reward(forced_think=False)(prompts=["p"], completions=["\\boxed{4}"], answer=["4"]) == [1.0]
    # A list of golds and a choice kind pass through to the verifier.
    choice = "compare the options\n</think>\n\n**C**"
    assert verifier_reward()(prompts=["p", "p"], completions=[choice, RIGHT], answer=[["C"], ["3", "4"]], kind=["choice", "math"]) == [1.0, 1.0]


def test_length_bonus_prefers_the_shorter_right_answer_and_never_beats_a_wrong_one():
    long_right = "2 + 2: " + "let me check again. " * 40 + "4.\n</think>\n\n\\boxed{4}"
    long_wrong = "2 + 2: " + "let me check again. " * 40 + "5.\n</think>\n\n\\boxed{5}"
    over_length = "x" * 5000 + "\n</think>\n\n\\boxed{4}"
    completions = [RIGHT, long_right, over_length, long_wrong, "\\boxed{4}"]
    reward = verifier_reward(length_weight=0.5, max_len=1000)
    short, long, over, wrong, unclosed = reward(prompts=["p"] * 5, completions=completions, answer=["4"] * 5)
    assert 1.0 > short > long > over == pytest.approx(0.5)  # 1 - 0.5 * min(len, max_len) / max_len
    assert min(short, long, over) > max(wrong, unclosed) == 0.0
    with pytest.raises(Lightr1Error, match=r"outside \[0, 1\)"):
        verifier_reward(length_weight=1.0, max_len=10)
    with pytest.raises(Lightr1Error, match="positive max_len"):
        verifier_reward(length_weight=0.1)


def test_reward_reads_the_completion_ids_so_a_special_think_tag_survives(untrained_model_dir):
    """The tiny tokenizer marks </think> special, and TRL decodes completions with
    skip_special_tokens=True: from the text alone every answer would look unclosed."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(untrained_model_dir)
    ids = tokenizer(RIGHT + "<|im_end|>", add_special_tokens=False)["input_ids"]
    as_trl_decodes = tokenizer.decode(ids, skip_special_tokens=True)
    assert "</think>" not in as_trl_decodes
    assert verifier_reward()(prompts=["p"], completions=[as_trl_decodes], answer=["4"]) == [0.0]
    with_ids = verifier_reward(length_weight=0.5, max_len=len(ids), tokenizer=tokenizer)
    (score,) = with_ids(prompts=["p"], completions=[as_trl_decodes], answer=["4"], completion_ids=[ids])
    assert score == pytest.approx(1.0 - 0.5 * (len(ids) - 1) / len(ids))  # length in tokens, end of turn left out


# ------------------------------------------------------------------------------------------
# Configuration.


def test_examples_are_the_rendered_prompt_with_the_answer(untrained_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(untrained_model_dir)
    problems = problem_table(2)
    examples = grpo_examples(problems, tokenizer, FORM, force_think=True)
    assert [e["answer"] for e in examples] == problems["answer"].to_list()
    assert all(e["prompt"].endswith("<|im_start|>assistant\n<think>\n") and e["problem_id"] for e in examples)
    assert problems["problem"][0] in examples[0]["prompt"]
    with pytest.raises(Lightr1Error, match="answer"):
        grpo_examples(problems.drop("answer"), tokenizer, FORM, force_think=True)


def test_bad_settings_are_rejected_before_a_model_is_loaded(tmp_path):
    assert LOSS_TYPES == ("grpo", "dr_grpo", "dapo")
    with pytest.raises(Lightr1Error, match=r"unknown GRPO loss_type 'gpro': use one of grpo, dr_grpo, dapo"):
        build_trainer(problem_table(4), tmp_path / "no-model", tmp_path / "work", {**SETTINGS, "loss_type": "gpro"}, form=FORM, force_think=True, seed=0)
    with pytest.raises(Lightr1Error, match="not a multiple of num_generations 4"):
        build_trainer(
            problem_table(4), tmp_path / "no-model", tmp_path / "work", {**SETTINGS, "num_generations": 4, "batch_size": 6}, form=FORM, force_think=True, seed=0
        )
    with pytest.raises(Lightr1Error, match="fewer than the 2 one optimizer step takes"):
        build_trainer(problem_table(1), tmp_path / "no-model", tmp_path / "work", SETTINGS, form=FORM, force_think=True, seed=0)
    assert prompts_per_step(16, 8, 8, world_size=8) == 128  # Light-R1's 128 prompts × 8 samples
    with pytest.raises(Lightr1Error, match="at least 2"):
        prompts_per_step(4, 1, 1)
    assert resolved({})["beta"] == 0.001 and resolved({})["loss_type"] == "grpo"
    assert resolved({"max_completion_length": 64, "length_max": None})["length_max"] == 64


def test_the_configured_beta_and_loss_reach_the_trainer(untrained_model_dir, tmp_path):
    """TRL defaults to beta 0 (no KL, no reference model) and loss dapo: the stage's own values
    must be the ones the trainer runs with."""
    settings = {**SETTINGS, "loss_type": "dr_grpo", "temperature": 0.7}
    trainer = build_trainer(problem_table(4), untrained_model_dir, tmp_path / "work", settings, form=FORM, force_think=True, seed=0)
    assert trainer.args.beta == trainer.beta == 0.001 and trainer.ref_model is not None
    assert trainer.args.loss_type == trainer.loss_type == "dr_grpo"
    assert trainer.args.num_generations == 2 and trainer.args.max_completion_length == 32 and trainer.args.temperature == 0.7
    assert trainer.args.generation_batch_size == 4 and not trainer.args.bf16 and not trainer.args.use_vllm
    assert trainer.args.learning_rate == 1e-3 and trainer.args.lr_scheduler_type == "constant_with_warmup"
    assert trainer.reward_func_names == ["verifier"] and set(trainer.train_dataset.column_names) == {"prompt", "answer", "problem_id"}
    # The trainer's reward reads the ids with the model's tokenizer (length in tokens, over max_completion_length).
    tokenizer = trainer.processing_class
    ids = tokenizer(RIGHT + "<|im_end|>", add_special_tokens=False)["input_ids"]
    text = tokenizer.decode(ids, skip_special_tokens=True)
    (score,) = trainer.reward_funcs[0](prompts=["p"], completions=[text], answer=["4"], completion_ids=[ids], problem_id=["p0"], trainer_state=trainer.state)
    assert score == pytest.approx(1.0 - 0.1 * min(len(ids) - 1, 32) / 32)


# ------------------------------------------------------------------------------------------
# A short run.


@pytest.fixture(scope="module")
def trained(untrained_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("grpo")
    problem_table(4).write_parquet(root / "prompts.parquet")
    training_log = train_grpo(root / "prompts.parquet", untrained_model_dir, root / "out", root / "work", SETTINGS, form=FORM, force_think=True, seed=7)
    return root, training_log


def test_grpo_publishes_a_loadable_model_with_per_step_metrics(trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root, training_log = trained
    out = root / "out"
    AutoModelForCausalLM.from_pretrained(out)
    assert AutoTokenizer.from_pretrained(out).chat_template
    metrics = pl.read_parquet(out / METRICS_FILE)
    assert metrics.schema == METRICS_SCHEMA
    assert metrics["step"].to_list() == [1, 2]  # 4 prompts, 2 a step, one epoch
    assert metrics["reward"].is_not_null().all() and metrics["response_length"].is_between(1, 32).all()
    assert metrics["kl"].is_not_null().all() and metrics["clip_ratio"].is_not_null().all()  # kl is logged only when beta > 0
    assert metrics["reward"].is_between(0.0, 1.0).all()
    saved = json.loads((out / "training_log.json").read_text())
    assert saved["stage"] == training_log["stage"] == "grpo" and saved["picked"] == "epoch-1"
    assert saved["settings"]["beta"] == 0.001 and saved["settings"]["loss_type"] == "grpo"


def test_killed_grpo_resumes_from_its_last_checkpoint(untrained_model_dir, tmp_path):
    """GRPO killed right after its first step's save resumes from it: the per-step metrics hold
    every step once, the first from before the kill."""
    problem_table(4).write_parquet(tmp_path / "data.parquet")
    kill_after_save("train-grpo", tmp_path, untrained_model_dir, SETTINGS, form=FORM, step=1)
    resume("train-grpo", tmp_path, untrained_model_dir, SETTINGS, form=FORM, step=1)
    assert pl.read_parquet(tmp_path / "out" / METRICS_FILE)["step"].to_list() == [1, 2]
