"""DAG scale: how long Snakemake takes to plan the full-scale recipe, and to find nothing to do
once every output exists.

    .venv/bin/python bench/dag.py [--shards 512] [--eval-shards 8] [--keep DIR]

The recipe is recipes/light-r1-32b.yaml with seven benchmarks and eight evaluated models (the
recipe's seven plus QwQ-32B as a second baseline), 64 samples per problem sharded into
`--eval-shards` jobs per model and benchmark, and `--shards` grading shards per stage. Planning
reads no data (no checkpoints in the DAG), so the number of raw problems (1M at full scale)
does not enter: only the job count does.

Timed, each in a fresh process as a user types it:
- `snakemake -n` from nothing (every job planned);
- `snakemake --touch` after every output was created empty (bookkeeping, not a user step);
- `snakemake -n` again: the no-op re-run, which must report nothing to be done.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
RECIPE = ROOT / "recipes" / "light-r1-32b.yaml"
EXTRA_BENCHMARKS = [
    {"name": "minerva", "adapter": "minerva", "hub": "math-ai/minervamath", "split": "test"},
    {"name": "olympiadbench", "adapter": "olympiadbench", "hub": "Hothan/OlympiadBench", "hub_config": "OE_TO_maths_en_COMP", "split": "train"},
]
EXTRA_MODEL = {"name": "qwq_32b", "hub": "Qwen/QwQ-32B", "force_think": True}
DIRECTORY_OUTPUTS = re.compile(r"^(results/checkpoints/[^/]+|resources/models/[^/]+)$")


def overlay(shards: int, eval_shards: int) -> dict:
    recipe = yaml.safe_load(RECIPE.read_text())
    models = recipe["models"] + [EXTRA_MODEL]
    return {
        "benchmarks": recipe["benchmarks"] + EXTRA_BENCHMARKS,
        "models": models,
        "grading": {"shards": shards},
        "eval": {"models": [EXTRA_MODEL["name"], *recipe["eval"]["models"]], "shards": eval_shards},
    }


def snakemake(workdir: Path, configs: list[Path], *args: str) -> tuple[float, str]:
    command = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", "1", *args, "--configfile", *map(str, configs)]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return seconds, result.stdout + result.stderr


def job_counts(output: str) -> dict[str, int]:
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    return {name: int(count) for name, count in re.findall(r"^(\w+)\s+(\d+)$", table, re.M)}


def planned_outputs(output: str) -> list[str]:
    return [path for line in re.findall(r"^\s+output: (.+)$", output, re.M) for path in line.split(", ")]


def create(workdir: Path, paths: list[str]) -> None:
    """Every planned output as an empty file (a model folder as an empty folder)."""
    for path in paths:
        target = workdir / path
        if DIRECTORY_OUTPUTS.match(path):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, default=512, help="grading shards per stage")
    parser.add_argument("--eval-shards", type=int, default=8, help="sampling jobs per model and benchmark")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()

    workdir = args.keep or Path(tempfile.mkdtemp(prefix="lightr1-dag-"))
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "scale.yaml"
    config.write_text(yaml.safe_dump(overlay(args.shards, args.eval_shards), sort_keys=False))
    configs = [RECIPE, config]
    try:
        plan_seconds, plan = snakemake(workdir, configs, "-n")
        jobs = job_counts(plan)
        create(workdir, planned_outputs(plan))
        touch_seconds, _ = snakemake(workdir, configs, "--touch")
        noop_seconds, noop = snakemake(workdir, configs, "-n")
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"full-scale recipe: {sum(jobs.values())} jobs ({args.shards} grading shards per stage, 8 models x 7 benchmarks x {args.eval_shards} eval shards)")
    for rule in sorted(jobs, key=jobs.get, reverse=True)[:8]:
        print(f"  {rule:<24} {jobs[rule]:>6}")
    print(f"plan from nothing (snakemake -n):  {plan_seconds:6.1f} s")
    print(f"mark all outputs (--touch):        {touch_seconds:6.1f} s")
    print(f"no-op re-run (snakemake -n):       {noop_seconds:6.1f} s  ({'nothing to be done' if 'Nothing to be done' in noop else 'JOBS PLANNED: not a no-op'})")


if __name__ == "__main__":
    main()
