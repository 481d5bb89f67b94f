"""The GPU paths, checked on one machine: vLLM sampling, bf16 SFT, DPO with NCA and GRPO, and
DeepSpeed ZeRO-3, each a Snakemake run of the tiny world under a config overlay and a time
bound (scripts/gpu-check.yaml), each reported as one PASS/FAIL line with its figure, all in a
JSON summary. Without a CUDA GPU it validates every overlay against the schema, says that
nothing ran, and exits 0.

    scripts/gpu-check.sh [--work DIR] [--out SUMMARY.json] [--checks NAME ...]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from lightr1.config import ConfigError, validate  # noqa: E402

CHECKS = ROOT / "scripts" / "gpu-check.yaml"
BIN = Path(sys.executable).parent


def merged(base: dict, overlay: dict) -> dict:
    """`overlay` on `base` as Snakemake merges a --configfile: nested dicts key by key."""
    out = copy.deepcopy(base)
    for key, value in overlay.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else copy.deepcopy(value)
    return out


def load_plan(path: Path, names: list[str] | None) -> dict:
    """The checks file, every step's overlay validated on config.yaml (a wrong key fails here,
    on any machine, before a GPU is spent)."""
    plan = yaml.safe_load(path.read_text())
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    if names:
        unknown = sorted(set(names) - {check["name"] for check in plan["checks"]})
        if unknown:
            raise SystemExit(f"gpu-check: no check named {', '.join(unknown)} in {path}")
        plan["checks"] = [check for check in plan["checks"] if check["name"] in names]
    for step in [plan["build"], *plan["checks"]]:
        step["overlay"] = merged(plan["base"], step.get("overlay") or {})
        try:
            validate(merged(config, step["overlay"]))
        except ConfigError as error:
            raise SystemExit(f"gpu-check: {path}: {step.get('name', 'build')}: {error}") from None
    return plan


def cuda_device() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def snakemake(work: Path, overlay: dict, targets: list[str], seconds: int, log: Path) -> tuple[bool, float, str]:
    """One bounded Snakemake run; (ok, wall seconds, the last lines of its log)."""
    overlay_file = log.with_suffix(".yaml")
    overlay_file.write_text(yaml.safe_dump(overlay))
    command = [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "-d", str(work), "--cores", str(os.cpu_count() or 2),
               "--configfile", str(overlay_file), "--rerun-triggers", "mtime", "params", "input", *targets]  # fmt: skip
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    start = time.perf_counter()
    with log.open("w") as out:
        try:
            done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=seconds).returncode == 0
        except subprocess.TimeoutExpired:
            done = False
            out.write(f"\ngpu-check: over its bound of {seconds} s\n")
    tail = " | ".join(log.read_text().strip().splitlines()[-3:])
    return done, time.perf_counter() - start, tail


def pass_rate(table: Path) -> tuple[float, int]:
    import polars as pl

    correct = pl.read_parquet(table, columns=["correct"])["correct"]
    return float(correct.mean()), len(correct)


def run_check(check: dict, work: Path, logs: Path) -> dict:
    overlay = check["overlay"]
    if check.get("flash_attention") and importlib.util.find_spec("flash_attn"):
        block = overlay
        for key in check["flash_attention"]:
            block = block.setdefault(key, {})
        block["attn_implementation"] = "flash_attention_2"
    if check.get("compare_to_hf") and not importlib.util.find_spec("vllm"):
        return {"status": "FAIL", "detail": "vllm is not importable in this environment (it lives in envs/vllm.yaml): install it and rerun"}
    ok, seconds, tail = snakemake(work, overlay, check["targets"], check["seconds"], logs / f"{check['name']}.log")
    result = {"status": "PASS" if ok else "FAIL", "seconds": round(seconds, 1), "detail": "" if ok else tail}
    if ok and check.get("compare_to_hf"):
        table = work / check["targets"][0]
        rate, samples = pass_rate(table)
        hf_work = work.parent / f"{work.name}-hf"
        hf_work.mkdir(exist_ok=True)
        for name in ("resources", "results"):  # the same data and base model, sampled again by hf
            if not (hf_work / name).exists():
                subprocess.run(["cp", "-a", str(work / name), str(hf_work / name)], check=True)
        ok_hf, hf_seconds, hf_tail = snakemake(hf_work, {**overlay, "generation": {**overlay["generation"], "backend": "hf"}}, check["targets"],
                                               check["seconds"], logs / f"{check['name']}-hf.log")  # fmt: skip
        if not ok_hf:
            return {**result, "status": "FAIL", "detail": f"hf baseline failed: {hf_tail}"}
        hf_rate, hf_samples = pass_rate(hf_work / check["targets"][0])
        noise = 3 * math.sqrt(rate * (1 - rate) / samples + hf_rate * (1 - hf_rate) / hf_samples) + 1e-9
        result["figure"] = f"{samples / seconds:.1f} samples/s (vllm, sampling and scoring) vs {hf_samples / hf_seconds:.1f} (hf); pass rate {rate:.3f} vs {hf_rate:.3f}"
        if abs(rate - hf_rate) > noise:
            result.update(status="FAIL", detail=f"pass rates differ by more than 3 standard errors ({noise:.3f})")
    elif ok:
        result["figure"] = f"{seconds:.0f} s"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=ROOT / "gpu-check", help="working directory of the runs (default: gpu-check/)")
    parser.add_argument("--out", type=Path, help="JSON summary (default: WORK/summary.json)")
    parser.add_argument("--checks", nargs="*", help="run only these checks (names in scripts/gpu-check.yaml)")
    parser.add_argument("--plan", type=Path, default=CHECKS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    plan = load_plan(args.plan, args.checks)
    out = args.out or args.work / "summary.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    device = cuda_device()
    summary = {"device": device, "checks": {}}
    if device is None:
        print(f"gpu-check: no CUDA GPU here: {len(plan['checks'])} checks parsed and validated, none run")
        summary["checks"] = {check["name"]: {"status": "NOT RUN", "what": check["what"]} for check in plan["checks"]}
    else:
        logs = args.work / "logs-gpu-check"
        logs.mkdir(parents=True, exist_ok=True)
        ok, seconds, tail = snakemake(args.work, plan["build"]["overlay"], plan["build"]["targets"], plan["build"]["seconds"], logs / "build.log")
        print(f"{'PASS' if ok else 'FAIL'} build ({seconds:.0f} s){'' if ok else ': ' + tail}")
        summary["build"] = {"status": "PASS" if ok else "FAIL", "seconds": round(seconds, 1)}
        for check in plan["checks"]:
            result = run_check(check, args.work, logs) if ok else {"status": "NOT RUN", "detail": "the build failed"}
            summary["checks"][check["name"]] = {"what": check["what"], **result}
            print(f"{result['status']} {check['name']}: {result.get('figure') or result.get('detail', '')}")
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"summary: {out}")
    sys.exit(0 if device is None or all(c["status"] == "PASS" for c in summary["checks"].values()) else 1)


if __name__ == "__main__":
    main()
