"""Reading raw files (row-level damage quarantined, whole-file damage fatal and named), atomic
writes, and the hub download on a local dataset folder."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from helpers import write_rows

from lightr1.errors import InputFileError, Lightr1Error
from lightr1.io import atomic_folder, atomic_path, read_raw


def test_jsonl_quarantines_damaged_rows_and_skips_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b'{"a": 1}\n\n{"a": \n   \n"\xff\xfe"\n[1, 2]\n{"a": 2}\n')
    rows = list(read_raw(path))
    assert [row.index for row in rows] == [0, 1, 2, 3, 4]
    assert rows[0].record == {"a": 1} and rows[0].error is None
    assert rows[1].record is None and "bad JSON" in rows[1].error
    assert rows[2].record is None and "UTF-8" in rows[2].error
    assert rows[3].record is None and "list" in rows[3].error
    assert rows[4].record == {"a": 2}


def test_csv_ragged_row_is_quarantined(tmp_path: Path) -> None:
    path = tmp_path / "raw.csv"
    path.write_text("problem,answer\nwhat?,1\ntoo,many,fields\nok,2\n", encoding="utf-8")
    rows = list(read_raw(path))
    assert [row.record for row in rows] == [{"problem": "what?", "answer": "1"}, None, {"problem": "ok", "answer": "2"}]
    assert "3 fields" in rows[1].error


def test_json_rows_and_non_object_rows(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "raw.json", [{"a": 1}, {"a": 2}])
    assert [row.record for row in read_raw(path)] == [{"a": 1}, {"a": 2}]
    mixed = tmp_path / "mixed.json"
    mixed.write_text('[{"a": 1}, "oops"]', encoding="utf-8")
    rows = list(read_raw(mixed))
    assert rows[0].record == {"a": 1} and rows[1].record is None and "str" in rows[1].error


def test_json_top_level_not_a_list_is_fatal(tmp_path: Path) -> None:
    path = tmp_path / "raw.json"
    path.write_text('{"problem": "x"}', encoding="utf-8")
    with pytest.raises(InputFileError, match="raw.json.*expected a JSON list"):
        list(read_raw(path))


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="nowhere.jsonl"):
        list(read_raw(tmp_path / "nowhere.jsonl"))


def test_parquet_rows_keep_nested_values(tmp_path: Path) -> None:
    path = write_rows(tmp_path / "raw.parquet", [{"p": "x", "g": ["a", "b"], "ok": [True, False]}, {"p": "y", "g": None, "ok": None}])
    rows = list(read_raw(path))
    assert [row.record for row in rows] == [{"p": "x", "g": ["a", "b"], "ok": [True, False]}, {"p": "y", "g": None, "ok": None}]


def test_atomic_path_leaves_nothing_when_the_body_raises(tmp_path: Path) -> None:
    target = tmp_path / "out" / "table.parquet"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half written")
            raise RuntimeError("killed")
    assert list((tmp_path / "out").iterdir()) == []


def test_atomic_path_replaces_on_success(tmp_path: Path) -> None:
    target = tmp_path / "table.txt"
    target.write_text("old")
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["table.txt"]


def test_atomic_folder_replaces_a_model_whole_and_leaves_it_when_the_body_raises(tmp_path: Path) -> None:
    import os

    model = tmp_path / "model"
    model.mkdir()
    (model / "old.safetensors").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(model) as staging:
            (staging / "new.safetensors").write_text("half written")
            raise RuntimeError("killed")
    assert [p.name for p in tmp_path.iterdir()] == ["model"] and [p.name for p in model.iterdir()] == ["old.safetensors"]

    mask = os.umask(0o022)
    try:
        with atomic_folder(model) as staging:
            (staging / "sub").mkdir()
            (staging / "sub" / "new.safetensors").write_text("new")
            (staging / "sub" / "new.safetensors").chmod(0o600)  # as safetensors writes it
    finally:
        os.umask(mask)
    assert [p.name for p in tmp_path.iterdir()] == ["model"] and [p.name for p in model.iterdir()] == ["sub"]
    assert (model / "sub" / "new.safetensors").stat().st_mode & 0o777 == 0o644  # readable by the team
    assert model.stat().st_mode & 0o777 == 0o755


# --- hub download (on a local dataset folder: no network) ---------------------------------------


def test_download_writes_the_split_as_parquet(tmp_path: Path) -> None:
    from lightr1.data.hub import download

    folder = tmp_path / "dataset"
    folder.mkdir()
    write_rows(folder / "train.parquet", [{"problem": "1+1?", "answer": "2", "generations": ["<think>x</think> 2"]}])
    out = download(str(folder), tmp_path / "raw" / "src.parquet", cache_dir=tmp_path / "cache")
    assert pl.read_parquet(out).to_dicts() == [{"problem": "1+1?", "answer": "2", "generations": ["<think>x</think> 2"]}]


def test_download_failure_names_the_dataset_and_writes_nothing(tmp_path: Path) -> None:
    from lightr1.data.hub import download

    out = tmp_path / "raw" / "src.parquet"
    with pytest.raises(Lightr1Error, match="no-such-dataset"):
        download(str(tmp_path / "no-such-dataset"), out, cache_dir=tmp_path / "cache")
    assert not out.exists()
