"""A real single-node SLURM for the tests: scripts/slurm-local.sh, started once, stopped after.

`slurm_cluster()` starts one in a state folder of its own (a fresh /tmp/lightr1-slurm-*,
on free ports, so that it meets neither a cluster started by hand nor another test session),
yields the environment to run SLURM tools and Snakemake's slurm executor with, then stops it
and removes the folder. That environment has
- SLURM_CONF: the cluster's slurm.conf;
- PATH: the state folder's bin/ first (an srun that restores SLURM_CONF: Snakemake's job step
  drops all SLURM_* variables before calling srun inside the job), then the venv's tools,
  which the jobs need too (sbatch --export=ALL hands them this PATH).

Needs root and the Debian packages of `scripts/system-packages.sh slurm`.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from conftest import BIN, ROOT

SCRIPT = ROOT / "scripts" / "slurm-local.sh"
COMMANDS = ("munged", "mariadbd", "slurmdbd", "slurmctld", "slurmd", "sbatch", "sacct")
SBIN = ("/usr/sbin", "/sbin")
T = TypeVar("T")


def unavailable() -> str | None:
    """Why this machine cannot run the local SLURM, or None when it can."""
    if os.geteuid() != 0:
        return "the local SLURM runs as root (SlurmUser=root)"
    search = os.pathsep.join([os.environ.get("PATH", ""), *SBIN])
    missing = [command for command in COMMANDS if shutil.which(command, path=search) is None]
    if missing:
        return f"{', '.join(missing)} missing: run scripts/system-packages.sh slurm"
    return None


def free_ports(count: int = 3, tries: int = 50) -> int:
    """A port P with P..P+count-1 all free (slurmctld, slurmd, slurmdbd)."""
    for _ in range(tries):
        base = random.randrange(20000, 60000 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("0.0.0.0", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} free consecutive ports found")


def _script(command: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), command], env=env, capture_output=True, text=True, timeout=timeout)


@contextmanager
def slurm_cluster(timeout: float = 180) -> Iterator[dict[str, str]]:
    """Start a private local SLURM, yield the environment to use it with, stop it at the end."""
    state = Path(tempfile.mkdtemp(prefix="lightr1-slurm-", dir="/tmp"))  # short: socket paths
    script_env = {**os.environ, "LIGHTR1_SLURM_DIR": str(state), "LIGHTR1_SLURM_PORT": str(free_ports())}
    keep = False  # the state folder, for its logs, when something failed
    try:
        started = _script("start", script_env, timeout)
        if started.returncode != 0:
            keep = True
            raise RuntimeError(f"scripts/slurm-local.sh start failed (state in {state}):\n{started.stderr[-6000:]}")
        exports = dict(line.removeprefix("export ").split("=", 1) for line in started.stdout.splitlines() if line.startswith("export "))
        slurm_bin = exports["PATH"].removesuffix(":$PATH")
        yield {
            **os.environ,
            "SLURM_CONF": exports["SLURM_CONF"],
            "PATH": os.pathsep.join([slurm_bin, str(BIN), os.environ["PATH"], *SBIN]),
        }
    finally:
        stopped = _script("stop", script_env, timeout)
        if stopped.returncode != 0:
            raise RuntimeError(f"scripts/slurm-local.sh stop failed (state in {state}):\n{stopped.stderr[-6000:]}")
        if not keep:
            shutil.rmtree(state, ignore_errors=True)


def poll(probe: Callable[[], T | None], timeout: float, interval: float = 0.5, what: str = "condition") -> T:
    """Call `probe` until it returns something truthy (and return that), for at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} within {timeout:.0f}s")
        time.sleep(interval)


def sacct(env: dict[str, str], *args: str) -> list[list[str]]:
    """Rows of `sacct -n -P ARGS`, split on '|'."""
    result = subprocess.run(["sacct", "-n", "-P", *args], env=env, capture_output=True, text=True, timeout=60, check=True)
    return [line.split("|") for line in result.stdout.splitlines() if line.strip()]
