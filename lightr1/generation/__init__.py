"""Generation behind one interface: a backend turns rendered prompts into sampled completions.

Backends: `hf` (transformers, CPU or GPU), `vllm` (offline engine, GPU; imported only when
selected) and `openai` (any OpenAI-compatible server). Each is a module of this package with a
`Backend` class; `load_backend` imports only the one asked for, so small jobs never pay for
torch or vllm. Sampling a prompt set with resume lives in `lightr1.generation.store`.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lightr1.errors import Lightr1Error

BACKENDS = ("hf", "vllm", "openai")
FINISH_REASONS = ("stop", "length")


@dataclass(frozen=True)
class Sampling:
    """Sampling settings of one prompt set; part of the key of its samples."""

    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int = 0


@dataclass(frozen=True)
class Prompt:
    """One request unit: `key` names it in outputs (a problem_id), `messages` are the chat
    messages, `text` the same rendered by the model's chat template (with `<think>` appended
    where the prompt forces it; empty where no tokenizer is at hand, e.g. a chat-only API),
    and `seed` is derived from the run seed and the key, so sharding does not change it."""

    key: str
    messages: tuple[dict[str, str], ...]
    text: str
    seed: int


@dataclass(frozen=True)
class Completion:
    """One sampled response. `tokens` counts generated tokens; `finish_reason` is "stop"
    (end of turn) or "length" (cut at max_tokens), so truncation stays visible."""

    key: str
    sample: int
    text: str
    finish_reason: str
    tokens: int


class Backend(Protocol):
    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Completion]:
        """`sampling.n` completions per prompt, samples numbered 0..n-1."""

    def close(self) -> None: ...


def merged_rope_parameters(config, rope_scaling: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A configured rope scaling (e.g. {"rope_type": "yarn", "factor": 4.0}; "type" accepted
    for "rope_type" as in older configs) merged over the model's own rope parameters (rope_theta
    above all), and the positions the scaled model reaches."""
    scaling = dict(rope_scaling)
    if "type" in scaling:
        scaling.setdefault("rope_type", scaling.pop("type"))
    if "rope_type" not in scaling or "factor" not in scaling:
        raise Lightr1Error(f"rope_scaling needs rope_type and factor, got {dict(rope_scaling)}")
    current = dict(getattr(config, "rope_parameters", None) or {})
    if "rope_theta" not in current and getattr(config, "rope_theta", None) is not None:
        current["rope_theta"] = config.rope_theta
    scaling.setdefault("original_max_position_embeddings", config.max_position_embeddings)
    merged = {**current, **scaling}
    return merged, int(int(merged["original_max_position_embeddings"]) * float(merged["factor"]))


def load_backend(name: str, model: str, options: dict[str, Any] | None = None) -> Backend:
    """The backend `name` for `model` (a local Hugging Face folder, or what the server calls
    the model for `openai`), with backend-specific `options` from config."""
    if name not in BACKENDS:
        raise Lightr1Error(f"unknown generation backend {name!r} (known: {', '.join(BACKENDS)})")
    module = importlib.import_module(f"lightr1.generation.{name}")
    return module.Backend(model, **(options or {}))
