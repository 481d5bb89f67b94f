"""The `vllm` backend where vLLM cannot run (no GPU, not installed): the clear error, the cluster
environment file, and the plumbing against a stand-in `vllm` module. The stand-in checks what
this backend sends and how it reads answers, not vLLM itself: that needs a GPU node."""

from __future__ import annotations

import sys
import tomllib
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from lightr1.errors import Lightr1Error
from lightr1.generation import Prompt, Sampling, load_backend

ROOT = Path(__file__).resolve().parent.parent


def test_missing_vllm_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # import fails, whether or not vllm is installed
    with pytest.raises(Lightr1Error, match=r"needs vllm.*own conda environment \(envs/vllm.yaml"):
        load_backend("vllm", "some/model")


def test_env_file_parses_and_agrees_with_pyproject():
    env = yaml.safe_load((ROOT / "envs" / "vllm.yaml").read_text())
    assert "python=3.11" in env["dependencies"]
    pins = dict(line.split("==") for line in next(d["pip"] for d in env["dependencies"] if isinstance(d, dict)))
    assert pins["vllm"] == "0.33.0" and pins["transformers"].startswith("5.20.")
    project = dict(d.split("==") for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"])
    shared = {name: version for name, version in pins.items() if name in project and name != "transformers"}
    assert shared and all(project[name] == version for name, version in shared.items()), shared
    assert {"polars", "tqdm", "requests", "math-verify", "sympy", "PyYAML"} <= set(pins)


class FakeLLM:
    """Records what the backend passes; answers each prompt with n samples."""

    def __init__(self, tokenizer, **kwargs):
        self.kwargs, self._tokenizer, self.calls = kwargs, tokenizer, []
        self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=kwargs["max_model_len"] or 2048))

    def get_tokenizer(self):
        return self._tokenizer

    def generate(self, prompts, params, use_tqdm=True):
        self.calls.append((prompts, params))
        outputs = []
        for prompt, p in zip(prompts, params):
            samples = [SimpleNamespace(index=i, text=f"s{i}</think>", token_ids=[1] * (i + 2), finish_reason=("length" if i else "stop")) for i in range(p.n)]
            outputs.append(SimpleNamespace(prompt_token_ids=prompt["prompt_token_ids"], outputs=samples[::-1]))  # order is not promised
        return outputs


@pytest.fixture
def fake_vllm(monkeypatch, untrained_model_dir):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(untrained_model_dir)
    module = types.ModuleType("vllm")
    module.LLM = lambda **kwargs: FakeLLM(tokenizer, **kwargs)
    module.SamplingParams = lambda **kwargs: SimpleNamespace(**kwargs)
    monkeypatch.setitem(sys.modules, "vllm", module)
    return module


def test_plumbing_against_a_stand_in(fake_vllm, untrained_model_dir):
    backend = load_backend("vllm", str(untrained_model_dir), {"rope_scaling": {"type": "yarn", "factor": 4.0}, "tensor_parallel_size": 2})
    rope = backend.llm.kwargs["hf_overrides"]["rope_parameters"]
    assert rope["rope_type"] == "yarn" and rope["factor"] == 4.0 and rope["original_max_position_embeddings"] == 2048 and "rope_theta" in rope
    assert backend.llm.kwargs["max_model_len"] == 8192 and backend.max_positions == 8192 and backend.llm.kwargs["tensor_parallel_size"] == 2
    prompts = [Prompt(key=f"k{i}", messages=(), text=f"<|im_start|>user\n{i}<|im_end|>\n<|im_start|>assistant\n<think>\n", seed=11 + i) for i in range(2)]
    out = backend.generate(prompts, Sampling(n=3, temperature=0.6, top_p=0.95, max_tokens=7))
    sent, params = backend.llm.calls[0]
    assert sent[0]["prompt_token_ids"] == backend.tokenizer(prompts[0].text, add_special_tokens=False)["input_ids"]
    assert sent[0]["prompt_token_ids"][-2] == backend.tokenizer.convert_tokens_to_ids("<think>")  # a special token, kept whole
    assert [vars(p) for p in params] == [
        {"n": 3, "temperature": 0.6, "top_p": 0.95, "max_tokens": 7, "seed": 11 + i, "skip_special_tokens": False} for i in range(2)
    ]
    assert [(c.key, c.sample, c.text, c.finish_reason, c.tokens) for c in out] == [
        (f"k{k}", i, f"s{i}</think>", "length" if i else "stop", i + 2) for k in range(2) for i in range(3)
    ]


def test_context_and_unfinished_samples_are_refused(fake_vllm, untrained_model_dir):
    backend = load_backend("vllm", str(untrained_model_dir), {"max_model_len": 16})
    long = Prompt(key="long", messages=(), text="x" * 12, seed=0)
    with pytest.raises(Lightr1Error, match="do not fit the model's context"):
        backend.generate([long], Sampling(max_tokens=8))
    assert backend.llm.calls == []
    with pytest.raises(Lightr1Error, match="needs rendered prompt text"):
        backend.generate([Prompt(key="chat", messages=({"role": "user", "content": "x"},), text="", seed=0)], Sampling())
    from lightr1.generation.vllm import completions

    aborted = SimpleNamespace(outputs=[SimpleNamespace(index=0, text="", token_ids=[], finish_reason="abort")])
    with pytest.raises(Lightr1Error, match="did not finish sample 0 of prompt 'long'"):
        completions([long], [aborted], 1)
    with pytest.raises(Lightr1Error, match="rope_type and factor"):
        load_backend("vllm", str(untrained_model_dir), {"rope_scaling": {"factor": 2.0}})
