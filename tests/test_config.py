"""Config validation: defaults, and errors that name the offending key."""

import copy
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from lightr1.config import ConfigError, eval_comparisons, eval_models, load_schema, validate
from lightr1.data import benchmarks, sources

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
    config = validate({key: DEFAULT[key] for key in ("sources", "benchmarks", "models", "grading", "train", "dpo", "grpo")})
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
        ({"benchmarks__0__name": "minerva_tiny"}, "benchmarks: name minerva_tiny used more than once"),
        ({"data__near_duplicate_threshold": 101}, "data.near_duplicate_threshold: 101 is greater than the maximum"),
        ({"models__0__hub": "Qwen/Qwen2.5-0.5B"}, "models[0]: give exactly one of `path` or `hub` or `served`"),
        ({"grading__stage1__model": "qwen"}, "grading.stage1.model: 'qwen' is not a model in `models` or an enabled stage (known: tiny_base, sft1"),
        ({"grading__stage1__model": "sft1"}, "grading.stage1.model: 'sft1' is trained on data that this sampling produces (a cycle)"),
        ({"grading__stage2__model": "sft2"}, "grading.stage2.model: 'sft2' is trained on data that this sampling produces (a cycle)"),
        ({"dpo__sampling__model": "dpo"}, "dpo.sampling.model: 'dpo' is trained on data that this sampling produces (a cycle)"),
        ({"dpo__sampling": None}, "dpo.sampling: train.dpo is enabled, so its pairs need a model to sample"),
        ({"train__sft2__init": "dpo"}, "train.sft2.init: 'dpo' is neither a model in `models` nor an earlier enabled stage (known: tiny_base, sft1)"),
        ({"train__sft1__data": "pairs"}, "train.sft1.data: 'pairs' is not one of"),
        ({"train__sft1__pick_epoch": 4}, "train.sft1.pick_epoch: 4 is past the last epoch (3)"),
        ({"train__dpo__loss_type": "nca"}, "train.dpo.loss_type: 'nca' is not one of"),
        ({"train__merged__weights": [1, 2]}, "train.merged.weights: 2 weights for 3 models"),
        ({"train__merged__models": ["sft2", "grpo_x"]}, "train.merged.models: 'grpo_x' is neither a model"),
        ({"models__0__name": "sft1"}, "models: name sft1 is a training stage's name"),
        ({"grading__stage2__n": 0}, "grading.stage2.n: 0 is less than the minimum"),
        ({"models": [{"name": "tiny_base", "served": "r1"}]}, "models: tiny_base is `served` (no local weights), so its backend must be openai"),
        ({"eval__models": ["tiny_base", "sft3"]}, "eval.models: 'sft3' is not a model in `models` or an enabled stage"),
        ({"eval__benchmarks": ["aime25"]}, "eval.benchmarks: 'aime25' is not in `benchmarks` (known: aime_tiny, math500_tiny, minerva_tiny)"),
        ({"eval__confidence": 1.0}, "eval.confidence: 1.0 is greater than or equal to the maximum"),
        ({"train__sft1__nodes": 2}, "train.sft1.nodes: 2 nodes need train.launcher torchrun"),
        ({"train__dpo__nodes": 0}, "train.dpo.nodes: 0 is less than the minimum of 1"),
        ({"generation__runtime": "1d"}, "generation.runtime: '1d' is not of type 'integer', 'null'"),
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


def overlay(base, extra):
    """Snakemake's --configfile merge: mappings key by key, everything else replaced."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        merged[key] = overlay(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def recipe_config(recipe):
    """A recipe as users run it: the -ds recipes are overlays on the 32B one."""
    layers = ["light-r1-32b.yaml"] + ([recipe] if recipe != "light-r1-32b.yaml" else [])
    config = DEFAULT
    for layer in layers:
        config = overlay(config, yaml.safe_load((ROOT / "recipes" / layer).read_text()))
    return validate(config)


@pytest.mark.parametrize("recipe", sorted(p.name for p in (ROOT / "recipes").glob("*.yaml")))
def test_recipe_overlay_is_valid(recipe):
    config = recipe_config(recipe)
    for stage, block in config["train"].items():
        if isinstance(block, dict) and block.get("enabled") and "lr" in block:
            assert block["precision"] == "bf16", f"{recipe}: train.{stage} would inherit the tiny world's fp32"


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


def test_evaluation_order_and_stage_comparisons():
    config = validated()
    assert eval_models(config) == ["tiny_base", "sft1", "sft2", "dpo", "dpo_v2", "merged", "grpo"]
    # Each stage against what it started from; a merge against the first model it merges.
    assert eval_comparisons(config) == [("sft1", "tiny_base"), ("sft2", "sft1"), ("dpo", "sft2"), ("dpo_v2", "sft2"), ("merged", "sft2"), ("grpo", "sft2")]
    # A reference that is not evaluated is not compared.
    assert eval_comparisons(validated(eval__models=["sft2", "dpo"])) == [("dpo", "sft2")]


@pytest.mark.parametrize(
    ("recipe", "models"),
    [
        ("light-r1-32b.yaml", ["qwen25_32b_instruct", "r1_distill_qwen_32b", "sft1", "sft2", "dpo", "dpo_v2", "merged"]),
        ("light-r1-7b-ds.yaml", ["r1_distill_qwen_7b", "sft2"]),
        ("light-r1-14b-ds.yaml", ["r1_distill_qwen_14b", "sft2", "grpo"]),
    ],
)
def test_recipes_evaluate_as_light_r1_reports(recipe, models):
    config = recipe_config(recipe)
    assert eval_models(config) == models
    sampling = {key: config["eval"]["sampling"][key] for key in ("n", "temperature", "top_p", "max_tokens")}
    assert sampling == {"n": 64, "temperature": 0.6, "top_p": 0.95, "max_tokens": 32768}
    assert not config["eval"]["report"]["stage_notes"]  # the tiny world's explanations stay in the tiny world


def test_every_rule_names_a_cluster_environment():
    """With --sdm conda every job needs its environment: each rule names one of envs/ (vLLM's
    apart, for sampling), except the target rule `all`."""
    for path in sorted((ROOT / "rules").glob("*.smk")):
        for rule, body in re.findall(r"^rule (\w+):\n((?:    .*\n|\n)+)", path.read_text(), re.M):
            env = re.search(r"conda:\n\s+\"\.\./envs/([\w-]+\.yaml)\"", body)
            assert env, f"{path.name}: rule {rule} names no conda environment"
            assert (ROOT / "envs" / env.group(1)).is_file(), f"{path.name}: rule {rule}: envs/{env.group(1)} does not exist"
            assert (env.group(1) == "vllm.yaml") == (rule == "sample"), f"{path.name}: rule {rule} in {env.group(1)}"
