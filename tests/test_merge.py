"""Merging checkpoints: mergekit's output checked against hand-computed averages, the
compatibility checks, and the config builder's refusals."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
import yaml

from lightr1.merge import METHODS, MergeError, check_compatible, merge_config, merge_models
from lightr1.tiny.model import CHAT_TEMPLATE, make_model, make_tokenizer, save_model


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, Path]:
    """Two different untrained tiny models with the same tokenizer."""
    root = tmp_path_factory.mktemp("merge_inputs")
    tokenizer = make_tokenizer()
    for seed in (1, 2):
        save_model(make_model(tokenizer, seed=seed), tokenizer, root / f"seed{seed}")
    return root / "seed1", root / "seed2"


def state_dict(model_dir: Path) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def assert_weighted_average(out: Path, inputs: tuple[Path, Path], weights: tuple[float, float]) -> None:
    a, b, merged = state_dict(inputs[0]), state_dict(inputs[1]), state_dict(out)
    assert merged.keys() == a.keys() == b.keys()
    for name in merged:
        expected = weights[0] * a[name] + weights[1] * b[name]
        assert torch.allclose(merged[name], expected, atol=1e-6), name


def assert_complete_model(out: Path) -> None:
    """Loads with transformers, embeddings still tied, tokenizer and chat template present."""
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(out))
    assert model.config.tie_word_embeddings
    assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
    assert "lm_head.weight" not in load_file(str(out / "model.safetensors"))
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    assert tokenizer.chat_template == CHAT_TEMPLATE
    assert len(tokenizer) == model.config.vocab_size
    assert (out / "merge_config.yaml").is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]  # no staging left


def test_linear_merge_is_the_weighted_average(models, tmp_path):
    out = tmp_path / "merged"
    config = merge_models(models, out, weights=[0.25, 0.75])
    assert_weighted_average(out, models, (0.25, 0.75))
    assert_complete_model(out)
    assert yaml.safe_load((out / "merge_config.yaml").read_text()) == config
    assert config["parameters"] == {"normalize": True} and config["dtype"] == "float32"


def test_default_weights_are_uniform_and_replace_an_old_output(models, tmp_path):
    out = tmp_path / "merged"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier run")
    merge_models(models, out)
    assert not (out / "stale.txt").exists()
    assert_weighted_average(out, models, (0.5, 0.5))


@pytest.mark.parametrize(("method", "options"), [("ties", {"density": 0.5}), ("dare_ties", {"density": 0.7}), ("slerp", {"t": 0.3})])
def test_other_methods_give_a_complete_model(models, untrained_model_dir, tmp_path, method, options):
    out = tmp_path / method
    base = None if method == "slerp" else untrained_model_dir
    config = merge_models(models, out, method=method, base_model=base, options=options)
    assert_complete_model(out)
    assert config["base_model"] == str(models[0] if method == "slerp" else untrained_model_dir)


def test_slerp_at_zero_is_the_first_model(models, tmp_path):
    out = tmp_path / "slerp0"
    merge_models(models, out, method="slerp", options={"t": 0.0})
    assert_weighted_average(out, models, (1.0, 0.0))


def test_output_config_comes_from_the_first_model(models, tmp_path):
    tokenizer = make_tokenizer()
    short = tmp_path / "short_context"
    save_model(make_model(tokenizer, seed=3, max_positions=1024), tokenizer, short)
    for first, second, expected in ((models[0], short, 2048), (short, models[0], 1024)):
        out = tmp_path / f"merged_{expected}"
        merge_models([first, second], out, options={"dtype": "bfloat16"})
        config = json.loads((out / "config.json").read_text())
        assert config["max_position_embeddings"] == expected and config["dtype"] == "bfloat16"


# ---------------------------------------------------------------------------------------------
# Compatibility


def save_variant(source: Path, out: Path, tokenizer) -> Path:
    """`source`'s weights and config with another tokenizer."""
    shutil.copytree(source, out)
    for name in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "special_tokens_map.json"):
        (out / name).unlink(missing_ok=True)
    tokenizer.save_pretrained(str(out))
    return out


def test_identical_tokenizers_pass(models):
    check_compatible(list(models))


def test_an_extra_token_is_refused_before_merging(models, tmp_path):
    tokenizer = make_tokenizer()
    size = len(tokenizer.get_vocab())
    tokenizer.add_tokens(["<extra>"])
    other = save_variant(models[1], tmp_path / "extra_token", tokenizer)
    with pytest.raises(MergeError, match=rf"tokenizer vocabularies differ \({size} vs {size + 1} tokens\)") as info:
        merge_models([models[0], other], tmp_path / "merged")
    assert str(models[0]) in str(info.value) and str(other) in str(info.value)
    assert not (tmp_path / "merged").exists()


def test_a_different_chat_template_is_refused(models, tmp_path):
    tokenizer = make_tokenizer()
    tokenizer.chat_template = CHAT_TEMPLATE.replace("<|im_start|>assistant", "<|im_start|>assistant\\n<think>")
    other = save_variant(models[1], tmp_path / "other_template", tokenizer)
    with pytest.raises(MergeError, match=re.escape(f"cannot merge {models[0]} and {other}: chat templates differ")):
        check_compatible([models[0], other])


def test_a_different_end_of_turn_token_is_refused(models, tmp_path):
    tokenizer = make_tokenizer()
    tokenizer.eos_token = "<|endoftext|>"
    other = save_variant(models[1], tmp_path / "other_eos", tokenizer)
    with pytest.raises(MergeError, match=r"special tokens differ \(eos_token '<\|im_end\|>' vs '<\|endoftext\|>'\)"):
        check_compatible([models[0], other])


def test_a_different_layer_count_is_refused(models, tmp_path):
    other = tmp_path / "shallow"
    shutil.copytree(models[1], other)
    config = json.loads((other / "config.json").read_text())
    config["num_hidden_layers"] = 2
    (other / "config.json").write_text(json.dumps(config))
    with pytest.raises(MergeError, match=r"config num_hidden_layers differs \(4 vs 2\)"):
        check_compatible([models[0], other])


def test_a_folder_without_a_model_is_refused(models, tmp_path):
    with pytest.raises(MergeError, match="no config.json"):
        check_compatible([models[0], tmp_path])


# ---------------------------------------------------------------------------------------------
# The config builder


def test_config_for_linear_and_ties():
    linear = merge_config(["a", "b", "c"], None, "linear", None, {})
    assert [m["parameters"]["weight"] for m in linear["models"]] == pytest.approx([1 / 3] * 3)
    ties = merge_config(["a", "b"], [1, 3], "ties", "base", {"dtype": "bfloat16"})
    assert ties["base_model"] == "base" and ties["dtype"] == "bfloat16"
    assert ties["models"] == [{"model": "a", "parameters": {"weight": 1.0, "density": 0.5}}, {"model": "b", "parameters": {"weight": 3.0, "density": 0.5}}]
    slerp = merge_config(["a", "b"], None, "slerp", None, None)
    assert slerp["base_model"] == "a" and slerp["parameters"] == {"t": 0.5}
    assert set(METHODS) == {"linear", "ties", "dare_ties", "slerp"}


def test_config_is_accepted_by_mergekit():
    from mergekit.config import MergeConfiguration

    for method in METHODS:
        base = None if method in ("linear", "slerp") else "base"
        MergeConfiguration.model_validate(merge_config(["a", "b"], None, method, base, {}))


@pytest.mark.parametrize(
    ("names", "weights", "method", "base", "options", "message"),
    [
        (["a", "b", "c"], None, "slerp", None, {}, "slerp merges exactly two models, got 3"),
        (["a", "b"], [0.5, 0.5], "slerp", None, {}, "slerp takes option t"),
        (["a", "b"], None, "slerp", "b", {}, "slerp interpolates from the first model"),
        (["a", "b", "c"], [0.5, 0.5], "linear", None, {}, "2 merge weights for 3 models"),
        (["a", "b"], [1.0, -0.5], "linear", None, {}, "merge weight of b must be a finite number >= 0"),
        (["a", "b"], [0.0, 0.0], "linear", None, {}, "merge weights sum to zero"),
        (["a", "b"], None, "linear", "a", {}, "linear merging takes no base model"),
        (["a", "b"], None, "ties", None, {}, "ties merges differences from a base model"),
        (["a", "b"], None, "dare_ties", "base", {"density": 0}, "density must be a number in"),
        (["a", "b"], None, "slerp", None, {"t": 1.5}, "t must be a number in"),
        (["a", "b"], None, "linear", None, {"dtype": "fp8"}, "dtype must be one of"),
        (["a", "b"], None, "linear", None, {"weight": 1}, "unknown merge option"),
        (["a", "b"], None, "task_arithmetic", "a", {}, "unknown merge method 'task_arithmetic'"),
        (["a"], None, "linear", None, {}, "at least two models"),
        (["a", "a"], None, "linear", None, {}, "listed twice"),
    ],
)
def test_config_refuses_bad_combinations(names, weights, method, base, options, message):
    with pytest.raises(MergeError, match=message):
        merge_config(names, weights, method, base, options)
