"""Each training-source adapter on a small file in its real release schema and format, staged
through `ingest.stage_source`: unified fields for good rows, a reason for every reject."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers import write_rows

from lightr1.data import sources
from lightr1.data.ingest import Reject, stage_source
from lightr1.errors import Lightr1Error


def stage(tmp_path: Path, adapter: str, filename: str, rows: Sequence[Mapping[str, Any]], options: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    path = write_rows(tmp_path / filename, rows)
    staged = stage_source(path, adapter, sources.get_adapter(adapter), options).to_dicts()
    assert [row["row_index"] for row in staged] == list(range(len(rows)))  # nothing vanishes
    for row in staged:
        row["meta"] = json.loads(row["meta"]) if row["meta"] is not None else None
    return staged


def assert_rejected(row: Mapping[str, Any], *fragments: str) -> None:
    assert row["status"] == "rejected" and row["problem"] is None, row
    for fragment in fragments:
        assert fragment in row["reason"], row["reason"]


def test_every_adapter_is_registered_and_unknown_names_list_them() -> None:
    assert set(sources.ADAPTERS) == {
        "openr1-math-220k", "openthoughts-114k", "limo", "s1k-1.1", "openmathinstruct-2",
        "omni-math", "hendrycks-math", "deepscaler", "aime", "light-r1-sft",
    }
    with pytest.raises(Lightr1Error, match="unknown source adapter 'nope'.*aime.*openr1-math-220k"):
        sources.get_adapter("nope")


@pytest.mark.parametrize(("value", "text"), [(27, "27"), (27.0, "27"), (0.5, "0.5"), (-3.0, "-3"), (" 12 \n", "12"), ("\\frac{1}{2}", "\\frac{1}{2}")])
def test_render_answer(value: Any, text: str) -> None:
    assert sources.render_answer(value) == text


@pytest.mark.parametrize("value", [True, float("nan"), ["1"], None])
def test_render_answer_rejects_non_answers(value: Any) -> None:
    with pytest.raises(Reject):
        sources.render_answer(value)


def openr1_row(**changes: Any) -> dict[str, Any]:
    row = {
        "problem": "Find $x$ if $x+1=3$.", "solution": "$x=2$.", "answer": "2", "problem_type": "Algebra",
        "question_type": "math-word-problem", "source": "olympiads", "uuid": "u-1",
        "is_reasoning_complete": [True, True], "generations": ["<think>\nx is 2\n</think>\n\\boxed{2}", "<think>\nx is 3\n</think>\n\\boxed{3}"],
        "correctness_math_verify": [True, False], "correctness_llama": None, "finish_reasons": None, "correctness_count": 1,
        "messages": [{"role": "user", "content": "Find $x$ if $x+1=3$."}],
    }
    return {**row, **changes}


def test_openr1_math(tmp_path: Path) -> None:
    rows = stage(tmp_path, "openr1-math-220k", "openr1.parquet", [
        openr1_row(),
        openr1_row(problem="Prove that 2 is prime.", question_type="proof", answer="2 is prime"),  # a proof with a statement as its "answer"
        openr1_row(problem="Short verify list", correctness_math_verify=[True]),
        openr1_row(problem=None),
        openr1_row(problem="Unchecked answer", answer="notfound"),
    ])
    good = rows[0]
    assert good["status"] == "ok" and good["problem"] == "Find $x$ if $x+1=3$." and good["answer"] == "2" and good["solution"] == "$x=2$."
    assert [(r["correct"], r["model"]) for r in good["teacher_responses"]] == [(True, "deepseek-r1"), (False, "deepseek-r1")]
    assert good["teacher_responses"][0]["text"].endswith("\\boxed{2}")
    assert good["meta"] == {"source": "olympiads", "problem_type": "Algebra", "question_type": "math-word-problem", "uuid": "u-1"}
    assert_rejected(rows[1], "proof problem")
    assert [r["correct"] for r in rows[2]["teacher_responses"]] == [True, None]
    assert_rejected(rows[3], "missing field 'problem'")
    assert_rejected(rows[4], "no checkable answer")


def test_openthoughts_keeps_math_only(tmp_path: Path) -> None:
    base = {"problem": "What is $2^3$?", "deepseek_reasoning": "2*2*2 = 8.", "deepseek_solution": "The answer is $\\boxed{8}$.",
            "ground_truth_solution": "We have $2^3 = \\boxed{8}$.", "domain": "math", "source": "amc_aime", "test_cases": None, "starter_code": None}
    rows = stage(tmp_path, "openthoughts-114k", "openthoughts.parquet", [
        base,
        {**base, "problem": "Write a function.", "domain": "code", "ground_truth_solution": None, "test_cases": "{}"},
        {**base, "problem": "Unboxed", "ground_truth_solution": "It is 8."},
    ])
    good = rows[0]
    assert good["status"] == "ok" and good["answer"] == "8" and good["solution"] == base["ground_truth_solution"]
    assert good["teacher_responses"] == [{"text": "<think>\n2*2*2 = 8.\n</think>\n\nThe answer is $\\boxed{8}$.", "correct": None, "model": "deepseek-r1"}]
    assert good["meta"] == {"source": "amc_aime", "domain": "math"}
    assert_rejected(rows[1], "domain 'code'")
    assert_rejected(rows[2], "no \\boxed answer in ground_truth_solution")


def test_limo(tmp_path: Path) -> None:
    rows = stage(tmp_path, "limo", "limo.jsonl", [
        {"question": "How many primes below 10?", "solution": "2, 3, 5, 7: four.", "answer": "4"},
        {"question": "Integer answer", "solution": "...", "answer": 27},
        {"question": "No answer", "solution": "...", "answer": None},
    ])
    assert (rows[0]["problem"], rows[0]["answer"], rows[0]["solution"], rows[0]["teacher_responses"]) == ("How many primes below 10?", "4", "2, 3, 5, 7: four.", [])
    assert rows[1]["answer"] == "27"
    assert_rejected(rows[2], "missing field 'answer'")


def test_s1k(tmp_path: Path) -> None:
    base = {"solution": "So $n = \\boxed{12}$.", "question": "Find n.", "cot_type": "math", "source_type": "AI-MO/NuminaMath-CoT/aops_forum",
            "metadata": "{'year': 2020}", "deepseek_thinking_trajectory": "Let me think. n is 12.", "deepseek_attempt": "$\\boxed{12}$",
            "deepseek_grade": "Yes", "deepseek_grade_reason": "matches", "gemini_thinking_trajectory": "...", "gemini_attempt": "...",
            "gemini_grade": "Yes", "gemini_grade_reason": "..."}
    rows = stage(tmp_path, "s1k-1.1", "s1k.parquet", [
        base,
        {**base, "question": "Which gas?", "solution": "Argon", "cot_type": "science", "deepseek_grade": "No"},
        {**base, "question": "Explain.", "solution": "A long explanation\nover several lines without a box."},
        {**base, "question": "No attempt", "deepseek_grade": None, "deepseek_attempt": None},
    ])
    assert (rows[0]["answer"], rows[0]["teacher_responses"][0]["correct"]) == ("12", True)
    assert rows[0]["teacher_responses"][0]["text"] == "<think>\nLet me think. n is 12.\n</think>\n\n$\\boxed{12}$"
    assert rows[0]["meta"] == {"cot_type": "math", "source_type": "AI-MO/NuminaMath-CoT/aops_forum"}
    assert (rows[1]["answer"], rows[1]["teacher_responses"][0]["correct"]) == ("Argon", False)
    assert_rejected(rows[2], "not a short answer")
    assert_rejected(rows[3], "missing field 'deepseek_attempt'")


def test_openmathinstruct2(tmp_path: Path) -> None:
    rows = stage(tmp_path, "openmathinstruct-2", "omi2.parquet", [
        {"problem": "Compute 3*4.", "generated_solution": "3*4 = \\boxed{12}", "expected_answer": "12", "problem_source": "augmented_math"},
        {"problem": "Compute 3*5.", "generated_solution": "...", "expected_answer": None, "problem_source": "math"},
    ])
    assert (rows[0]["answer"], rows[0]["solution"], rows[0]["meta"]) == ("12", "3*4 = \\boxed{12}", {"problem_source": "augmented_math"})
    assert_rejected(rows[1], "missing field 'expected_answer'")


def test_omni_math(tmp_path: Path) -> None:
    rows = stage(tmp_path, "omni-math", "omni.jsonl", [
        {"domain": ["Mathematics -> Algebra -> Other"], "difficulty": 5.5, "problem": "Solve it.", "solution": "It is 3.", "answer": "3", "source": "china_national_olympiad"},
        {"domain": ["Mathematics -> Geometry"], "difficulty": 7.0, "problem": "Show it.", "solution": "...", "answer": ["3"], "source": "imo"},
    ])
    assert rows[0]["answer"] == "3"
    assert rows[0]["meta"] == {"domain": ["Mathematics -> Algebra -> Other"], "difficulty": 5.5, "source": "china_national_olympiad"}
    assert_rejected(rows[1], "field 'answer' is list")


def test_hendrycks_math_boxed_solution(tmp_path: Path) -> None:
    rows = stage(tmp_path, "hendrycks-math", "math.parquet", [
        {"problem": "What is $1+1$?", "level": "Level 1", "type": "Algebra", "solution": "Clearly $1+1=\\boxed{2}$."},
        {"problem": "No box", "level": "Level 2", "type": "Algebra", "solution": "It is 2."},
    ])
    assert (rows[0]["answer"], rows[0]["meta"]) == ("2", {"level": "Level 1", "type": "Algebra"})
    assert_rejected(rows[1], "no \\boxed answer in solution")


def test_hendrycks_math_deepscaler_processed_file(tmp_path: Path) -> None:
    rows = stage(tmp_path, "hendrycks-math", "math.json", [
        {"problem": "Evaluate $f(2)$.", "answer": "0", "difficulty": 5.0, "type": "Algebra"},
        {"problem": "Answer left out", "answer": None, "difficulty": 3.0, "type": "Algebra"},
    ])
    assert (rows[0]["answer"], rows[0]["solution"], rows[0]["meta"]) == ("0", None, {"difficulty": 5.0, "type": "Algebra"})
    assert_rejected(rows[1], "missing field 'answer'")


def test_deepscaler(tmp_path: Path) -> None:
    rows = stage(tmp_path, "deepscaler", "deepscaler.json", [
        {"problem": "Find k.", "answer": 27.0, "solution": "k = 27"},
        {"problem": "Half.", "answer": "\\frac{1}{2}", "solution": None},
        {"problem": "List answer.", "answer": [1, 2], "solution": None},
        {"problem": "", "answer": "1", "solution": None},
    ])
    assert (rows[0]["answer"], rows[0]["solution"]) == ("27", "k = 27")
    assert (rows[1]["answer"], rows[1]["solution"]) == ("\\frac{1}{2}", None)
    assert_rejected(rows[2], "field 'answer' is list, expected string or integer or number")
    assert_rejected(rows[3], "empty problem")


def test_aime_light_r1_schema_with_string_values(tmp_path: Path) -> None:
    rows = stage(tmp_path, "aime", "aime.json", [
        {"problem": "AIME 1983 #1", "solution": "...", "answer": "60", "year": "1983", "aime_number": "1", "problem_number": "1", "difficulty": "4.0"},
        {"problem": "AIME 2023 #15", "solution": "...", "answer": 80, "year": 2023, "aime_number": 2, "problem_number": 15, "difficulty": 6.0},
        {"problem": "AIME 2024 #1", "solution": "...", "answer": "204", "year": 2024, "aime_number": 1, "problem_number": 1, "difficulty": 2.0},
        {"problem": "No year", "solution": "...", "answer": "1", "year": "unknown", "aime_number": 1, "problem_number": 1, "difficulty": 2.0},
    ])
    assert (rows[0]["answer"], rows[0]["meta"]["year"], rows[0]["meta"]["aime_number"]) == ("60", 1983, "1")
    assert rows[1]["answer"] == "80"
    assert_rejected(rows[2], "AIME 2024", "max_year 2023")
    assert_rejected(rows[3], "year 'unknown'")


def test_aime_gneubig_csv_schema_and_max_year_option(tmp_path: Path) -> None:
    header = {"ID": "2022-I-3", "Year": "2022", "Problem Number": "3", "Question": "AIME 2022 I #3", "Answer": "294", "Part": "I"}
    later = {**header, "ID": "2024-II-1", "Year": "2024", "Question": "AIME 2024 II #1", "Answer": "73", "Part": "II"}
    rows = stage(tmp_path, "aime", "aime.csv", [header, later])
    assert (rows[0]["problem"], rows[0]["answer"], rows[0]["meta"]) == ("AIME 2022 I #3", "294", {"year": 2022, "ID": "2022-I-3", "Part": "I", "Problem Number": "3"})
    assert_rejected(rows[1], "AIME 2024")
    earlier = stage(tmp_path, "aime", "aime.csv", [header, later], options={"max_year": 2021})
    assert_rejected(earlier[0], "AIME 2022", "max_year 2021")


def test_light_r1_sft(tmp_path: Path) -> None:
    response = "<think>\nMaybe \\boxed{3}? No.\n</think>\n\nThe answer is $\\boxed{4}$."
    rows = stage(tmp_path, "light-r1-sft", "stage2-3k.json", [
        {"conversations": [{"from": "human", "value": "What is 2+2?"}, {"from": "gpt", "value": response}]},
        {"conversations": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is 2*2?"}, {"role": "assistant", "content": response}]},
        {"conversations": [{"from": "user", "value": "Q?"}, {"from": "assistant", "value": "<think>\n\\boxed{4}\n</think>\n\nFour."}]},
        {"conversations": [{"from": "user", "value": "Q?"}, {"speaker": "assistant", "text": response}]},
        {"conversations": [{"from": "user", "value": "Q?"}, {"from": "assistant", "value": "<think>\nstill thinking \\boxed{4}"}]},
        {"conversations": "What is 2+2?"},
        {"conversations": [{"from": "user", "value": "Only a question"}]},
    ])
    assert (rows[0]["problem"], rows[0]["answer"]) == ("What is 2+2?", "4")
    assert rows[0]["teacher_responses"] == [{"text": response, "correct": True, "model": "light-r1-sft"}]
    assert (rows[1]["problem"], rows[1]["answer"]) == ("What is 2*2?", "4")
    assert_rejected(rows[2], "no \\boxed answer", "after </think>")  # the box inside the thinking is not the answer
    assert_rejected(rows[3], "turn 1 is malformed")
    assert_rejected(rows[4], "no </think>")
    assert_rejected(rows[5], "field 'conversations' is str")
    assert_rejected(rows[6], "no assistant turn")


def test_malformed_raw_rows_are_rejected_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "deepscaler.jsonl"
    path.write_text('{"problem": "Find k.", "answer": "1"}\n{not json\n', encoding="utf-8")
    staged = stage_source(path, "deepscaler", sources.get_adapter("deepscaler")).to_dicts()
    assert [row["status"] for row in staged] == ["ok", "rejected"]
    assert staged[1]["reason"].startswith("malformed: bad JSON")
