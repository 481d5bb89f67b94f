"""The `hf` backend: transformers' `generate` on a local model folder, on the CPU or a GPU.

Prompts are batched with left padding (decoder-only models continue from the right edge) and
sampled with the KV cache. Seeds: one torch seed per batch, combined from its prompts' seeds
and the sampling seed, so a re-run of the same prompt set gives the same samples; a prompt's
samples still depend on its batch-mates, as in any batched sampler.
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lightr1.errors import Lightr1Error, loading_model
from lightr1.generation import Completion, Prompt, Sampling, merged_rope_parameters
from lightr1.generation.prompts import check_context


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: str):
    """`auto`: bf16 on a GPU (what the recipe's models ship in), fp32 on the CPU (bf16 matmuls
    are slow or unsupported on many CPUs)."""
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    value = getattr(torch, dtype, None)
    if not isinstance(value, torch.dtype):
        raise Lightr1Error(f"unknown dtype {dtype!r} for the hf backend (e.g. auto, float32, bfloat16, float16)")
    return value


def apply_rope_scaling(config, rope_scaling: Mapping[str, Any]) -> None:
    """Set a rope scaling on a loaded config (see merged_rope_parameters)."""
    config.rope_parameters, _ = merged_rope_parameters(config, rope_scaling)
    config.standardize_rope_params()
    config.validate_rope()


def effective_positions(config) -> int:
    """The positions a model can attend over: its trained positions, times the rope scaling
    factor where one is set (yarn, linear, dynamic, ...)."""
    params = getattr(config, "rope_parameters", None) or {}
    factor = params.get("factor")
    if params.get("rope_type", "default") != "default" and factor:
        return int(int(params.get("original_max_position_embeddings") or config.max_position_embeddings) * float(factor))
    return int(config.max_position_embeddings)


def stop_token_ids(tokenizer, generation_config) -> list[int]:
    """End-of-turn ids: the tokenizer's eos and the generation config's (an int or a list)."""
    ids = [tokenizer.eos_token_id]
    configured = getattr(generation_config, "eos_token_id", None)
    ids += configured if isinstance(configured, list) else [configured]
    return sorted({i for i in ids if i is not None})


def trim(tokens: Sequence[int], stop_ids: Iterable[int], pad_id: int | None) -> tuple[list[int], str, int]:
    """Split one generated row: (the tokens of its text, finish reason, tokens generated).
    The text ends before the first stop token, which counts as generated ("stop"); a row with
    none ran to max_tokens ("length"). Pad tokens (what `generate` appends to rows that finished
    early) never reach the text."""
    stops = set(stop_ids)
    end = next((i for i, token in enumerate(tokens) if token in stops), None)
    body = tokens if end is None else tokens[:end]
    kept = [token for token in body if token != pad_id]
    if end is None:
        return kept, "length", len(tokens)
    return kept, "stop", end + 1


def batch_seed(seeds: Iterable[int], sampling_seed: int) -> int:
    digest = hashlib.sha256(f"{sampling_seed}/{','.join(map(str, seeds))}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


class Backend:
    """transformers generation for a local model folder. `batch_size` counts prompts (each
    gives `sampling.n` sequences); `rope_scaling` extends the context at load time."""

    def __init__(self, model: str, batch_size: int = 16, device: str = "auto", dtype: str = "auto", rope_scaling: dict | None = None) -> None:
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

        if batch_size < 1:
            raise Lightr1Error(f"hf backend: batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self.device = resolve_device(device)
        with loading_model(model):
            config = AutoConfig.from_pretrained(model)
            if rope_scaling:
                apply_rope_scaling(config, rope_scaling)
            self.max_positions = effective_positions(config)
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            loaded = AutoModelForCausalLM.from_pretrained(model, config=config, dtype=resolve_dtype(dtype, self.device))
        self.tokenizer.padding_side = "left"
        self.model = loaded.to(self.device)
        self.model.eval()
        self.stop_ids = stop_token_ids(self.tokenizer, self.model.generation_config)
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else self.stop_ids[0]

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Completion]:
        from tqdm import tqdm

        if sampling.temperature == 0 and sampling.n != 1:
            raise Lightr1Error(f"temperature 0 is greedy decoding: all {sampling.n} samples would be equal; set n to 1 or a temperature above 0")
        if any(not p.text for p in prompts):
            raise Lightr1Error("the hf backend needs rendered prompt texts (Prompt.text is empty)")
        encoded = [self.tokenizer(p.text, add_special_tokens=False)["input_ids"] for p in prompts]
        check_context({p.key: len(ids) for p, ids in zip(prompts, encoded)}, sampling.max_tokens, self.max_positions)
        # Longest first: batches of similar lengths waste little on padding.
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
        results: dict[int, list[Completion]] = {}
        with tqdm(total=len(prompts), desc="generate", unit="prompt") as bar:
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                rows = self._generate_batch([encoded[i] for i in chunk], [prompts[i].seed for i in chunk], sampling)
                for j, i in enumerate(chunk):
                    results[i] = [self._completion(prompts[i].key, s, rows[j * sampling.n + s]) for s in range(sampling.n)]
                bar.update(len(chunk))
        return [c for i in range(len(prompts)) for c in results[i]]

    def _generate_batch(self, encoded: list[list[int]], seeds: list[int], sampling: Sampling) -> list[list[int]]:
        """Generated token ids per sequence (prompt i's samples at rows i*n .. i*n+n-1)."""
        import torch

        width = max(len(ids) for ids in encoded)
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for ids in encoded], device=self.device)
        attention = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in encoded], device=self.device)
        # Every sampling knob explicit: a model's generation_config.json (Qwen2.5's has top_k 20
        # and a repetition penalty) fills in whatever is left unset, and transformers' own
        # default top_k is 50; top_k 0 turns it off, as vLLM's default does.
        options: dict[str, Any] = {"do_sample": False, "repetition_penalty": 1.0}
        if sampling.temperature > 0:
            options.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        torch.manual_seed(batch_seed(seeds, sampling.seed))
        with torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                max_new_tokens=sampling.max_tokens,
                num_return_sequences=sampling.n,
                eos_token_id=self.stop_ids,
                pad_token_id=self.pad_id,
                use_cache=True,
                **options,
            )
        return output[:, width:].tolist()

    def _completion(self, key: str, sample: int, row: list[int]) -> Completion:
        kept, reason, count = trim(row, self.stop_ids, self.pad_id)
        # skip_special_tokens=False keeps </think> in the text: the verifier splits on it.
        text = self.tokenizer.decode(kept, skip_special_tokens=False)
        return Completion(key=key, sample=sample, text=text, finish_reason=reason, tokens=count)

    def close(self) -> None:
        import torch

        self.model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
