"""From staged source rows to the problem table and its ledger.

Every raw row ends in exactly one of kept / duplicate / contaminated / rejected, with a
reason. Precedence: rejected (the adapter or a shared check refused it), then contaminated
(a match of the configured decontamination mode), then duplicate. Duplicates are exact (same
problem_id, i.e. same normalised text) or near (rapidfuzz ratio at or above a threshold,
only between rows whose answers agree; candidates found by MinHash LSH). Of each group the kept row is the one with the most
teacher responses (then the earlier source in config order, then the earlier row); the
responses of its same-answer duplicates are merged into it.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz import fuzz, process

from lightr1 import tables
from lightr1.errors import Lightr1Error
from lightr1.io import count_raw_rows, read_table, write_table
from lightr1.text import normalise_problem


class ReconciliationError(Lightr1Error):
    """The ledger does not account for every raw row exactly once."""


def answer_key(answer: str) -> str:
    """Answers that differ only in spacing or math delimiters agree."""
    return re.sub(r"\s+|\$", "", answer)


@dataclass
class Row:
    """A candidate problem: an ok staged row, with its place in the priority order."""

    order: int
    source: str
    row_index: int
    problem_id: str
    text: str
    answer: str
    responses: list[dict]

    def priority(self) -> tuple[int, int]:
        return (-len(self.responses), self.order)


def _label(row: Row) -> str:
    return f"{row.source}:{row.row_index}"


def _merge(responses: list[dict], more: list[dict]) -> None:
    """Add the responses of a duplicate to its kept row's, each text once."""
    seen = {r["text"] for r in responses}
    for response in more:
        if response["text"] not in seen:
            seen.add(response["text"])
            responses.append(response)


# MinHash LSH over each problem's set of words: BANDS bands of ROWS_PER_BAND minimums. Rows
# whose word sets have Jaccard similarity J share a band with probability 1 - (1 - J**3)**6:
# 0.9987 for one word changed in fifteen (J = 0.875), 0.15 for J = 0.3. Band keys include the
# answer, so only rows whose answers agree are ever compared.
BANDS, ROWS_PER_BAND = 6, 3
_HASH_SEED = 7
_MULTIPLIERS = np.random.default_rng(_HASH_SEED).integers(1, 2**63, size=BANDS * ROWS_PER_BAND, dtype=np.uint64) | np.uint64(1)
_OFFSETS = np.random.default_rng(_HASH_SEED + 1).integers(0, 2**63, size=BANDS * ROWS_PER_BAND, dtype=np.uint64)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def band_keys(texts: Sequence[str], answers: Sequence[str]) -> list[list[int]]:
    """BANDS bucket keys per text (normalised problem text, words split on spaces)."""
    words = (
        pl.DataFrame({"doc": np.arange(len(texts)), "word": list(texts)})
        .with_columns(pl.col.word.str.split(" "))
        .explode("word")
        .select("doc", hash=pl.col.word.hash(_HASH_SEED))
        .unique(maintain_order=True)
    )
    doc, hashes = words["doc"].to_numpy(), words["hash"].to_numpy()
    starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]])
    with np.errstate(over="ignore"):  # uint64 arithmetic wraps mod 2**64 by design
        minimums = np.stack([np.minimum.reduceat(hashes * a + c, starts) for a, c in zip(_MULTIPLIERS, _OFFSETS)], axis=1)
        answer_hashes = pl.Series(list(answers), dtype=pl.String).hash(_HASH_SEED).to_numpy()
        keys = np.empty((len(texts), BANDS), dtype=np.uint64)
        for band in range(BANDS):
            key = answer_hashes * _MIX + np.uint64(band)
            for column in minimums[:, band * ROWS_PER_BAND : (band + 1) * ROWS_PER_BAND].T:
                key = key * _MIX + column
            keys[:, band] = key
    return keys.tolist()


def _near_pairs(rows: list[Row], threshold: float) -> dict[int, tuple[Row, float]]:
    """For each row that near-duplicates an earlier-priority kept row: (that row, ratio).
    Only rows sharing an LSH band (and so an answer) are compared, so the work grows with
    the number of similar rows, not with the square of all rows."""
    if not rows:
        return {}
    answers = [answer_key(row.answer) for row in rows]
    keys = band_keys([row.text for row in rows], answers)
    kept_by_key: dict[int, list[int]] = defaultdict(list)
    found: dict[int, tuple[Row, float]] = {}
    for i in sorted(range(len(rows)), key=lambda i: rows[i].priority()):
        row = rows[i]
        candidates = [
            j for j in dict.fromkeys(j for key in keys[i] for j in kept_by_key.get(key, ()))
            if answers[j] == answers[i]  # a band key may collide
        ]
        best = process.extractOne(row.text, [rows[j].text for j in candidates], scorer=fuzz.ratio, score_cutoff=threshold) if candidates else None
        if best is not None:
            found[row.order] = (rows[candidates[best[2]]], best[1])
            continue
        for key in keys[i]:
            kept_by_key[key].append(i)
    return found


def build_problems(staged: pl.DataFrame, contaminated: Mapping[str, str], near_threshold: float) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (problems, ledger) from all staged rows (in config order) and a map
    problem_id -> contamination reason."""
    statuses: dict[int, tuple[str, str | None, str | None]] = {}  # order -> (status, reason, kept_as)
    candidates: list[Row] = []
    for order, record in enumerate(staged.iter_rows(named=True)):
        if record["status"] != "ok":
            statuses[order] = ("rejected", record["reason"], None)
        elif record["problem_id"] in contaminated:
            statuses[order] = ("contaminated", contaminated[record["problem_id"]], None)
        else:
            candidates.append(
                Row(order, record["source"], record["row_index"], record["problem_id"], normalise_problem(record["problem"]), record["answer"], list(record["teacher_responses"] or []))
            )

    # Exact duplicates: one kept row per problem_id.
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in candidates:
        groups[row.problem_id].append(row)
    keepers: dict[int, Row] = {}
    for group in groups.values():
        keeper, *others = sorted(group, key=Row.priority)
        keepers[keeper.order] = keeper
        for other in others:
            if answer_key(other.answer) == answer_key(keeper.answer):
                _merge(keeper.responses, other.responses)
                reason = f"exact duplicate of {_label(keeper)}"
            else:  # same text, different answer: its responses were judged against another answer
                reason = f"exact duplicate of {_label(keeper)} with a different answer ({other.answer!r} vs {keeper.answer!r})"
            statuses[other.order] = ("duplicate", reason, keeper.problem_id)

    # Near duplicates among the exact-group keepers.
    if near_threshold > 0:
        for order, (keeper, ratio) in _near_pairs(list(keepers.values()), near_threshold).items():
            row = keepers.pop(order)
            _merge(keeper.responses, row.responses)
            statuses[order] = ("duplicate", f"near duplicate (ratio {ratio:.1f}) of {_label(keeper)}", keeper.problem_id)
    for order in keepers:
        statuses[order] = ("kept", None, None)

    ledger = staged.select("source", "row_index", "problem_id").with_columns(
        status=pl.Series([statuses[i][0] for i in range(staged.height)], dtype=pl.String),
        reason=pl.Series([statuses[i][1] for i in range(staged.height)], dtype=pl.String),
        kept_as=pl.Series([statuses[i][2] for i in range(staged.height)], dtype=pl.String),
    )
    kept_orders = sorted(keepers)
    problems = (
        staged[kept_orders]
        .with_columns(teacher_responses=pl.Series([keepers[i].responses for i in kept_orders], dtype=pl.List(tables.TEACHER_RESPONSE)))
        .select(list(tables.PROBLEMS))
    )
    return problems, ledger.select(list(tables.LEDGER))


def reconcile(ledger: pl.DataFrame, problems: pl.DataFrame, raw_counts: Mapping[str, int]) -> None:
    """Fail unless every raw row appears exactly once in the ledger and kept rows are the problems."""
    problems_found = []
    per_source = dict(ledger.group_by("source").len().iter_rows())
    for source, count in raw_counts.items():
        if per_source.get(source, 0) != count:
            problems_found.append(f"{source}: {count} raw rows but {per_source.get(source, 0)} in the ledger")
    extra = set(per_source) - set(raw_counts)
    if extra:
        problems_found.append(f"ledger rows from unknown sources: {', '.join(sorted(extra))}")
    if ledger.select(pl.struct("source", "row_index").is_duplicated().any()).item():
        problems_found.append("a raw row appears more than once in the ledger")
    unknown = set(ledger["status"].unique()) - set(tables.LEDGER_STATUSES)
    if unknown:
        problems_found.append(f"unknown ledger statuses: {sorted(unknown)}")
    if ledger.filter(pl.col.status != "kept")["reason"].null_count():
        problems_found.append("a row that was not kept has no reason")
    kept = ledger.filter(pl.col.status == "kept").height
    if kept != problems.height or problems["problem_id"].n_unique() != problems.height:
        problems_found.append(f"{kept} kept ledger rows but {problems.height} problems ({problems['problem_id'].n_unique()} distinct ids)")
    if problems_found:
        raise ReconciliationError("ledger does not reconcile with the raw inputs: " + "; ".join(problems_found))


def contamination_reasons(matches: pl.DataFrame, mode: str) -> dict[str, str]:
    """problem_id -> why it is contaminated, from the first match of the given mode."""
    first = matches.filter(pl.col.mode == mode).unique("train_id", keep="first", maintain_order=True)
    return {
        row["train_id"]: f"matches {row['benchmark']}:{row['benchmark_id']} ({mode} {row['method']})"
        for row in first.iter_rows(named=True)
    }


def build_problems_files(
    staged: Sequence[str | os.PathLike],
    raw: Mapping[str, str | os.PathLike],
    matches: str | os.PathLike,
    mode: str,
    near_threshold: float,
    problems_out: str | os.PathLike,
    ledger_out: str | os.PathLike,
) -> None:
    staged_rows = pl.concat([read_table(path, tables.STAGED).select(tables.STAGED.names()) for path in staged], how="vertical")
    problems, ledger = build_problems(staged_rows, contamination_reasons(read_table(matches, tables.MATCHES), mode), near_threshold)
    reconcile(ledger, problems, {source: count_raw_rows(path) for source, path in raw.items()})
    counts = dict(ledger.group_by("status").len().iter_rows())
    print("ledger:", ", ".join(f"{status} {counts.get(status, 0)}" for status in tables.LEDGER_STATUSES))
    write_table(ledger, ledger_out)
    write_table(problems, problems_out)
