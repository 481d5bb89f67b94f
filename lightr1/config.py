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
    return yaml.safe_load(path.read_text(encoding="utf-8"))


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


def _check_models(config: dict[str, Any]) -> None:
    """Model names are unique, every sampling block names a configured model, and a served
    model (no local weights) is sampled through the openai backend."""
    models = {}
    for entry in config.get("models", []):
        if entry["name"] in models:
            raise ConfigError(f"config error: models: name {entry['name']} used more than once")
        models[entry["name"]] = entry
    blocks = {"grading.stage1": config.get("grading", {}).get("stage1"), "grading.stage2": config.get("grading", {}).get("stage2")}
    blocks["teacher.sampling"] = config.get("teacher", {}).get("sampling")
    for where, block in blocks.items():
        if block and block["model"] not in models:
            raise ConfigError(f"config error: {where}.model: {block['model']!r} is not a model in `models` (known: {', '.join(models) or 'none'})")
    for entry in models.values():
        backend = entry["backend"] or config["generation"]["backend"]
        if "served" in entry and backend != "openai":
            raise ConfigError(f"config error: models: {entry['name']} is `served` (no local weights), so its backend must be openai, not {backend}")
