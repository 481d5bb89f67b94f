"""Inline SVG plots (a line chart, a box plot) and the report's plot section."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from lightr1.report.data import ReportData
from lightr1.report.html import Html, join, missing, note, tag

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


def section(data: ReportData, models: list[str], benchmarks: list[str]) -> Html:
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
        rows = [r for r in metrics.filter(pl.col("benchmark") == benchmark).iter_rows(named=True) if not missing(r["pass1"])]
        pts = [(index[r["model"]], 100 * r["pass1"]) for r in rows]
        bars = [(index[r["model"]], 100 * r["ci_low"], 100 * r["ci_high"]) for r in rows if not (missing(r["ci_low"]) or missing(r["ci_high"]))]
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
        curve = [p for p in (rows[model]["pass_at_k"] or []) if p["k"] >= 1 and not missing(p["value"])] if model in rows else []
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
