"""One run of the tiny world on the micro config, shared by every workflow test."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def snakemake(workdir: Path, *args: str, check: bool = True, snakefile: Path = ROOT / "Snakefile") -> subprocess.CompletedProcess:
    """Run the project's Snakefile (or a copy's) in `workdir` with the venv's tools on PATH."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    command = [str(BIN / "snakemake"), "-s", str(snakefile), "-d", str(workdir), "--cores", "2", *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


@pytest.fixture(scope="session")
def micro_world(tmp_path_factory) -> Path:
    """The working directory of a finished micro-world run."""
    workdir = tmp_path_factory.mktemp("micro")
    snakemake(workdir, "--configfile", str(ROOT / "tests" / "micro.yaml"))
    return workdir


@pytest.fixture(scope="session")
def untrained_model_dir(tmp_path_factory) -> Path:
    """A saved, untrained tiny Qwen2 model folder (seconds to make): for backend plumbing
    tests that need a real model but not a sensible one."""
    from lightr1.tiny.model import make_model, make_tokenizer, save_model

    out = tmp_path_factory.mktemp("models") / "untrained"
    tokenizer = make_tokenizer()
    save_model(make_model(tokenizer, seed=0), tokenizer, out)
    return out


@pytest.fixture(scope="session")
def slurm_env():
    """A single-node SLURM of the tests' own (scripts/slurm-local.sh), started once for the
    session and stopped after it; skipped where it cannot run (not root, packages missing)."""
    from slurm import slurm_cluster, unavailable

    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with slurm_cluster() as env:
        yield env
