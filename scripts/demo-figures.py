"""The figures of a finished run, as the documents quote them: pass@1 per stage and benchmark
with intervals and each stage's paired comparison (README.md, block `results`), the wall time
per stage (bench/README.md, block `stage-times`), and where they were measured (block
`results-provenance`). Prints them; `--write` puts them into the documents, `--check` fails
when the documents' figures differ from the run's.

    .venv/bin/python scripts/demo-figures.py [--workdir .] [--docs .] [--total-seconds S] [--write | --check]

`make demo` runs it at its end with the demo's wall time.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from lightr1.errors import Lightr1Error  # noqa: E402
from lightr1.io import atomic_path  # noqa: E402
from lightr1.report import figures  # noqa: E402
from lightr1.report.data import git_commit, wall_times  # noqa: E402
from lightr1.report.html import duration  # noqa: E402

DOCUMENTS = {"results": "README.md", "results-provenance": "README.md", "stage-times": "bench/README.md"}
CHECKED = ("results",)  # where and when differ from run to run; the figures must not


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.machine()}"


def blocks(workdir: Path, total_seconds: float | None) -> dict[str, str]:
    metrics = pl.read_parquet(workdir / "results/eval/metrics.parquet")
    comparisons = pl.read_parquet(workdir / "results/eval/comparisons.parquet")
    measured = datetime.fromtimestamp((workdir / "results/eval/metrics.parquet").stat().st_mtime, timezone.utc)
    took = f", `make demo` {duration(total_seconds)} (h:mm:ss)" if total_seconds is not None else ""
    provenance = f"Measured by `make demo` at commit `{git_commit(workdir)}` on {measured:%Y-%m-%d}, {machine()}{took}."
    return {
        "results": figures.results_markdown(metrics, comparisons),
        "results-provenance": provenance,
        "stage-times": figures.stage_times_markdown(wall_times(workdir / "benchmarks"), total_seconds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("."), help="the finished run's folder (default: here)")
    parser.add_argument("--docs", type=Path, default=ROOT, help="the folder holding README.md and bench/README.md (default: this checkout)")
    parser.add_argument("--total-seconds", type=float, help="the run's wall time, for the stage-times table")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="put the figures into README.md and bench/README.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when the documents' figures differ from the run's")
    args = parser.parse_args()
    try:
        rendered = blocks(args.workdir, args.total_seconds)
        if args.check:
            stale = [name for name in CHECKED if figures.read_block((args.docs / DOCUMENTS[name]).read_text(), name) != rendered[name]]
            for name in stale:
                print(f"{DOCUMENTS[name]}: the {name} figures differ from the run in {args.workdir}:\n{rendered[name]}", file=sys.stderr)
            return 1 if stale else 0
        for name, body in rendered.items():
            print(f"{name} ({DOCUMENTS[name]}):\n{body}\n")
            if args.write:
                path = args.docs / DOCUMENTS[name]
                updated = figures.replace_block(path.read_text(), name, body)
                with atomic_path(path) as tmp:
                    tmp.write_text(updated)
    except (OSError, pl.exceptions.PolarsError, Lightr1Error) as err:
        print(f"demo-figures: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
