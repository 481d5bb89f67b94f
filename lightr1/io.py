"""Reading raw files row by row (malformed rows quarantined, not fatal) and atomic writes."""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from lightr1.errors import InputFileError, one_line

RAW_FORMATS = ("parquet", "jsonl", "json", "csv")

# The csv module stops at fields over 128 KiB; long-CoT solutions are longer.
csv.field_size_limit(2**31 - 1)


@dataclass(frozen=True)
class RawRow:
    """One raw row: its index in the file, and either its record or why it could not be read."""

    index: int
    record: dict[str, Any] | None
    error: str | None = None


def input_file(path: str | os.PathLike) -> Path:
    """`path`, checked to be a file that exists (a folder or a missing file is an InputFileError)."""
    path = Path(path)
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory, expected a file")
    if not path.is_file():
        raise InputFileError(f"{path}: input file does not exist")
    return path


def raw_format(path: str | os.PathLike) -> str:
    """The file's format by its name; the text formats may be gzipped (`.jsonl.gz`)."""
    name = str(path).lower()
    for fmt in RAW_FORMATS:
        if name.endswith("." + fmt) or (fmt != "parquet" and name.endswith(f".{fmt}.gz")):
            return fmt
    raise InputFileError(f"{path}: unknown file type (expected one of {', '.join(RAW_FORMATS)}, the text ones optionally .gz)")


def _open(path: Path) -> BinaryIO:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")


def read_raw(path: str | os.PathLike) -> Iterator[RawRow]:
    """Yield every row of a raw file. Row-level damage (a bad JSON line, invalid UTF-8, a row
    that is not an object) becomes a RawRow with an error; a missing or unreadable file raises
    InputFileError naming it."""
    path = input_file(path)
    fmt = raw_format(path)
    reader = {"parquet": _read_parquet, "jsonl": _read_jsonl, "json": _read_json, "csv": _read_csv}[fmt]
    try:
        yield from reader(path)
    except InputFileError:
        raise
    except (OSError, EOFError, ValueError, csv.Error, pl.exceptions.PolarsError) as err:  # EOFError: a cut-off gzip
        raise InputFileError(f"{path}: cannot read {fmt} file: {one_line(err)}") from err


def _read_parquet(path: Path) -> Iterator[RawRow]:
    frame = pl.read_parquet(path)
    for index, record in enumerate(frame.iter_rows(named=True)):
        yield RawRow(index, record)


def _read_jsonl(path: Path) -> Iterator[RawRow]:
    with _open(path) as handle:
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
        with _open(path) as handle:
            data = json.loads(handle.read().decode("utf-8"))
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
    with io.TextIOWrapper(_open(path), encoding="utf-8", errors="surrogateescape", newline="") as handle:
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


Columns = Mapping[str, Any] | Sequence[str]  # required columns: names, or names and polars types


def read_table(path: str | os.PathLike, columns: Columns = ()) -> pl.DataFrame:
    """A table from parquet, JSON lines, JSON or CSV. The text formats are read row by row and
    each column's type comes from all of its values: a sparse, null-first or mixed column is
    never decided by its first rows (as polars' readers do from 100), and a nested or mixed
    column that is not asked for becomes JSON text rather than an error. `columns` must be
    there, each of the given type (numbers in a text column become text: ids often are
    numbers). A file, row or column that breaks this is an InputFileError naming it."""
    path = input_file(path)
    fmt = raw_format(path)
    wanted = dict(columns) if isinstance(columns, Mapping) else dict.fromkeys(columns)
    try:
        frame = pl.read_parquet(path) if fmt == "parquet" else _text_table(path, fmt, wanted)
    except InputFileError:
        raise
    except (OSError, ValueError, pl.exceptions.PolarsError) as err:
        raise InputFileError(f"{path}: cannot read {fmt} table: {one_line(err)}") from err
    missing = [name for name in wanted if name not in frame.columns]
    if missing:
        raise InputFileError(f"{path}: missing column(s) {', '.join(missing)} (has: {', '.join(frame.columns) or 'none'})")
    casts = {name: dtype for name, dtype in wanted.items() if dtype is not None and frame.schema[name] != dtype}
    try:
        return frame.with_columns(pl.col(name).cast(dtype, strict=True) for name, dtype in casts.items())
    except (pl.exceptions.PolarsError, TypeError, ValueError) as err:
        found = ", ".join(f"'{name}' is {frame.schema[name]} (expected {dtype})" for name, dtype in casts.items())
        raise InputFileError(f"{path}: column types do not fit: {found}") from err


def _text_table(path: Path, fmt: str, wanted: Mapping[str, Any]) -> pl.DataFrame:
    records = []
    for raw in read_raw(path):
        if raw.error is not None:
            raise InputFileError(f"{path}: row {raw.index + 1}: {raw.error}")
        records.append(raw.record)
    names = list(dict.fromkeys(name for record in records for name in record))
    return pl.DataFrame([_column(path, fmt, name, [r.get(name) for r in records], wanted.get(name)) for name in names])


def _column(path: Path, fmt: str, name: str, values: list[Any], dtype: Any) -> pl.Series:
    """One column of a text table: of `dtype` when one is asked for, else inferred from every value."""
    if dtype is None:
        return _inferred(name, values)
    if dtype == pl.String:
        for row, value in enumerate(values):
            if isinstance(value, bool) or not isinstance(value, (str, int, float, type(None))):
                raise InputFileError(f"{path}: row {row + 1}: '{name}' is a {type(value).__name__} ({_shown(value)}), expected text")
        return pl.Series(name, [v if v is None or isinstance(v, str) else str(v) for v in values], dtype=pl.String)

    def build(items: list[Any]) -> pl.Series:
        if fmt == "csv":  # CSV cells are text: typed columns are parsed from it
            return pl.Series(name, items, dtype=pl.String).cast(dtype, strict=True)
        return pl.Series(name, items, dtype=dtype, strict=True)

    try:
        return build(values)
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        for row, value in enumerate(values):
            try:
                build([value])
            except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
                raise InputFileError(f"{path}: row {row + 1}: '{name}' is {_shown(value)}, expected {dtype}") from None
        raise


def _inferred(name: str, values: list[Any]) -> pl.Series:
    present = [v for v in values if v is not None]
    if any(isinstance(v, (dict, list)) for v in present) or len({type(v) for v in present}) > 1:
        if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
            return pl.Series(name, values, dtype=pl.Float64)
        # Nested or mixed: polars would take a struct's fields from its first value and drop
        # the rest, or refuse the mix; as JSON text nothing is lost.
        return pl.Series(name, [v if v is None or isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values], dtype=pl.String)
    return pl.Series(name, values, strict=True)


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def write_json(data: Any, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def count_raw_rows(path: str | os.PathLike) -> int:
    """Rows in a raw file, counted independently of `read_raw`, to reconcile the ledger with."""
    path = input_file(path)
    fmt = raw_format(path)
    try:
        if fmt == "parquet":
            return pl.scan_parquet(path).select(pl.len()).collect().item()
        if fmt == "jsonl":
            with _open(path) as handle:
                return sum(1 for line in handle if line.strip())
        if fmt == "json":
            return sum(1 for _ in _read_json(path))
        with io.TextIOWrapper(_open(path), encoding="utf-8", errors="surrogateescape", newline="") as handle:
            return max(sum(1 for row in csv.reader(handle) if row) - 1, 0)  # less the header; blank lines are no rows
    except (OSError, EOFError, ValueError, csv.Error, pl.exceptions.PolarsError) as err:
        raise InputFileError(f"{path}: cannot count rows: {one_line(err)}") from err
