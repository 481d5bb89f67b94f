"""Kill points: a job stops hard at a point a test names, so that kill-and-resume tests choose
their moment instead of racing a timer against the job.

`LIGHTR1_KILL_AT=POINT:COUNT` (e.g. `train-save:6`, `sample-batch:1`, `openai-request:3`) makes
the process that reaches that point the COUNTth time (a step number for training) send SIGKILL
to its own process group, as a lost node or the out-of-memory killer would end it: no
handler, no clean-up, no flushing beyond what the job already made durable. Under Snakemake
the group holds Snakemake and every job it runs locally; torchrun puts each worker in a
group of its own, so only that worker dies and torchrun stops the others. Unset (always,
outside tests) a point costs one lookup in the environment.
"""

from __future__ import annotations

import os
import signal
import sys

KILL_AT = "LIGHTR1_KILL_AT"


def kill_point(point: str, count: int) -> None:
    """Die here if the environment names this point and count."""
    if os.environ.get(KILL_AT) != f"{point}:{count}":
        return
    print(f"lightr1: {KILL_AT}={point}:{count} reached: killing process group {os.getpgid(0)}", file=sys.stderr, flush=True)
    os.killpg(os.getpgid(0), signal.SIGKILL)
