"""Planning time: how long Snakemake takes to plan the full 32B recipe for SLURM, and to find
nothing to do in a finished tiny world, each beside a synthetic DAG of the same job count.

    .venv/bin/python bench/dag.py [--world DIR] [--repeats 3]

Timed, each in a fresh process as a user types it (the median of `--repeats` runs):
- `snakemake -n --profile profiles/slurm --configfile recipes/light-r1-32b.yaml` in an empty
  working directory (every job planned; planning reads no data, so only the job count matters);
- `snakemake --cores 2` in a finished tiny world (`--world`, default this checkout once
  `make demo` has run there), which must report nothing to be done;
- the same two commands on a synthetic Snakefile of one rule with as many jobs, so the figures
  separate what the project's rules cost from what Snakemake costs per job.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
RECIPE = ROOT / "recipes" / "light-r1-32b.yaml"
PROFILE = ROOT / "profiles" / "slurm"
# One rule, `jobs - 1` jobs, and `all`: the least a DAG of that size can cost.
SYNTHETIC = """\
rule all:
    input:
        expand("out/{i}.txt", i=range(int(config["jobs"]) - 1)),


rule make:
    output:
        "out/{i}.txt",
    shell:
        "touch {output}"
"""


def timed(command: list[str], cwd: Path, repeats: int) -> tuple[float, str]:
    """The median wall time of `repeats` runs, and the last run's output."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        seconds.append(time.perf_counter() - start)
        if run.returncode:
            sys.exit(f"{' '.join(command)} failed:\n{run.stderr[-4000:]}")
    return statistics.median(seconds), run.stdout + run.stderr


def job_count(output: str) -> int:
    return int(re.search(r"^total\s+(\d+)$", output, re.M).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--world", type=Path, default=ROOT, help="working directory of a finished tiny world (default: this checkout)")
    parser.add_argument("--world-config", type=Path, help="the config overlay the world ran with (e.g. tests/micro.yaml)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; the median is printed")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="lightr1-dag-") as tmp:
        tmp = Path(tmp)
        recipe_dir, synthetic_dir = tmp / "recipe", tmp / "synthetic"
        recipe_dir.mkdir()
        synthetic_dir.mkdir()
        (synthetic_dir / "Snakefile").write_text(SYNTHETIC)
        plan = [str(SNAKEMAKE), "-n", "-s", str(ROOT / "Snakefile"), "--profile", str(PROFILE), "--configfile", str(RECIPE)]
        plan_s, output = timed(plan, recipe_dir, args.repeats)
        jobs = job_count(output)
        synthetic_plan_s, _ = timed([str(SNAKEMAKE), "-n", "--profile", str(PROFILE), "--config", f"jobs={jobs}"], synthetic_dir, args.repeats)
        print(f"32B recipe, SLURM profile: {jobs} jobs")
        print(f"  plan (snakemake -n):                {plan_s:5.1f} s")
        print(f"  synthetic DAG, same profile and jobs: {synthetic_plan_s:5.1f} s")

        finished = (args.world / "results" / "report" / "index.html").exists()
        if not finished:
            print(f"tiny world no-op: skipped ({args.world} holds no finished run: `make demo` there, or pass --world)")
            return
        world = [str(SNAKEMAKE), "-s", str(ROOT / "Snakefile"), "--cores", "2", *(["--configfile", str(args.world_config.resolve())] if args.world_config else [])]
        noop_s, output = timed(world, args.world, args.repeats)
        if "Nothing to be done" not in output:
            sys.exit(f"the tiny world in {args.world} is not finished: snakemake planned jobs\n{output[-2000:]}")
        world_jobs = job_count(timed([*world, "-n", "--forceall"], args.world, 1)[1])
        rerun = [str(SNAKEMAKE), "--cores", "2", "--config", f"jobs={world_jobs}"]
        subprocess.run(rerun, cwd=synthetic_dir, capture_output=True, check=True)  # runs it once
        synthetic_noop_s, _ = timed(rerun, synthetic_dir, args.repeats)
        print(f"finished world {args.world} no-op re-run (snakemake --cores 2): {world_jobs} jobs")
        print(f"  no-op re-run:                       {noop_s:5.1f} s")
        print(f"  synthetic DAG, same jobs, finished: {synthetic_noop_s:5.1f} s")


if __name__ == "__main__":
    main()
