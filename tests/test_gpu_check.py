"""scripts/gpu-check.sh on a machine without a GPU: it validates every check's overlay, says
nothing ran, writes its summary and exits 0; a wrong key in a check fails before any run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gpu_check.py"
CPU_ONLY = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}


def gpu_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=CPU_ONLY, capture_output=True, text=True, timeout=120)


def test_without_a_gpu_it_validates_the_checks_and_exits_0(tmp_path):
    run = gpu_check("--work", str(tmp_path / "work"), "--out", str(tmp_path / "summary.json"))
    assert run.returncode == 0, run.stderr
    assert "no CUDA GPU here: 4 checks parsed and validated, none run" in run.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["device"] is None
    assert set(summary["checks"]) == {"vllm_sampling", "sft_bf16", "dpo_nca_and_grpo", "deepspeed_zero3"}
    assert {check["status"] for check in summary["checks"].values()} == {"NOT RUN"}
    assert not (tmp_path / "work").exists()  # nothing ran


def test_a_wrong_key_in_a_check_fails_before_any_run(tmp_path):
    plan = yaml.safe_load((ROOT / "scripts" / "gpu-check.yaml").read_text())
    plan["checks"][1]["overlay"]["train"]["sft1"]["precision"] = "fp8"
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    run = gpu_check("--plan", str(tmp_path / "plan.yaml"), "--out", str(tmp_path / "summary.json"))
    assert run.returncode != 0
    assert "sft_bf16" in run.stderr and "train.sft1.precision" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "summary.json").exists()


def test_an_unknown_check_name_is_refused(tmp_path):
    run = gpu_check("--checks", "vllm_sampling", "no_such_check", "--out", str(tmp_path / "summary.json"))
    assert run.returncode != 0 and "no check named no_such_check" in run.stderr
