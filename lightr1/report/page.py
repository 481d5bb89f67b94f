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
import os

from lightr1.errors import Lightr1Error
from lightr1.io import atomic_path
from lightr1.report import plots, tables
from lightr1.report.data import ReportData, benchmarks_of, models_of
from lightr1.report.html import Html, tag

PathLike = str | os.PathLike

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
    models, benchmarks = models_of(data.metrics), benchmarks_of(data.metrics)
    bodies = {
        "progression": tables.progression(data, models, benchmarks),
        "plots": plots.section(data, models, benchmarks),
        "comparisons": tables.comparisons(data.comparisons, data.config.get("eval", {}).get("report", {}).get("stage_notes")),
        "funnel": tables.funnel(data),
        "decontamination": tables.decontamination(data, response_chars),
        "problems": tables.problems(data, models, benchmarks, samples_per_model, response_chars),
        "provenance": tables.provenance(data),
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
