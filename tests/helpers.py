"""Helpers shared by the test modules."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from lightr1.faults import KILL_AT


def write_rows(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Write rows in the format the file name says, as a real release of that format would."""
    if path.suffix == ".parquet":
        pl.DataFrame(list(rows)).write_parquet(path)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(list(rows)), encoding="utf-8")
    elif path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    else:
        raise ValueError(path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def train_cli(
    command: str,
    root: Path,
    init: Path,
    settings: Mapping[str, Any],
    *,
    form: str,
    data: str = "data.parquet",
    processes: int = 1,
    nodes: int = 1,
    kill_at: str | None = None,
):
    """`lightr1 COMMAND` (train-sft, train-dpo, train-grpo) on root/DATA into root/out and
    root/work. Several processes are started by torchrun as the torchrun launcher starts them
    (data parallel over gloo on a CPU); several nodes are as many torchruns on loopback, each
    with its node rank, as the multi-node launch starts one per node. Each is run to its end,
    the nodes' stderr joined; `kill_at` names the kill point (lightr1.faults) where the job
    dies, in a session of its own so that nothing else goes with it."""
    arguments = ["--data", root / data, "--init", init, "--out", root / "out", "--work-dir", root / "work"]
    arguments += ["--settings", json.dumps(settings), "--prompt-form", form, "--seed", "7"]
    lightr1 = ["-m", "lightr1", command, *map(str, arguments)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", **({KILL_AT: kill_at} if kill_at else {})}
    if processes == 1:
        launches = [[sys.executable, *lightr1]]
    else:
        torchrun = [str(Path(sys.executable).parent / "torchrun"), "--nnodes", str(nodes), "--nproc-per-node", str(processes // nodes)]
        port = str(free_port())
        launches = [[*torchrun, "--node-rank", str(rank), "--master-addr", "127.0.0.1", "--master-port", port, *lightr1] for rank in range(nodes)]
    # Into files, not pipes: a node blocked on a full pipe would stall the others' collectives.
    logs = [tempfile.TemporaryFile("w+") for _ in launches]
    # Each in a session of its own: a kill point kills the group of the process that reaches it.
    started = [
        subprocess.Popen(launch, stdout=subprocess.DEVNULL, stderr=log, text=True, env=env, start_new_session=True) for launch, log in zip(launches, logs)
    ]
    codes = [process.wait() for process in started]
    stderr = ""
    for log in logs:
        log.seek(0)
        stderr += log.read()
        log.close()
    return subprocess.CompletedProcess(launches, max(codes), None, stderr)


def kill_after_save(command: str, root: Path, init: Path, settings: Mapping[str, Any], *, form: str, step: int, processes: int = 1) -> None:
    """Train with the job killed right after its save at `step` (a kill point), and check
    that it died there: that state is the only one kept and nothing was published."""
    killed = train_cli(command, root, init, settings, form=form, processes=processes, kill_at=f"train-save:{step}")
    assert killed.returncode != 0 and f"{KILL_AT}=train-save:{step} reached" in killed.stderr, killed.stderr[-3000:]
    saved = [int(p.parent.name.split("-")[1]) for p in (root / "work/state").glob("checkpoint-*/trainer_state.json")]
    assert saved == [step] and not (root / "out").exists()


def resume(command: str, root: Path, init: Path, settings: Mapping[str, Any], *, form: str, step: int, processes: int = 1) -> dict:
    """Train again after `kill_after_save`: the job says it resumes from that state; its training log."""
    result = train_cli(command, root, init, settings, form=form, processes=processes)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"resuming from {root / 'work/state'}/checkpoint-{step}" in result.stderr
    return json.loads((root / "out/training_log.json").read_text())
