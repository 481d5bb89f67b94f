"""DPO pairs from verified samples, their exports, and the NCA loss reaching TRL's trainer."""

from __future__ import annotations

import math
import random

import polars as pl
import pytest
from helpers import kill_after_save, resume

from lightr1.curriculum.pairs import build_pairs, ranking_dataset_info, sharegpt_ranking, strip_rejected, strip_special, wrong_kind
from lightr1.curriculum.stages import EmptySelection
from lightr1.errors import Lightr1Error

CHOSEN = "<think>\nfive and seven make twelve\n</think>\n\n\\boxed{12}"


def stage2(ids=("a", "b", "c")) -> pl.DataFrame:
    return pl.DataFrame({"problem_id": list(ids), "problem": [f"problem {i}" for i in ids], "answer": ["12"] * len(ids), "response": [CHOSEN] * len(ids)})


def scored(rows) -> pl.DataFrame:
    """rows: (problem_id, sample, response, finish_reason, correct)."""
    return pl.DataFrame(rows, schema=["problem_id", "sample", "response", "finish_reason", "correct"], orient="row")


SAMPLES = scored(
    [
        ("a", 0, "right\n</think>\n\n\\boxed{12}", "stop", True),
        ("a", 1, "a long wrong answer, longer than the chosen one by far\n</think>\n\n\\boxed{13}", "stop", False),
        ("a", 2, "short\n</think>\\boxed{1}", "stop", False),
        ("a", 3, "cut off mid-thought", "length", False),
        ("b", 0, "short\n</think>\\boxed{2}", "stop", False),
        ("b", 1, "cut off", "length", False),
        ("c", 0, "right\n</think>\n\n\\boxed{12}", "stop", True),  # no wrong sample: no pair
        ("z", 0, "not a stage-2 problem", "stop", False),
    ]
)


def test_wrong_kinds():
    assert wrong_kind(True, "stop", "x", CHOSEN) is None
    assert wrong_kind(False, "length", "x" * 1000, CHOSEN) == "too_long"
    assert wrong_kind(False, "stop", "x", CHOSEN) == "too_short"
    assert wrong_kind(False, "stop", "x" * 1000, CHOSEN) == "wrong"


def test_pairs_take_the_first_preferred_kind_a_problem_has():
    pairs = build_pairs(stage2(), SAMPLES, ["wrong", "too_short", "too_long"], seed=1, forced_think=False)
    by_id = {row["problem_id"]: row for row in pairs.iter_rows(named=True)}
    assert set(by_id) == {"a", "b"}  # c has no wrong sample, z is not a stage-2 problem
    assert by_id["a"]["rejected_kind"] == "wrong" and by_id["a"]["rejected_sample"] == 1
    assert by_id["b"]["rejected_kind"] == "too_short" and by_id["b"]["rejected"] == "short\n</think>\\boxed{2}"
    assert (by_id["a"]["samples"], by_id["a"]["wrong_samples"]) == (4, 3)
    assert all(row["chosen"] == CHOSEN for row in by_id.values())
    only_long = build_pairs(stage2(), SAMPLES, ["too_long"], seed=1, forced_think=False)
    assert set(only_long["rejected_kind"]) == {"too_long"} and len(only_long) == 2


def test_rejected_gets_the_forced_think_back_and_the_draw_is_seeded():
    many = scored([("a", i, f"wrong {i} " * 30, "stop", False) for i in range(20)])
    drawn = {build_pairs(stage2(["a"]), many, ["wrong"], seed=s, forced_think=True)["rejected"][0] for s in range(8)}
    assert len(drawn) > 1 and all(text.startswith("<think>\nwrong") for text in drawn)
    again = build_pairs(stage2(["a"]), many.sample(fraction=1.0, shuffle=True, seed=3), ["wrong"], seed=5, forced_think=True)
    assert again["rejected"][0] == build_pairs(stage2(["a"]), many, ["wrong"], seed=5, forced_think=True)["rejected"][0]


def test_no_wrong_sample_stops_with_the_counts():
    right = scored([("a", 0, "ok", "stop", True)])
    with pytest.raises(EmptySelection, match=r"pool 3 -> sampled 1 -> with a wrong sample 0"):
        build_pairs(stage2(), right, ["wrong"], seed=0, forced_think=False)


def test_v2_strips_special_tokens_from_the_rejected_side_only():
    assert strip_special("<think>\nx</think>\n\\boxed{1}<|im_end|>", ["<think>", "</think>", "<|im_end|>"]) == "\nx\n\\boxed{1}"
    pairs = build_pairs(stage2(), SAMPLES, ["wrong", "too_short"], seed=1, forced_think=True)
    stripped = strip_rejected(pairs, ["<think>", "</think>"])
    assert not stripped["rejected"].str.contains("think>").any() and stripped["chosen"].equals(pairs["chosen"])


def test_sharegpt_ranking_export():
    pairs = build_pairs(stage2(), SAMPLES, ["wrong"], seed=1, forced_think=False)
    export = sharegpt_ranking(pairs)
    assert export[0] == {
        "conversations": [{"from": "user", "value": "problem a"}],
        "chosen": {"from": "assistant", "value": CHOSEN},
        "rejected": {"from": "assistant", "value": pairs["rejected"][0]},
    }
    info = ranking_dataset_info({"light_r1_dpo": "pairs.json"})["light_r1_dpo"]
    assert info["ranking"] is True and info["columns"] == {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"}


def tiny_pairs(count: int) -> pl.DataFrame:
    from lightr1.tiny.problems import TRAIN, make_problem, teacher_trace

    rng = random.Random(0)
    problems = [make_problem(rng, 1, TRAIN) for _ in range(count)]
    rows = [(f"p{i}", p.text, teacher_trace(p, rng), teacher_trace(p, rng, wrong=True)) for i, p in enumerate(problems)]
    return pl.DataFrame(rows, schema=["problem_id", "problem", "chosen", "rejected"], orient="row")


def test_nca_is_the_loss_that_reaches_the_trainer(untrained_model_dir, tmp_path):
    """NCA's loss on a fresh pair (policy = reference) is 2 ln 2; sigmoid DPO's would be ln 2."""
    from lightr1.train.dpo import build_trainer

    settings = {"lr": 1e-4, "epochs": 1, "batch_size": 2, "cutoff": 1024, "save_steps": 50, "loss_type": "nca_pair", "beta": 0.3, "scheduler": "constant"}
    trainer = build_trainer(tiny_pairs(2), untrained_model_dir, tmp_path, settings, form="deepseek-r1", force_think=True, seed=0)
    assert trainer.args.loss_type == ["nca_pair"] and trainer.args.beta == 0.3
    trainer.train()
    first = next(entry["loss"] for entry in trainer.state.log_history if "loss" in entry)
    assert first == pytest.approx(2 * math.log(2), abs=1e-4)


def test_unknown_loss_type_is_refused(untrained_model_dir, tmp_path):
    from lightr1.train.dpo import build_trainer

    settings = {"lr": 1e-4, "batch_size": 2, "cutoff": 64, "loss_type": "ncaa", "beta": 0.3}
    with pytest.raises(Lightr1Error, match="unknown DPO loss_type 'ncaa'"):
        build_trainer(tiny_pairs(2), untrained_model_dir, tmp_path, settings, form="deepseek-r1", force_think=True, seed=0)


def test_killed_dpo_resumes_from_its_last_checkpoint(untrained_model_dir, tmp_path):
    """DPO killed right after a save resumes from it and ends at the step one run would."""
    tiny_pairs(8).write_parquet(tmp_path / "data.parquet")  # 7 training pairs, 1 held out
    settings = {"lr": 1e-4, "epochs": 2, "batch_size": 2, "cutoff": 256, "save_steps": 3, "loss_type": "nca_pair", "beta": 0.3, "eval_fraction": 0.125}
    kill_after_save("train-dpo", tmp_path, untrained_model_dir, settings, form="deepseek-r1", step=3)
    log = resume("train-dpo", tmp_path, untrained_model_dir, settings, form="deepseek-r1", step=3)
    steps = [entry["step"] for entry in log["log_history"] if "loss" in entry]
    assert min(steps) == 1 and max(steps) == 8 and [e["epoch"] for e in log["epochs"]] == [1, 2]  # 4 steps an epoch
