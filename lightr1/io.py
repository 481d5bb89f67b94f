"""Reading raw files row by row (malformed rows quarantined, not fatal) and atomic writes."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from lightr1.errors import InputFileError

RAW_FORMATS = ("parquet", "jsonl", "json", "csv")


@dataclass(frozen=True)
class RawRow:
    """One raw row: its index in the file, and either its record or why it could not be read."""

    index: int
    record: dict[str, Any] | None
    error: str | None = None


def raw_format(path: str | os.PathLike) -> str:
    name = str(path).lower()
    for fmt in RAW_FORMATS:
        if name.endswith("." + fmt) or name.endswith(f".{fmt}.gz"):
            return fmt
    raise InputFileError(f"{path}: unknown file type (expected one of {', '.join(RAW_FORMATS)})")


def read_raw(path: str | os.PathLike) -> Iterator[RawRow]:
    """Yield every row of a raw file. Row-level damage (a bad JSON line, invalid UTF-8, a row
    that is not an object) becomes a RawRow with an error; a missing or unreadable file raises
    InputFileError naming it."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: input file does not exist")
    fmt = raw_format(path)
    reader = {"parquet": _read_parquet, "jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv}[fmt]
    try:
        yield from reader(path)
    except InputFileError:
        raise
    except (OSError, ValueError, pl.exceptions.PolarsError) as err:
        raise InputFileError(f"{path}: cannot read {fmt} file: {err}") from err


def _read_parquet(path: Path) -> Iterator[RawRow]:
    frame = pl.read_parquet(path)
    for index, record in enumerate(frame.iter_rows(named=True)):
        yield RawRow(index, record)


def _read_jsonl(path: Path) -> Iterator[RawRow]:
    with open(path, "rb") as handle:
        index = 0
        for line in handle:
            if not line.strip():
                continue  # blank lines are layout, not rows
            yield _parse_json_line(index, line)
            index += 1


def _parse_json_line(index: int, line: bytes) -> RawRow:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        return RawRow(index, None, f"invalid UTF-8 at byte {err.start}")
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        return RawRow(index, None, f"bad JSON line: {err.msg}")
    if not isinstance(record, dict):
        return RawRow(index, None, f"row is a JSON {type(record).__name__}, not an object")
    return RawRow(index, record)


def _read_json(path: Path) -> Iterator[RawRow]:
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as err:
        raise InputFileError(f"{path}: invalid UTF-8 at byte {err.start}") from err
    except json.JSONDecodeError as err:
        raise InputFileError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from err
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]  # the {"data": [...]} wrapping some releases use
    if not isinstance(data, list):
        raise InputFileError(f"{path}: expected a JSON list of rows, found {type(data).__name__}")
    for index, record in enumerate(data):
        if isinstance(record, dict):
            yield RawRow(index, record)
        else:
            yield RawRow(index, None, f"row is a JSON {type(record).__name__}, not an object")


def _read_csv(path: Path) -> Iterator[RawRow]:
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None:
            return
        for index, record in enumerate(reader):
            if None in record:
                yield RawRow(index, None, f"row has {len(record[None]) + len(reader.fieldnames)} fields, header has {len(reader.fieldnames)}")
            elif any(_has_surrogate(value) for value in record.values()):
                yield RawRow(index, None, "invalid UTF-8")
            else:
                yield RawRow(index, record)


def _has_surrogate(value: str | None) -> bool:
    return value is not None and any("\udc80" <= ch <= "\udcff" for ch in value)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename, so a
    reader never sees a half-written file and a killed job leaves no partial output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it owner-only; outputs follow the umask
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty folder beside the folder `path` (a model) to write into; on success it
    takes the place of `path` whole, so a reader never sees a half-written model and a killed
    job leaves none. The old folder is moved aside first and removed after: `path` is only
    briefly absent. Its files get the umask's permissions: safetensors and mkdtemp make them
    owner-only, which teammates and inference servers on a shared cluster cannot read."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield staging
        mask = _umask()
        for entry in (staging, *staging.rglob("*")):
            if not entry.is_symlink():
                entry.chmod((0o777 if entry.is_dir() else 0o666) & ~mask)
        if not path.exists():
            staging.rename(path)
            return
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
        old.rmdir()
        path.rename(old)
        try:
            staging.rename(path)
        except OSError:
            old.rename(path)
            raise
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_table(frame: pl.DataFrame, path: str | os.PathLike) -> None:
    """Write a table atomically, as parquet, jsonl or tsv by the file's extension."""
    suffix = Path(path).suffix
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            frame.write_parquet(tmp)
        elif suffix == ".jsonl":
            frame.write_ndjson(tmp)
        elif suffix == ".tsv":
            frame.write_csv(tmp, separator="\t")
        else:
            raise ValueError(f"{path}: tables are written as .parquet, .jsonl or .tsv")


def read_table(path: str | os.PathLike) -> pl.DataFrame:
    """Read a parquet or jsonl table written by this project (or matching its contracts)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: input file does not exist")
    try:
        if path.suffix == ".parquet":
            return pl.read_parquet(path)
        if path.suffix == ".jsonl":
            return pl.read_ndjson(path)
    except (OSError, pl.exceptions.PolarsError) as err:
        raise InputFileError(f"{path}: cannot read table: {err}") from err
    raise InputFileError(f"{path}: expected a .parquet or .jsonl table")


def write_json(data: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def count_raw_rows(path: str | os.PathLike) -> int:
    """Rows in a raw file, counted independently of `read_raw`, to reconcile the ledger with."""
    path = Path(path)
    fmt = raw_format(path)
    try:
        if fmt == "parquet":
            return pl.scan_parquet(path).select(pl.len()).collect().item()
        if fmt == "jsonl":
            with open(path, "rb") as handle:
                return sum(1 for line in handle if line.strip())
        if fmt == "json":
            return sum(1 for _ in _read_json(path))
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
            return max(sum(1 for row in csv.reader(handle) if row) - 1, 0)  # less the header; blank lines are no rows
    except (OSError, ValueError, pl.exceptions.PolarsError) as err:
        raise InputFileError(f"{path}: cannot count rows: {err}") from err
