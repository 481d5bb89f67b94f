"""The HTML report: its sections and numbers, escaping of every piece of data, and what a real
browser does with it (no console errors, no requests, the script runs, payloads stay text)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import polars as pl
import pytest
from browser import element_boxes, load_page

from lightr1 import tables
from lightr1.curriculum.pairs import PAIRS
from lightr1.errors import Lightr1Error
from lightr1.report import data as report_data
from lightr1.report import page as report_page
from lightr1.train.grpo import METRICS_SCHEMA

ARTIFACTS = Path(__file__).parent / "artifacts"
FIRST_SCREEN = (1300, 900)  # width, height in CSS pixels
MODELS = ["base", "sft1", "sft2"]
BENCHMARKS = ["aime_tiny", "math500_tiny"]
SCRIPT_PAYLOAD = '<script>document.body.dataset.pwned="1"</script>'
IMG_PAYLOAD = "<img src=x onerror=\"document.body.dataset.pwned='2'\">"
PROBLEM_TEXT = "Compute <b>2 & 3</b> + 1."
N = 4
PASS1 = {
    ("base", "aime_tiny"): 0.25,
    ("sft1", "aime_tiny"): 0.5,
    ("sft2", "aime_tiny"): 0.432,
    ("base", "math500_tiny"): 0.1,
    ("sft1", "math500_tiny"): 0.3,
    ("sft2", "math500_tiny"): 0.6,
}


def _metrics() -> pl.DataFrame:
    rows = []
    for order, model in enumerate(MODELS):
        for benchmark in BENCHMARKS:
            p = PASS1[(model, benchmark)]
            pass_at_k = [{"k": k, "value": min(1.0, p * k**0.5)} for k in (1, 2, 4)]
            warning = f"{model} on {benchmark}: interval wider than 10 points" if model in ("base", "sft1") else None
            rows.append([model, benchmark, order, 2, N, p, p - 0.031, p + 0.028, 0.95, 0.05, pass_at_k, p, 0.0, 120.0, 110.0, 300.0, 280.0, warning])
    return pl.DataFrame(rows, schema=tables.METRICS, orient="row")


def _samples() -> pl.DataFrame:
    rows = []
    for model in MODELS:
        for benchmark in BENCHMARKS:
            for problem in ("p1", "p2"):
                for sample in range(N):
                    correct = (sample + MODELS.index(model)) % 2 == 0
                    response = f"{model} thinks about {problem}; the answer is \\boxed{{4}}"
                    if (model, benchmark, problem, sample) == ("sft1", "aime_tiny", "p1", 0):
                        response = SCRIPT_PAYLOAD
                    if (model, benchmark, problem, sample) == ("sft2", "aime_tiny", "p1", 1):
                        response = IMG_PAYLOAD
                    if (model, benchmark, problem, sample) == ("base", "math500_tiny", "p2", 0):
                        response = "x" * 50
                    tokens = 100 + 40 * sample + (0 if correct else 150)
                    rows.append([f"{benchmark}-{problem}", sample, response, "stop", tokens, model, "fp", correct, "4", "ok", benchmark])
    return pl.DataFrame(rows, schema=tables.EVAL_SAMPLES, orient="row")


def _benchmark_problems() -> pl.DataFrame:
    rows = []
    for benchmark in BENCHMARKS:
        rows.append([benchmark, f"{benchmark}-p1", PROBLEM_TEXT, ["6"]])
        rows.append([benchmark, f"{benchmark}-p2", "How many apples are left?", ["4", "four"]])
    return pl.DataFrame(rows, schema={"benchmark": pl.String, "problem_id": pl.String, "problem": pl.String, "answer": pl.List(pl.String)}, orient="row")


def _data() -> report_data.ReportData:
    comparisons = pl.DataFrame(
        [["aime_tiny", "sft1", "base", 0.25, 0.05, 0.45, 0.01, True], ["math500_tiny", "sft2", "sft1", 0.3, -0.02, 0.6, 0.08, False]],
        schema=tables.COMPARISONS,
        orient="row",
    )
    funnel = pl.DataFrame(
        [
            [step, source, count]
            for step, scale in (("raw rows", 10), ("stage 1", 4), ("stage 2", 2))
            for source, count in (("openr1_math", scale), ("limo", scale // 2))
        ],
        schema=tables.FUNNEL,
        orient="row",
    )
    ledger = pl.DataFrame(
        [
            ["openr1_math", 0, "kept", None, "t1", None],
            ["openr1_math", 1, "duplicate", "same problem_id as limo:0", "t1", "t1"],
            ["openr1_math", 2, "contaminated", "matches aime_tiny", "t9", None],
            ["openr1_math", 3, "rejected", "proof problem: <no answer>", None, None],
            ["limo", 0, "kept", None, "t2", None],
            ["limo", 1, "rejected", "proof problem: <no answer>", None, None],
            ["limo", 2, "rejected", "empty answer", None, None],
        ],
        schema=tables.LEDGER,
        orient="row",
    )
    problems = pl.DataFrame(
        {
            "problem_id": ["t1", "t2", "t9"],
            "source": ["openr1_math", "limo", "openr1_math"],
            "problem": ["Train one", "Train two", "Compute <b>2 & 3</b> + one."],
        }
    )
    matches = pl.DataFrame(
        [
            ["t9", "aime_tiny", "aime_tiny-p1", "default", "ngram", "compute <b>2 & 3"],
            ["t9", "aime_tiny", "aime_tiny-p1", "default", "exact", "compute b 2 3 b"],
        ],
        schema=tables.MATCHES,
        orient="row",
    )
    pairs = pl.DataFrame(
        [["t1", "Train one", "1", "good", "bad", "wrong", 0, 4, 2], ["t2", "Train two", "2", "good", "bad", "too_long", 1, 4, 1]], schema=PAIRS, orient="row"
    )
    grpo = pl.DataFrame({"step": [1, 2, 3, 4]}).with_columns(
        *(pl.lit(None, pl.Float64).alias(c) for c in METRICS_SCHEMA if c != "step"),
    )
    grpo = grpo.with_columns(reward=pl.Series([0.1, 0.3, 0.35, 0.5]), response_length=pl.Series([200.0, 240.0, 260.0, 250.0])).select(list(METRICS_SCHEMA))
    wall = pl.DataFrame(
        {
            "rule": [
                "teacher",
                "sample/sft1/eval_aime_tiny/shard-0-of-2",
                "sample/sft1/eval_aime_tiny/shard-1-of-2",
                "sample/base/eval_aime_tiny/shard-0-of-1",
            ],
            "seconds": [5.0, 100.0, 50.0, 30.0],
        }
    )
    config = {
        "seed": 1234,
        "evaluation": {"n": N, "seed": 7},
        "note": "<i>config & more</i>",
        "eval": {"report": {"stage_notes": {"sft2": "seven rows <b>only</b>: nothing to learn"}}},
    }
    provenance = {"commit": "abc123-dirty", "python": "3.12", "packages": {"polars": "1.0", "<pkg>": "not installed"}, "seeds": report_data.config_seeds(config)}
    return report_data.ReportData(
        metrics=_metrics(),
        comparisons=comparisons,
        eval_samples=_samples(),
        benchmark_problems=_benchmark_problems(),
        funnel=funnel,
        ledger=ledger,
        problems=problems,
        config=config,
        provenance=provenance,
        wall_times=wall,
        pairs=pairs,
        matches=matches,
        grpo_metrics=grpo,
    )


@pytest.fixture(scope="module")
def page() -> str:
    return report_page.render(_data())


def _section(page: str, name: str) -> str:
    match = re.search(rf'<section id="{name}">(.*?)</section>', page, re.DOTALL)
    assert match, f"no section {name}"
    return match.group(1)


def test_every_section_is_there(page):
    for key, _ in report_page.SECTIONS:
        assert f'<section id="{key}">' in page


def test_progression_rows_follow_the_order_and_mark_the_best(page):
    progression = _section(page, "progression")
    first_table = progression.split("</table>")[0]
    assert re.findall(r'<tr data-model="([^"]+)">', first_table) == MODELS
    assert "43.2 (40.1–46.0)" in first_table  # sft2 on aime_tiny: 0.432, -0.031, +0.028
    best = re.findall(r'<strong class="best">([^<]+)</strong>', first_table)
    assert best == ["50.0 (46.9–52.8)", "60.0 (56.9–62.8)"]
    assert "2 problems, n = 4" in first_table
    marks = re.findall(r'<sup class="warn-mark" title="([^"]+)">⚠</sup>', first_table)
    assert marks == [f"{m} on {b}: interval wider than 10 points" for m in ("base", "sft1") for b in BENCHMARKS]
    warnings = re.findall(r'<details class="warnings"><summary>(.*?)</summary>(.*?)</details>', progression)
    assert [summary for summary, _ in warnings] == ["⚠ interval warnings: aime_tiny 2 of 3 models · math500_tiny 2 of 3 models"]
    assert warnings[0][1].count("<li>") == 4 and "base · aime_tiny: base on aime_tiny: interval wider" in warnings[0][1]
    comparisons = _section(page, "comparisons")
    assert "+25.0 (+5.0 to +45.0)" in comparisons and "distinguishable" in comparisons and "within noise" in comparisons
    assert "<li><strong>sft2</strong>: seven rows &lt;b&gt;only&lt;/b&gt;: nothing to learn</li>" in comparisons  # the config's why, escaped


def test_data_is_escaped_everywhere(page):
    assert "&lt;script&gt;document.body.dataset.pwned=&quot;1&quot;&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;document.body.dataset.pwned=&#x27;2&#x27;&quot;&gt;" in page
    assert "Compute &lt;b&gt;2 &amp; 3&lt;/b&gt; + 1." in page
    assert "&lt;i&gt;config &amp; more&lt;/i&gt;" in page
    assert "&lt;pkg&gt;" in page and "proof problem: &lt;no answer&gt;" in page
    for raw in (SCRIPT_PAYLOAD, IMG_PAYLOAD, PROBLEM_TEXT, "<b>", "<img", "<i>", "<pkg>", "<no answer>"):
        assert raw not in page
    assert page.count("<script") == 1  # only the page's own


def test_no_external_reference(page):
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"\b(src|href)=\"(?!#)", page)  # links only to anchors on the page


def test_sections_carry_the_numbers(page):
    funnel = _section(page, "funnel")
    assert "DPO pairs" in funnel
    assert re.search(r"<td>DPO pairs</td><td>1</td><td>1</td><td>2</td>", funnel)  # t1 from openr1_math, t2 from limo
    assert re.search(r"<td>openr1_math</td><td>1</td><td>1</td><td>1</td><td>1</td><td>4</td>", funnel)  # kept/duplicate/contaminated/rejected/total
    assert re.search(r"<td>proof problem: &lt;no answer&gt;</td><td>2</td><td>openr1_math, limo</td>", funnel)
    decontamination = _section(page, "decontamination")
    assert re.search(r"<td>aime_tiny</td><td>openr1_math</td><td>default</td><td>exact</td><td>1</td>", decontamination)
    assert "Compute &lt;b&gt;2 &amp; 3&lt;/b&gt; + one." in decontamination
    plots = _section(page, "plots")
    assert plots.count("<svg") == 1 + len(BENCHMARKS) + len(BENCHMARKS) + 2  # accuracy, pass@k, lengths, GRPO reward and length
    problems = _section(page, "problems")
    assert problems.count('<div class="problem">') == 4
    assert "2/4 (50%)" in problems
    provenance = _section(page, "provenance")
    assert "abc123-dirty" in provenance and "evaluation.seed" in provenance
    assert re.search(r"<td>sample</td><td>3</td><td>0:03:00</td><td>180.0</td>", provenance)  # shards and models summed per rule
    assert re.search(r"<td>sample/sft1/eval_aime_tiny</td><td>2</td><td>0:02:30</td>", provenance)


def test_responses_are_cut_with_a_note():
    page = report_page.render(_data(), samples_per_model=1, response_chars=10)
    problems = _section(page, "problems")
    assert "truncated: first 10 of 50 characters" in problems
    assert problems.count("<details>") == len(MODELS) * len(BENCHMARKS) * 2  # one sample per model and problem


def test_missing_optional_parts_give_notes():
    data = _data()
    data.pairs = data.matches = data.grpo_metrics = None
    data.wall_times = data.wall_times.clear()
    page = report_page.render(data)
    assert "No DPO pairs in this run." in _section(page, "funnel")
    assert "No decontamination matches table was given." in _section(page, "decontamination")
    assert "No GRPO stage in this run." in _section(page, "plots")
    assert "No Snakemake benchmark files were found." in _section(page, "provenance")


def test_empty_metrics_is_an_error():
    data = _data()
    data.metrics = data.metrics.clear()
    with pytest.raises(Lightr1Error, match="metrics table is empty"):
        report_page.render(data)


def test_wall_times_reads_snakemake_benchmark_files(tmp_path):
    header = "s\th:m:s\tmax_rss\n"
    (tmp_path / "sample/base/eval").mkdir(parents=True)
    (tmp_path / "teacher.tsv").write_text(header + "5.5\t0:00:05\t10\n")
    (tmp_path / "sample/base/eval/shard-0-of-2.tsv").write_text(header + "2.0\t0:00:02\tNA\n4.0\t0:00:04\tNA\n")  # repeats: their mean
    times = report_data.wall_times(tmp_path)
    assert times.to_dicts() == [{"rule": "sample/base/eval/shard-0-of-2", "seconds": 3.0}, {"rule": "teacher", "seconds": 5.5}]
    assert report_data.wall_times(tmp_path / "absent").is_empty()


def test_provenance_helpers(tmp_path):
    assert report_data.package_versions(["polars", "surely-not-a-package-xyz"]) == {"polars": pl.__version__, "surely-not-a-package-xyz": "not installed"}
    assert report_data.git_commit(tmp_path) == "unknown"
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "code.py").write_text("x = 1\n")
    subprocess.run([*git, "add", "code.py"], check=True)
    subprocess.run([*git, "commit", "-qm", "c"], check=True)
    (tmp_path / "demo.log").write_text("a log beside the code\n")
    assert re.fullmatch("[0-9a-f]{40}", report_data.git_commit(tmp_path))
    (tmp_path / "code.py").write_text("x = 2\n")
    assert report_data.git_commit(tmp_path).endswith("-dirty")
    assert report_data.config_seeds({"seed": 1, "a": {"seed": 2, "b": [{"sampling_seed": 3}]}, "seeds": 4}) == {"seed": 1, "a.seed": 2, "a.b[0].sampling_seed": 3}


def test_load_reads_a_run_and_writes_atomically(tmp_path):
    data = _data()
    paths = {}
    for name, frame in {
        "metrics": data.metrics,
        "comparisons": data.comparisons,
        "funnel": data.funnel,
        "ledger": data.ledger,
        "problems": data.problems,
    }.items():
        paths[name] = tmp_path / f"{name}.parquet"
        frame.write_parquet(paths[name])
    evals = []
    for (model, benchmark), frame in data.eval_samples.group_by("model", "benchmark", maintain_order=True):
        evals.append(tmp_path / f"eval-{model}-{benchmark}.parquet")
        frame.write_parquet(evals[-1])
    bench_path = tmp_path / "aime_tiny.parquet"
    bench = data.benchmark_problems.filter(pl.col("benchmark") == "aime_tiny").with_columns(
        row_index=pl.int_range(pl.len(), dtype=pl.Int64), status=pl.lit("ok"), reason=pl.lit(None, pl.String), kind=pl.lit("math"), meta=pl.lit("{}")
    )
    bench.select(list(tables.BENCHMARK)).write_parquet(bench_path)
    config = {"seed": 5, "evaluation": {"seed": 6}}
    loaded = report_data.load(
        metrics=paths["metrics"],
        comparisons=paths["comparisons"],
        eval_samples=evals,
        benchmarks=[bench_path],
        funnel=paths["funnel"],
        ledger=paths["ledger"],
        problems=[paths["problems"]],
        config=config,
        benchmarks_dir=tmp_path / "no-benchmarks",
        repo_dir=tmp_path,
        packages=["polars"],
    )
    assert loaded.eval_samples.height == data.eval_samples.height and loaded.pairs is None
    assert loaded.provenance["seeds"] == {"seed": 5, "evaluation.seed": 6} and loaded.provenance["commit"] == "unknown"
    out = tmp_path / "report" / "index.html"
    report_page.write_report(loaded, out)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["index.html"]  # no temporary left behind


def test_the_browser_shows_the_report_safely(tmp_path, page):
    path = tmp_path / "index.html"
    path.write_text(page, encoding="utf-8")
    screenshot = ARTIFACTS / "report.png"
    screenshot.unlink(missing_ok=True)
    loaded = load_page(path, screenshot)
    assert loaded.console == []
    assert loaded.requests == []
    body = re.search(r"<body([^>]*)>", loaded.dom).group(1)
    assert 'data-ready="1"' in body and "pwned" not in body
    assert '&lt;script&gt;document.body.dataset.pwned="1"&lt;/script&gt;' in loaded.dom  # text, serialised escaped
    assert "&lt;img src=x onerror=\"document.body.dataset.pwned='2'\"&gt;" in loaded.dom
    progression = re.search(r'<section id="progression">.*?</table>', loaded.dom, re.DOTALL).group(0)
    assert re.findall(r'<tr data-model="([^"]+)">', progression) == MODELS
    assert screenshot.is_file() and screenshot.stat().st_size > 1000
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def assert_leads_with_the_table_and_a_plot(path: Path, screenshot: Path) -> None:
    """At 1300 px wide the first screen (900 px high) holds the stage table and the first plot."""
    screenshot.unlink(missing_ok=True)
    boxes = element_boxes(path, ["#progression table.progression", "#plots svg"], FIRST_SCREEN, screenshot)
    (table_top, table_bottom, _, table_right), (_, plot_bottom, _, plot_right) = boxes.values()
    assert 0 < table_top < table_bottom <= FIRST_SCREEN[1] and table_right <= FIRST_SCREEN[0], boxes
    assert plot_bottom <= FIRST_SCREEN[1] and plot_right <= FIRST_SCREEN[0], boxes
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_first_screen_holds_the_stage_table_and_the_first_plot(tmp_path, page):
    path = tmp_path / "index.html"
    path.write_text(page, encoding="utf-8")
    assert_leads_with_the_table_and_a_plot(path, ARTIFACTS / "report-first-screen.png")


def test_the_harness_catches_console_errors_and_requests(tmp_path):
    path = tmp_path / "bad.html"
    path.write_text('<!DOCTYPE html><html><body><img src="http://example.invalid/x.png"><script>console.error("boom")</script></body></html>')
    loaded = load_page(path)
    assert any(line.startswith("boom") for line in loaded.console)
    assert loaded.requests == ["http://example.invalid/x.png"]
