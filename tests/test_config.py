"""Config validation: defaults, and errors that name the offending key."""

import copy
import tomllib
from pathlib import Path

import pytest
import yaml

from lightr1 import benchmarks, sources
from lightr1.config import ConfigError, load_schema, validate

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = yaml.safe_load((ROOT / "config.yaml").read_text())


def validated(**changes):
    config = copy.deepcopy(DEFAULT)
    for path, value in changes.items():
        *parents, key = path.split("__")
        target = config
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[key] = value
    return validate(config)


def test_defaults_are_filled_in():
    config = validate({key: DEFAULT[key] for key in ("sources", "benchmarks", "models", "grading")})
    assert config["decontam"] == {"mode": "default", "ngram": 32, "compare_modes": True}
    assert config["sources"][0]["split"] == "train" and config["sources"][0]["options"] == {}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"decontam__nagram": 3}, "unknown config key decontam.nagram"),
        ({"colour": "red"}, "unknown config key colour"),
        ({"decontam__mode": "fuzzy"}, "decontam.mode: 'fuzzy' is not one of"),
        ({"decontam__ngram": "32"}, "decontam.ngram: '32' is not of type 'integer'"),
        ({"sources__1__adapter": "limoo"}, "sources[1].adapter: 'limoo' is not one of"),
        ({"sources__1__hub": "GAIR/LIMO"}, "sources[1]: give exactly one of `path` or `hub`"),
        ({"benchmarks__0__name": "gpqa_tiny"}, "benchmarks: name gpqa_tiny used more than once"),
        ({"data__near_duplicate_threshold": 101}, "data.near_duplicate_threshold: 101 is greater than the maximum"),
        ({"models__0__hub": "Qwen/Qwen2.5-0.5B"}, "models[0]: give exactly one of `path` or `hub` or `served`"),
        ({"grading__stage1__model": "qwen"}, "grading.stage1.model: 'qwen' is not a model in `models` (known: tiny_base)"),
        ({"grading__stage2__n": 0}, "grading.stage2.n: 0 is less than the minimum"),
        ({"models": [{"name": "tiny_base", "served": "r1"}]}, "models: tiny_base is `served` (no local weights), so its backend must be openai"),
    ],
)
def test_errors_name_the_key(changes, message):
    with pytest.raises(ConfigError) as error:
        validated(**changes)
    assert message in str(error.value)


def test_every_key_has_a_description():
    def walk(schema, where):
        for name, sub in schema.get("properties", {}).items():
            assert "description" in sub, f"{where}.{name} has no description"
            walk(sub, f"{where}.{name}")
        if "items" in schema:
            for part in schema["items"].get("allOf", [schema["items"]]):
                walk(part, where + "[]")

    schema = load_schema()
    walk(schema, "config")
    walk(schema["definitions"]["file_or_hub"], "entry")


def test_schema_adapter_names_match_the_registries():
    items = load_schema()["properties"]
    enum = lambda section: set(items[section]["items"]["allOf"][1]["properties"]["adapter"]["enum"])  # noqa: E731
    assert enum("sources") == set(sources.ADAPTERS)
    assert enum("benchmarks") == set(benchmarks.ADAPTERS)


def test_recipe_overlay_is_valid():
    config = copy.deepcopy(DEFAULT)
    config.update(yaml.safe_load((ROOT / "recipes" / "light-r1-32b.yaml").read_text()))
    validate(config)


def test_cluster_envs_pin_what_pyproject_pins():
    pins = {}
    for requirement in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]:
        name, version = requirement.split("==")
        pins[name.lower()] = version
    # vLLM's env pins vllm itself and the transformers vllm accepts (< 5.21); requests is not a
    # direct dependency of the main environment. Everything else must match pyproject.
    own = {"vllm.yaml": {"vllm", "transformers", "requests"}}
    for env in (ROOT / "envs").glob("*.yaml"):
        pip = next(d["pip"] for d in yaml.safe_load(env.read_text())["dependencies"] if isinstance(d, dict))
        for requirement in pip:
            name, version = requirement.split("==")
            if name.lower() not in own.get(env.name, set()):
                assert pins.get(name.lower()) == version, f"{env.name}: {requirement} differs from pyproject"
