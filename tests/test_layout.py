"""The package's layout by stage and the workflow's hygiene: imports point only downstream (or to
shared helpers), no module grows past ~500 lines without saying why, and the Snakefile passes
`snakemake --lint` and `snakefmt --check`."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "lightr1"
BIN = Path(sys.executable).parent

# Pipeline order: a module may import its own part, shared helpers and parts before it.
ORDER = ("shared", "data", "verify", "generation", "curriculum", "train", "merge", "eval", "report", "tiny", "cli")
SHARED = {"__init__", "__main__", "config", "errors", "faults", "io", "seeds", "tables", "text"}


def part(module: str) -> str:
    """`lightr1.data.ledger` -> "data"; top-level helpers are "shared"."""
    name = module.split(".")[1] if "." in module else "__init__"
    return "shared" if name in SHARED else name


def module_name(path: Path) -> str:
    return ".".join(("lightr1", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")


def lightr1_imports(path: Path) -> list[str]:
    """Every lightr1 module a file imports, lazy imports inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lightr1"):
            found += [f"{node.module}.{alias.name}" if node.module == "lightr1" else node.module for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("lightr1")]
    return found


def test_part_names_cover_the_package():
    parts = {part(module_name(path)) for path in PACKAGE.rglob("*.py")}
    assert parts <= set(ORDER), parts - set(ORDER)


def test_imports_point_downstream_only():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = module_name(path)
        for target in lightr1_imports(path):
            if source == "lightr1.__main__":
                continue  # `python -m lightr1` runs the CLI
            if ORDER.index(part(target)) > ORDER.index(part(source)) or (part(target) == "cli" and part(source) != "cli"):
                wrong.append(f"{source} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_long_modules_say_why():
    long = [path for path in PACKAGE.rglob("*.py") if len(path.read_text().splitlines()) > 520]
    unexplained = [str(path.relative_to(ROOT)) for path in long if "Over 500 lines" not in (ast.get_docstring(ast.parse(path.read_text())) or "")]
    assert not unexplained, unexplained


def test_every_module_opens_with_its_job():
    missing = [str(path.relative_to(ROOT)) for path in PACKAGE.rglob("*.py") if path.name != "__main__.py" and not ast.get_docstring(ast.parse(path.read_text()))]
    assert not missing, missing


@pytest.mark.parametrize("recipe", [None, "recipes/light-r1-32b.yaml"])
def test_snakemake_lint_is_clean(recipe, tmp_path):
    command = [str(BIN / "snakemake"), "--lint", "-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--cores", "1"]
    if recipe:
        command += ["--configfile", str(ROOT / recipe)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_snakefmt_check_is_clean():
    run = subprocess.run([str(BIN / "snakefmt"), "--check", "Snakefile", "rules"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
