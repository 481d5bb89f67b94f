"""The `vllm` backend: vLLM's offline engine (`vllm.LLM`) on one node's GPUs.

vLLM pins its own torch and transformers, so it lives in its own environment (envs/vllm.yaml)
and is imported only when this backend is built. Prompts go in as token ids of the client-
rendered text (no second BOS, and the context check counts exactly what is sent); each prompt
carries its own seed in its own SamplingParams, so a prompt's samples do not depend on which
other prompts share the batch. Special tokens stay in the text, so `</think>` survives.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from typing import Any

from lightr1.errors import Lightr1Error, loading_model
from lightr1.generation import Completion, Prompt, Sampling, merged_rope_parameters

MISSING = (
    "the vllm generation backend needs vllm, which is not installed in this environment: vLLM pins "
    "its own torch and transformers and runs on CUDA GPUs, so it lives in its own conda environment "
    "(envs/vllm.yaml, used by `snakemake --sdm conda` on a GPU node); on a CPU use the hf backend"
)


class Backend:
    def __init__(
        self,
        model: str,
        tensor_parallel_size: int = 1,
        gpu_memory_utilization: float = 0.9,
        max_model_len: int | None = None,
        dtype: str = "auto",
        rope_scaling: Mapping[str, Any] | None = None,
        enforce_eager: bool = False,
    ) -> None:
        try:
            import vllm
        except ImportError as err:
            raise Lightr1Error(MISSING) from err
        overrides = None
        if rope_scaling:
            from transformers import AutoConfig

            with loading_model(model):
                config = AutoConfig.from_pretrained(model)
            rope, positions = merged_rope_parameters(config, rope_scaling)
            overrides = {"rope_parameters": rope}
            max_model_len = max_model_len or positions  # vLLM would derive it too, less visibly
        self._sampling_params = vllm.SamplingParams
        self.llm = vllm.LLM(
            model=model,
            tensor_parallel_size=tensor_parallel_size,
            gpu_memory_utilization=gpu_memory_utilization,
            max_model_len=max_model_len,
            dtype=dtype,
            enforce_eager=enforce_eager,
            hf_overrides=overrides,
        )
        self.tokenizer = self.llm.get_tokenizer()
        # What the engine settled on (the config's positions, capped by max_model_len).
        engine_config = getattr(getattr(self.llm, "llm_engine", None), "model_config", None)
        self.max_positions = int(getattr(engine_config, "max_model_len", None) or max_model_len or 0)

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Completion]:
        from lightr1.generation.prompts import check_context

        blank = [p.key for p in prompts if not p.text]
        if blank:
            raise Lightr1Error(f"the vllm backend needs rendered prompt text; {len(blank)} prompt(s) have none, e.g. {blank[0]!r}")
        ids = [list(self.tokenizer(p.text, add_special_tokens=False)["input_ids"]) for p in prompts]
        if self.max_positions:
            check_context({p.key: len(i) for p, i in zip(prompts, ids)}, sampling.max_tokens, self.max_positions)
        params = [self._sampling_params(**sampling_kwargs(p, sampling)) for p in prompts]
        outputs = self.llm.generate([{"prompt_token_ids": i} for i in ids], params, use_tqdm=True)
        return completions(prompts, outputs, sampling.n)

    def close(self) -> None:
        self.llm = None
        gc.collect()
        try:
            import torch
        except ImportError:
            return
        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def sampling_kwargs(prompt: Prompt, sampling: Sampling) -> dict[str, Any]:
    """SamplingParams of one prompt: its own seed; special tokens kept in the text."""
    return {
        "n": sampling.n,
        "temperature": sampling.temperature,
        "top_p": sampling.top_p,
        "max_tokens": sampling.max_tokens,
        "seed": prompt.seed,
        "skip_special_tokens": False,
    }


def completions(prompts: Sequence[Prompt], outputs: Sequence[Any], n: int) -> list[Completion]:
    """Completions from vLLM's RequestOutputs (in prompt order): samples by their index,
    tokens from the generated ids (the stop token included, as in the hf backend)."""
    if len(outputs) != len(prompts):
        raise Lightr1Error(f"vllm returned {len(outputs)} outputs for {len(prompts)} prompts")
    result = []
    for prompt, output in zip(prompts, outputs):
        samples = sorted(output.outputs, key=lambda o: o.index)
        if [o.index for o in samples] != list(range(n)):
            raise Lightr1Error(f"vllm returned samples {[o.index for o in samples]} for prompt {prompt.key!r}, expected 0..{n - 1}")
        for o in samples:
            if o.finish_reason not in ("stop", "length"):
                raise Lightr1Error(f"vllm did not finish sample {o.index} of prompt {prompt.key!r} (finish_reason {o.finish_reason!r})")
            result.append(Completion(key=prompt.key, sample=o.index, text=o.text, finish_reason=o.finish_reason, tokens=len(o.token_ids)))
    return result
