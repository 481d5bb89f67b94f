"""The report's table sections: stage progression, comparisons, funnel, decontamination,
per-problem samples and provenance."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import polars as pl
import yaml

from lightr1 import tables
from lightr1.report.data import ReportData
from lightr1.report.html import Html, duration, join, missing, note, number, p_value, pct, points, table, tag

# At most this many example matches in the decontamination section.
MATCH_EXAMPLES = 6
# At most this many rejection reasons in the funnel section.
TOP_REASONS = 10


# ------------------------------------------------------------------------------------------
# Sections.


def progression(data: ReportData, models: list[str], benchmarks: list[str]) -> Html:
    """The Light-R1 README's table: pass@1 with its interval per model and benchmark."""
    metrics = data.metrics
    cells = {(r["model"], r["benchmark"]): r for r in metrics.iter_rows(named=True)}
    best = {}
    for benchmark in benchmarks:
        values = [v for v in metrics.filter(pl.col("benchmark") == benchmark)["pass1"].to_list() if not missing(v)]
        best[benchmark] = max(values, default=None)
    headers: list[object] = ["model"]
    for benchmark in benchmarks:
        rows = metrics.filter(pl.col("benchmark") == benchmark)
        ns = "/".join(str(n) for n in sorted(rows["n"].drop_nulls().unique().to_list()))
        counts = "/".join(str(n) for n in sorted(rows["problems"].drop_nulls().unique().to_list()))
        headers.append(join([tag("span", benchmark), tag("br"), tag("small", f"{counts} problems, n = {ns}")]))
    body = []
    for model in models:
        row: list[object] = [model]
        for benchmark in benchmarks:
            r = cells.get((model, benchmark))
            if r is None or missing(r["pass1"]):
                row.append("—")
                continue
            text = f"{pct(r['pass1'])} ({pct(r['ci_low'])}–{pct(r['ci_high'])})"
            cell = tag("strong", text, class_="best") if r["pass1"] == best[benchmark] else text
            mark = tag("sup", "⚠", class_="warn-mark", title=r["warning"]) if r["warning"] else ""
            row.append(join([cell, mark]))
        body.append(row)
    parts = [
        note("pass@1 in %, averaged over n samples per problem, with its bootstrap interval; the best per benchmark in bold."),
        table(headers, body, row_attrs=[{"data_model": m} for m in models], class_="progression"),
        _warnings(metrics, benchmarks),
        tag("details", tag("summary", "All metrics"), _all_metrics(metrics, models)),
    ]
    return join(parts)


def _warnings(metrics: pl.DataFrame, benchmarks: list[str]) -> Html:
    """The cells marked ⚠ counted per benchmark on one line, the texts in full behind it: a
    dozen near-identical lines would push the table's neighbours off the first screen."""
    warned = metrics.filter(pl.col("warning").is_not_null())
    if warned.is_empty():
        return note("No warnings.")
    counts = []
    for benchmark in benchmarks:
        n = warned.filter(pl.col("benchmark") == benchmark).height
        if n:
            counts.append(f"{benchmark} {n} of {metrics.filter(pl.col('benchmark') == benchmark).height} models")
    summary = tag("summary", f"⚠ interval warnings: {' · '.join(counts)}")
    full = [tag("li", f"{r['model']} · {r['benchmark']}: {r['warning']}") for r in warned.iter_rows(named=True)]
    return tag("details", summary, tag("ul", *full), class_="warnings")


def _all_metrics(metrics: pl.DataFrame, models: list[str]) -> Html:
    rank = {m: i for i, m in enumerate(models)}
    headers = [
        "model",
        "benchmark",
        "n",
        "pass@1",
        "interval",
        "run std",
        "pass@n",
        "cons@n",
        "truncated",
        "tokens correct (mean / median)",
        "tokens wrong (mean / median)",
    ]
    rows = []
    for r in sorted(metrics.iter_rows(named=True), key=lambda r: (rank[r["model"]], r["benchmark"])):
        top_k = max(r["pass_at_k"] or [], key=lambda p: p["k"], default=None)
        rows.append(
            [
                r["model"],
                r["benchmark"],
                r["n"],
                pct(r["pass1"]),
                f"{pct(r['ci_low'])}–{pct(r['ci_high'])} ({pct(r['confidence'])}%)",
                pct(r["run_std"]),
                "—" if top_k is None else f"{pct(top_k['value'])} (k = {top_k['k']})",
                pct(r["cons"]),
                pct(r["truncated"]),
                f"{number(r['tokens_mean_correct'])} / {number(r['tokens_median_correct'])}",
                f"{number(r['tokens_mean_wrong'])} / {number(r['tokens_median_wrong'])}",
            ]
        )
    return table(headers, rows)


def comparisons(comparisons: pl.DataFrame, stage_notes: Mapping[str, str] | None = None) -> Html:
    """The paired comparisons, then the config's notes on why a stage gains what it gains
    (`eval.report.stage_notes`: where a stage shows nothing, the report says why)."""
    explained = [tag("li", tag("strong", stage), ": ", text) for stage, text in (stage_notes or {}).items()]
    notes = [tag("h3", "Why each stage gains what it gains"), tag("ul", *explained)] if explained else []
    if comparisons.is_empty():
        return join([note("No paired comparisons in this run."), *notes])
    rows = [
        [
            r["benchmark"],
            r["model"],
            r["reference"],
            f"{points(r['diff'])} ({points(r['ci_low'])} to {points(r['ci_high'])})",
            p_value(r["p_value"]),
            tag("span", "distinguishable", class_="yes") if r["distinguishable"] else "within noise",
        ]
        for r in comparisons.iter_rows(named=True)
    ]
    return join(
        [
            note("Paired bootstrap over problems: model minus reference, in pass@1 points."),
            table(["benchmark", "model", "reference", "difference (interval)", "p", "verdict"], rows),
            *notes,
        ]
    )


def funnel(data: ReportData) -> Html:
    parts = [tag("h3", "Problems surviving each filter"), _funnel_table(data.funnel, _pair_sources(data))]
    parts += [tag("h3", "Every raw row, by where it went"), _ledger_table(data.ledger), tag("h3", "Top rejection reasons"), _reasons(data.ledger)]
    return join(parts)


def _pair_sources(data: ReportData) -> pl.DataFrame | None:
    """The DPO pairs as funnel rows: counted by the source of their problem."""
    if data.pairs is None:
        return None
    sources = data.problems.select("problem_id", "source").unique("problem_id", keep="first")
    joined = data.pairs.select("problem_id").join(sources, on="problem_id", how="left").with_columns(pl.col("source").fill_null("unknown source"))
    return joined.group_by("source", maintain_order=True).len("problems").select(pl.lit("DPO pairs").alias("step"), "source", "problems")


def _funnel_table(funnel: pl.DataFrame, pairs: pl.DataFrame | None) -> Html:
    if funnel.is_empty():
        return note("The funnel table is empty.")
    frame = funnel if pairs is None else pl.concat([funnel, pairs.cast(funnel.schema)])
    steps = frame["step"].unique(maintain_order=True).to_list()
    sources = frame["source"].unique(maintain_order=True).to_list()
    counts = {(r["step"], r["source"]): r["problems"] for r in frame.iter_rows(named=True)}
    rows = [[step, *(number(counts.get((step, s), 0)) for s in sources), number(sum(counts.get((step, s), 0) for s in sources))] for step in steps]
    parts = [table(["step", *sources, "total"], rows)]
    if pairs is None:
        parts.append(note("No DPO pairs in this run."))
    return join(parts)


def _ledger_table(ledger: pl.DataFrame) -> Html:
    if ledger.is_empty():
        return note("The ledger is empty.")
    statuses = list(tables.LEDGER_STATUSES) + [s for s in ledger["status"].unique(maintain_order=True).to_list() if s not in tables.LEDGER_STATUSES]
    counts = {(r["source"], r["status"]): r["len"] for r in ledger.group_by("source", "status").len().iter_rows(named=True)}
    sources = ledger["source"].unique(maintain_order=True).to_list()
    rows = [[s, *(number(counts.get((s, st), 0)) for st in statuses), number(sum(counts.get((s, st), 0) for st in statuses))] for s in sources]
    rows.append(["total", *(number(sum(counts.get((s, st), 0) for s in sources)) for st in statuses), number(ledger.height)])
    return table(["source", *statuses, "total"], rows)


def _reasons(ledger: pl.DataFrame) -> Html:
    rejected = ledger.filter(pl.col("status") == "rejected")
    if rejected.is_empty():
        return note("No row was rejected.")
    top = (
        rejected.group_by("reason")
        .agg(pl.len().alias("rows"), pl.col("source").unique(maintain_order=True).alias("sources"))
        .sort(["rows", "reason"], descending=[True, False])
        .head(TOP_REASONS)
    )
    rows = [[r["reason"], number(r["rows"]), ", ".join(r["sources"])] for r in top.iter_rows(named=True)]
    return table(["reason", "rows", "sources"], rows)


def _clip(text: str | None, limit: int) -> Html:
    """Text in a pre-wrapped block, cut at `limit` characters with a note saying so."""
    text = text or ""
    block = tag("div", text[:limit], class_="text")
    if len(text) <= limit:
        return block
    return join([block, note(f"truncated: first {limit:,} of {len(text):,} characters")])


def decontamination(data: ReportData, text_chars: int) -> Html:
    matches = data.matches
    if matches is None:
        return note("No decontamination matches table was given.")
    if matches.is_empty():
        return note("No train row matched a benchmark problem.")
    rows_of = data.ledger.filter(pl.col("problem_id").is_not_null()).select(pl.col("problem_id").alias("train_id"), "source", "row_index")
    joined = matches.join(rows_of, on="train_id", how="left").with_columns(pl.col("source").fill_null("unknown source"))
    counts = (
        joined.group_by("benchmark", "source", "mode", "method")
        .agg(pl.struct("train_id", "row_index").n_unique().alias("rows"))
        .sort("benchmark", "source", "mode", "method")
    )
    parts = [
        note("Distinct train rows matching each benchmark, by source and method (a row may match by several methods)."),
        table(
            ["benchmark", "source", "mode", "method", "train rows"],
            [[r["benchmark"], r["source"], r["mode"], r["method"], number(r["rows"])] for r in counts.iter_rows(named=True)],
        ),
        tag("h3", "Example matches"),
        _match_examples(data, matches, text_chars),
    ]
    return join(parts)


def _match_examples(data: ReportData, matches: pl.DataFrame, text_chars: int) -> Html:
    """One match per benchmark and method, so that the examples vary."""
    examples = matches.sort("benchmark", "method", "train_id").unique(["benchmark", "method"], keep="first", maintain_order=True).head(MATCH_EXAMPLES)
    train_text = dict(data.problems.select("problem_id", "problem").iter_rows())
    bench_text = {(r["benchmark"], r["problem_id"]): r["problem"] for r in data.benchmark_problems.iter_rows(named=True)}
    rows = []
    for r in examples.iter_rows(named=True):
        train = train_text.get(r["train_id"])
        bench = bench_text.get((r["benchmark"], r["benchmark_id"]))
        rows.append(
            [
                join(
                    [
                        tag("div", f"train {r['train_id']}", class_="id"),
                        _clip(train, text_chars) if train is not None else note("text not in the problem tables"),
                    ]
                ),
                join(
                    [
                        tag("div", f"{r['benchmark']} {r['benchmark_id']}", class_="id"),
                        _clip(bench, text_chars) if bench is not None else note("text not in the benchmark tables"),
                    ]
                ),
                join([tag("div", f"{r['mode']} · {r['method']}", class_="id"), _clip(r["evidence"], text_chars)]),
            ]
        )
    return table(["train problem", "benchmark problem", "evidence"], rows, class_="texts")


def problems(data: ReportData, models: list[str], benchmarks: list[str], samples_per_model: int, response_chars: int) -> Html:
    samples = data.eval_samples
    if samples.is_empty():
        return note("No evaluation samples were given.")
    controls = tag(
        "div",
        tag("input", type="search", id="problem-filter", placeholder="filter problems by text or id", aria_label="filter problems"),
        tag("button", "expand all responses", type="button", data_toggle="open"),
        tag("button", "collapse all", type="button", data_toggle="close"),
        tag("span", "", id="problem-count"),
        class_="controls",
    )
    order = models + sorted(set(samples["model"].unique().to_list()) - set(models))
    parts = [
        controls,
        note(f"Per problem: each model's pass rate over its samples, and its first {samples_per_model} responses (cut at {response_chars:,} characters)."),
    ]
    for benchmark in benchmarks:
        parts.append(tag("h3", benchmark))
        parts.append(_benchmark_problems(data, benchmark, order, samples_per_model, response_chars))
    return join(parts)


def _benchmark_problems(data: ReportData, benchmark: str, models: list[str], samples_per_model: int, response_chars: int) -> Html:
    samples = data.eval_samples.filter(pl.col("benchmark") == benchmark).sort("problem_id", "model", "sample")
    if samples.is_empty():
        return note("No samples for this benchmark.")
    rates = {
        (r["problem_id"], r["model"]): (r["right"], r["n"])
        for r in samples.group_by("problem_id", "model").agg(pl.col("correct").sum().alias("right"), pl.len().alias("n")).iter_rows(named=True)
    }
    shown: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in samples.group_by("problem_id", "model", maintain_order=True).head(samples_per_model).iter_rows(named=True):
        shown[(r["problem_id"], r["model"])].append(r)
    known = data.benchmark_problems.filter(pl.col("benchmark") == benchmark)
    texts = {r["problem_id"]: r for r in known.iter_rows(named=True)}
    sampled = set(samples["problem_id"].unique().to_list())
    ids = [i for i in known["problem_id"].to_list() if i in sampled] + sorted(sampled - set(texts))
    blocks = []
    for problem_id in ids:
        problem = texts.get(problem_id)
        head = [tag("h4", f"{benchmark} · {problem_id}")]
        if problem is None:
            head.append(note("problem text not in the benchmark tables"))
        else:
            head += [_clip(problem["problem"], response_chars), tag("p", "gold: ", tag("code", " | ".join(problem["answer"] or [])))]
        rows = []
        for model in models:
            if (problem_id, model) not in rates:
                continue
            right, n = rates[(problem_id, model)]
            responses = join(_response(r, response_chars) for r in shown[(problem_id, model)])
            rows.append([model, f"{right}/{n} ({100 * right / n:.0f}%)", responses])
        blocks.append(tag("div", tag("div", *head, class_="problem-head"), table(["model", "pass rate", "samples"], rows), class_="problem"))
    return join(blocks)


def _response(sample: Mapping[str, Any], response_chars: int) -> Html:
    verdict = "correct" if sample["correct"] else "wrong"
    summary = f"sample {sample['sample']} · {verdict} · {number(sample['tokens'])} tokens · {sample['finish_reason']} · extracted: {sample['extracted']}"
    text = sample["response"] or ""
    parts = [tag("summary", summary, class_=verdict), tag("pre", text[:response_chars])]
    if len(text) > response_chars:
        parts.append(note(f"truncated: first {response_chars:,} of {len(text):,} characters"))
    return tag("details", *parts)


def provenance(data: ReportData) -> Html:
    info = data.provenance
    scalars = [[key, value] for key, value in info.items() if not isinstance(value, Mapping)]
    packages = info.get("packages") or {}
    seeds = info.get("seeds") or {}
    parts = [
        table(["what", "value"], scalars),
        tag("h3", "Packages"),
        table(["package", "version"], list(packages.items())) if packages else note("No package versions recorded."),
        tag("h3", "Seeds"),
        table(["config key", "seed"], list(seeds.items())) if seeds else note("No seeds recorded."),
        tag("h3", "Wall time"),
        _wall_times(data.wall_times),
        tag("h3", "Config"),
        tag("pre", yaml.safe_dump(data.config, sort_keys=False, allow_unicode=True, default_flow_style=False), class_="config"),
    ]
    return join(parts)


def _wall_times(times: pl.DataFrame) -> Html:
    if times.is_empty():
        return note("No Snakemake benchmark files were found.")
    times = times.with_columns(
        pl.col("rule").str.replace(r"/shard-\d+-of-\d+$", "").alias("job"),
        pl.col("rule").str.split("/").list.first().alias("group"),
    )
    by_group = times.group_by("group").agg(pl.col("seconds").sum(), pl.len().alias("files")).sort("seconds", descending=True)
    by_job = times.group_by("job").agg(pl.col("seconds").sum(), pl.len().alias("files")).sort("job")
    total = times["seconds"].sum()

    def rows(frame: pl.DataFrame, key: str) -> list[list[object]]:
        return [[r[key], number(r["files"]), duration(r["seconds"]), number(r["seconds"], 1)] for r in frame.iter_rows(named=True)]

    parts = [
        note(f"Total {duration(total)} ({total:,.1f} s) over {times.height} Snakemake benchmark files."),
        table(["rule", "files", "wall time", "seconds"], rows(by_group, "group")),
        tag("details", tag("summary", "By job (shards summed)"), table(["job", "shards", "wall time", "seconds"], rows(by_job, "job"))),
        tag(
            "details",
            tag("summary", "By file"),
            table(
                ["file", "wall time", "seconds"],
                [[r["rule"], duration(r["seconds"]), number(r["seconds"], 1)] for r in times.sort("rule").iter_rows(named=True)],
            ),
        ),
    ]
    return join(parts)
