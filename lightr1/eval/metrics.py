"""Evaluation metrics from scored samples: pass@1 with an interval that counts both the problems
and the samples drawn, unbiased pass@k, cons@n, run-to-run spread, token statistics, and paired
comparisons of a model against the model it was trained from.

Everything here is a pure function of its tables and a seed, so a re-run reproduces the numbers.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from lightr1.errors import Lightr1Error
from lightr1.seeds import derived_seed
from lightr1.tables import COMPARISONS, METRICS, empty

# Most elements one paired-bootstrap chunk holds (resamples x problems): bounds memory on big benchmarks.
CHUNK_ELEMENTS = 1 << 20


def ks_for(n: int) -> list[int]:
    """k = 1, 2, 4, ... <= n: a log grid is enough to read the pass@k curve and keeps the table small."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    return ks


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021), 1 - C(n-c, k) / C(n, k), as a product: the binomials
    themselves overflow floats for the n of long evaluations."""
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def correct_matrix(samples: pl.DataFrame) -> tuple[list[str], np.ndarray]:
    """Problem ids (sorted) and their problems x n verdicts. Refuses ragged or gappy sample sets:
    a lost shard or a duplicated batch would otherwise shift every estimate silently."""
    if samples.is_empty():
        raise Lightr1Error("no evaluation samples to compute metrics from")
    if samples["correct"].null_count() or samples["sample"].null_count():
        raise Lightr1Error(f"{samples['correct'].null_count()} samples have no verdict and {samples['sample'].null_count()} no sample index")
    shape = (
        samples.group_by("problem_id")
        .agg(pl.len().alias("count"), pl.col("sample").n_unique().alias("unique"), pl.col("sample").min().alias("low"), pl.col("sample").max().alias("high"))
        .sort("problem_id")
    )
    bad = shape.filter((pl.col("unique") != pl.col("count")) | (pl.col("low") != 0) | (pl.col("high") != pl.col("count") - 1))
    if len(bad):
        row = bad.row(0, named=True)
        raise Lightr1Error(
            f"problem {row['problem_id']!r} has sample indices that are not exactly 0..{row['count'] - 1} "
            f"({row['count']} samples, {row['unique']} distinct indices, from {row['low']} to {row['high']}); {len(bad)} problems are affected"
        )
    counts = shape["count"].unique().sort().to_list()
    if len(counts) > 1:
        first = shape.filter(pl.col("count") != shape["count"].mode().sort()[0]).row(0, named=True)
        raise Lightr1Error(f"problems have different numbers of samples ({counts}): e.g. problem {first['problem_id']!r} has {first['count']}")
    ids = shape["problem_id"].to_list()
    ordered = samples.sort("problem_id", "sample")["correct"].to_numpy().astype(bool)
    return ids, ordered.reshape(len(ids), counts[0])


def _check_interval_args(resamples: int, confidence: float) -> None:
    if resamples < 1 or not 0 < confidence < 1:
        raise Lightr1Error(f"a bootstrap needs resamples >= 1 and 0 < confidence < 1, got {resamples} and {confidence}")


def _chunks(resamples: int, width: int) -> list[int]:
    """Resample counts per chunk, so that a chunk holds at most CHUNK_ELEMENTS draws."""
    size = max(1, CHUNK_ELEMENTS // max(width, 1))
    return [min(size, resamples - start) for start in range(0, resamples, size)]


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def bootstrap_pass1(matrix: np.ndarray, *, resamples: int, confidence: float, seed: int) -> tuple[float, float]:
    """Percentile interval of pass@1 over both sources of noise: which problems the benchmark
    happens to hold (problems drawn with replacement) and which responses the model happened to
    give (each drawn problem's n samples redrawn, as Binomial(n, c/n)).

    Problems with the same correct count are interchangeable, so a resample only needs how many
    problems it drew of each count (multinomial) and the correct samples among them (one
    binomial per count): exactly the same distribution in resamples x (n + 1) draws, whatever
    the number of problems."""
    _check_interval_args(resamples, confidence)
    problems, n = matrix.shape
    counts, sizes = np.unique(matrix.sum(axis=1), return_counts=True)
    rng = np.random.default_rng(seed)
    drawn = rng.multinomial(problems, sizes / problems, size=resamples)
    correct = rng.binomial(drawn * n, counts / n).sum(axis=1)
    return _percentiles(correct / (n * problems), confidence)


def run_std(matrix: np.ndarray) -> float | None:
    """Spread of accuracy across the n runs (run j = every problem's sample j): the number papers
    quote as "± std over seeds", undefined for a single run."""
    if matrix.shape[1] < 2:
        return None
    return float(np.std(matrix.mean(axis=0), ddof=1))


def consensus(samples: pl.DataFrame) -> float:
    """cons@n: majority vote over extracted answers. Ties score the expected accuracy of a random
    tie-break, so the metric does not depend on sort order; no answer at all scores 0."""
    if samples.is_empty():
        raise Lightr1Error("no evaluation samples to compute cons@n from")
    votes = (
        samples.filter(pl.col("extracted").is_not_null())
        .group_by("problem_id", "extracted")
        .agg(pl.len().alias("votes"), pl.col("correct").cast(pl.Float64).mean().alias("right"))
        .filter(pl.col("votes") == pl.col("votes").max().over("problem_id"))
        .group_by("problem_id")
        .agg(pl.col("right").mean())
    )
    problems = samples.select("problem_id").unique()
    scores = problems.join(votes, on="problem_id", how="left")["right"].fill_null(0.0)
    return float(scores.mean())


def paired_bootstrap(reference_rates: np.ndarray, rates: np.ndarray, *, resamples: int, confidence: float, seed: int) -> dict:
    """Difference in mean pass rate with the same problems drawn for both models: problem
    difficulty cancels in the pairing, so a small but consistent gain is visible."""
    _check_interval_args(resamples, confidence)
    reference_rates, rates = np.asarray(reference_rates, dtype=float), np.asarray(rates, dtype=float)
    if reference_rates.shape != rates.shape or rates.ndim != 1 or not len(rates):
        raise Lightr1Error(f"a paired comparison needs two equally long, non-empty rate arrays, got {reference_rates.shape} and {rates.shape}")
    diffs = rates - reference_rates
    rng = np.random.default_rng(seed)
    boot = np.concatenate([diffs[rng.integers(0, len(diffs), size=(size, len(diffs)))].mean(axis=1) for size in _chunks(resamples, len(diffs))])
    low, high = _percentiles(boot, confidence)
    p_value = min(1.0, 2 * min(float(np.mean(boot <= 0)), float(np.mean(boot >= 0))))
    return {"diff": float(diffs.mean()), "ci_low": low, "ci_high": high, "p_value": p_value, "distinguishable": bool(low > 0 or high < 0)}


def interval_warning(matrix: np.ndarray, low: float, high: float, *, confidence: float, resamples: int, max_half_width: float | None) -> str | None:
    """What makes an interval less trustworthy than it looks, and what would fix a wide one:
    more samples shrink only the within-problem part, more problems shrink both."""
    problems, n = matrix.shape
    warnings = []
    if n < 2:
        warnings.append("only one sample per problem: no spread across runs, and the interval rests on single draws")
    tail = resamples * (1 - confidence) / 2
    if tail < 10 - 1e-9:  # the tolerance keeps 200 resamples at 90% (10 draws a tail) from warning on float error
        warnings.append(
            f"{resamples} bootstrap resamples leave only {tail:.1f} draws in each tail of a {confidence:.0%} interval "
            f"(use at least {math.ceil(20 / (1 - confidence) - 1e-9)})"
        )
    half = (high - low) / 2
    if max_half_width is not None and half > max_half_width:
        warnings.append(_width_advice(matrix, half, max_half_width, confidence))
    return "; ".join(warnings) or None


def _width_advice(matrix: np.ndarray, half: float, target: float, confidence: float) -> str:
    """Variance of the mean = between-problem + within-problem part; the observed half-width
    calibrates the scale, and only the within part falls as 1/n."""
    problems, n = matrix.shape
    rates = matrix.sum(axis=1) / n
    within = float(np.mean(rates * (1 - rates) / n)) / problems
    total = float(np.var(rates, ddof=1)) / problems if problems > 1 else within
    between = max(total - within, 0.0)
    head = f"the {confidence:.0%} interval half-width {half:.3g} exceeds the target {target:.3g}"
    if between + within <= 0:
        return head
    allowed = (between + within) * (target / half) ** 2  # the variance that would meet the target
    if between >= allowed:
        needed = math.ceil(problems * (half / target) ** 2)
        return f"{head}, and the spread between problems alone is wider than that: more problems are needed (about {needed}, now {problems}), not more samples"
    needed = math.ceil(n * within / (allowed - between))
    return f"{head}: about {needed} samples per problem (now {n}) would bring it under"


def _pass_at_k_curve(correct: np.ndarray, n: int) -> list[dict]:
    """Mean pass@k over problems, computed once per distinct correct count."""
    values, counts = np.unique(correct, return_counts=True)
    return [{"k": k, "value": float(sum(pass_at_k(n, int(c), k) * m for c, m in zip(values, counts)) / counts.sum())} for k in ks_for(n)]


def _token_stats(tokens: pl.Series) -> tuple[float | None, float | None]:
    if tokens.is_empty():
        return None, None
    return float(tokens.mean()), float(tokens.median())


def summarize(
    samples: pl.DataFrame,
    *,
    model: str,
    benchmark: str,
    order: int,
    resamples: int,
    confidence: float,
    seed: int,
    max_half_width: float | None = None,
) -> dict:
    """One METRICS row for one model on one benchmark."""
    _, matrix = correct_matrix(samples)
    problems, n = matrix.shape
    low, high = bootstrap_pass1(matrix, resamples=resamples, confidence=confidence, seed=seed)
    correct = samples["correct"]
    mean_correct, median_correct = _token_stats(samples["tokens"].filter(correct))
    mean_wrong, median_wrong = _token_stats(samples["tokens"].filter(~correct))
    row = {
        "model": model,
        "benchmark": benchmark,
        "order": order,
        "problems": problems,
        "n": n,
        "pass1": float(matrix.mean()),
        "ci_low": low,
        "ci_high": high,
        "confidence": confidence,
        "run_std": run_std(matrix),
        "pass_at_k": _pass_at_k_curve(matrix.sum(axis=1), n),
        "cons": consensus(samples),
        "truncated": float((samples["finish_reason"] == "length").fill_null(False).mean()),
        "tokens_mean_correct": mean_correct,
        "tokens_median_correct": median_correct,
        "tokens_mean_wrong": mean_wrong,
        "tokens_median_wrong": median_wrong,
        "warning": interval_warning(matrix, low, high, confidence=confidence, resamples=resamples, max_half_width=max_half_width),
    }
    return row


def compare(
    reference_samples: pl.DataFrame, samples: pl.DataFrame, *, benchmark: str, model: str, reference: str, resamples: int, confidence: float, seed: int
) -> dict:
    """One COMPARISONS row. Both models must have answered the same problems: pairing on a
    partial overlap would compare different benchmarks."""
    reference_ids, reference_matrix = correct_matrix(reference_samples)
    ids, matrix = correct_matrix(samples)
    if reference_ids != ids:
        only_model, only_reference = len(set(ids) - set(reference_ids)), len(set(reference_ids) - set(ids))
        raise Lightr1Error(
            f"cannot compare {model} with {reference} on {benchmark}: they cover different problems "
            f"({len(ids)} against {len(reference_ids)}; {only_model} only in {model}, {only_reference} only in {reference})"
        )
    paired = paired_bootstrap(reference_matrix.mean(axis=1), matrix.mean(axis=1), resamples=resamples, confidence=confidence, seed=seed)
    return {"benchmark": benchmark, "model": model, "reference": reference, **paired}


def metrics_tables(
    evaluations: list[tuple[str, str, int, pl.DataFrame]],
    comparisons: list[tuple[str, str]],
    *,
    resamples: int,
    confidence: float,
    run_seed: int,
    max_half_width: float | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The METRICS and COMPARISONS tables; each row has its own derived seed, so adding a model or
    a benchmark leaves the other rows' intervals unchanged."""
    by_key: dict[tuple[str, str], pl.DataFrame] = {}
    rows = []
    for model, benchmark, order, samples in evaluations:
        if (model, benchmark) in by_key:
            raise Lightr1Error(f"{model} is evaluated on {benchmark} twice")
        by_key[model, benchmark] = samples
        seed = derived_seed(run_seed, "eval", model, benchmark)
        rows.append(
            summarize(
                samples, model=model, benchmark=benchmark, order=order, resamples=resamples, confidence=confidence, seed=seed, max_half_width=max_half_width
            )
        )
    evaluated = {model for model, _ in by_key}
    pairs = []
    for model, reference in comparisons:
        missing = [name for name in (model, reference) if name not in evaluated]
        if missing:
            raise Lightr1Error(f"cannot compare {model} with {reference}: {' and '.join(missing)} {'was' if len(missing) == 1 else 'were'} not evaluated")
        for benchmark in sorted({b for m, b in by_key if m == model} & {b for m, b in by_key if m == reference}):
            seed = derived_seed(run_seed, "compare", model, reference, benchmark)
            pairs.append(
                compare(
                    by_key[reference, benchmark],
                    by_key[model, benchmark],
                    benchmark=benchmark,
                    model=model,
                    reference=reference,
                    resamples=resamples,
                    confidence=confidence,
                    seed=seed,
                )
            )
    metrics = pl.DataFrame(rows, schema=METRICS).sort("benchmark", "order", "model") if rows else empty(METRICS)
    compared = pl.DataFrame(pairs, schema=COMPARISONS).sort("benchmark", "model", "reference") if pairs else empty(COMPARISONS)
    return metrics, compared
