"""Evaluation metrics on constructed tables whose answers are known: the estimators, the
intervals (against closed-form widths), cons@n ties, paired comparisons and table assembly."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from lightr1.errors import Lightr1Error
from lightr1.eval import metrics
from lightr1.tables import COMPARISONS, EVAL_SAMPLES, METRICS


def eval_table(
    correct_by_problem: dict[str, list[bool]],
    *,
    extracted: dict[str, list[str | None]] | None = None,
    tokens: dict[str, list[int]] | None = None,
    finish: dict[str, list[str]] | None = None,
    model: str = "m",
    benchmark: str = "b",
) -> pl.DataFrame:
    rows = []
    for pid, flags in correct_by_problem.items():
        for i, ok in enumerate(flags):
            answer = extracted[pid][i] if extracted else ("1" if ok else "2")
            rows.append(
                (
                    pid,
                    i,
                    f"response {i}",
                    finish[pid][i] if finish else "stop",
                    tokens[pid][i] if tokens else 10,
                    model,
                    "fp",
                    ok,
                    answer,
                    "match" if ok else "mismatch",
                    benchmark,
                )
            )
    return pl.DataFrame(rows, schema=EVAL_SAMPLES, orient="row")


def rate_matrix(rates: list[float], n: int) -> np.ndarray:
    """Problems x n verdicts with exactly round(rate * n) correct samples per problem."""
    return np.array([[j < round(rate * n) for j in range(n)] for rate in rates], dtype=bool)


# pass@k


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [(4, 1, 2, 1 / 2), (5, 2, 2, 7 / 10), (8, 0, 4, 0.0), (8, 8, 4, 1.0), (8, 6, 3, 1.0), (10, 3, 1, 0.3), (16, 5, 1, 5 / 16)],
)
def test_pass_at_k_hand_cases(n, c, k, expected):
    assert metrics.pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_matches_closed_form_and_is_monotone_in_k():
    for n in range(1, 21):
        for c in range(n + 1):
            values = [metrics.pass_at_k(n, c, k) for k in range(1, n + 1)]
            closed = [1 - math.comb(n - c, k) / math.comb(n, k) for k in range(1, n + 1)]
            assert values == pytest.approx(closed, abs=1e-12)
            assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))


def test_pass_at_k_is_stable_for_large_n_and_rejects_impossible_arguments():
    assert 0 < metrics.pass_at_k(4096, 3, 64) < 1  # C(4096, 64) overflows a float
    for n, c, k in [(4, 1, 5), (4, 5, 2), (4, 1, 0)]:
        with pytest.raises(ValueError):
            metrics.pass_at_k(n, c, k)


def test_ks_for():
    assert metrics.ks_for(1) == [1]
    assert metrics.ks_for(6) == [1, 2, 4]
    assert metrics.ks_for(8) == [1, 2, 4, 8]


# correct_matrix


def test_correct_matrix_sorts_problems_and_samples():
    table = eval_table({"b": [True, False], "a": [False, True]}).reverse()
    ids, matrix = metrics.correct_matrix(table)
    assert ids == ["a", "b"]
    assert matrix.tolist() == [[False, True], [True, False]]


def test_correct_matrix_refuses_ragged_gappy_or_empty_tables():
    with pytest.raises(Lightr1Error, match="'short'.*3"):
        metrics.correct_matrix(eval_table({"full": [True] * 4, "other": [True] * 4, "short": [True] * 3}))
    duplicate = eval_table({"a": [True, False], "dup": [True, False]}).with_columns(
        pl.when(pl.col("problem_id") == "dup").then(0).otherwise(pl.col("sample")).alias("sample")
    )
    with pytest.raises(Lightr1Error, match="'dup'"):
        metrics.correct_matrix(duplicate)
    shifted = eval_table({"a": [True, False], "gap": [True, False]}).with_columns(
        pl.when(pl.col("problem_id") == "gap").then(pl.col("sample") + 1).otherwise(pl.col("sample")).alias("sample")
    )
    with pytest.raises(Lightr1Error, match="'gap'"):
        metrics.correct_matrix(shifted)
    with pytest.raises(Lightr1Error, match="no evaluation samples"):
        metrics.correct_matrix(eval_table({}))


# bootstrap interval of pass@1


def test_bootstrap_within_problem_noise_only():
    """Every problem at exactly 1/2: the only noise is which samples were drawn."""
    matrix = rate_matrix([0.5] * 400, 16)
    low, high = metrics.bootstrap_pass1(matrix, resamples=4000, confidence=0.95, seed=1)
    expected = 1.96 * math.sqrt(0.25 / (16 * 400))
    assert (high - low) / 2 == pytest.approx(expected, rel=0.1)
    assert low < 0.5 < high


def test_bootstrap_between_problem_noise_only():
    """Problems solved always or never: sampling adds nothing, problem choice is all the noise."""
    matrix = rate_matrix([1.0, 0.0] * 200, 16)
    low, high = metrics.bootstrap_pass1(matrix, resamples=4000, confidence=0.95, seed=1)
    assert (high - low) / 2 == pytest.approx(1.96 * math.sqrt(0.25 / 400), rel=0.1)


def test_bootstrap_degenerate_and_deterministic():
    assert metrics.bootstrap_pass1(np.ones((30, 8), dtype=bool), resamples=500, confidence=0.95, seed=3) == (1.0, 1.0)
    assert metrics.bootstrap_pass1(np.zeros((30, 1), dtype=bool), resamples=500, confidence=0.95, seed=3) == (0.0, 0.0)
    matrix = np.random.default_rng(0).random((50, 8)) < 0.4
    once = metrics.bootstrap_pass1(matrix, resamples=300, confidence=0.9, seed=7)
    assert metrics.bootstrap_pass1(matrix, resamples=300, confidence=0.9, seed=7) == once
    assert metrics.bootstrap_pass1(matrix, resamples=300, confidence=0.9, seed=8) != once
    assert once[0] < matrix.mean() < once[1]


def test_bootstrap_mixed_noise_matches_the_two_stage_variance():
    """Rates 0, 1/4, 1/2, 3/4, 1 at n=4: the spread of the resampled means is the variance of the
    rates over problems plus the binomial variance of the redrawn samples."""
    rates = [0.0, 0.25, 0.5, 0.75, 1.0] * 100
    matrix = rate_matrix(rates, 4)
    low, high = metrics.bootstrap_pass1(matrix, resamples=4000, confidence=0.95, seed=2)
    r = np.array(rates)
    expected = 1.96 * math.sqrt((r.var() + np.mean(r * (1 - r) / 4)) / len(r))
    assert (high - low) / 2 == pytest.approx(expected, rel=0.1)


def test_bootstrap_is_cheap_on_many_problems():
    matrix = np.random.default_rng(0).random((100_000, 4)) < 0.3
    low, high = metrics.bootstrap_pass1(matrix, resamples=2000, confidence=0.95, seed=1)
    assert low < matrix.mean() < high and high - low < 0.01


def test_run_std():
    assert metrics.run_std(np.ones((5, 1), dtype=bool)) is None
    runs = np.array([[True, False, True, False], [False, False, False, False]])  # per-run accuracy 1/2, 0, 1/2, 0
    assert metrics.run_std(runs) == pytest.approx(math.sqrt(1 / 12))


# cons@n


def test_consensus_ties_majorities_and_nulls():
    correct = {"tie": [True, True, False, False], "wrong": [False, False, False, True], "nulls": [False, True, False, False], "none": [True, False]}
    extracted = {"tie": ["1", "1", "2", "2"], "wrong": ["5", "5", "5", "1"], "nulls": [None, "1", None, None], "none": [None, None]}
    table = eval_table({k: correct[k] for k in ["tie"]}, extracted={"tie": extracted["tie"]})
    assert metrics.consensus(table) == 0.5
    assert metrics.consensus(eval_table({"wrong": correct["wrong"]}, extracted={"wrong": extracted["wrong"]})) == 0.0
    assert metrics.consensus(eval_table({"nulls": correct["nulls"]}, extracted={"nulls": extracted["nulls"]})) == 1.0  # nulls cast no vote
    assert metrics.consensus(eval_table({"none": correct["none"]}, extracted={"none": extracted["none"]})) == 0.0
    # the mean over problems, ragged sample counts being fine here
    assert metrics.consensus(eval_table(correct, extracted=extracted)) == pytest.approx((0.5 + 0 + 1 + 0) / 4)


def test_consensus_three_way_tie():
    table = eval_table({"p": [True, False, False, False, False, True]}, extracted={"p": ["1", "2", "3", "1", "2", "3"]})
    # "3" is correct on one of its two samples: its correctness is 1/2
    assert metrics.consensus(table) == pytest.approx((0.5 + 0 + 0.5) / 3)


# paired comparison


def test_paired_bootstrap_sees_a_small_consistent_gain_that_unpaired_noise_hides():
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.05, 0.85, size=100)  # large spread between problems
    better = reference + 0.03 + rng.uniform(-0.02, 0.02, size=100)
    paired = metrics.paired_bootstrap(reference, better, resamples=2000, confidence=0.95, seed=1)
    assert paired["diff"] == pytest.approx(0.03, abs=0.005)
    assert paired["distinguishable"] and paired["ci_low"] > 0 and paired["p_value"] < 0.01
    shuffled = metrics.paired_bootstrap(reference, rng.permutation(better), resamples=2000, confidence=0.95, seed=1)
    assert shuffled["diff"] == pytest.approx(paired["diff"])  # same means, pairing broken
    assert not shuffled["distinguishable"] and shuffled["p_value"] > 0.05
    assert shuffled["ci_high"] - shuffled["ci_low"] > 10 * (paired["ci_high"] - paired["ci_low"])


def test_paired_bootstrap_identical_models_and_bad_input():
    rates = np.linspace(0, 1, 40)
    same = metrics.paired_bootstrap(rates, rates.copy(), resamples=500, confidence=0.95, seed=1)
    assert same == {"diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "p_value": 1.0, "distinguishable": False}
    worse = metrics.paired_bootstrap(rates, rates - 0.05, resamples=500, confidence=0.95, seed=1)
    assert worse["diff"] == pytest.approx(-0.05) and worse["distinguishable"] and worse["ci_high"] < 0
    with pytest.raises(Lightr1Error):
        metrics.paired_bootstrap(rates, rates[:-1], resamples=500, confidence=0.95, seed=1)


def test_paired_bootstrap_in_chunks(monkeypatch):
    rng = np.random.default_rng(3)
    reference, rates = rng.random(60), rng.random(60)
    whole = metrics.paired_bootstrap(reference, rates, resamples=1001, confidence=0.9, seed=4)
    monkeypatch.setattr(metrics, "CHUNK_ELEMENTS", 120)  # chunks of two resamples
    chunked = metrics.paired_bootstrap(reference, rates, resamples=1001, confidence=0.9, seed=4)
    assert chunked["diff"] == whole["diff"]
    assert chunked["ci_low"] == pytest.approx(whole["ci_low"], abs=0.02) and chunked["ci_high"] == pytest.approx(whole["ci_high"], abs=0.02)


# warnings


def test_interval_warning_cases():
    matrix = rate_matrix([0.5] * 400, 16)
    low, high = metrics.bootstrap_pass1(matrix, resamples=2000, confidence=0.95, seed=1)
    assert metrics.interval_warning(matrix, low, high, confidence=0.95, resamples=2000, max_half_width=None) is None
    assert metrics.interval_warning(matrix, low, high, confidence=0.95, resamples=2000, max_half_width=0.05) is None
    single = metrics.interval_warning(matrix[:, :1], low, high, confidence=0.95, resamples=2000, max_half_width=None)
    assert "one sample per problem" in single
    few = metrics.interval_warning(matrix, low, high, confidence=0.95, resamples=100, max_half_width=None)
    assert "2.5 draws in each tail" in few and "at least 400" in few
    assert metrics.interval_warning(matrix, low, high, confidence=0.9, resamples=200, max_half_width=None) is None  # exactly 10 a tail
    both = metrics.interval_warning(matrix[:, :1], low, high, confidence=0.95, resamples=100, max_half_width=None)
    assert both.count("; ") == 1


def test_interval_warning_advises_samples_when_within_noise_dominates():
    matrix = rate_matrix([0.5] * 400, 16)  # no between-problem spread at all
    low, high = metrics.bootstrap_pass1(matrix, resamples=2000, confidence=0.95, seed=1)
    half = (high - low) / 2
    warning = metrics.interval_warning(matrix, low, high, confidence=0.95, resamples=2000, max_half_width=half / 2)
    assert "samples per problem (now 16)" in warning and "more problems" not in warning
    needed = int(warning.split("about ")[1].split()[0])
    assert 60 <= needed <= 68  # within noise scales as 1/n: half the width takes four times the samples


def test_interval_warning_advises_problems_when_between_noise_dominates():
    matrix = rate_matrix([1.0, 0.0] * 200, 16)  # no within-problem noise at all
    low, high = metrics.bootstrap_pass1(matrix, resamples=2000, confidence=0.95, seed=1)
    half = (high - low) / 2
    warning = metrics.interval_warning(matrix, low, high, confidence=0.95, resamples=2000, max_half_width=half / 2)
    assert "more problems are needed" in warning and "samples per problem" not in warning
    needed = int(warning.split("about ")[1].split(",")[0])
    assert 1590 <= needed <= 1610


# summarize, compare, tables


def tiny_table(model: str = "m", benchmark: str = "b") -> pl.DataFrame:
    return eval_table(
        {"a": [True, False, True, False], "b": [False, False, False, False]},
        extracted={"a": ["1", "2", "1", "2"], "b": ["5", "5", None, "6"]},
        tokens={"a": [10, 20, 30, 40], "b": [100, 100, 200, 200]},
        finish={"a": ["stop", "length", "stop", "stop"], "b": ["length", "length", "stop", "stop"]},
        model=model,
        benchmark=benchmark,
    )


def test_summarize_on_a_hand_table():
    row = metrics.summarize(tiny_table(), model="m", benchmark="b", order=3, resamples=200, confidence=0.9, seed=1)
    assert list(row) == METRICS.names()
    assert (row["model"], row["benchmark"], row["order"], row["problems"], row["n"], row["confidence"]) == ("m", "b", 3, 2, 4, 0.9)
    assert row["pass1"] == 0.25
    assert row["pass_at_k"] == [{"k": 1, "value": 0.25}, {"k": 2, "value": pytest.approx(5 / 12)}, {"k": 4, "value": 0.5}]
    assert row["run_std"] == pytest.approx(math.sqrt(1 / 12))
    assert row["cons"] == 0.25  # a: 2-2 tie with one answer correct; b: majority wrong
    assert row["truncated"] == 3 / 8
    assert (row["tokens_mean_correct"], row["tokens_median_correct"]) == (20.0, 20.0)
    assert (row["tokens_mean_wrong"], row["tokens_median_wrong"]) == (110.0, 100.0)
    assert 0 <= row["ci_low"] <= row["pass1"] <= row["ci_high"] <= 1
    assert row["warning"] is None

    solved = metrics.summarize(eval_table({"a": [True, True]}), model="m", benchmark="b", order=0, resamples=200, confidence=0.9, seed=1)
    assert solved["tokens_mean_wrong"] is None and solved["tokens_median_wrong"] is None and solved["tokens_mean_correct"] == 10.0
    assert (solved["ci_low"], solved["ci_high"]) == (1.0, 1.0)


def test_compare_needs_the_same_problems():
    reference = eval_table({"a": [True, False], "b": [False, False]})
    model = eval_table({"a": [True, True, True, True], "b": [True, False, True, False]})  # n may differ
    row = metrics.compare(reference, model, benchmark="b", model="m2", reference="m1", resamples=300, confidence=0.95, seed=1)
    assert list(row) == COMPARISONS.names()
    assert row["diff"] == pytest.approx(((1 - 0.5) + (0.5 - 0)) / 2)
    with pytest.raises(Lightr1Error, match=r"1 only in m2, 0 only in m1"):
        metrics.compare(
            reference, eval_table({"a": [True], "b": [True], "c": [True]}), benchmark="b", model="m2", reference="m1", resamples=10, confidence=0.9, seed=1
        )


def test_metrics_tables_schema_order_and_seeds():
    evaluations = [
        ("sft", "math", 1, tiny_table("sft", "math")),
        ("base", "math", 0, tiny_table("base", "math")),
        ("sft", "aime", 1, tiny_table("sft", "aime")),
        ("base", "aime", 0, tiny_table("base", "aime")),
        ("grpo", "math", 2, tiny_table("grpo", "math")),
    ]
    table, compared = metrics.metrics_tables(evaluations, [("sft", "base"), ("grpo", "sft")], resamples=200, confidence=0.95, run_seed=5)
    assert table.schema == METRICS and compared.schema == COMPARISONS
    assert table.select("benchmark", "model").rows() == [("aime", "base"), ("aime", "sft"), ("math", "base"), ("math", "sft"), ("math", "grpo")]
    # grpo was evaluated on math only, so it is compared there only
    assert compared.select("benchmark", "model", "reference").rows() == [("aime", "sft", "base"), ("math", "grpo", "sft"), ("math", "sft", "base")]
    assert compared["diff"].to_list() == [0.0, 0.0, 0.0]
    assert table["pass_at_k"][0].to_list() == [{"k": 1, "value": 0.25}, {"k": 2, "value": pytest.approx(5 / 12)}, {"k": 4, "value": 0.5}]
    again, _ = metrics.metrics_tables(list(reversed(evaluations)), [], resamples=200, confidence=0.95, run_seed=5)
    assert again.equals(table)  # per-row seeds: input order does not matter
    other, _ = metrics.metrics_tables(evaluations, [], resamples=200, confidence=0.95, run_seed=6)
    assert not other.select("ci_low", "ci_high").equals(table.select("ci_low", "ci_high"))


def test_metrics_tables_errors_and_empty():
    evaluations = [("base", "math", 0, tiny_table("base", "math"))]
    with pytest.raises(Lightr1Error, match="ghost was not evaluated"):
        metrics.metrics_tables(evaluations, [("ghost", "base")], resamples=50, confidence=0.9, run_seed=1)
    with pytest.raises(Lightr1Error, match="a and b were not evaluated"):
        metrics.metrics_tables(evaluations, [("a", "b")], resamples=50, confidence=0.9, run_seed=1)
    with pytest.raises(Lightr1Error, match="twice"):
        metrics.metrics_tables(evaluations * 2, [], resamples=50, confidence=0.9, run_seed=1)
    table, compared = metrics.metrics_tables([], [], resamples=50, confidence=0.9, run_seed=1)
    assert table.schema == METRICS and compared.schema == COMPARISONS and table.is_empty() and compared.is_empty()
