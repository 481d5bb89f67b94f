"""Grading, teacher choice, curriculum selection and resumable sampling: the parts with sharp
edges, on small constructed tables."""

from __future__ import annotations

import json

import polars as pl
import pytest

from lightr1.curriculum import grading, stages, teacher
from lightr1.data.ingest import stage_source
from lightr1.data.sources import get_adapter
from lightr1.errors import Lightr1Error
from lightr1.generation import Completion, Sampling
from lightr1.generation.prompts import make_prompts
from lightr1.generation.store import model_fingerprint, sample_prompts
from lightr1.tables import SCORED, TEACHER
from lightr1.text import problem_id


def scored_table(correct_by_problem: dict[str, list[bool]]) -> pl.DataFrame:
    rows = [
        (pid, i, f"response {i}", "length" if i == 0 else "stop", 10, "grader", "fp", ok, "1", "match" if ok else "mismatch")
        for pid, flags in correct_by_problem.items()
        for i, ok in enumerate(flags)
    ]
    return pl.DataFrame(rows, schema=SCORED, orient="row")


def test_pass_rates_counts_and_truncation():
    rates = grading.pass_rates(scored_table({"a" * 16: [True, False, True, True], "b" * 16: [False] * 4}), "grader")
    assert rates.select("problem_id", "n", "correct", "pass_rate", "truncated").rows() == [("a" * 16, 4, 3, 0.75, 1), ("b" * 16, 4, 0, 0.0, 1)]


def test_sharded_and_unsharded_aggregation_agree():
    ids = [problem_id(f"problem {i}") for i in range(50)]
    scored = scored_table({pid: [(i * 7 + j) % 3 == 0 for j in range(8)] for i, pid in enumerate(ids)})
    whole = grading.pass_rates(scored, "g")
    shards = 4
    assert {grading.shard_of(pid, shards) for pid in ids} == set(range(shards))  # every shard gets work
    parts = []
    for shard in range(shards):
        shard_ids = [pid for pid in ids if grading.shard_of(pid, shards) == shard]
        parts.append(grading.pass_rates(scored.filter(pl.col("problem_id").is_in(shard_ids)), "g"))
    assert pl.concat(parts).sort("problem_id").equals(whole)


def test_select_shard_partitions_a_prompt_set():
    prompt_set = pl.DataFrame({"problem_id": [problem_id(str(i)) for i in range(30)]})
    parts = [grading.select_shard(prompt_set, shard, 3)["problem_id"].to_list() for shard in range(3)]
    assert sorted(sum(parts, [])) == sorted(prompt_set["problem_id"].to_list())
    with pytest.raises(Lightr1Error, match="shard 3 is not in 0..2"):
        grading.select_shard(prompt_set, 3, 3)


def test_check_complete_catches_missing_and_short_problems():
    prompt_set = pl.DataFrame({"problem_id": ["a" * 16, "b" * 16, "c" * 16]})
    rates = grading.pass_rates(scored_table({"a" * 16: [True] * 4, "b" * 16: [True] * 3}), "g")
    with pytest.raises(Lightr1Error, match="1 problems without samples.*1 problems without exactly 4"):
        grading.check_complete(rates, prompt_set, 4)


def test_teacher_choice_is_seeded_and_only_correct():
    candidates = pl.DataFrame({"problem_id": ["p"] * 4 + ["q"], "answer": ["1"] * 5, "text": ["w0", "r1", "r2", "r3", "w"], "model": ["m"] * 5})
    verdicts = [False, True, True, True, False]
    first = teacher.choose(candidates, verdicts, ["p", "q", "z"], run_seed=7)
    again = teacher.choose(candidates.reverse().reverse(), verdicts, ["p", "q", "z"], run_seed=7)
    assert first.equals(again)
    rows = {row["problem_id"]: row for row in first.iter_rows(named=True)}
    assert rows["p"]["teacher_n"] == 4 and rows["p"]["teacher_correct"] == 3 and rows["p"]["chosen"] in {"r1", "r2", "r3"}
    assert rows["q"]["chosen"] is None and rows["z"]["teacher_n"] == 0
    picks = {teacher.choose(candidates, verdicts, ["p"], run_seed=seed)["chosen"][0] for seed in range(30)}
    assert picks == {"r1", "r2", "r3"}  # random among the verified-correct ones, never the wrong one


def curriculum_tables():
    ids = ["p1", "p2", "p3", "p4", "p5"]
    problems = pl.DataFrame({"problem_id": ids, "source": ["s"] * 5, "problem": [f"q{i}" for i in range(5)], "answer": ["1"] * 5})
    teach = pl.DataFrame(
        [("p1", 2, 1, "r1", "m"), ("p2", 2, 2, "r2", "m"), ("p3", 1, 1, "r3", "m"), ("p4", 2, 0, None, None), ("p5", 3, 2, "r5", "m")],
        schema=TEACHER,
        orient="row",
    )
    rates1 = pl.DataFrame({"problem_id": ids, "pass_rate": [0.0, 0.5, 0.25, 0.0, 1.0]})
    return problems, teach, rates1


def test_stage_selection_on_known_pass_rates():
    problems, teach, rates1 = curriculum_tables()
    stage1 = stages.select_stage1(problems, teach, rates1, alpha=0.75)
    assert stage1["problem_id"].to_list() == ["p1", "p2", "p3"]  # p4 has no verified teacher, p5 is too easy
    assert stage1["response"].to_list() == ["r1", "r2", "r3"]
    rates2 = pl.DataFrame({"problem_id": ["p1", "p2", "p3"], "pass_rate": [0.25, 0.25, 0.0]})
    stage2 = stages.select_stage2(stage1, rates2, alpha=0.5, require_mixed_teacher=True)
    assert stage2["problem_id"].to_list() == ["p1"]  # p2's teacher samples were all right, p3 had one
    assert stages.select_stage2(stage1, rates2, 0.5, require_mixed_teacher=False)["problem_id"].to_list() == ["p1", "p2", "p3"]


def test_empty_selection_stops_naming_the_filter_and_counts():
    problems, teach, rates1 = curriculum_tables()
    with pytest.raises(stages.EmptySelection, match=r"'pass rate < 0.0'.*kept 5 -> verified teacher response 4 -> graded 4 -> pass rate < 0.0 0"):
        stages.select_stage1(problems, teach, rates1, alpha=0.0)


def test_sharegpt_export_reads_back_through_the_light_r1_sft_adapter(tmp_path):
    problems, teach, rates1 = curriculum_tables()
    teach = teach.with_columns(pl.lit("<think>\nwork\n</think>\n\n\\boxed{1}").alias("chosen"))
    stage1 = stages.select_stage1(problems, teach, rates1, alpha=0.75)
    path = tmp_path / "stage1.json"
    path.write_text(json.dumps(stages.sharegpt(stage1)))
    staged = stage_source(path, "export", get_adapter("light-r1-sft"))
    assert staged["status"].to_list() == ["ok"] * len(stage1)
    assert staged["problem"].to_list() == stage1["problem"].to_list() and staged["answer"].to_list() == ["1"] * len(stage1)
    info = stages.dataset_info({"light_r1_stage1": "stage1.json"})
    assert info["light_r1_stage1"]["formatting"] == "sharegpt" and info["light_r1_stage1"]["columns"] == {"messages": "conversations"}


class CountingBackend:
    """A stand-in for a real backend that records what it was asked (the store is under test)."""

    def __init__(self, calls: list):
        self.calls = calls

    def generate(self, prompts, sampling):
        self.calls.extend(p.key for p in prompts)
        return [Completion(p.key, i, f"{p.key}/{i}", "stop", 3) for p in prompts for i in range(sampling.n)]

    def close(self):
        pass


def test_sampling_resumes_finished_batches_and_restarts_on_a_new_key(tmp_path):
    prompts = make_prompts(None, [(f"k{i}", f"problem {i}") for i in range(10)], "plain", False, run_seed=1)
    sampling = Sampling(n=2, max_tokens=8)
    calls: list = []
    run = dict(model_name="m", fingerprint="fp", backend_name="hf", work_dir=tmp_path / "work", out=tmp_path / "out.parquet", batch_prompts=4)
    first = sample_prompts(lambda: CountingBackend(calls), prompts, sampling, **run)
    assert len(first) == 20 and len(calls) == 10
    (tmp_path / "work" / "batch-000001.parquet").unlink()  # as if killed during the second batch
    calls.clear()
    again = sample_prompts(lambda: CountingBackend(calls), prompts, sampling, **run)
    assert calls == ["k4", "k5", "k6", "k7"] and again.equals(first)
    # A changed prompt set (one dropped, one added) generates only the new prompt.
    calls.clear()
    changed = prompts[1:] + make_prompts(None, [("k10", "problem 10")], "plain", False, run_seed=1)
    subset = sample_prompts(lambda: CountingBackend(calls), changed, sampling, **run)
    assert calls == ["k10"] and subset["problem_id"].unique(maintain_order=True).to_list() == [p.key for p in changed]
    sample_prompts(lambda: pytest.fail("nothing left to generate"), prompts, sampling, **run)
    calls.clear()
    sample_prompts(lambda: CountingBackend(calls), prompts, Sampling(n=3, max_tokens=8), **run)
    assert len(calls) == 10  # other settings: nothing is reused


def test_model_fingerprint_follows_the_weights(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 100)
    before = model_fingerprint(str(tmp_path))
    (tmp_path / "model.safetensors").write_bytes(b"\1" * 100)
    assert model_fingerprint(str(tmp_path)) != before
    assert model_fingerprint("deepseek-reasoner") != model_fingerprint("other-served-model")


def test_model_fingerprint_ignores_the_training_log(tmp_path):
    # The log's wall-clock seconds differ from run to run; samples of the same weights must not.
    (tmp_path / "model.safetensors").write_bytes(b"\0" * 100)
    (tmp_path / "training_log.json").write_text('{"seconds": 75.9}')
    before = model_fingerprint(str(tmp_path))
    (tmp_path / "training_log.json").write_text('{"seconds": 119.1}')
    assert model_fingerprint(str(tmp_path)) == before
