"""Helpers shared by the test modules."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl


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
    command: str, root: Path, init: Path, settings: Mapping[str, Any], *, form: str, data: str = "data.parquet", popen: bool = False, processes: int = 1
):
    """`lightr1 COMMAND` (train-sft, train-dpo, train-grpo) on root/DATA into root/out and
    root/work; with several processes started by torchrun as the torchrun launcher starts it
    (data parallel over gloo on a CPU). Popen'd in a session of its own, to be killed whole."""
    if processes == 1:
        launch = [sys.executable]
    else:
        torchrun = str(Path(sys.executable).parent / "torchrun")
        launch = [torchrun, "--nproc-per-node", str(processes), "--master-addr", "127.0.0.1", "--master-port", str(free_port())]
    arguments = ["--data", root / data, "--init", init, "--out", root / "out", "--work-dir", root / "work"]
    arguments += ["--settings", json.dumps(settings), "--prompt-form", form, "--seed", "7"]
    full = [*launch, "-m", "lightr1", command, *map(str, arguments)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if popen:
        return subprocess.Popen(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)
    return subprocess.run(full, capture_output=True, text=True, env=env)
