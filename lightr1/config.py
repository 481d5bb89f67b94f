"""Config validation against schemas/config.schema.yaml: defaults filled in, and the first
error reported as one line that names the offending key."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from lightr1.errors import Lightr1Error

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


class ConfigError(Lightr1Error):
    """The config breaks the schema; the message names the key."""


@cache
def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    # The C loader where PyYAML has it: the schema is read at every Snakefile parse.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)


def _with_defaults(validator_class: type) -> type:
    """A validator that fills in `default` values of properties as it walks the config."""
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, schema_properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in schema_properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from check_properties(validator, schema_properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


_Validator = _with_defaults(jsonschema.Draft7Validator)


def key_path(parts: Iterable[Any]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _message(error: jsonschema.ValidationError) -> str:
    where = key_path(error.absolute_path)
    if error.validator == "additionalProperties":
        known = ", ".join(sorted(error.schema.get("properties", {})))
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        keys = ", ".join(f"{where}.{key}" if error.absolute_path else key for key in unknown)
        return f"unknown config key {keys} (known here: {known})"
    keys = [option.get("required", [None])[0] for option in error.schema.get("oneOf", [])]
    if error.validator == "oneOf" and all(keys):  # alternatives such as a path or a hub id
        return f"{where}: give exactly one of " + " or ".join(f"`{key}`" for key in keys)
    return f"{where}: {error.message}"


def _best_error(errors: list[jsonschema.ValidationError]) -> jsonschema.ValidationError:
    # The deepest error names the most specific key.
    return max(errors, key=lambda e: len(e.absolute_path))


def validate(config: dict[str, Any], schema: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Validate `config` in place (defaults filled in) and return it; raise ConfigError naming
    the first offending key."""
    schema = schema or load_schema()
    errors = list(_Validator(schema).iter_errors(config))
    if errors:
        raise ConfigError(f"config error: {_message(_best_error(errors))}")
    for section in ("sources", "benchmarks"):
        names = [entry["name"] for entry in config[section]]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ConfigError(f"config error: {section}: name {', '.join(repeated)} used more than once")
    _check_models(config)
    return config


# Training stages in DAG order: a stage may start from a model or an earlier stage.
TRAIN_STAGES = ("sft1", "sft2", "dpo", "dpo_v2", "merged", "grpo")


def enabled_stages(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    train = config.get("train", {})
    return {stage: train[stage] for stage in TRAIN_STAGES if stage in train and train[stage]["enabled"]}


def stage_sources(block: Mapping[str, Any]) -> list[str]:
    """The models or stages a stage's weights start from (a merge: all it merges)."""
    if "init" in block:
        return [block["init"]]
    return [*block["models"], *([block["base_model"]] if block["base_model"] else [])]


def _data_of(stage: str, stages: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """Every data file a stage's weights depend on, through the stages it starts from."""
    block = stages[stage]
    data = {block["data"]} if "data" in block else ({"grpo"} if stage == "grpo" else set())
    for source in stage_sources(block):
        if source in stages:
            data |= _data_of(source, stages)
    return data


def _check_stages(models: Mapping[str, Any], stages: Mapping[str, Mapping[str, Any]]) -> None:
    for stage, block in stages.items():
        if stage in models:
            raise ConfigError(f"config error: models: name {stage} is a training stage's name; rename the model")
        earlier = [*models, *(s for s in stages if TRAIN_STAGES.index(s) < TRAIN_STAGES.index(stage))]
        key = "init" if "init" in block else "models"
        for source in stage_sources(block):
            if source not in earlier:
                raise ConfigError(f"config error: train.{stage}.{key}: {source!r} is neither a model in `models` nor an earlier enabled stage (known: {', '.join(earlier) or 'none'})")
        if block.get("pick_epoch") is not None and block["pick_epoch"] > block["epochs"]:
            raise ConfigError(f"config error: train.{stage}.pick_epoch: {block['pick_epoch']} is past the last epoch ({block['epochs']})")
        if stage == "merged" and block["weights"] is not None and len(block["weights"]) != len(block["models"]):
            raise ConfigError(f"config error: train.merged.weights: {len(block['weights'])} weights for {len(block['models'])} models")


def eval_models(config: Mapping[str, Any]) -> list[str]:
    """The models evaluated, in report order: as configured, or every model in `models` and
    then every enabled stage in DAG order."""
    named = config["eval"]["models"]
    return list(named) if named is not None else [*(entry["name"] for entry in config["models"]), *enabled_stages(config)]


def eval_benchmarks(config: Mapping[str, Any]) -> list[str]:
    named = config["eval"]["benchmarks"]
    return list(named) if named is not None else [entry["name"] for entry in config["benchmarks"]]


def eval_comparisons(config: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(model, reference) pairs: each evaluated stage against the model it started from (a merge
    against the first model it merges), where that one is evaluated too."""
    evaluated = eval_models(config)
    stages = enabled_stages(config)
    pairs = []
    for model in evaluated:
        if model in stages:
            reference = stage_sources(stages[model])[0]
            if reference in evaluated:
                pairs.append((model, reference))
    return pairs


def _check_eval(config: Mapping[str, Any], named: list[str]) -> None:
    for model in eval_models(config):
        if model not in named:
            raise ConfigError(f"config error: eval.models: {model!r} is not a model in `models` or an enabled stage (known: {', '.join(named) or 'none'})")
    benchmarks = [entry["name"] for entry in config["benchmarks"]]
    for benchmark in eval_benchmarks(config):
        if benchmark not in benchmarks:
            raise ConfigError(f"config error: eval.benchmarks: {benchmark!r} is not in `benchmarks` (known: {', '.join(benchmarks) or 'none'})")


def _check_models(config: dict[str, Any]) -> None:
    """Model names are unique, every sampling block names a configured model or an enabled
    training stage (without a cycle), each stage starts from a model or an earlier stage, and
    a served model (no local weights) is sampled through the openai backend."""
    models = {}
    for entry in config.get("models", []):
        if entry["name"] in models:
            raise ConfigError(f"config error: models: name {entry['name']} used more than once")
        models[entry["name"]] = entry
    stages = enabled_stages(config)
    _check_stages(models, stages)
    launcher = config.get("train", {}).get("launcher", "python")
    for stage, block in stages.items():
        if block.get("nodes", 1) > 1 and launcher != "torchrun":
            raise ConfigError(f"config error: train.{stage}.nodes: {block['nodes']} nodes need train.launcher torchrun (the python launcher runs one process on one node)")
    named = [*models, *stages]
    dpo_stages = [s for s in ("dpo", "dpo_v2") if s in stages]
    if dpo_stages and not config.get("dpo", {}).get("sampling"):
        raise ConfigError(f"config error: dpo.sampling: train.{dpo_stages[0]} is enabled, so its pairs need a model to sample (Light-R1: the SFT-stage-2 model)")
    if "grpo" in stages and not config.get("grpo", {}).get("sampling"):
        raise ConfigError("config error: grpo.sampling: train.grpo is enabled, so its prompt selection needs a model to sample (the model GRPO starts from)")
    window = config.get("grpo", {}).get("window", [0, 1])
    if window[0] > window[1]:
        raise ConfigError(f"config error: grpo.window: low {window[0]} is above high {window[1]}")
    blocks = {"grading.stage1": config.get("grading", {}).get("stage1"), "grading.stage2": config.get("grading", {}).get("stage2")}
    blocks["teacher.sampling"] = config.get("teacher", {}).get("sampling")
    # The pair and prompt-selection samplers only run (and are only checked) for enabled stages.
    if dpo_stages:
        blocks["dpo.sampling"] = config["dpo"]["sampling"]
    if "grpo" in stages:
        blocks["grpo.sampling"] = config["grpo"]["sampling"]
    # Which data each sampling produces (directly or downstream): its model must not depend on it.
    produces = {
        "teacher.sampling": {"stage1", "stage2", "pairs", "pairs_v2"},
        "grading.stage1": {"stage1", "stage2", "pairs", "pairs_v2"},
        "grading.stage2": {"stage2", "pairs", "pairs_v2"},
        "dpo.sampling": {"pairs", "pairs_v2"},
        "grpo.sampling": {"grpo"},
    }
    for where, block in blocks.items():
        if not block:
            continue
        if block["model"] not in named:
            raise ConfigError(f"config error: {where}.model: {block['model']!r} is not a model in `models` or an enabled stage (known: {', '.join(named) or 'none'})")
        if block["model"] in stages and _data_of(block["model"], stages) & produces[where]:
            raise ConfigError(f"config error: {where}.model: {block['model']!r} is trained on data that this sampling produces (a cycle)")
    _check_eval(config, named)
    for entry in models.values():
        backend = entry["backend"] or config["generation"]["backend"]
        if "served" in entry and backend != "openai":
            raise ConfigError(f"config error: models: {entry['name']} is `served` (no local weights), so its backend must be openai, not {backend}")
