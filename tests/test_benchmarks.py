"""Each benchmark adapter on a small file in the schemas its common releases use, staged through
`ingest.stage_benchmark`; GPQA's option shuffle; and a check over the real shared benchmark
files when they are present."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from helpers import write_rows

from lightr1.data import benchmarks
from lightr1.data.ingest import stage_benchmark
from lightr1.errors import Lightr1Error


def stage(tmp_path: Path, adapter: str, filename: str, rows: Sequence[Mapping[str, Any]], options: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    path = write_rows(tmp_path / filename, rows)
    staged = stage_benchmark(path, adapter, benchmarks.get_adapter(adapter), options).to_dicts()
    assert [row["row_index"] for row in staged] == list(range(len(rows)))
    for row in staged:
        row["meta"] = json.loads(row["meta"]) if row["meta"] is not None else None
    return staged


def assert_rejected(row: Mapping[str, Any], fragment: str) -> None:
    assert row["status"] == "rejected" and fragment in row["reason"], row


def test_every_benchmark_is_registered_and_unknown_names_list_them() -> None:
    assert set(benchmarks.ADAPTERS) == {"aime24", "aime25", "math500", "amc", "minerva", "olympiadbench", "gpqa-diamond"}
    with pytest.raises(Lightr1Error, match="unknown benchmark adapter 'aime26'.*aime24, aime25"):
        benchmarks.get_adapter("aime26")


def test_aime24_capitalised_hub_schema(tmp_path: Path) -> None:
    rows = stage(tmp_path, "aime24", "aime24.parquet", [
        {"ID": "2024-I-1", "Problem": "Every morning Aya walks.", "Solution": "...", "Answer": 204},
        {"ID": "2024-I-2", "Problem": "No answer here.", "Solution": "...", "Answer": None},
    ])
    assert (rows[0]["problem"], rows[0]["answer"], rows[0]["kind"], rows[0]["meta"]) == ("Every morning Aya walks.", ["204"], "math", {"ID": "2024-I-1"})
    assert_rejected(rows[1], "missing field 'answer' / 'Answer'")


def test_aime24_lowercase_schema(tmp_path: Path) -> None:
    rows = stage(tmp_path, "aime24", "aime.json", [
        {"id": 60, "problem": "Find the number.", "solution": "...", "answer": "033", "url": "https://aops", "year": "2024"},
        {"id": 61, "problem": ["not", "text"], "solution": "...", "answer": "1", "url": "https://aops", "year": "2024"},
    ])
    assert (rows[0]["answer"], rows[0]["meta"]) == (["033"], {"id": 60, "url": "https://aops", "year": "2024"})
    assert_rejected(rows[1], "field 'problem' is list")


def test_aime25_both_schemas(tmp_path: Path) -> None:
    ours = stage(tmp_path, "aime25", "aime25.json", [{"problem": "Find the sum of bases.", "answer": 70, "id": "0"}])
    opencompass = stage(tmp_path, "aime25", "aime2025.jsonl", [{"question": "Find the sum of bases.", "answer": "70"}])
    assert ours[0]["answer"] == opencompass[0]["answer"] == ["70"]
    assert ours[0]["problem_id"] == opencompass[0]["problem_id"]


def test_math500(tmp_path: Path) -> None:
    rows = stage(tmp_path, "math500", "test.jsonl", [
        {"problem": "Convert $(0,3)$ to polar.", "solution": "...", "answer": "\\left( 3, \\frac{\\pi}{2} \\right)", "subject": "Precalculus", "level": 2, "unique_id": "test/precalculus/807.json"},
        {"problem": "Answer missing", "solution": "...", "subject": "Algebra", "level": 1, "unique_id": "test/algebra/1.json"},
    ])
    assert rows[0]["answer"] == ["\\left( 3, \\frac{\\pi}{2} \\right)"]
    assert rows[0]["meta"] == {"subject": "Precalculus", "level": 2, "unique_id": "test/precalculus/807.json"}
    assert_rejected(rows[1], "missing field 'answer'")


def test_amc_float_answers(tmp_path: Path) -> None:
    rows = stage(tmp_path, "amc", "amc.json", [
        {"problem": "Find m+n.", "answer": 142.0, "url": "https://aops/2022_AMC_12A/1", "difficulty": 2.0},
        {"problem": "Find p.", "answer": 0.25, "url": "https://aops/2022_AMC_12A/2", "difficulty": 2.0},
        {"problem": "Boolean?", "answer": True, "url": "https://aops/2022_AMC_12A/3", "difficulty": 2.0},
    ])
    assert [rows[0]["answer"], rows[1]["answer"]] == [["142"], ["0.25"]]
    assert_rejected(rows[2], "field 'answer' is bool")


def test_minerva_answer_lists(tmp_path: Path) -> None:
    rows = stage(tmp_path, "minerva", "minerva.json", [
        {"problem": "Estimate the wavelength.", "solution": "...", "type": "Astronomy", "idx": 9, "answer": ["9.6\n"]},
        {"problem": "Two forms.", "solution": "...", "type": "Physics", "idx": 10, "answer": ["41.8^\\circ\n", "41.8^{\\circ}\n"]},
        {"problem": "Empty list.", "solution": "...", "type": "Physics", "idx": 11, "answer": []},
    ])
    assert rows[0]["answer"] == ["9.6"] and rows[0]["meta"] == {"type": "Astronomy", "idx": 9}
    assert rows[1]["answer"] == ["41.8^\\circ", "41.8^{\\circ}"]
    assert_rejected(rows[2], "no checkable answer")


def olympiad_row(**changes: Any) -> dict[str, Any]:
    row = {"id": 1606, "subfield": "Combinatorics", "context": None, "solution": ["Two moves suffice."], "is_multiple_answer": False,
           "unit": None, "answer_type": "Numerical", "error": None, "question": "How many moves?", "final_answer": ["2"]}
    return {**row, **changes}


def test_olympiadbench_hub_schema(tmp_path: Path) -> None:
    rows = stage(tmp_path, "olympiadbench", "olympiadbench.parquet", [
        olympiad_row(),
        olympiad_row(id=2, context="Let $T$ be the answer to the previous problem.", question="Compute $T+1$."),
        olympiad_row(id=3, context="None", question="Context is the string None."),
        olympiad_row(id=4, answer_type="Need_human_evaluate", final_answer=None, question="Prove it."),
        olympiad_row(id=5, final_answer=None, question="Answer lost."),
    ])
    assert (rows[0]["problem"], rows[0]["answer"]) == ("How many moves?", ["2"])
    assert rows[0]["meta"] == {"id": 1606, "subfield": "Combinatorics", "answer_type": "Numerical", "is_multiple_answer": False}
    assert rows[1]["problem"] == "Let $T$ be the answer to the previous problem.\n\nCompute $T+1$."
    assert rows[2]["problem"] == "Context is the string None."
    assert_rejected(rows[3], "needs human evaluation")
    assert_rejected(rows[4], "missing field 'answer' / 'final_answer'")


def test_olympiadbench_deepscaler_schema(tmp_path: Path) -> None:
    row = {"id": 7, "subfield": "Algebra", "context": None, "solution": ["..."], "is_multiple_answer": True, "unit": "km",
           "answer_type": "Tuple", "error": "1e-1", "problem": "Find all pairs.", "answer": ["$(1,2),(3,4)$"]}
    [staged] = stage(tmp_path, "olympiadbench", "olympiad_bench.json", [row])
    assert (staged["problem"], staged["answer"], staged["meta"]["unit"], staged["meta"]["error"]) == ("Find all pairs.", ["$(1,2),(3,4)$"], "km", "1e-1")


# GPQA -----------------------------------------------------------------------------------------

INSTRUCTION = "Please reason step-by-step and put your choice letter without any other text with \\boxed{} in the end."


def gpqa_hub_row(n: int) -> dict[str, str]:
    return {"Pre-Revision Question": "...", "Question": f"Question {n}: which particle is heaviest? ", "Correct Answer": f"top quark {n}\n",
            "Incorrect Answer 1": f"electron {n}", "Incorrect Answer 2": f"muon {n} ", "Incorrect Answer 3": f"up quark {n}",
            "Record ID": f"rec{n}", "High-level domain": "Physics", "Subdomain": "Particle physics"}


def gpqa_inline_row(n: int) -> dict[str, Any]:
    options = f"A. top quark {n}\n\nB. electron {n}\nC. muon {n}\nD. up quark {n}\n"
    return {"id": n, "problem": f"Question {n}: which particle is heaviest?\n\n\n{options}\n\n{INSTRUCTION}", "answer": "A"}


def options_of(problem: str) -> dict[str, str]:
    question, block = problem.split("\n\n")
    return dict(line.split(". ", 1) for line in block.split("\n"))


def test_gpqa_hub_csv_shuffles_and_points_gold_at_the_correct_option(tmp_path: Path) -> None:
    rows = stage(tmp_path, "gpqa-diamond", "gpqa_diamond.csv", [gpqa_hub_row(n) for n in range(40)])
    letters = Counter()
    for n, row in enumerate(rows):
        assert row["status"] == "ok" and row["kind"] == "choice"
        options = options_of(row["problem"])
        assert row["problem"].startswith(f"Question {n}: which particle is heaviest?\n\nA. ")
        assert sorted(options.values()) == sorted([f"top quark {n}", f"electron {n}", f"muon {n}", f"up quark {n}"])
        [gold] = row["answer"]
        assert options[gold] == f"top quark {n}"
        assert row["meta"]["original_letter"] is None and row["meta"]["Record ID"] == f"rec{n}"
        letters[gold] += 1
    assert set(letters) == set("ABCD")


def test_gpqa_processed_file_drops_instruction_and_matches_the_hub_release(tmp_path: Path) -> None:
    inline = stage(tmp_path, "gpqa-diamond", "gpqa.json", [gpqa_inline_row(n) for n in range(40)])
    hub = stage(tmp_path, "gpqa-diamond", "gpqa_diamond.csv", [gpqa_hub_row(n) for n in range(40)])
    for a, b in zip(inline, hub):
        assert "Please reason" not in a["problem"] and not a["problem"].endswith("\n")
        assert (a["problem"], a["answer"]) == (b["problem"], b["answer"])
        assert a["meta"]["original_letter"] == "A"
        assert a["meta"]["original_options"][0].startswith("top quark")
    assert len({row["answer"][0] for row in inline}) == 4  # no longer always "A"


def test_gpqa_gold_follows_the_source_letter(tmp_path: Path) -> None:
    row = {"id": 1, "problem": f"Which is heaviest?\n\nA. electron\nB. muon\nC. top quark\nD. up quark\n\n{INSTRUCTION}", "answer": "C"}
    [staged] = stage(tmp_path, "gpqa-diamond", "gpqa.json", [row])
    assert options_of(staged["problem"])[staged["answer"][0]] == "top quark"
    assert staged["meta"]["original_options"] == ["electron", "muon", "top quark", "up quark"]


def test_gpqa_multiline_options_survive(tmp_path: Path) -> None:
    text = "What sequence?\n\nA. 1. NaNH2\n2. H2/Pd\nB. 1. Li\n2. O3\n\nC. name: x\n\nSMILES: CCO\nD. 1. Zn\n2. HCl\n\n" + INSTRUCTION
    [staged] = stage(tmp_path, "gpqa-diamond", "gpqa.json", [{"id": 1, "problem": text, "answer": "A"}])
    assert sorted(staged["meta"]["original_options"]) == sorted(["1. NaNH2\n2. H2/Pd", "1. Li\n2. O3", "name: x\n\nSMILES: CCO", "1. Zn\n2. HCl"])
    assert staged["answer"] == [next(letter for letter in "ABCD" if f"{letter}. 1. NaNH2\n2. H2/Pd" in staged["problem"])]


PINNED_ORDERS = [[2, 1, 3, 0], [2, 1, 3, 0], [3, 1, 0, 2]]


def test_gpqa_shuffle_is_stable_and_seeded() -> None:
    orders = [benchmarks.option_order(f"question {n}", seed=0) for n in range(30)]
    assert orders == [benchmarks.option_order(f"question {n}", seed=0) for n in range(30)]
    assert all(sorted(order) == [0, 1, 2, 3] for order in orders)
    assert orders != [benchmarks.option_order(f"question {n}", seed=1) for n in range(30)]
    # Pinned values: another machine, process or Python must shuffle exactly alike (a salted
    # hash() would pass the checks above within one process and fail here).
    assert [benchmarks.option_order(f"question {n}", seed=0) for n in range(3)] == PINNED_ORDERS
    # Keyed on the normalised question, so whitespace and case differences between releases agree.
    assert benchmarks.option_order("  Question   0 ", seed=0) == orders[0]


def test_gpqa_unparseable_rows_are_rejected(tmp_path: Path) -> None:
    rows = stage(tmp_path, "gpqa-diamond", "gpqa.json", [
        {"id": 1, "problem": f"Which is heaviest?\n\nA. electron\nB. muon\nC. top quark\n\n{INSTRUCTION}", "answer": "A"},
        {"id": 2, "problem": f"Which is heaviest?\n\nA. electron\nB. muon\nC. top quark\nD. up\n\n{INSTRUCTION}", "answer": "E"},
        {"id": 3, "problem": "Which is heaviest?\n\nA. electron\nB. \nC. top quark\nD. up", "answer": "A"},
    ])
    assert_rejected(rows[0], "cannot find options")
    assert_rejected(rows[1], "answer 'E'")
    assert_rejected(rows[2], "empty question or option")


# The real files (Light-R1's deepscaler release), when this checkout sits beside them --------

_REPO = Path(__file__).resolve().parents[1]
SHARED = _REPO.parent / "shared" / "data" if (_REPO.parent / "shared" / "data").is_dir() else None
SHARED_BENCHMARKS = {"aime.json": "aime24", "aime25.json": "aime25", "amc.json": "amc", "math.json": "math500",
                     "minerva.json": "minerva", "olympiad_bench.json": "olympiadbench", "gpqa.json": "gpqa-diamond"}


@pytest.mark.skipif(SHARED is None, reason="shared real data not present")
@pytest.mark.parametrize(("filename", "adapter"), sorted(SHARED_BENCHMARKS.items()))
def test_shared_benchmark_files_stage_with_few_rejects(filename: str, adapter: str) -> None:
    path = SHARED / "benchmarks" / filename
    if not path.is_file():
        pytest.skip(f"{path} not present")
    staged = stage_benchmark(path, adapter, benchmarks.get_adapter(adapter))
    rejected = staged.filter(staged["status"] != "ok")
    assert staged.height > 0 and rejected.height <= max(1, staged.height // 50), rejected["reason"].to_list()
    assert staged["problem_id"].drop_nulls().n_unique() >= staged.height - rejected.height - 2  # ids barely collide
    if adapter == "gpqa-diamond":
        letters = Counter(answer[0] for answer in staged["answer"].drop_nulls())
        assert set(letters) == set("ABCD") and min(letters.values()) >= staged.height // 8, letters
        assert not any("Please reason" in problem for problem in staged["problem"].drop_nulls())
