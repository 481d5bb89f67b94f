"""GRPO on TRL's GRPOTrainer, as Light-R1-14B-DS runs it after SFT: prompts whose sampled pass
rate lies in a window (offline selection), rewards from the project's verifier, a small KL
term, and a per-step metrics table for the report's reward and length curves.

Settings (the stage's config block; `DEFAULTS` fills what is left out):

    num_generations        completions per prompt (the group)            recipe 8
    temperature, top_p     sampling of the completions                   1.0, 1.0
    beta                   KL coefficient (TRL's low-variance k3 estimator); recipe 0.001.
                           TRL's own default is 0.0 (no KL, no reference model), so it is
                           always passed explicitly
    loss_type              one of LOSS_TYPES; TRL's default is dapo and TRL does not reject an
                           unknown name until the first loss, so it is checked here   grpo
    lr                     learning rate                                 1e-6
    scheduler              RL keeps the rate flat after warmup (common's cosine is for SFT)  constant_with_warmup
    max_completion_length  tokens per completion                         recipe 24000
    length_weight          weight of the length-aware reward (0: plain 0/1 correctness)  0.0
    length_max             the length at which the bonus is all gone (default: max_completion_length)
    epochs                 passes over the prompts                       1
    batch_size             completions (not prompts) per device per micro-step
    grad_accum             micro-steps per optimizer step (TRL generates for all of them at once)
    precision              fp32 or bf16
    use_vllm, vllm_mode    generate with vLLM (GPU only): colocate or server   false, colocate
    vllm_gpu_memory_utilization   for colocate                           0.3
    pick_epoch             the epoch to publish (default: the last)
    + the keys `lightr1.train.common.trainer_arguments` reads (warmup_ratio, weight_decay,
      max_grad_norm, save_steps, logging_steps, deepspeed, gradient_checkpointing, ...).

Prompts per optimizer step = batch_size × devices × grad_accum / num_generations: Light-R1's
batch of 128 prompts × 8 samples is e.g. 8 devices × batch_size 16 × grad_accum 8.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import polars as pl

from lightr1.errors import Lightr1Error
from lightr1.generation.prompts import THINK, messages, render

log = logging.getLogger(__name__)

LOSS_TYPES = ("grpo", "dr_grpo", "dapo")
VLLM_MODES = ("colocate", "server")

DEFAULTS: dict[str, Any] = {
    "num_generations": 8,
    "temperature": 1.0,
    "top_p": 1.0,
    "beta": 0.001,
    "loss_type": "grpo",
    "lr": 1e-6,
    "scheduler": "constant_with_warmup",
    "max_completion_length": 24000,
    "length_weight": 0.0,
    "epochs": 1,
    "batch_size": 8,
    "grad_accum": 1,
    "precision": "fp32",
    "use_vllm": False,
    "vllm_mode": "colocate",
    "vllm_gpu_memory_utilization": 0.3,
}

METRICS_FILE = "metrics.parquet"

# metrics.parquet column -> the key TRL 1.16's GRPOTrainer logs it under (a key it did not log
# at a step, e.g. kl with beta 0 or clip ratios under other losses, becomes null).
METRIC_KEYS: dict[str, str] = {
    "epoch": "epoch",
    "loss": "loss",
    "reward": "reward",  # mean total reward of the step's completions
    "reward_std": "reward_std",
    "frac_reward_zero_std": "frac_reward_zero_std",  # groups all right or all wrong: no signal
    "response_length": "completions/mean_length",  # mean completion tokens
    "truncated_ratio": "completions/clipped_ratio",  # completions cut at max_completion_length
    "kl": "kl",
    "clip_ratio": "clip_ratio/region_mean",  # tokens whose ratio was clipped (either side)
    "entropy": "entropy",
    "learning_rate": "learning_rate",
}
METRICS_SCHEMA = pl.Schema({"step": pl.Int64, **{column: pl.Float64 for column in METRIC_KEYS}})

# Tolerance on the window's bounds: pass rates are fractions like 5/8, bounds are decimals.
_EPS = 1e-9


# ------------------------------------------------------------------------------------------
# Prompt selection.


def select_prompts(pass_rates: pl.DataFrame, low: float, high: float) -> pl.DataFrame:
    """Problems whose sampled pass rate lies in [low, high], never 0 or 1 whatever the window:
    a group of completions all right or all wrong has zero advantage, so it only costs
    generation. Light-R1's window is [0.2, 0.625]. Nothing left is an error naming the counts."""
    if not 0.0 <= low <= high <= 1.0:
        raise Lightr1Error(f"GRPO prompt window [{low}, {high}] is not a range within [0, 1]")
    rate = pl.col("pass_rate")
    at_zero = pass_rates.filter(rate <= _EPS).height
    at_one = pass_rates.filter(rate >= 1.0 - _EPS).height
    in_window = pass_rates.filter((rate >= low - _EPS) & (rate <= high + _EPS))
    kept = in_window.filter((rate > _EPS) & (rate < 1.0 - _EPS))
    if kept.is_empty():
        raise Lightr1Error(
            f"the GRPO prompt window [{low}, {high}] keeps no problem: of {pass_rates.height} graded problems, "
            f"{at_zero} have pass rate 0, {at_one} have pass rate 1, {in_window.height} lie in the window "
            f"(0 and 1 are never kept); widen the window or grade with more samples"
        )
    return kept


def grpo_prompts(problems: pl.DataFrame, pass_rates: pl.DataFrame, low: float, high: float) -> pl.DataFrame:
    """The problems selected by `select_prompts`, with their text and answer and the pass rate
    that chose them (the table `train_grpo` reads)."""
    selected = select_prompts(pass_rates, low, high).select("problem_id", "pass_rate")
    table = problems.join(selected, on="problem_id", how="inner")
    if table.is_empty():
        raise Lightr1Error(
            f"{selected.height} problems lie in the GRPO window [{low}, {high}], but none of them is in the problems table ({problems.height} rows)"
        )
    return table


# ------------------------------------------------------------------------------------------
# Reward.


def length_reward(correct: bool, length: int, length_weight: float, max_len: int | None) -> float:
    """The reward of one completion: 0 when wrong; when right, 1 - length_weight × min(length,
    max_len) / max_len. With 0 ≤ length_weight < 1 a right answer always earns more than a
    wrong one (at least 1 - length_weight > 0), and of two right answers the shorter earns more:
    a mild push against padding the reasoning, never a reason to answer wrongly."""
    if not correct:
        return 0.0
    if length_weight == 0.0:
        return 1.0
    return 1.0 - length_weight * min(length, max_len) / max_len


def check_length_reward(length_weight: float, max_len: int | None) -> None:
    if not 0.0 <= length_weight < 1.0:
        raise Lightr1Error(f"length_weight {length_weight} is outside [0, 1): a right answer must always earn more than a wrong one")
    if length_weight > 0.0 and (max_len is None or max_len <= 0):
        raise Lightr1Error(f"length_weight {length_weight} needs a positive max_len (got {max_len})")


def _kept_ids(tokenizer) -> Callable[[Sequence[int]], list[int]]:
    """A filter dropping special tokens (end of turn, padding) from completion ids, except the
    think tags: some tokenizers (the tiny world's) mark `</think>` special, and TRL decodes
    completions with skip_special_tokens=True, which would erase the tag the verifier needs."""
    think = {tokenizer.convert_tokens_to_ids(tag) for tag in (THINK.strip(), "</think>")}
    drop = set(tokenizer.all_special_ids) - think
    return lambda ids: [i for i in ids if i not in drop]


def verifier_reward(length_weight: float = 0.0, max_len: int | None = None, forced_think: bool = True, tokenizer=None) -> Callable[..., list[float]]:
    """A TRL reward function `(prompts, completions, answer, **kwargs) -> list[float]`: 1.0 when
    the project's verifier judges the completion right against the row's `answer` (a string or
    a list of golds; the row's `kind`, where the data has one, picks math or choice), else 0.0;
    with `length_weight` > 0, see `length_reward`.

    `forced_think`: our prompts end in `<think>\\n`, so a completion starts inside the thinking
    block and one that never closes it has no answer. With a `tokenizer`, the text is decoded
    again from TRL's `completion_ids` keeping the think tags (see `_kept_ids`); lengths are then
    tokens, otherwise characters of the completion, in the unit of `max_len` either way. Model
    output is only ever parsed by the verifier, never evaluated."""
    from lightr1.verify.verdicts import verify

    check_length_reward(length_weight, max_len)
    kept = _kept_ids(tokenizer) if tokenizer is not None else None

    def verifier(prompts: list, completions: list, answer: list, **kwargs: Any) -> list[float]:
        ids = kwargs.get("completion_ids")
        kinds = kwargs.get("kind") or ["math"] * len(completions)
        rewards = []
        for index, (completion, gold, kind) in enumerate(zip(completions, answer, kinds, strict=True)):
            if kept is not None and ids is not None:
                tokens = kept(ids[index])
                text, length = tokenizer.decode(tokens, skip_special_tokens=False), len(tokens)
            else:
                text = completion[-1]["content"] if isinstance(completion, list) else completion
                length = len(text)
            verdict = verify(gold, text, kind or "math", forced_think=forced_think)
            rewards.append(length_reward(verdict.correct, length, length_weight, max_len))
        return rewards

    return verifier


# ------------------------------------------------------------------------------------------
# Data and configuration.


def grpo_examples(problems: pl.DataFrame, tokenizer, form: str, force_think: bool) -> list[dict]:
    """One example per problem: `prompt`, the generation prompt rendered exactly as sampling and
    SFT render it (a plain string, so TRL does not apply the chat template again and the forced
    `<think>\\n` stays), `answer` for the reward, and `problem_id` (and `kind`) where present."""
    missing = {"problem", "answer"} - set(problems.columns)
    if missing:
        raise Lightr1Error(f"the GRPO prompt table lacks column(s) {sorted(missing)} (has {problems.columns})")
    extra = [c for c in ("problem_id", "kind") if c in problems.columns]
    return [
        {"prompt": render(tokenizer, messages(row["problem"], form), force_think), "answer": row["answer"], **{c: row[c] for c in extra}}
        for row in problems.select("problem", "answer", *extra).iter_rows(named=True)
    ]


def resolved(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The stage's settings over `DEFAULTS`, checked: a bad loss name, vLLM mode or length
    weight fails here, before any model is loaded."""
    merged = {**DEFAULTS, **settings}
    if merged["loss_type"] not in LOSS_TYPES:
        raise Lightr1Error(f"unknown GRPO loss_type {merged['loss_type']!r}: use one of {', '.join(LOSS_TYPES)} (TRL would only fail at the first loss)")
    if merged["vllm_mode"] not in VLLM_MODES:
        raise Lightr1Error(f"unknown vllm_mode {merged['vllm_mode']!r}: use one of {', '.join(VLLM_MODES)}")
    if merged.get("length_max") is None:
        merged["length_max"] = merged["max_completion_length"]
    check_length_reward(merged["length_weight"], merged["length_max"])
    return merged


def prompts_per_step(batch_size: int, grad_accum: int, num_generations: int, world_size: int = 1) -> int:
    """Prompts per optimizer step. TRL generates for batch_size × devices × grad_accum
    completions at once, and every prompt's group must be whole in it."""
    if num_generations < 2:
        raise Lightr1Error(f"num_generations {num_generations}: GRPO needs at least 2 completions per prompt to compare them")
    completions = batch_size * world_size * grad_accum
    if completions % num_generations:
        raise Lightr1Error(
            f"the generation batch (batch_size {batch_size} × {world_size} device(s) × grad_accum {grad_accum} = {completions} completions) "
            f"is not a multiple of num_generations {num_generations}: every prompt's group of {num_generations} must fit whole"
        )
    return completions // num_generations


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def grpo_config(settings: Mapping[str, Any], work_dir: str | os.PathLike, seed: int):
    """TRL's GRPOConfig from resolved settings; every knob whose TRL default differs from the
    recipe (beta, loss_type, bf16, gradient checkpointing, learning rate) is passed explicitly."""
    from trl import GRPOConfig

    from lightr1.train.common import trainer_arguments

    return GRPOConfig(
        **trainer_arguments(settings, work_dir, seed),
        num_generations=settings["num_generations"],
        max_completion_length=settings["max_completion_length"],
        temperature=settings["temperature"],
        top_p=settings["top_p"],
        beta=settings["beta"],
        loss_type=settings["loss_type"],
        use_vllm=settings["use_vllm"],
        vllm_mode=settings["vllm_mode"],
        vllm_gpu_memory_utilization=settings["vllm_gpu_memory_utilization"],
    )


def build_trainer(
    problems: pl.DataFrame, init: str | os.PathLike, work_dir: str | os.PathLike, settings: Mapping[str, Any], *, form: str, force_think: bool, seed: int
):
    """The GRPOTrainer for the stage (not yet run): tests inspect its arguments."""
    from datasets import Dataset
    from trl import GRPOTrainer

    from lightr1.train.common import load_model, load_tokenizer

    settings = resolved(settings)
    per_step = prompts_per_step(settings["batch_size"], settings["grad_accum"], settings["num_generations"], world_size())
    if problems.height < per_step:
        raise Lightr1Error(f"GRPO has {problems.height} prompt(s), fewer than the {per_step} one optimizer step takes: nothing to train on")
    tokenizer = load_tokenizer(init)
    reward = verifier_reward(settings["length_weight"], settings["length_max"], forced_think=force_think, tokenizer=tokenizer)
    args = grpo_config(settings, work_dir, seed)
    return GRPOTrainer(
        model=load_model(init, args, settings.get("attn_implementation")),
        reward_funcs=reward,
        args=args,
        train_dataset=Dataset.from_list(grpo_examples(problems, tokenizer, form, force_think)),
        processing_class=tokenizer,
    )


# ------------------------------------------------------------------------------------------
# Metrics and the stage.


def step_metrics(log_history: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """One row per logged training step (entries with a step and a reward or loss; the run's
    closing summary and evaluation entries are left out), columns as in `METRIC_KEYS`."""
    rows = []
    for entry in log_history:
        if "step" not in entry or "train_runtime" in entry or not ("reward" in entry or "loss" in entry):
            continue
        rows.append({"step": entry["step"], **{column: entry.get(key) for column, key in METRIC_KEYS.items()}})
    return pl.DataFrame(rows, schema=METRICS_SCHEMA)


def train_grpo(
    prompts_path: str | os.PathLike,
    init: str | os.PathLike,
    out: str | os.PathLike,
    work_dir: str | os.PathLike,
    settings: Mapping[str, Any],
    *,
    form: str,
    force_think: bool,
    seed: int,
) -> dict:
    """Train GRPO on the selected prompts (problem, answer; see `grpo_prompts`), resuming from the
    work folder, and publish the picked epoch with its training log and metrics.parquet."""
    from lightr1.io import read_table
    from lightr1.train.common import train_and_publish

    prompts = read_table(prompts_path, {"problem_id": pl.String, "problem": pl.String, "answer": None})
    trainer = build_trainer(prompts, init, work_dir, settings, form=form, force_think=force_think, seed=seed)
    args = trainer.args
    log.info("GRPO: %d completions per prompt, beta %s, loss %s, max %d tokens", args.num_generations, args.beta, args.loss_type, args.max_completion_length)
    return train_and_publish(
        trainer,
        stage="grpo",
        init=init,
        data=prompts_path,
        out=out,
        work_dir=work_dir,
        settings=resolved(settings),
        tables=lambda history: {METRICS_FILE: step_metrics(history)},
        form=form,
        force_think=force_think,
    )
