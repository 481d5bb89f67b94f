"""Run an adapter over every row of a raw file: each row comes out staged as ok or rejected
with a reason, so nothing vanishes between the raw file and the ledger."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl
from tqdm import tqdm

from lightr1 import tables
from lightr1.errors import InputFileError
from lightr1.io import read_raw
from lightr1.text import problem_id

Adapter = Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]


class Reject(Exception):
    """Raised by an adapter for a row that cannot or must not be used; the message is the reason."""


_TYPE_NAMES = {str: "string", int: "integer", float: "number", bool: "boolean", list: "list", dict: "object"}


def field(record: Mapping[str, Any], name: str, kind: type | tuple[type, ...] = str, *, optional: bool = False) -> Any:
    """A record's field, checked: a missing (or null) required field or a wrong type rejects the row."""
    value = record.get(name)
    if value is None:
        if optional:
            return None
        raise Reject(f"missing field '{name}'")
    kinds = kind if isinstance(kind, tuple) else (kind,)
    # bool is an int subclass in Python; a boolean where a number belongs is still wrong.
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        wanted = " or ".join(_TYPE_NAMES.get(k, k.__name__) for k in kinds)
        raise Reject(f"field '{name}' is {type(value).__name__}, expected {wanted}")
    return value


_UNCHECKABLE = {"", "proof", "notfound", "none", "null", "n/a"}


def checkable(answer: str | None) -> bool:
    """Whether an answer can be checked at all (proofs and placeholders cannot)."""
    return answer is not None and answer.strip().lower().rstrip(".") not in _UNCHECKABLE


@dataclass(frozen=True)
class Limits:
    max_problem_chars: int = 20_000
    max_response_chars: int = 200_000


def _check_problem(problem: Any, limits: Limits) -> str:
    if not isinstance(problem, str):
        raise Reject(f"problem is {type(problem).__name__}, expected string")
    if not problem.strip():
        raise Reject("empty problem")
    if len(problem) > limits.max_problem_chars:
        raise Reject(f"problem has {len(problem)} characters (limit {limits.max_problem_chars})")
    return problem.strip()


def _check_responses(responses: Any, limits: Limits) -> list[dict[str, Any]]:
    checked = []
    for response in responses or []:
        text = response.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Reject("teacher response without text")
        if len(text) > limits.max_response_chars:
            raise Reject(f"teacher response has {len(text)} characters (limit {limits.max_response_chars})")
        checked.append({"text": text, "correct": response.get("correct"), "model": response.get("model")})
    return checked


def _meta_json(row: Mapping[str, Any]) -> str:
    return json.dumps(row.get("meta") or {}, ensure_ascii=False, sort_keys=True, default=str)


def stage_problem(adapter: Adapter, record: Mapping[str, Any], options: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """One raw training row through its adapter and the checks every source shares."""
    row = adapter(record, options)
    problem = _check_problem(row.get("problem"), limits)
    answer = row.get("answer")
    if not isinstance(answer, str) or not checkable(answer):
        raise Reject("no checkable answer" if not answer else f"no checkable answer ({str(answer)[:40]!r})")
    return {
        "problem_id": problem_id(problem),
        "problem": problem,
        "answer": answer.strip(),
        "solution": row.get("solution"),
        "teacher_responses": _check_responses(row.get("teacher_responses"), limits),
        "meta": _meta_json(row),
    }


def stage_benchmark_row(adapter: Adapter, record: Mapping[str, Any], options: Mapping[str, Any], limits: Limits) -> dict[str, Any]:
    """One raw benchmark row through its adapter: answers become a non-empty list of strings."""
    row = adapter(record, options)
    problem = _check_problem(row.get("problem"), limits)
    answers = [a.strip() for a in row.get("answer") or [] if isinstance(a, str) and checkable(a)]
    if not answers:
        raise Reject("no checkable answer")
    return {
        "problem_id": problem_id(problem),
        "problem": problem,
        "answer": answers,
        "kind": row.get("kind", "math"),
        "meta": _meta_json(row),
    }


def _stage(path: str | os.PathLike, stage_row: Callable[[Mapping[str, Any]], dict[str, Any]], key: dict[str, Any], schema: pl.Schema) -> pl.DataFrame:
    rows = []
    # Logs are files on a cluster: a sparse progress line, not a redrawn bar.
    for raw in tqdm(read_raw(path), desc=f"staging {path}", unit=" rows", mininterval=30, disable=False):
        base = {**key, "row_index": raw.index}
        if raw.error is not None:
            rows.append({**base, "status": "rejected", "reason": f"malformed: {raw.error}"})
            continue
        try:
            rows.append({**base, "status": "ok", "reason": None, **stage_row(raw.record)})
        except Reject as reject:
            rows.append({**base, "status": "rejected", "reason": str(reject)})
    if not rows:  # a raw release is never empty: this is a failed download or the wrong file
        raise InputFileError(f"{path}: no rows")
    return pl.DataFrame(rows, schema=schema)


def stage_source(path: str | os.PathLike, source: str, adapter: Adapter, options: Mapping[str, Any] | None = None, limits: Limits = Limits()) -> pl.DataFrame:
    """Every row of a raw source file as a STAGED table."""
    return _stage(path, lambda record: stage_problem(adapter, record, options or {}, limits), {"source": source}, tables.STAGED)


def stage_benchmark(path: str | os.PathLike, benchmark: str, adapter: Adapter, options: Mapping[str, Any] | None = None, limits: Limits = Limits()) -> pl.DataFrame:
    """Every row of a raw benchmark file as a BENCHMARK table."""
    return _stage(path, lambda record: stage_benchmark_row(adapter, record, options or {}, limits), {"benchmark": benchmark}, tables.BENCHMARK)
