"""Merging checkpoints with mergekit: Light-R1-32B averages SFT-stage-2, DPO and DPO-v2 (weights
unpublished; uniform by default). The models are checked for a shared architecture and tokenizer
first, because mergekit happily averages tensors of models whose token ids mean different things.
The merge runs on CPU into a folder beside the output that is renamed into place when complete."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lightr1.errors import Lightr1Error, one_line
from lightr1.io import atomic_folder

METHODS = ("linear", "ties", "dare_ties", "slerp")
DTYPES = ("float32", "bfloat16", "float16")
# Keys `options` may hold; anything else is a typo that would silently fall back to a default.
OPTION_KEYS = ("dtype", "out_dtype", "density", "t", "seed")
DEFAULT_OPTIONS: dict[str, Any] = {"dtype": "float32", "density": 0.5, "t": 0.5, "seed": 0}

# Config keys that fix tensor shapes or their meaning: a difference in any makes a merge nonsense.
ARCHITECTURE_KEYS = (
    "architectures",
    "model_type",
    "hidden_size",
    "num_hidden_layers",
    "vocab_size",
    "intermediate_size",
    "num_attention_heads",
    "num_key_value_heads",
    "tie_word_embeddings",
)
# Files that make a model folder usable beyond its weights: copied from the first model so the
# output's tokenizer and generation defaults do not depend on mergekit's choice of donor.
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
    "chat_template.json",
    "generation_config.json",
)


class MergeError(Lightr1Error, ValueError):
    """Models that cannot be merged, or merge settings that make no sense."""


# ---------------------------------------------------------------------------------------------
# Compatibility


def _model_config(model_dir: Path) -> dict[str, Any]:
    """The model's config.json as a dict, read without touching its weights."""
    import json

    path = model_dir / "config.json"
    if not path.is_file():
        raise MergeError(f"cannot merge {model_dir}: not a model folder (no config.json)")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise MergeError(f"cannot merge {model_dir}: unreadable config.json ({err})") from err


def _load_tokenizer(model_dir: Path):
    """The model's tokenizer, or a MergeError naming the folder when it has none."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(model_dir))
    except Exception as err:  # transformers raises many types for a missing or broken tokenizer
        raise MergeError(f"cannot merge {model_dir}: no loadable tokenizer ({type(err).__name__}: {err})") from err


def config_difference(first: Mapping[str, Any], second: Mapping[str, Any]) -> str | None:
    """The first architecture key whose value differs between two configs, described; None when
    they agree on every key in ARCHITECTURE_KEYS."""
    for key in ARCHITECTURE_KEYS:
        if first.get(key) != second.get(key):
            return f"config {key} differs ({first.get(key)!r} vs {second.get(key)!r})"
    return None


def tokenizer_difference(first, second) -> str | None:
    """The first difference in vocabulary, special tokens or chat template between two loaded
    tokenizers, described; None when they would encode and render chats identically."""
    vocab_a, vocab_b = first.get_vocab(), second.get_vocab()
    if len(vocab_a) != len(vocab_b):
        return f"tokenizer vocabularies differ ({len(vocab_a)} vs {len(vocab_b)} tokens)"
    if vocab_a != vocab_b:
        by_id_a, by_id_b = {i: t for t, i in vocab_a.items()}, {i: t for t, i in vocab_b.items()}
        index = min(i for i in set(by_id_a) | set(by_id_b) if by_id_a.get(i) != by_id_b.get(i))
        return f"tokenizer vocabularies differ (id {index} is {by_id_a.get(index)!r} vs {by_id_b.get(index)!r})"
    roles_a, roles_b = dict(first.special_tokens_map), dict(second.special_tokens_map)
    for role in sorted(set(roles_a) | set(roles_b)):
        if roles_a.get(role) != roles_b.get(role):
            return f"special tokens differ ({role} {roles_a.get(role)!r} vs {roles_b.get(role)!r})"
    special_a = {i: t.content for i, t in first.added_tokens_decoder.items() if t.special}
    special_b = {i: t.content for i, t in second.added_tokens_decoder.items() if t.special}
    for index in sorted(set(special_a) | set(special_b)):
        if special_a.get(index) != special_b.get(index):
            return f"special tokens differ (id {index} is {special_a.get(index)!r} vs {special_b.get(index)!r})"
    if first.chat_template != second.chat_template:
        if not first.chat_template or not second.chat_template:
            return "chat templates differ (one model has none)"
        return "chat templates differ"
    return None


def check_weights(model_dir: Path) -> None:
    """A MergeError naming the folder unless it holds safetensors weights whose headers read
    (mergekit would stop on a cut-off file without saying which model it was)."""
    from safetensors import safe_open

    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise MergeError(f"cannot merge {model_dir}: no .safetensors weights")
    for file in files:
        try:
            with safe_open(str(file), framework="pt") as weights:
                weights.keys()
        except Exception as err:  # safetensors raises its own SafetensorError, or OSError
            raise MergeError(f"cannot merge {model_dir}: unreadable weights {file.name} ({type(err).__name__}: {one_line(err)})") from err


def check_compatible(model_dirs: Sequence[str | os.PathLike]) -> None:
    """Raise a MergeError naming two models and their first difference unless every model shares
    the first one's architecture and tokenizer: averaging weights is only meaningful when tensor
    shapes agree and every token id means the same token in every model."""
    dirs = [Path(d) for d in model_dirs]
    if not dirs:
        raise MergeError("no models to merge")
    first_config = _model_config(dirs[0])
    configs = [first_config] + [_model_config(d) for d in dirs[1:]]
    for other, config in zip(dirs[1:], configs[1:]):
        difference = config_difference(first_config, config)
        if difference:
            raise MergeError(f"cannot merge {dirs[0]} and {other}: {difference}")
    first_tokenizer = _load_tokenizer(dirs[0])
    for other in dirs[1:]:
        difference = tokenizer_difference(first_tokenizer, _load_tokenizer(other))
        if difference:
            raise MergeError(f"cannot merge {dirs[0]} and {other}: {difference}")


# ---------------------------------------------------------------------------------------------
# The mergekit configuration


def _options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """`options` over DEFAULT_OPTIONS, each checked: a bad value fails here, not deep in mergekit."""
    unknown = sorted(set(options or {}) - set(OPTION_KEYS))
    if unknown:
        raise MergeError(f"unknown merge option(s) {', '.join(unknown)} (known: {', '.join(OPTION_KEYS)})")
    merged = {**DEFAULT_OPTIONS, **(options or {})}
    for key in ("dtype", "out_dtype"):
        if merged.get(key) is not None and merged[key] not in DTYPES:
            raise MergeError(f"merge option {key} must be one of {', '.join(DTYPES)}, not {merged[key]!r}")
    density, t = merged["density"], merged["t"]
    if not isinstance(density, (int, float)) or not 0 < density <= 1:
        raise MergeError(f"merge option density must be a number in (0, 1], not {density!r}")
    if not isinstance(t, (int, float)) or not 0 <= t <= 1:
        raise MergeError(f"merge option t must be a number in [0, 1], not {t!r}")
    return merged


def _weights(models: Sequence[str], weights: Sequence[float] | None) -> list[float]:
    """Checked weights, one per model; uniform when none are given (the recipe's natural default)."""
    if weights is None:
        return [1.0 / len(models)] * len(models)
    weights = list(weights)
    if len(weights) != len(models):
        raise MergeError(f"{len(weights)} merge weights for {len(models)} models: give one weight per model")
    for model, weight in zip(models, weights):
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
            raise MergeError(f"merge weight of {model} must be a finite number >= 0, not {weight!r}")
    if sum(weights) <= 0:
        raise MergeError("merge weights sum to zero: at least one must be positive")
    return [float(w) for w in weights]


def merge_config(
    models: Sequence[str],
    weights: Sequence[float] | None,
    method: str,
    base_model: str | None,
    options: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The mergekit configuration (its YAML as a dict) for merging `models` by `method`, checked
    here so that a bad combination fails with one clear line before any weights are read.
    linear: weighted average (normalized); ties/dare_ties: task vectors against `base_model`,
    each kept at `density`; slerp: two models, interpolated at `t` from the first (the base)."""
    models = [str(m) for m in models]
    if method not in METHODS:
        raise MergeError(f"unknown merge method {method!r} (known: {', '.join(METHODS)})")
    if len(models) < 2:
        raise MergeError(f"merging needs at least two models, got {len(models)}")
    if len(set(models)) != len(models):
        raise MergeError(f"a model is listed twice: {', '.join(models)}")
    for model in [*models, *([base_model] if base_model else [])]:
        if "+" in model:  # mergekit reads "model+lora" as a LoRA applied to a model
            raise MergeError(f"model path {model!r} contains '+', which mergekit reads as a LoRA adapter")
    opts = _options(options)
    config: dict[str, Any] = {"merge_method": method, "dtype": opts["dtype"]}
    if opts.get("out_dtype"):
        config["out_dtype"] = opts["out_dtype"]

    if method == "slerp":
        if len(models) != 2:
            raise MergeError(f"slerp merges exactly two models, got {len(models)}")
        if weights is not None:
            raise MergeError("slerp takes option t (the position between the two models), not weights")
        if base_model is not None and str(base_model) != models[0]:
            raise MergeError(f"slerp interpolates from the first model ({models[0]}); base model {base_model} must be it or left out")
        config["base_model"] = models[0]
        config["parameters"] = {"t": float(opts["t"])}
        config["models"] = [{"model": m} for m in models]
        return config

    resolved = _weights(models, weights)
    if method == "linear":
        if base_model is not None:
            raise MergeError("linear merging takes no base model (it is a plain weighted average)")
        config["parameters"] = {"normalize": True}
        config["models"] = [{"model": m, "parameters": {"weight": w}} for m, w in zip(models, resolved)]
        return config

    if base_model is None:
        raise MergeError(f"{method} merges differences from a base model: give base_model")
    config["base_model"] = str(base_model)
    config["parameters"] = {"normalize": True}
    density = float(opts["density"])
    config["models"] = [{"model": m, "parameters": {"weight": w, "density": density}} for m, w in zip(models, resolved)]
    return config


# ---------------------------------------------------------------------------------------------
# Running the merge


def _copy_tokenizer(source: Path, out: Path) -> None:
    """Give `out` the tokenizer, chat template and generation defaults of `source`, and check that
    they load: a merged model without its chat template would be prompted wrongly downstream."""
    copied = [name for name in TOKENIZER_FILES if (source / name).is_file()]
    for name in copied:
        shutil.copyfile(source / name, out / name)
    expected = _load_tokenizer(source)
    if not any(name in copied for name in ("tokenizer.json", "tokenizer.model", "vocab.json")):
        expected.save_pretrained(str(out))  # an unusual layout: let transformers write its files
    written = _load_tokenizer(out)
    if tokenizer_difference(expected, written) is not None:
        raise MergeError(f"the merged model's tokenizer in {out} does not match {source}'s")


def _write_config(source: Path, out: Path, dtype: str) -> None:
    """Give `out` the config of `source` in the merge's dtype. mergekit takes the output config
    from the base model or else from an unordered set of the inputs, so without this a linear
    merge's non-architecture settings (context length, rope, token ids) would vary by run."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(source))
    config.dtype = dtype
    config.save_pretrained(str(out))


def merge_models(
    models: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    weights: Sequence[float] | None = None,
    method: str = "linear",
    base_model: str | os.PathLike | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Check, merge `models` on CPU with mergekit and write the result to the folder `out`, with
    the first model's tokenizer and chat template, the base's (else the first model's) config
    and the merge config as `merge_config.yaml`.
    Built beside `out` and renamed into place, so a failed merge leaves no partial model.
    Returns the mergekit config dict."""
    import yaml
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    names = [str(m) for m in models]
    base = None if base_model is None else str(base_model)
    config = merge_config(names, weights, method, base, options)
    seed = _options(options)["seed"]
    out = Path(out)
    everything = [*names, *([base] if base and base not in names else [])]
    if out.resolve() in {Path(m).resolve() for m in everything}:
        raise MergeError(f"the merge output {out} is one of its inputs")
    check_compatible(everything)
    for model in everything:
        check_weights(Path(model))
    try:
        parsed = MergeConfiguration.model_validate(config)
    except Exception as err:  # pydantic or mergekit's own validators: still a bad configuration
        raise MergeError(f"mergekit rejected the merge config: {err}") from err

    with atomic_folder(out) as staging:
        # No mergekit tokenizer copy or model card: mergekit picks its donor from an unordered set,
        # and merge_config.yaml already records the merge. The seed (set globally by mergekit)
        # only for dare_ties, whose random drops it makes reproducible.
        run_merge(
            parsed,
            str(staging),
            MergeOptions(device="cpu", copy_tokenizer=False, write_model_card=False, random_seed=seed if method == "dare_ties" else None, quiet=True),
        )
        _write_config(Path(config.get("base_model") or names[0]), staging, config.get("out_dtype") or config["dtype"])
        _copy_tokenizer(Path(names[0]), staging)
        (staging / "merge_config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return config
