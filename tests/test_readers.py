"""Every reader of a user's table takes the files real dumps are: JSON lines, JSON, CSV and
parquet whose columns are sparse, null-first or mixed-typed, with extra nested columns and
rows in no order, none of it decided from the first rows. A wrong file is one line naming
the file and the row."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from lightr1 import cli
from lightr1.data import benchmarks, sources
from lightr1.data.ingest import stage_benchmark, stage_source
from lightr1.errors import InputFileError
from lightr1.io import read_table

FORMATS = ("jsonl", "json", "csv", "parquet")
ROWS = 150
LATE = 120  # the sparse column is null in the first LATE rows: past polars' 100-row inference


def dump_rows() -> list[dict[str, Any]]:
    """A dump as real ones come: `answer` mixes numbers and text, `solution` is null-first,
    `extra` is nested with keys that vary, ids are numbers, rows shuffled by a fixed seed."""
    rows = []
    for i in range(ROWS):
        rows.append({
            "problem_id": i,
            "problem": f"Compute {i} plus {i + 1}, then report the sum.",
            "answer": 2 * i + 1 if i % 2 else str(2 * i + 1),
            "solution": f"{i} + {i + 1} = {2 * i + 1}" if i >= LATE else None,
            "extra": {"tags": ["sum"], "level": i % 5} if i % 3 else {"origin": "forum"},
        })
    order = random.Random(0).sample(range(LATE), LATE)  # the null-first rows stay first
    return [rows[i] for i in order] + rows[LATE:]


def write_dump(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Rows as the format holds them: parquet has one type per column (mixed becomes text,
    nested a struct), CSV cells are text (nested becomes JSON text)."""
    fmt = path.suffix[1:]
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    elif fmt == "json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    elif fmt == "csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: json.dumps(v) if isinstance(v, (dict, list)) else ("" if v is None else v) for k, v in row.items()})
    else:
        typed = [{**row, "answer": str(row["answer"])} for row in rows]
        pl.DataFrame(typed, infer_schema_length=None).write_parquet(path)
    return path


@pytest.fixture(params=FORMATS)
def dump(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return write_dump(tmp_path / f"dump.{request.param}", dump_rows())


def test_read_table_types_each_column_from_all_of_its_rows(dump: Path) -> None:
    frame = read_table(dump, {"problem_id": pl.String, "problem": pl.String})
    assert frame.height == ROWS and frame.schema["problem_id"] == pl.String
    solutions = frame["solution"].to_list()
    if dump.suffix != ".csv":  # a CSV cell cannot tell null from empty
        assert solutions[:LATE] == [None] * LATE
    assert solutions[LATE:] == [f"{i} + {i + 1} = {2 * i + 1}" for i in range(LATE, ROWS)]
    assert sorted(frame["answer"].cast(pl.String).to_list(), key=int) == [str(2 * i + 1) for i in range(ROWS)]
    assert "extra" in frame.columns


def test_read_table_keeps_nested_and_mixed_columns_as_json_text(tmp_path: Path) -> None:
    path = write_dump(tmp_path / "dump.jsonl", dump_rows())
    frame = read_table(path)
    assert frame.schema["answer"] == pl.String and frame.schema["extra"] == pl.String
    extras = {json.dumps(json.loads(e), sort_keys=True) for e in frame["extra"]}
    assert extras >= {'{"origin": "forum"}', '{"level": 1, "tags": ["sum"]}'}  # no key of any row lost


def test_read_table_takes_ints_and_floats_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "scores.jsonl"
    path.write_text("".join(json.dumps({"score": None if i < LATE else (1 if i % 2 else 0.5)}) + "\n" for i in range(ROWS)), encoding="utf-8")
    assert read_table(path).schema["score"] == pl.Float64


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_wrong_value_is_one_error_naming_the_file_and_the_row(tmp_path: Path, fmt: str) -> None:
    rows = dump_rows()
    rows[130]["problem"] = {"text": "a problem inside an object"}
    path = write_dump(tmp_path / f"dump.{fmt}", rows)
    with pytest.raises(InputFileError, match=rf"{path}: row 131: 'problem' is a dict .*expected text"):
        read_table(path, {"problem_id": pl.String, "problem": pl.String})


def test_a_missing_column_names_the_file_and_what_it_has(tmp_path: Path) -> None:
    path = write_dump(tmp_path / "dump.jsonl", [{k: v for k, v in row.items() if k != "problem"} for row in dump_rows()])
    with pytest.raises(InputFileError, match=rf"{path}: missing column\(s\) problem \(has: problem_id, answer, solution, extra\)"):
        read_table(path, ["problem_id", "problem"])


def test_stage_source_reads_a_real_dump(dump: Path) -> None:
    staged = stage_source(dump, "dump", sources.get_adapter("deepscaler"))
    assert staged.height == ROWS and set(staged["status"]) == {"ok"}
    by_problem = dict(zip(staged["problem"], staged["answer"], strict=True))
    assert by_problem["Compute 3 plus 4, then report the sum."] == "7"
    assert by_problem["Compute 140 plus 141, then report the sum."] == "281"


def test_stage_benchmark_reads_a_real_dump(dump: Path) -> None:
    staged = stage_benchmark(dump, "dump", benchmarks.get_adapter("math500"))
    assert staged.height == ROWS and set(staged["status"]) == {"ok"}
    assert sorted(int(a[0]) for a in staged["answer"]) == [2 * i + 1 for i in range(ROWS)]


def test_decontaminate_reads_sparse_files(dump: Path, tmp_path: Path) -> None:
    bench = tmp_path / "bench.jsonl"
    bench.write_text(json.dumps({"problem_id": "b0", "problem": "Compute 140 plus 141, then report the sum."}) + "\n", encoding="utf-8")
    out = tmp_path / "matches.parquet"
    cli.main(["decontaminate", "--train", str(dump), "--benchmarks", str(bench), "--out", str(out)])
    matches = pl.read_parquet(out)
    assert "140" in set(matches["train_id"]) and set(matches["benchmark_id"]) == {"b0"}


def test_decontaminate_command_reads_a_jsonl_with_a_null_first_column(tmp_path: Path) -> None:
    """The case a user hit: a JSON-lines file whose column is null in its first rows."""
    train = write_dump(tmp_path / "train.jsonl", dump_rows())
    bench = write_dump(tmp_path / "bench.jsonl", dump_rows()[-3:])
    out = tmp_path / "matches.jsonl"
    result = subprocess.run([sys.executable, "-m", "lightr1", "decontaminate", "--train", str(train), "--benchmarks", str(bench), "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) >= 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_verify_reads_a_real_dump_and_keeps_its_columns(tmp_path: Path, fmt: str) -> None:
    rows = [{**row, "gold": row["answer"], "response": f"\\boxed{{{row['answer']}}}"} for row in dump_rows()]
    source = write_dump(tmp_path / f"responses.{fmt}", rows)
    out = tmp_path / "verified.jsonl"
    cli.main(["verify", str(source), "-o", str(out), "--timeout", "3"])
    verified = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(verified) == ROWS and all(row["correct"] for row in verified), [r["reason"] for r in verified if not r["correct"]][:3]
    assert all("extra" in row and "solution" in row for row in verified)
