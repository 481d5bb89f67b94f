"""Evaluation tables: a benchmark's usable rows become its prompt set, and one model's scored
shards become one table only when every problem has exactly n samples."""

import polars as pl
import pytest

from lightr1.errors import Lightr1Error
from lightr1.eval.samples import benchmark_prompt_set, eval_table
from lightr1.tables import BENCHMARK, EVAL_SAMPLES, PROMPT_SET, SCORED


def benchmark(statuses):
    rows = [
        {"benchmark": "b", "row_index": i, "status": status, "reason": None if status == "ok" else "no answer", "problem_id": f"p{i}",
         "problem": f"What is {i}+1?", "answer": [str(i + 1)], "kind": "math", "meta": "{}"}
        for i, status in enumerate(statuses)
    ]
    return pl.DataFrame(rows, schema=BENCHMARK)


def scored(problem_id, samples, model="m"):
    rows = [
        {"problem_id": problem_id, "sample": s, "response": "\\boxed{1}", "finish_reason": "stop", "tokens": 5, "model": model, "fingerprint": "f",
         "correct": s == 0, "extracted": "1", "reason": "match"}
        for s in samples
    ]
    return pl.DataFrame(rows, schema=SCORED)


def test_prompt_set_keeps_usable_rows():
    prompts = benchmark_prompt_set(benchmark(["ok", "rejected", "ok"]))
    assert prompts.schema == PROMPT_SET
    assert prompts["problem_id"].to_list() == ["p0", "p2"]
    with pytest.raises(Lightr1Error, match="benchmark b has no usable row"):
        benchmark_prompt_set(benchmark(["rejected"]))


def test_eval_table_is_complete_or_refused():
    prompts = benchmark_prompt_set(benchmark(["ok", "ok"]))
    table = eval_table([scored("p1", [0, 1]), scored("p0", [1, 0])], prompts, "b", n=2)
    assert table.schema == EVAL_SAMPLES
    assert table.select("problem_id", "sample").rows() == [("p0", 0), ("p0", 1), ("p1", 0), ("p1", 1)]
    assert set(table["benchmark"]) == {"b"}
    with pytest.raises(Lightr1Error, match="1 problems without samples"):  # a lost shard
        eval_table([scored("p0", [0, 1])], prompts, "b", n=2)
    with pytest.raises(Lightr1Error, match="without exactly 2 samples"):  # a short batch
        eval_table([scored("p0", [0, 1]), scored("p1", [0])], prompts, "b", n=2)
    with pytest.raises(Lightr1Error, match="sampled by several models: a, m"):
        eval_table([scored("p0", [0, 1]), scored("p1", [0, 1], model="a")], prompts, "b", n=2)
