# Helpers shared by the rule files: config validation, lookups by name, code inputs.
import json
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError

from lightr1.config import ConfigError, validate

try:
    validate(config)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

PACKAGE = Path(workflow.basedir) / "lightr1"
SOURCES = {entry["name"]: entry for entry in config["sources"]}
BENCHMARKS = {entry["name"]: entry for entry in config["benchmarks"]}

# Rules run the package from this checkout, so a cluster conda env (envs/) needs only the
# dependencies, not an install of lightr1 itself.
LIGHTR1 = f"PYTHONPATH={shlex.quote(workflow.basedir)}${{PYTHONPATH:+:$PYTHONPATH}} python -m lightr1"


def code(*modules):
    """The package modules a rule runs, as inputs: Snakemake's code trigger sees only the
    rule's own text, so editing a module re-runs exactly the rules that name it."""
    return [str(PACKAGE.joinpath(*module.split(".")).with_suffix(".py")) for module in modules]


def raw_file(entry, folder):
    """A source's or benchmark's raw file: its local path, or where its download lands."""
    return entry.get("path") or f"resources/{folder}/{entry['name']}.parquet"


def cli_args(**flags):
    """Command-line flags, shell-quoted; None values are left out."""
    return " ".join(
        f"--{flag.replace('_', '-')} {shlex.quote(str(value))}"
        for flag, value in flags.items()
        if value is not None
    )


def stage_args(entry):
    return cli_args(
        name=entry["name"],
        adapter=entry["adapter"],
        options=json.dumps(entry["options"]),
        max_problem_chars=config["data"]["max_problem_chars"],
        max_response_chars=config["data"]["max_response_chars"],
    )


def download_args(entry):
    return cli_args(
        hub=entry["hub"],
        hub_config=entry["hub_config"],
        split=entry["split"],
        revision=entry["revision"],
    )


def decontam_modes():
    """The configured mode first; with compare_modes, the other one too (it removes nothing)."""
    mode = config["decontam"]["mode"]
    others = [m for m in ("default", "light-r1") if m != mode]
    return [mode] + (others if config["decontam"]["compare_modes"] else [])
