"""Sampling a prompt set into a samples table, resumably.

Snakemake deletes a job's outputs before it runs, so progress lives in an undeclared work
folder: finished batches as parquet files, and a key naming what they are samples of (model
fingerprint, prompts, sampling settings, seed). A killed job re-run with the same key skips
the finished batches; a different key discards them. The output is moved into place at the end.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import polars as pl

from lightr1.faults import kill_point
from lightr1.generation import Backend, Completion, Prompt, Sampling
from lightr1.io import write_json, write_table
from lightr1.tables import SAMPLES

log = logging.getLogger(__name__)

_HASHED_WHOLE = 16 << 20  # files up to 16 MB are hashed whole; weight shards by size, head and tail
_HEAD = 1 << 20
# Written beside the weights but not part of the model: its wall-clock seconds would make every
# run's fingerprint, and so its samples, differ.
_NOT_THE_MODEL = {"training_log.json"}


def model_fingerprint(model: str) -> str:
    """A short hash of a model folder's files (config, tokenizer, weights; not the training
    log), cheap even for 64 GB of shards; for a name without a local folder (a served model), the name itself."""
    folder = Path(model)
    digest = hashlib.sha256()
    if not folder.is_dir():
        digest.update(f"served:{model}".encode())
        return digest.hexdigest()[:16]
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".") and p.name not in _NOT_THE_MODEL):
        size = path.stat().st_size
        digest.update(f"{path.relative_to(folder)}\0{size}\0".encode())
        with open(path, "rb") as handle:
            if size <= _HASHED_WHOLE:
                digest.update(handle.read())
            else:
                digest.update(handle.read(_HEAD))
                handle.seek(size - _HEAD)
                digest.update(handle.read(_HEAD))
    return digest.hexdigest()[:16]


def run_key(fingerprint: str, sampling: Sampling, backend: str) -> dict:
    """What samples in a work folder are samples of; with another key none are reused."""
    return {"format": 2, "fingerprint": fingerprint, "sampling": asdict(sampling), "backend": backend}


def prompt_hash(prompt: Prompt) -> str:
    """Identity of one request: a prompt set may change around it without it changing."""
    return hashlib.sha256(json.dumps([prompt.key, prompt.messages, prompt.text, prompt.seed]).encode()).hexdigest()[:16]


def _completions_frame(completions: Sequence[Completion], hashes: dict[str, str], model: str, fingerprint: str) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "problem_id": [c.key for c in completions],
            "sample": [c.sample for c in completions],
            "response": [c.text for c in completions],
            "finish_reason": [c.finish_reason for c in completions],
            "tokens": [c.tokens for c in completions],
            "model": [model] * len(completions),
            "fingerprint": [fingerprint] * len(completions),
            "prompt_hash": [hashes[c.key] for c in completions],
        },
        schema={**SAMPLES, "prompt_hash": pl.String},
    )


def _finished(work: Path) -> pl.DataFrame:
    files = sorted(work.glob("batch-*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame(schema={**SAMPLES, "prompt_hash": pl.String})


def sample_prompts(
    open_backend: Callable[[], Backend],
    prompts: Sequence[Prompt],
    sampling: Sampling,
    *,
    model_name: str,
    fingerprint: str,
    backend_name: str,
    work_dir: str | os.PathLike,
    out: str | os.PathLike,
    batch_prompts: int = 64,
) -> pl.DataFrame:
    """`sampling.n` samples per prompt, written to `out` in prompt order. Requests finished
    earlier in `work_dir` under the same model, settings and backend are reused, whatever
    prompt set they came with; the rest are generated in batches of `batch_prompts`, each
    saved as it finishes, and the backend is opened only if something is left to generate."""
    work = Path(work_dir)
    key = run_key(fingerprint, sampling, backend_name)
    key_file = work / "key.json"
    if key_file.exists() and json.loads(key_file.read_text()) != key:
        log.info("%s: samples there are of another model, settings or backend; starting over", work)
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    write_json(key, key_file)

    hashes = {prompt.key: prompt_hash(prompt) for prompt in prompts}
    done = set(_finished(work).select("problem_id", "prompt_hash").unique().iter_rows())
    todo = [prompt for prompt in prompts if (prompt.key, hashes[prompt.key]) not in done]
    log.info("%d of %d prompts already sampled; %d to generate", len(prompts) - len(todo), len(prompts), len(todo))
    first = 1 + max((int(f.stem.split("-")[1]) for f in work.glob("batch-*.parquet")), default=-1)
    backend = open_backend() if todo else None
    try:
        for number, start in enumerate(range(0, len(todo), batch_prompts), start=first):
            completions = backend.generate(todo[start : start + batch_prompts], sampling)
            write_table(_completions_frame(completions, hashes, model_name, fingerprint), work / f"batch-{number:06d}.parquet")
            kill_point("sample-batch", number - first + 1)
    finally:
        if backend is not None:
            backend.close()

    wanted = pl.DataFrame({"problem_id": list(hashes), "prompt_hash": list(hashes.values())}).with_row_index("order")
    samples = (
        _finished(work)
        .join(wanted, on=["problem_id", "prompt_hash"])
        .unique(["problem_id", "sample"], keep="first", maintain_order=True)
        .sort("order", "sample")
        .select(SAMPLES.names())
    )
    write_table(samples, out)
    return samples
