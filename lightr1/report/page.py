"""The benchmark report (results/report/index.html): one self-contained HTML page.

Rendering is pure, tables in and a string out, so it is tested without a run; `load` is the
thin part that reads files. The page shows model output and dataset text, which may hold any
markup, so every value from data goes through `esc` (or `tag`, which escapes for it). A
Content-Security-Policy allows only this module's own script, by hash, and no request at all:
the page opens offline, and an escaping slip still could not run code or fetch anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib.metadata
import math
import os
import platform
import subprocess
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from lightr1 import tables
from lightr1.curriculum.pairs import PAIRS
from lightr1.errors import InputFileError, Lightr1Error
from lightr1.io import atomic_path, read_table
from lightr1.train.grpo import METRICS_SCHEMA as GRPO_METRICS

PathLike = str | os.PathLike

# Packages whose versions the provenance section lists.
PACKAGES = ("lightr1", "polars", "numpy", "sympy", "math-verify", "torch", "transformers", "trl", "vllm", "mergekit", "snakemake")

# At most this many example matches in the decontamination section.
MATCH_EXAMPLES = 6
# At most this many rejection reasons in the funnel section.
TOP_REASONS = 10

# ------------------------------------------------------------------------------------------
# Markup that cannot be built from unescaped data.


class Html(str):
    """Markup built here from escaped parts: the only kind of string inserted as it is."""


def esc(value: object) -> Html:
    """Text as markup: escaped (quotes too, so it is safe in attributes), None as empty."""
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[object]) -> Html:
    return Html("".join(esc(part) for part in parts))


_VOID = {"meta", "input", "br"}


def tag(element: str, /, *children: object, **attrs: object) -> Html:
    """An element; children and attribute values are escaped unless already Html. Attribute
    names: a trailing underscore is dropped (class_), other underscores become hyphens
    (data_model, stroke_width); True gives a bare attribute, None and False none."""
    parts = [element]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        key = key.rstrip("_").replace("_", "-")
        parts.append(key if value is True else f'{key}="{esc(value)}"')
    opening = f"<{' '.join(parts)}>"
    if element in _VOID:
        return Html(opening)
    return Html(f"{opening}{join(children)}</{element}>")


def table(
    headers: Sequence[object], rows: Iterable[Sequence[object]], *, row_attrs: Sequence[Mapping[str, object]] | None = None, class_: str | None = None
) -> Html:
    head = tag("thead", tag("tr", *(tag("th", h) for h in headers)))
    body = []
    for i, row in enumerate(rows):
        attrs = row_attrs[i] if row_attrs else {}
        body.append(tag("tr", *(tag("td", cell) for cell in row), **attrs))
    return tag("table", head, tag("tbody", *body), class_=class_)


def note(text: object) -> Html:
    return tag("p", text, class_="note")


# ------------------------------------------------------------------------------------------
# Numbers.


def _missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal ("—" where missing)."""
    return "—" if _missing(x) else f"{100 * x:.1f}"


def points(x: float | None) -> str:
    """A difference of fractions in signed percentage points."""
    return "—" if _missing(x) else f"{100 * x:+.1f}"


def p_value(p: float | None) -> str:
    if _missing(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def number(x: float | None, digits: int = 0) -> str:
    return "—" if _missing(x) else f"{x:,.{digits}f}"


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


# ------------------------------------------------------------------------------------------
# Inline SVG plots: one line chart, one box plot.

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22")
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 170, 30, 62
_WIDTH, _HEIGHT = 560, 320
_LEGEND_ROW = 17


@dataclass(frozen=True)
class Series:
    """One line: its points, and intervals drawn as error bars at some x."""

    name: str
    points: Sequence[tuple[float, float]]
    bars: Sequence[tuple[float, float, float]] = ()  # (x, low, high)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]; the axis spans the first to the last."""
    if high <= low:  # a flat series (e.g. every pass rate 0): open the axis upwards only
        high = low + 1
    raw = (high - low) / count
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 5, 10) if raw <= step * m)
    start, end = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(start, end + 1)]


def _tick_label(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


class _Frame:
    """Maps data to pixels inside a plot's axes, and draws the axes, grid and labels."""

    def __init__(self, width: float, height: float, left: float, x_ticks: Sequence[tuple[float, str]], y_ticks: Sequence[float] = ()):
        self.height, self.left = height, left
        self.x_ticks, self.y_ticks = x_ticks, y_ticks
        xs = [x for x, _ in x_ticks]
        self.x0, self.x1 = min(xs), max(xs)
        if self.x0 == self.x1:
            self.x0, self.x1 = self.x0 - 1, self.x1 + 1
        self.y0, self.y1 = (y_ticks[0], y_ticks[-1]) if y_ticks else (0.0, 1.0)
        self.right = width - _RIGHT
        self.bottom = height - _BOTTOM

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.y0) / (self.y1 - self.y0) * (self.bottom - _TOP)

    def axes(self, title: str, x_label: str, y_label: str) -> Html:
        parts = [tag("text", title, x=self.left, y=18, class_="title")]
        rotate = any(len(label) > 6 for _, label in self.x_ticks)
        for value, label in self.x_ticks:
            x = self.x(value)
            parts.append(tag("line", x1=f"{x:.1f}", x2=f"{x:.1f}", y1=self.bottom, y2=self.bottom + 4, class_="axis"))
            anchor = "end" if rotate else "middle"
            transform = f"rotate(-25 {x:.1f} {self.bottom + 16})" if rotate else None
            short = label if len(label) <= 16 else label[:15] + "…"  # the tables carry full names
            parts.append(tag("text", short, x=f"{x:.1f}", y=self.bottom + 16, text_anchor=anchor, transform=transform))
        for value in self.y_ticks:
            y = self.y(value)
            parts.append(tag("line", x1=self.left, x2=self.right, y1=f"{y:.1f}", y2=f"{y:.1f}", class_="grid"))
            parts.append(tag("text", _tick_label(value), x=self.left - 6, y=f"{y + 4:.1f}", text_anchor="end"))
        parts.append(tag("polyline", points=f"{self.left},{_TOP} {self.left},{self.bottom} {self.right},{self.bottom}", class_="axis"))
        parts.append(tag("text", x_label, x=(self.left + self.right) / 2, y=self.height - 6, text_anchor="middle", class_="label"))
        mid = (_TOP + self.bottom) / 2
        parts.append(tag("text", y_label, x=14, y=mid, text_anchor="middle", transform=f"rotate(-90 14 {mid})", class_="label"))
        return join(parts)


def _legend(names: Sequence[str], x: float) -> Html:
    parts = []
    for i, name in enumerate(names):
        y = _TOP + 6 + i * _LEGEND_ROW
        color = PALETTE[i % len(PALETTE)]
        parts.append(tag("line", x1=x, x2=x + 18, y1=y, y2=y, stroke=color, stroke_width=3))
        parts.append(tag("text", name, x=x + 24, y=y + 4))
    return join(parts)


def _svg(width: float, height: float, label: str, *content: object) -> Html:
    return tag("svg", *content, viewBox=f"0 0 {width} {height}", width=width, height=height, role="img", aria_label=label)


def line_chart(
    title: str, series: Sequence[Series], *, x_label: str, y_label: str, x_ticks: Sequence[tuple[float, str]] | None = None, y_floor: float | None = None
) -> Html:
    """Lines with points, optional error bars, and a legend on the right. x_ticks gives
    labelled positions (categories, a log scale); by default they are round numbers."""
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points] + [v for s in series for _, lo, hi in s.bars for v in (lo, hi)]
    if x_ticks is None:
        x_ticks = [(t, _tick_label(t)) for t in nice_ticks(min(xs), max(xs))]
    low = min(ys) if y_floor is None else min(min(ys), y_floor)
    height = max(_HEIGHT, _TOP + _BOTTOM + _LEGEND_ROW * len(series))
    frame = _Frame(_WIDTH, height, _LEFT, x_ticks, nice_ticks(low, max(ys)))
    parts = [frame.axes(title, x_label, y_label)]
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        shift = (i - (len(series) - 1) / 2) * 3  # keeps the error bars of lines apart
        for x, lo, hi in s.bars:
            px = frame.x(x) + shift
            parts.append(
                tag("line", x1=f"{px:.1f}", x2=f"{px:.1f}", y1=f"{frame.y(lo):.1f}", y2=f"{frame.y(hi):.1f}", stroke=color, stroke_width=1.5, opacity=0.6)
            )
        ordered = sorted(s.points)
        coords = " ".join(f"{frame.x(x) + shift:.1f},{frame.y(y):.1f}" for x, y in ordered)
        parts.append(tag("polyline", points=coords, fill="none", stroke=color, stroke_width=2))
        for x, y in ordered:
            circle_title = tag("title", f"{s.name}: {_tick_label(x)}, {y:.3g}")
            parts.append(tag("circle", circle_title, cx=f"{frame.x(x) + shift:.1f}", cy=f"{frame.y(y):.1f}", r=3, fill=color))
    parts.append(_legend([s.name for s in series], frame.right + 14))
    return _svg(_WIDTH, height, title, *parts)


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def box_plot(title: str, rows: Sequence[tuple[str, Sequence[float], str]], *, x_label: str) -> Html:
    """Horizontal boxes (quartiles, median, whiskers to min and max), one per (label, values,
    colour) row; rows without values are left out by the caller."""
    row_height, left = 22, 190
    values = [v for _, vs, _ in rows for v in vs]
    ticks = nice_ticks(min(0.0, min(values)), max(values))
    height = _TOP + _BOTTOM + row_height * len(rows)
    frame = _Frame(_WIDTH, height, left, [(t, _tick_label(t)) for t in ticks])
    parts = [frame.axes(title, x_label, "")]
    for i, (label, vs, color) in enumerate(rows):
        ordered = sorted(vs)
        q1, median, q3 = (_quantile(ordered, q) for q in (0.25, 0.5, 0.75))
        mid = _TOP + row_height * (i + 0.5)
        summary = f"{label}: n={len(ordered)}, median {median:,.0f}, quartiles {q1:,.0f}–{q3:,.0f}, range {ordered[0]:,.0f}–{ordered[-1]:,.0f}"
        parts.append(tag("text", label, x=left - 8, y=f"{mid + 4:.1f}", text_anchor="end"))
        parts.append(tag("line", x1=f"{frame.x(ordered[0]):.1f}", x2=f"{frame.x(ordered[-1]):.1f}", y1=f"{mid:.1f}", y2=f"{mid:.1f}", stroke=color))
        box_width = max(frame.x(q3) - frame.x(q1), 1.0)
        parts.append(
            tag(
                "rect",
                tag("title", summary),
                x=f"{frame.x(q1):.1f}",
                y=f"{mid - 7:.1f}",
                width=f"{box_width:.1f}",
                height=14,
                fill=color,
                fill_opacity=0.35,
                stroke=color,
            )
        )
        parts.append(
            tag("line", x1=f"{frame.x(median):.1f}", x2=f"{frame.x(median):.1f}", y1=f"{mid - 7:.1f}", y2=f"{mid + 7:.1f}", stroke=color, stroke_width=2.5)
        )
    return _svg(_WIDTH, height, title, *parts)


# ------------------------------------------------------------------------------------------
# The data.


@dataclass
class ReportData:
    """Everything the report shows, already read (tables as in lightr1.tables)."""

    metrics: pl.DataFrame  # tables.METRICS
    comparisons: pl.DataFrame  # tables.COMPARISONS
    eval_samples: pl.DataFrame  # tables.EVAL_SAMPLES of every model and benchmark
    benchmark_problems: pl.DataFrame  # benchmark, problem_id, problem, answer (list of golds)
    funnel: pl.DataFrame  # tables.FUNNEL
    ledger: pl.DataFrame  # tables.LEDGER
    problems: pl.DataFrame  # problem_id, source, problem of train rows (kept ones first)
    config: dict[str, Any]
    provenance: dict[str, Any]  # commit, packages {name: version}, seeds {key: value}, ...
    wall_times: pl.DataFrame  # rule, seconds: one row per Snakemake benchmark file
    pairs: pl.DataFrame | None = None  # lightr1.dpo.PAIRS
    matches: pl.DataFrame | None = None  # tables.MATCHES
    grpo_metrics: pl.DataFrame | None = None  # lightr1.train.grpo.METRICS_SCHEMA


def _models(metrics: pl.DataFrame) -> list[str]:
    return metrics.group_by("model").agg(pl.col("order").min()).sort("order", "model")["model"].to_list()


def _benchmarks(metrics: pl.DataFrame) -> list[str]:
    return metrics["benchmark"].unique(maintain_order=True).to_list()


# ------------------------------------------------------------------------------------------
# Sections.


def _progression(data: ReportData, models: list[str], benchmarks: list[str]) -> Html:
    """The Light-R1 README's table: pass@1 with its interval per model and benchmark."""
    metrics = data.metrics
    cells = {(r["model"], r["benchmark"]): r for r in metrics.iter_rows(named=True)}
    best = {}
    for benchmark in benchmarks:
        values = [v for v in metrics.filter(pl.col("benchmark") == benchmark)["pass1"].to_list() if not _missing(v)]
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
            if r is None or _missing(r["pass1"]):
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


def _comparisons(comparisons: pl.DataFrame) -> Html:
    if comparisons.is_empty():
        return note("No paired comparisons in this run.")
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
        ]
    )


def _plots(data: ReportData, models: list[str], benchmarks: list[str]) -> Html:
    figures = [_accuracy_plot(data.metrics, models, benchmarks)]
    figures += [_pass_at_k_plot(data.metrics, models, benchmark) for benchmark in benchmarks]
    parts = [tag("h3", "Accuracy by stage and pass@k"), tag("div", *figures, class_="figures")]
    parts += [tag("h3", "Response lengths"), _length_plots(data.eval_samples, models, benchmarks)]
    parts += [tag("h3", "GRPO training"), _grpo_plots(data.grpo_metrics)]
    return join(parts)


def _accuracy_plot(metrics: pl.DataFrame, models: list[str], benchmarks: list[str]) -> Html:
    index = {m: i for i, m in enumerate(models)}
    series = []
    for benchmark in benchmarks:
        rows = [r for r in metrics.filter(pl.col("benchmark") == benchmark).iter_rows(named=True) if not _missing(r["pass1"])]
        pts = [(index[r["model"]], 100 * r["pass1"]) for r in rows]
        bars = [(index[r["model"]], 100 * r["ci_low"], 100 * r["ci_high"]) for r in rows if not (_missing(r["ci_low"]) or _missing(r["ci_high"]))]
        if pts:
            series.append(Series(benchmark, pts, bars))
    if not series:
        return note("No pass@1 values to plot.")
    ticks = [(i, m) for i, m in enumerate(models)]
    return line_chart("pass@1 by stage", series, x_label="model, in evaluation order", y_label="pass@1 (%)", x_ticks=ticks, y_floor=0.0)


def _pass_at_k_plot(metrics: pl.DataFrame, models: list[str], benchmark: str) -> Html:
    rows = {r["model"]: r for r in metrics.filter(pl.col("benchmark") == benchmark).iter_rows(named=True)}
    series = []
    ks: set[int] = set()
    for model in models:
        curve = [p for p in (rows[model]["pass_at_k"] or []) if p["k"] >= 1 and not _missing(p["value"])] if model in rows else []
        if curve:
            ks.update(p["k"] for p in curve)
            series.append(Series(model, [(math.log2(p["k"]), 100 * p["value"]) for p in curve]))
    if not series:
        return note(f"{benchmark}: no pass@k values.")
    ticks = [(math.log2(k), str(k)) for k in sorted(ks)]
    return line_chart(f"pass@k · {benchmark}", series, x_label="k (log2 scale)", y_label="pass@k (%)", x_ticks=ticks, y_floor=0.0)


def _length_plots(samples: pl.DataFrame, models: list[str], benchmarks: list[str]) -> Html:
    if samples.is_empty():
        return note("No evaluation samples were given.")
    grouped = samples.filter(pl.col("tokens").is_not_null() & pl.col("correct").is_not_null()).group_by("benchmark", "model", "correct").agg(pl.col("tokens"))
    lengths = {(r["benchmark"], r["model"], r["correct"]): r["tokens"] for r in grouped.iter_rows(named=True)}
    figures = []
    for benchmark in benchmarks:
        rows = []
        for i, model in enumerate(models):
            for correct, label in ((True, "correct"), (False, "wrong")):
                values = lengths.get((benchmark, model, correct))
                if values:
                    rows.append((f"{model} · {label}", values, PALETTE[i % len(PALETTE)] if correct else "#888888"))
        figures.append(box_plot(f"response tokens · {benchmark}", rows, x_label="tokens") if rows else note(f"{benchmark}: no samples."))
    return join([note("Per model, correct responses (in the model's colour) and wrong ones (grey) apart."), tag("div", *figures, class_="figures")])


def _grpo_plots(grpo: pl.DataFrame | None) -> Html:
    if grpo is None or grpo.is_empty():
        return note("No GRPO stage in this run.")
    figures = []
    for column, title, y_label in (("reward", "GRPO reward", "mean reward"), ("response_length", "GRPO response length", "mean completion tokens")):
        if column not in grpo.columns:
            figures.append(note(f"The GRPO metrics have no {column} column."))
            continue
        rows = grpo.filter(pl.col("step").is_not_null() & pl.col(column).is_not_null() & pl.col(column).is_not_nan()).sort("step")
        if rows.is_empty():
            figures.append(note(f"No {column} values were logged."))
        else:
            figures.append(line_chart(title, [Series(column, list(zip(rows["step"].to_list(), rows[column].to_list())))], x_label="step", y_label=y_label))
    return tag("div", *figures, class_="figures")


def _funnel(data: ReportData) -> Html:
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


def _decontamination(data: ReportData, text_chars: int) -> Html:
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


def _problems(data: ReportData, models: list[str], benchmarks: list[str], samples_per_model: int, response_chars: int) -> Html:
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


def _provenance(data: ReportData) -> Html:
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


# ------------------------------------------------------------------------------------------
# The page.

_CSS = """
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1400px; padding: 0 1.5rem 3rem; color: #222; }
header { border-bottom: 2px solid #ccc; margin-bottom: 1rem; }
nav a { margin-right: 1rem; }
header h1 { font-size: 1.6rem; margin: 0.8rem 0 0.2rem; }
header p { margin: 0.2rem 0; }
section { margin: 1.2rem 0; }
h2 { margin: 0 0 0.4rem; }
h3 { margin: 0.6rem 0 0.4rem; }
p.note { margin: 0.3rem 0; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #bbb; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td { font-variant-numeric: tabular-nums; }
.best { color: #0a5; }
.yes { font-weight: bold; color: #0a5; }
.note { color: #666; font-size: 0.9rem; }
.warnings, .warn-mark { color: #a50; }
.warn-mark { cursor: help; margin-left: 0.2em; }
.figures { display: flex; flex-wrap: wrap; gap: 1rem; }
svg { background: #fff; border: 1px solid #ddd; font-size: 11px; }
svg .title { font-size: 13px; font-weight: bold; }
svg .label { font-size: 12px; }
svg .axis { stroke: #444; fill: none; }
svg .grid { stroke: #e4e4e4; }
pre, .text, code { font-family: ui-monospace, monospace; font-size: 0.85rem; }
pre, .text { white-space: pre-wrap; overflow-wrap: anywhere; max-height: 30rem; overflow: auto; background: #f7f7f7; padding: 0.4rem; margin: 0.2rem 0; }
.texts td { max-width: 30rem; }
.id { font-size: 0.8rem; color: #555; }
.problem { border-top: 1px solid #ccc; padding: 0.5rem 0; }
.problem td:last-child { width: 70%; }
summary.correct { color: #0a5; }
summary.wrong { color: #b22; }
summary { cursor: pointer; }
.controls { position: sticky; top: 0; background: #fff; padding: 0.5rem 0; display: flex; gap: 0.5rem; align-items: center; }
.controls input { width: 24rem; padding: 0.2rem; }
"""

# The page's only script: no data in it (the CSP admits it by hash). It must end by marking
# the body ready, so that a test can tell it ran to the end.
_SCRIPT = """
(function () {
  var box = document.getElementById("problem-filter");
  var count = document.getElementById("problem-count");
  var problems = Array.prototype.slice.call(document.querySelectorAll(".problem"));
  function filter() {
    var query = box.value.trim().toLowerCase();
    var shown = 0;
    problems.forEach(function (problem) {
      var head = problem.querySelector(".problem-head").textContent.toLowerCase();
      problem.hidden = query !== "" && head.indexOf(query) === -1;
      if (!problem.hidden) { shown += 1; }
    });
    count.textContent = shown + " of " + problems.length + " problems shown";
  }
  if (box) {
    box.addEventListener("input", filter);
    filter();
  }
  document.querySelectorAll("button[data-toggle]").forEach(function (button) {
    button.addEventListener("click", function () {
      var open = button.dataset.toggle === "open";
      document.querySelectorAll("#problems details").forEach(function (details) { details.open = open; });
    });
  });
  document.body.dataset.ready = "1";
})();
"""


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(_SCRIPT.encode()).digest()).decode()
    return f"default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"


SECTIONS = (
    ("progression", "Stage progression"),
    ("plots", "Plots"),
    ("comparisons", "Paired comparisons"),
    ("funnel", "Data funnel"),
    ("decontamination", "Decontamination"),
    ("problems", "Per problem"),
    ("provenance", "Provenance"),
)


def render(data: ReportData, *, samples_per_model: int = 2, response_chars: int = 2000) -> str:
    """The whole report page. Pure: the same data gives the same page."""
    if data.metrics.is_empty():
        raise Lightr1Error("the metrics table is empty: no model was evaluated, so there is nothing to report (see results/eval/metrics.parquet)")
    models, benchmarks = _models(data.metrics), _benchmarks(data.metrics)
    bodies = {
        "progression": _progression(data, models, benchmarks),
        "plots": _plots(data, models, benchmarks),
        "comparisons": _comparisons(data.comparisons),
        "funnel": _funnel(data),
        "decontamination": _decontamination(data, response_chars),
        "problems": _problems(data, models, benchmarks, samples_per_model, response_chars),
        "provenance": _provenance(data),
    }
    sections = [tag("section", tag("h2", title), bodies[key], id=key) for key, title in SECTIONS]
    nav = tag("nav", *(tag("a", title, href=f"#{key}") for key, title in SECTIONS))
    header = tag("header", tag("h1", "lightr1 benchmark report"), tag("p", f"commit {data.provenance.get('commit', 'unknown')}", class_="note"), nav)
    head = tag(
        "head",
        tag("meta", charset="utf-8"),
        tag("meta", http_equiv="Content-Security-Policy", content=_csp()),
        tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
        tag("title", "lightr1 benchmark report"),
        Html(f"<style>{_CSS}</style>"),
    )
    body = tag("body", header, tag("main", *sections), Html(f"<script>{_SCRIPT}</script>"))
    return "<!DOCTYPE html>\n" + tag("html", head, body, lang="en") + "\n"


def write_report(data: ReportData, out_path: PathLike, *, samples_per_model: int = 2, response_chars: int = 2000) -> None:
    page = render(data, samples_per_model=samples_per_model, response_chars=response_chars)
    with atomic_path(out_path) as tmp:
        tmp.write_text(page, encoding="utf-8")


# ------------------------------------------------------------------------------------------
# Reading the run.


def wall_times(benchmarks_dir: PathLike) -> pl.DataFrame:
    """Seconds per Snakemake benchmark file (`s`, averaged over repeats), the rule named by the
    file's path under the folder without `.tsv`; no folder gives an empty table."""
    root = Path(benchmarks_dir)
    rows = []
    for path in sorted(root.rglob("*.tsv")):
        try:
            frame = pl.read_csv(path, separator="\t")
        except (OSError, pl.exceptions.PolarsError) as err:
            raise InputFileError(f"{path}: cannot read Snakemake benchmark file: {err}") from err
        if "s" not in frame.columns:
            raise InputFileError(f"{path}: Snakemake benchmark file without an 's' column")
        seconds = frame["s"].cast(pl.Float64, strict=False).mean()
        rows.append((path.relative_to(root).as_posix().removesuffix(".tsv"), float(seconds or 0.0)))
    return pl.DataFrame(rows, schema={"rule": pl.String, "seconds": pl.Float64}, orient="row")


def package_versions(names: Iterable[str]) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit(repo_dir: PathLike) -> str:
    """HEAD's commit, with "-dirty" when the work tree has changes; "unknown" outside a repo."""

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=repo_dir, capture_output=True, text=True)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return "unknown"
        status = git("status", "--porcelain")
    except OSError:
        return "unknown"
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


def config_seeds(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every seed in the config, by its dotted key."""
    seeds: dict[str, Any] = {}
    for key, value in config.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            seeds.update(config_seeds(value, f"{path}."))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    seeds.update(config_seeds(item, f"{path}[{i}]."))
        elif key == "seed" or str(key).endswith("_seed"):
            seeds[path] = value
    return seeds


def _concat(paths: Sequence[PathLike], schema: pl.Schema) -> pl.DataFrame:
    if not paths:
        return tables.empty(schema)
    return pl.concat([read_table(path, schema) for path in paths], how="diagonal_relaxed")


def load(
    *,
    metrics: PathLike,
    comparisons: PathLike,
    eval_samples: Sequence[PathLike],
    benchmarks: Sequence[PathLike],
    funnel: PathLike,
    ledger: PathLike,
    problems: Sequence[PathLike],
    config: Mapping[str, Any],
    pairs: PathLike | None = None,
    matches: PathLike | None = None,
    grpo_metrics: PathLike | None = None,
    benchmarks_dir: PathLike = "benchmarks",
    repo_dir: PathLike = ".",
    packages: Sequence[str] = PACKAGES,
) -> ReportData:
    """Read a run's files. `problems` is problems.parquet first, then optionally the staged
    source tables (which also hold the text of contaminated rows); `config` is the run's config."""
    text = {"problem_id": pl.String, "source": pl.String, "problem": pl.String}
    train = pl.concat([read_table(path, text).select(list(text)) for path in problems])
    bench = _concat(benchmarks, tables.BENCHMARK).filter(pl.col("status") == "ok")
    config_data = dict(config)
    return ReportData(
        metrics=read_table(metrics, tables.METRICS),
        comparisons=read_table(comparisons, tables.COMPARISONS),
        eval_samples=_concat(eval_samples, tables.EVAL_SAMPLES),
        benchmark_problems=bench.select("benchmark", "problem_id", "problem", "answer"),
        funnel=read_table(funnel, tables.FUNNEL),
        ledger=read_table(ledger, tables.LEDGER),
        problems=train.filter(pl.col("problem_id").is_not_null()).unique("problem_id", keep="first", maintain_order=True),
        config=config_data,
        provenance={
            "commit": git_commit(repo_dir),
            "python": platform.python_version(),
            "packages": package_versions(packages),
            "seeds": config_seeds(config_data),
        },
        wall_times=wall_times(benchmarks_dir),
        pairs=None if pairs is None else read_table(pairs, PAIRS),
        matches=None if matches is None else read_table(matches, tables.MATCHES),
        grpo_metrics=None if grpo_metrics is None else read_table(grpo_metrics, GRPO_METRICS),
    )
