"""A fuzz pass on the command line: every `lightr1` subcommand the micro world's DAG runs,
with each of its inputs in turn replaced by an empty file, a cut-off file, a folder, a table
cut down to its first column, binary junk or a table with a 2 MB row (and each model folder by
an empty folder, a file, a junk config or cut-off weights). What comes back is a non-zero
exit with one line naming the input, no traceback and no output file, or (where the input is
still readable: a 2 MB row, a raw file whose damaged rows are quarantined) a finished job."""

from __future__ import annotations

import re
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from conftest import snakemake

from lightr1 import cli
from lightr1.io import read_raw

ROOT = Path(__file__).resolve().parent.parent
FILE_DAMAGE = ("empty", "truncated", "directory", "first-column-only", "junk", "2mb-row")
MODEL_DAMAGE = ("empty-folder", "a-file", "junk-config", "truncated-weights")
MAY_FINISH = {"2mb-row"}  # or stop with one clear line: what a 2 MB text means is the command's to judge
RAW_MAY_FINISH = {"truncated", "first-column-only", "junk"}  # a raw file's damaged rows are quarantined, not fatal
TOKENIZER_ONLY = {("dpo-pairs", "--special-tokens-from")}  # reads no weights: cut-off weights do not matter


@dataclass(frozen=True)
class Job:
    argv: tuple[str, ...]
    inputs: frozenset[str]
    outputs: frozenset[str]


def dag_jobs(workdir: Path) -> list[Job]:
    """The `lightr1` jobs of the micro world's full DAG, as Snakemake's dry run prints them."""
    printed = snakemake(workdir, "--configfile", str(ROOT / "tests" / "micro.yaml"), "-n", "-p", "--forceall").stdout
    jobs = []
    for block in printed.split("\nrule ")[1:]:
        fields = dict(re.findall(r"^    (input|output): (.*)$", block, re.M))
        command = re.search(r"python -m lightr1 (.*?) > logs/", block)
        if command:
            jobs.append(Job(tuple(shlex.split(command.group(1))), frozenset(fields.get("input", "").split(", ")), frozenset(fields.get("output", "").split(", "))))
    return jobs


def cases(jobs: list[Job]) -> list[tuple[Job, int, str]]:
    """(job, argv position of the input, damage): one job per subcommand and kind of input
    file, and the first input of each flag."""
    chosen, seen = [], set()
    for job in jobs:
        positions = {}
        flag = None
        for i, token in enumerate(job.argv):
            if token.startswith("--"):
                flag = token
            elif _path_of(token) in job.inputs and flag not in positions:
                positions[flag] = i
        key = (job.argv[0], tuple(sorted(Path(_path_of(job.argv[i])).suffix for i in positions.values())))
        if key in seen:
            continue
        seen.add(key)
        chosen += [(job, i, damage) for i in positions.values() for damage in (MODEL_DAMAGE if not Path(_path_of(job.argv[i])).suffix else FILE_DAMAGE)]
    return chosen


def _path_of(token: str) -> str:
    return token.split("=", 1)[1] if re.match(r"^\w+=", token) else token  # --raw NAME=PATH


def damaged_file(good: Path, damage: str, where: Path) -> Path:
    bad = where / f"damaged-{damage}{''.join(good.suffixes)}"
    if damage == "empty":
        bad.write_bytes(b"")
    elif damage == "truncated":
        data = good.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "directory":
        bad.mkdir()
    elif damage == "junk":
        bad.write_bytes(bytes(range(256)) * 64)
    else:
        frame = _read(good)
        if damage == "first-column-only":
            frame = frame.select(frame.columns[0])
        else:  # a copy of the first row with every text 2 MB long
            big = {name: ("x" * 2_000_000 if isinstance(value, str) else value) for name, value in frame.row(0, named=True).items()}
            frame = pl.concat([frame, pl.DataFrame([big], schema=frame.schema)])
        _write(frame, bad)
    return bad


def _read(path: Path) -> pl.DataFrame:
    """The good rows (raw files carry planted damage), typed as polars can."""
    return pl.DataFrame([row.record for row in read_raw(path) if row.record is not None], infer_schema_length=None, strict=False)


def _write(frame: pl.DataFrame, path: Path) -> None:
    fmt = path.suffix[1:]
    {"parquet": frame.write_parquet, "jsonl": frame.write_ndjson, "json": frame.write_json, "csv": frame.write_csv}[fmt](path)


def damaged_model(good: Path, damage: str, where: Path) -> Path:
    bad = where / f"damaged-{damage}"
    if damage == "empty-folder":
        bad.mkdir()
    elif damage == "a-file":
        bad.write_text("not a model\n")
    else:
        shutil.copytree(good, bad)
        if damage == "junk-config":
            (bad / "config.json").write_text("{ this is not json")
        else:
            weights = bad / "model.safetensors"
            weights.write_bytes(weights.read_bytes()[:4096])
    return bad


def extra_jobs(workdir: Path) -> list[Job]:
    """Subcommands the micro world's DAG does not run: GRPO's prompt selection (GRPO is off
    there) on the stage-1 grading, and `verify` on a raw file of responses."""
    responses = workdir / "resources" / "fuzz" / "responses.jsonl"
    responses.parent.mkdir(parents=True, exist_ok=True)
    responses.write_text("".join(f'{{"gold": "{i}", "response": "\\\\boxed{{{i}}}"}}\n' for i in range(20)), encoding="utf-8")
    prompts, scored = "results/prompts/grade_stage1.parquet", "results/scores/tiny_base/grade_stage1/shard-0-of-2.parquet"
    grpo = ("grpo-prompts", "--prompts", prompts, "--scored", scored, "--model", "tiny_base", "--n", "4", "--low", "0", "--high", "1",
            "--out", "results/grpo/prompts.parquet")
    verify = ("verify", "resources/fuzz/responses.jsonl", "-o", "results/fuzz/verified.jsonl")
    return [Job(grpo, frozenset({prompts, scored}), frozenset({"results/grpo/prompts.parquet"})),
            Job(verify, frozenset({"resources/fuzz/responses.jsonl"}), frozenset({"results/fuzz/verified.jsonl"}))]


@pytest.fixture(scope="module")
def fuzz_cases(micro_world: Path) -> list[tuple[Job, int, str]]:
    return cases(dag_jobs(micro_world) + extra_jobs(micro_world))


def test_every_subcommand_of_the_dag_is_fuzzed(fuzz_cases: list[tuple[Job, int, str]]) -> None:
    commands = {job.argv[0] for job, _, _ in fuzz_cases}
    assert commands >= {"stage-source", "stage-benchmark", "decontaminate", "build-problems", "prompt-set", "sample", "score", "eval-table",
                        "eval-metrics", "report", "pass-rates", "teacher", "curriculum", "funnel", "dpo-pairs", "train-sft", "train-dpo", "merge",
                        "grpo-prompts", "verify"}


def run_damaged(job: Job, position: int, damage: str, workdir: Path, scratch: Path, capsys: pytest.CaptureFixture) -> None:
    good = workdir / _path_of(job.argv[position])
    bad = (damaged_model if not good.suffix else damaged_file)(good, damage, scratch)
    argv = list(job.argv)
    argv[position] = argv[position].replace(_path_of(argv[position]), str(bad))
    # Outputs (and work folders) go to the scratch folder, inputs come from the finished run.
    outputs = [scratch / "out" / name for name in job.outputs]
    for i, token in enumerate(argv):
        if token in job.outputs or (i and argv[i - 1] == "--work-dir"):
            argv[i] = str(scratch / "out" / token)
        elif i != position and _path_of(token) in job.inputs:
            argv[i] = token.replace(_path_of(token), str(workdir / _path_of(token)))
    try:
        cli.main(argv)
        code = 0
    except SystemExit as exit:
        code = exit.code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err[-3000:]
    if code == 0:
        raw = _path_of(job.argv[position]).startswith("resources/") and damage in RAW_MAY_FINISH
        tokenizer = (job.argv[0], job.argv[position - 1]) in TOKENIZER_ONLY and damage == "truncated-weights"
        assert damage in MAY_FINISH or raw or tokenizer, f"{job.argv[0]} finished on a {damage} {good.name}"
        return
    errors = [line for line in err.splitlines() if line.startswith(f"lightr1 {job.argv[0]}: error: ")]
    assert code == 1 and len(errors) == 1, err[-3000:]
    assert str(bad) in errors[0] or damage in MAY_FINISH, errors[0][:600]
    assert not [path for path in outputs if path.exists()], f"{job.argv[0]} left output behind on a {damage} {good.name}"


def test_damaged_inputs_end_in_one_line_naming_them(fuzz_cases, micro_world: Path, tmp_path: Path, capsys: pytest.CaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    failures = []
    for n, (job, position, damage) in enumerate(fuzz_cases):
        scratch = tmp_path / str(n)
        scratch.mkdir()
        try:
            run_damaged(job, position, damage, micro_world, scratch, capsys)
        except AssertionError as failure:
            failures.append(f"{job.argv[0]} {job.argv[position - 1]} {damage}: {str(failure)[:600]}")
    assert not failures, "\n".join(failures)
