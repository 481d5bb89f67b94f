"""The ledger: precedence, exact and near dedup, response merging, reconciliation."""

import polars as pl
import pytest

from lightr1 import tables
from lightr1.data.ledger import ReconciliationError, build_problems, reconcile
from lightr1.text import problem_id


def staged_row(source, index, problem=None, answer="5", responses=0, status="ok", reason=None):
    if status != "ok":
        return {"source": source, "row_index": index, "status": status, "reason": reason}
    return {
        "source": source,
        "row_index": index,
        "status": "ok",
        "reason": None,
        "problem_id": problem_id(problem),
        "problem": problem,
        "answer": answer,
        "solution": None,
        "teacher_responses": [{"text": f"{source}-{index}-{k}", "correct": True, "model": "r1"} for k in range(responses)],
        "meta": "{}",
    }


def frame(*rows):
    return pl.DataFrame(list(rows), schema=tables.STAGED)


SHOP = "Mia buys 12 pencils and then buys 30 more pencils at the shop. How many pencils does she have?"


def by_key(ledger):
    return {(r["source"], r["row_index"]): r for r in ledger.iter_rows(named=True)}


def test_precedence_rejected_then_contaminated_then_duplicate():
    staged = frame(
        staged_row("a", 0, "What is 1+1?", "2"),
        staged_row("a", 1, status="rejected", reason="empty problem"),
        staged_row("b", 0, "What is 1+1?", "2", responses=2),
        staged_row("b", 1, "What is 7+7?", "14"),
    )
    contaminated = {problem_id("What is 7+7?"): "matches bench:x"}
    problems, ledger = build_problems(staged, contaminated, near_threshold=95)
    rows = by_key(ledger)
    assert rows["a", 1]["status"] == "rejected" and rows["a", 1]["reason"] == "empty problem"
    assert rows["b", 1]["status"] == "contaminated"
    # The copy with more teacher responses is kept, the other is its duplicate.
    assert rows["b", 0]["status"] == "kept"
    assert rows["a", 0]["status"] == "duplicate" and rows["a", 0]["kept_as"] == problem_id("What is 1+1?")
    assert problems.height == 1 and problems["source"].item() == "b"
    merged = {r["text"] for r in problems["teacher_responses"].item()}
    assert merged == {"b-0-0", "b-0-1"}
    reconcile(ledger, problems, {"a": 2, "b": 2})


def test_exact_duplicate_responses_merge_and_different_answer_does_not():
    staged = frame(
        staged_row("a", 0, SHOP, "42", responses=2),
        staged_row("b", 0, SHOP.upper(), "42", responses=1),  # same normalised text
        staged_row("c", 0, SHOP, "41", responses=1),
    )
    problems, ledger = build_problems(staged, {}, near_threshold=95)
    rows = by_key(ledger)
    assert [rows[k]["status"] for k in (("a", 0), ("b", 0), ("c", 0))] == ["kept", "duplicate", "duplicate"]
    assert "different answer" in rows["c", 0]["reason"]
    texts = {r["text"] for r in problems["teacher_responses"].item()}
    assert texts == {"a-0-0", "a-0-1", "b-0-0"}


def test_near_duplicates_merge_only_when_answers_agree():
    near = SHOP.replace("the shop", "the store")
    other = SHOP.replace("Mia", "Max")
    staged = frame(
        staged_row("a", 0, SHOP, "42"),
        staged_row("b", 0, near, "42", responses=3),
        staged_row("b", 1, other, "41"),  # near in text, but a different answer: not merged
        staged_row("b", 2, "Compute the sum of the first ten odd numbers.", "100"),
    )
    problems, ledger = build_problems(staged, {}, near_threshold=90)
    rows = by_key(ledger)
    assert rows["b", 0]["status"] == "kept"  # more teacher responses wins
    assert rows["a", 0]["status"] == "duplicate" and rows["a", 0]["reason"].startswith("near duplicate")
    assert rows["b", 1]["status"] == "kept" and rows["b", 2]["status"] == "kept"
    assert problems.height == 3
    # Off switch: threshold 0 keeps near duplicates apart.
    problems, _ = build_problems(staged, {}, near_threshold=0)
    assert problems.height == 4


def test_reconcile_fails_when_rows_are_missing():
    staged = frame(staged_row("a", 0, SHOP, "42"), staged_row("a", 1, "What is 2+2?", "4"))
    problems, ledger = build_problems(staged, {}, near_threshold=95)
    reconcile(ledger, problems, {"a": 2})
    with pytest.raises(ReconciliationError, match="a: 3 raw rows but 2 in the ledger"):
        reconcile(ledger, problems, {"a": 3})
    with pytest.raises(ReconciliationError, match="kept ledger rows"):
        reconcile(ledger, problems.head(1), {"a": 2})
