"""lightr1.verify.verdicts: extraction, equivalence (right and wrong), time bounds from threads and
processes, the bulk API and the `lightr1 verify` command."""

from __future__ import annotations

import ast
import builtins
import dataclasses
import json
import multiprocessing
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lightr1.text import last_boxed
from lightr1.verify import mathexpr
from lightr1.verify.verdicts import REASONS, Verdict, answer_region, choice_letter, start_workers, verify, verify_many

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 0.5
SLACK = 3.0  # beyond the timeout: killing the worker, pipes, thread wake-ups on a busy machine


def boxed(answer: str) -> str:
    return f"<think>\nLet me think. Maybe \\boxed{{0}}?\n</think>\n\nThe final answer is $\\boxed{{{answer}}}$."


@pytest.fixture(scope="module")
def warm_pool():
    """A started math-verify worker, so time bounds measure questions, not the first import."""
    assert verify("\\angle A", boxed("\\angle B")).reason in ("mismatch", "unparsable")


# ------------------------------------------------------------------------------------------
# Extraction.


@pytest.mark.parametrize(
    "text, expected",
    [
        ("so \\boxed{\\frac{1}{2}} and \\boxed{\\frac{a}{b^{2}}}", "\\frac{a}{b^{2}}"),
        ("\\boxed{{1,2}}", "{1,2}"),
        ("the answer is \\boxed 5 done", "5"),
        ("\\fbox{7}", "7"),
        ("\\boxed{3} then \\boxed{4", "3"),  # the last box never closes: the one before it counts
        ("no box here", None),
        ("\\boxed{ 12 }", "12"),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


def test_last_boxed_is_linear_on_many_unclosed_boxes():
    text = "\\boxed{1}" + "\\boxed{" * 100_000
    start = time.perf_counter()
    assert last_boxed(text) == "1"
    assert time.perf_counter() - start < 2.0


def test_answer_region_and_think_tags():
    assert answer_region("<think>a</think>b</think>c") == "c"
    assert answer_region("<think>never closed \\boxed{5}") is None
    assert answer_region("no tags \\boxed{5}") == "no tags \\boxed{5}"
    assert answer_region("no tags", forced_think=True) is None
    assert answer_region("<think>x", whole_response=True) == "<think>x"


@pytest.mark.parametrize(
    "response, kwargs, expected",
    [
        ("<think>\\boxed{4}</think> so \\boxed{5}", {}, Verdict(True, "5", "match")),
        ("<think>\\boxed{5}</think> so \\boxed{4}", {}, Verdict(False, "4", "mismatch")),
        ("<think>reasoning that stops \\boxed{5}", {}, Verdict(False, None, "no_answer")),
        ("reasoning after a forced <think> \\boxed{5}", {"forced_think": True}, Verdict(False, None, "no_answer")),
        ("reasoning after a forced <think> \\boxed{5}", {"forced_think": True, "whole_response": True}, Verdict(True, "5", "match")),
        ("<think>the box \\boxed{5} is in the reasoning", {"whole_response": True}, Verdict(True, "5", "match")),
        ("plain answer \\boxed{5}", {}, Verdict(True, "5", "match")),
        ("</think> no box: 5", {}, Verdict(False, None, "no_answer")),
        ("</think> \\boxed{}", {}, Verdict(False, None, "no_answer")),
    ],
)
def test_where_the_answer_is(response, kwargs, expected):
    assert verify("5", response, **kwargs) == expected


@pytest.mark.parametrize(
    "tail, letter",
    [
        ("\\boxed{C}", "C"),
        ("\\boxed{\\text{C}}", "C"),
        ("\\boxed{(C)}", "C"),
        ("\\boxed{C. 42}", "C"),
        ("Answer: C", "C"),
        ("The answer is (C).", "C"),
        ("the correct answer is **C**", "C"),
        ("**C**", "C"),
        ("So we pick:\n(C)", "C"),
        ("Answer: $\\boxed{B}$", "B"),
        ("The answer is Clearly unknown.", None),
        ("I cannot decide.", None),
    ],
)
def test_choice_letters(tail, letter):
    assert choice_letter(tail) == letter
    verdict = verify("C", "<think>(A) 1 (B) 2 (C) 3</think>\n" + tail, "choice")
    assert verdict == (Verdict(letter == "C", letter, "match" if letter == "C" else "mismatch") if letter else Verdict(False, None, "no_answer"))


def test_choice_gold_forms_and_lists():
    assert verify("(c)", "</think> Answer: C", "choice").correct
    assert verify(["A", "B"], "</think> Answer: B", "choice").correct


# ------------------------------------------------------------------------------------------
# Equivalence.

RIGHT = [
    ("\\frac12", "0.5"),
    ("\\frac{1}{2}", "\\dfrac{1}{2}"),
    ("\\tfrac{3}{4}", "3/4"),
    ("2\\sqrt2", "\\sqrt8"),
    ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"),
    ("\\pi", "\\frac{2\\pi}{2}"),
    ("18+2\\pi", "2\\pi + 18"),
    ("(1,2]", "\\left( 1, 2 \\right]"),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(3,\\infty)\\cup(-\\infty,2)"),
    ("(6,31,-1)", "(6, 31, -1)"),
    ("\\{1,2\\}", "\\{2,1\\}"),
    ("3, 5, 7", "7, 5, 3"),
    ("1,-2", "\\{-2, 1\\}"),
    ("\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}", "\\begin{bmatrix} -\\frac13 \\\\ \\frac23 \\\\ \\frac53 \\end{bmatrix}"),
    ("\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}", "(0.2, -3.6)"),
    ("\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}"),
    ("1.5\\times10^{3}", "1500"),
    ("4.5e33", "4.5 \\times 10^{33}"),
    ("x^2+2x+1", "(x+1)^2"),
    ("(a+5)(b+2)", "ab + 2a + 5b + 10"),
    ("\\frac{x}{2} - \\frac{1}{4} + ce^{-2x}", "ce^{-2x} + \\frac{2x-1}{4}"),
    ("\\cot x", "\\frac{\\cos x}{\\sin x}"),
    ("\\binom{2n}{n}", "\\frac{(2n)!}{(n!)^2}"),
    ("\\left\\lfloor\\log _{2} n\\right\\rfloor+1", "\\lfloor \\log_2 n \\rfloor + 1"),
    ("6 - 5i", "-5i + 6"),
    ("1 \\pm \\sqrt{19}", "1-\\sqrt{19}, 1+\\sqrt{19}"),
    ("5x - 7y + 11z + 4 = 0", "-10x + 14y - 22z - 8 = 0"),
    ("y = 2x + 3", "2x+3"),
    ("x=5", "5"),
    ("f(x)=2 x", "2x"),
    ("x \\in [-2,7]", "[-2, 7]"),
    ("k \\geqslant 2", "2 \\le k"),
    ("90^\\circ", "90"),
    ("30^{\\circ}", "30"),
    ("\\frac{270}7\\text{ degrees}", "\\frac{270}{7}"),
    ("864 \\mbox{ inches}^2", "864"),
    ("5.4 \\text{ cents}", "5.4"),
    ("\\$32,\\!348", "32348"),
    ("10,\\!080", "10080"),
    ("1,000", "1000"),
    ("62.5\\%", "62.5"),
    ("62.5%", "0.625"),
    ("3\\frac12", "3.5"),
    ("137 \\frac{1}{2}", "\\frac{275}{2}"),
    ("52_8", "52"),
    ("033", "33"),
    ("\\text{Evelyn}", "Evelyn"),
    ("\\text{(C)}", "C"),
    ("\\text{east}", "\\textbf{East}"),
    ("\\sqrt[3]{-8}", "-2"),
    ("2^{1009}", "2 \\cdot 2^{1008}"),
    ("$\\frac{9}{32}$", "9/32"),
    ("$90^{\\circ}$,$60^{\\circ}$", "60, 90"),
    ("\\dfrac{33}{100}", "0.33"),
    ("\\frac{1}{\\sqrt{2}}c", "\\frac{c}{\\sqrt{2}}"),
]

WRONG = [
    ("\\frac13", "0.33"),  # a truncated decimal is not the fraction
    ("\\frac13", "0.333333"),
    ("\\sqrt2", "1.4142"),
    ("(1,2)", "[1,2]"),  # bracket types matter
    ("(1,2]", "[1,2]"),
    ("(1,2)", "(2,1)"),  # tuples are ordered
    ("2\\sqrt3", "3\\sqrt2"),
    ("x+1", "x-1"),
    ("x^2+2x+1", "(x-1)^2"),
    ("1,000", "1.000"),  # one thousand vs one
    ("2^{1009}", "2^{1009}+1"),
    ("\\lfloor\\frac{2 n-1}{5}\\rfloor", "\\lfloor\\frac{2 n-1}{6}\\rfloor"),
    ("3, 5, 7", "3, 5"),
    ("\\{1,2\\}", "\\{1,3\\}"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix} 2 \\\\ 1 \\end{pmatrix}"),
    ("5x - 7y + 11z + 4 = 0", "5x - 7y + 11z - 4 = 0"),
    ("6 - 5i", "6 + 5i"),
    ("\\text{east}", "west"),
    ("\\pi", "3.14159"),
    ("1 \\pm \\sqrt{19}", "1+\\sqrt{19}"),
    ("-\\frac{1}{2}", "\\frac{1}{2}"),
    ("0", "\\frac{0}{0}"),
]


@pytest.mark.parametrize("gold, answer", RIGHT)
def test_equivalent_answers_match(gold, answer):
    verdict = verify(gold, boxed(answer))
    assert verdict == Verdict(True, answer, "match"), verdict


@pytest.mark.parametrize("gold, answer", WRONG)
def test_wrong_answers_mismatch(gold, answer, warm_pool):
    verdict = verify(gold, boxed(answer))
    assert not verdict.correct and verdict.reason in ("mismatch", "unparsable"), verdict


def test_golds_as_lists_and_numbers():
    assert verify(["3.53 \\times 10^2", "3.52 \\times 10^2"], boxed("352")).correct
    assert not verify(["353", "352"], boxed("351")).correct
    assert verify(6.0, boxed("6")).correct  # AMC golds are floats
    assert verify(279, boxed("279")).correct  # AIME 2025 golds are ints
    with pytest.raises(ValueError):
        verify([], boxed("1"))
    with pytest.raises(ValueError):
        verify("1", boxed("1"), kind="essay")


def test_slow_path_reads_what_the_fast_parser_cannot(warm_pool):
    with pytest.raises(mathexpr.Undecided):
        mathexpr.equivalent("\\angle ABC = 90^\\circ", "\\angle ABC=90")
    assert verify("\\angle ABC = 90^\\circ", boxed("\\angle ABC=90")).reason == "match"
    assert verify("t(0,4]", boxed("t(0,4]")).correct


def test_verdict_is_frozen_and_reasons_documented():
    verdict = verify("1", boxed("1"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        verdict.correct = False
    import lightr1.verify.verdicts as module

    assert all(f"    {reason}" in module.__doc__ for reason in REASONS)


def test_no_eval_of_answer_text(monkeypatch, tmp_path, warm_pool):
    """Answers are never evaluated as code: eval/sympify/parse_expr are not called in-process,
    and an answer that is Python code does nothing."""
    import sympy
    import sympy.parsing.sympy_parser as sympy_parser

    def forbidden(*args, **kwargs):
        raise AssertionError("evaluated text")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(sympy, "sympify", forbidden)
    monkeypatch.setattr(sympy_parser, "parse_expr", forbidden)
    marker = tmp_path / "pwned"
    code = f"__import__('os').system('touch {marker}')"
    for gold, answer in RIGHT[:20] + [("1", code), ("x^2", "(x+1)^2-2x-1")]:
        verify(gold, boxed(answer))
    assert not marker.exists()
    for path in sorted((ROOT / "lightr1" / "verify").glob("*.py")):
        name = path.name
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("eval", "exec", "compile", "sympify", "parse_expr"), (name, ast.unparse(node))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                assert node.func.attr not in ("sympify", "parse_expr", "S", "parse_latex"), (name, ast.unparse(node))


# ------------------------------------------------------------------------------------------
# Many rows, threads, the command.

ROWS = [(gold, boxed(answer), "math") for gold, answer in RIGHT[:30] + WRONG[:10]] + [
    (["A", "B"], "</think> Answer: B", "choice"),
    ("5", "<think>unfinished", None),
]


def test_verify_many_keeps_order_and_matches_verify(warm_pool):
    expected = [verify(gold, response, kind or "math") for gold, response, kind in ROWS]
    assert verify_many(ROWS) == expected
    assert verify_many(iter(ROWS), workers=2) == expected  # bulk worker processes
    with ThreadPoolExecutor(4) as pool:  # and from threads, at once
        assert list(pool.map(lambda row: verify(row[0], row[1], row[2] or "math"), ROWS * 3)) == expected * 3


def test_cli_verify(tmp_path):
    lines = [
        json.dumps({"id": 1, "gold": "\\frac12", "response": boxed("0.5")}),
        json.dumps({"id": 2, "gold": ["3", "4"], "response": boxed("4"), "kind": "math"}),
        "{not json",
        json.dumps({"id": 4, "response": boxed("1")}),
        json.dumps({"id": 5, "gold": "C", "response": "</think> The answer is (C).", "kind": "choice"}),
        json.dumps({"id": 6, "gold": "1", "response": boxed("1"), "kind": "essay"}),
        json.dumps({"id": 7, "gold": "2", "response": None}),
        json.dumps({"id": 8, "gold": "2", "response": "<think>never ends"}),
        json.dumps({"id": 9, "gold": "2", "response": "</think>\\boxed{3}"}),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "sub" / "out.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "lightr1", "verify", str(source), "-o", str(out), "--timeout", "3"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r.get("id"), r["correct"], r["reason"]) for r in rows] == [
        (1, True, "match"),
        (2, True, "match"),
        (None, False, "bad_row:bad JSON line: Expecting property name enclosed in double quotes"),
        (4, False, "bad_row:no gold"),
        (5, True, "match"),
        (6, False, "bad_row:unknown kind 'essay'"),
        (7, False, "bad_row:no response"),
        (8, False, "no_answer"),
        (9, False, "mismatch"),
    ]
    assert rows[0]["extracted"] == "0.5" and rows[0]["gold"] == "\\frac12" and rows[4]["extracted"] == "C"
    assert [p.name for p in out.parent.iterdir()] == ["out.jsonl"]  # no temporary file left


# ------------------------------------------------------------------------------------------
# Time bounds. Workers are started first (start_workers): the bound under test is the
# watchdog's, timeout + SLACK; starting a worker (a second or more here) is a one-off on top.

PATHOLOGICAL = [
    ("1", "9^{9^{9^{9}}}", True),
    ("1", "10^{10^{10^{10}}}", True),
    ("1", "{" * 10_000 + "1" + "}" * 10_000, False),  # a quick verdict would do too
    ("1", "1+" * 500_000 + "1", False),  # a 1 MB answer
]


@pytest.mark.parametrize("gold, answer, must_time_out", PATHOLOGICAL, ids=["power-tower-9", "power-tower-10", "nested-braces", "1MB"])
def test_pathological_answers_are_time_bounded(gold, answer, must_time_out):
    start_workers(1)
    start = time.perf_counter()
    verdict = verify(gold, boxed(answer), timeout=TIMEOUT)
    elapsed = time.perf_counter() - start
    assert verdict.reason == "timeout" if must_time_out else verdict.reason in ("timeout", "mismatch", "unparsable")
    assert not verdict.correct
    assert elapsed < TIMEOUT + SLACK, elapsed


def test_a_1mb_response_with_a_small_box_is_fast():
    start = time.perf_counter()
    assert verify("5", "x" * 1_000_000 + "</think> \\boxed{5}").correct
    assert verify("5", "\\boxed{" * 100_000 + "</think> \\boxed{5}").correct
    assert time.perf_counter() - start < 1.0


def _timed_verify_in_child(answer: str) -> tuple[str, float]:
    start_workers(1)  # this process's own pool: a forked child never uses its parent's workers
    start = time.perf_counter()
    verdict = verify("1", boxed(answer), timeout=TIMEOUT)
    return verdict.reason, time.perf_counter() - start


def test_timeout_from_a_multiprocessing_pool_worker():
    # Pool workers are daemonic: they may not start multiprocessing children, but may start a subprocess.
    with multiprocessing.get_context("fork").Pool(1) as pool:
        reason, elapsed = pool.apply(_timed_verify_in_child, ("9^{9^{9^{9}}} + 7",))
        assert pool.apply(verify, ("1/2", boxed("0.5"))).correct
    assert reason == "timeout"
    assert elapsed < TIMEOUT + SLACK, elapsed


def test_timeouts_from_several_threads_at_once():
    start_workers(4)
    results: dict[int, tuple[str, float]] = {}

    def run(k: int) -> None:
        start = time.perf_counter()
        verdict = verify("1", boxed(f"9^{{9^{{9^{{9}}}}}} + {k + 1}"), timeout=TIMEOUT)
        results[k] = (verdict.reason, time.perf_counter() - start)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [reason for reason, _ in results.values()] == ["timeout"] * 4
    assert max(elapsed for _, elapsed in results.values()) < TIMEOUT + SLACK, results
    assert time.perf_counter() - start < TIMEOUT + SLACK
