"""Adapters for the evaluation benchmarks: each maps one raw benchmark row (any of the common
releases' schemas) to a problem, a list of accepted answers and a kind ("math" or "choice"),
or rejects it with a reason. `ingest.stage_benchmark` applies the shared checks."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

from lightr1.data.ingest import Adapter, Reject, field
from lightr1.data.sources import Options, Record, meta_of, pick, registry_lookup, render_answer
from lightr1.text import normalise_problem

LETTERS = "ABCD"


def answers_of(record: Record, names: Sequence[str]) -> list[str]:
    """Accepted answers from a column holding one answer or a list of them (any may match)."""
    value = pick(record, names, (list, str, int, float))
    return [render_answer(item) for item in (value if isinstance(value, list) else [value])]


def bench_row(problem: str, answers: list[str], kind: str = "math", meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"problem": problem, "answer": answers, "kind": kind, "meta": dict(meta or {})}


def simple(problems: Sequence[str], answers: Sequence[str], meta: Sequence[str] = ()) -> Adapter:
    """An adapter for a benchmark whose rows are a problem and its answer(s), under any of the
    given column spellings."""

    def adapt(record: Record, options: Options) -> dict[str, Any]:
        return bench_row(pick(record, problems), answers_of(record, answers), meta=meta_of(record, meta))

    return adapt


def olympiadbench(record: Record, options: Options) -> dict[str, Any]:
    """OlympiadBench (Hothan/OlympiadBench or DeepScaleR's olympiad_bench.json): theorem-proving
    rows need a human grader; shared context (a real string, not "None") precedes the question."""
    answer_type = field(record, "answer_type", optional=True) or ""
    if "Need_human_evaluate" in answer_type:
        raise Reject(f"answer_type '{answer_type}' needs human evaluation")
    problem = pick(record, ["problem", "question"])
    context = field(record, "context", optional=True)
    if context is not None and context.strip() not in ("", "None"):
        problem = f"{context.strip()}\n\n{problem}"
    meta = meta_of(record, ["id", "subfield", "answer_type", "unit", "is_multiple_answer", "error"])
    return bench_row(problem, answers_of(record, ["answer", "final_answer"]), meta=meta)


# GPQA ------------------------------------------------------------------------------------------

# Options "A. .." to "D. .." at line starts; an option may run over several lines.
_OPTION_BLOCK = re.compile(r"A\.[ \t]*(.*?)\n\s*B\.[ \t]*(.*?)\n\s*C\.[ \t]*(.*?)\n\s*D\.[ \t]*(.*)", re.S)
_OPTION_A = re.compile(r"^A\.", re.M)
# A trailing one-line answer-format instruction; the evaluation stage adds its own prompt.
_INSTRUCTION = re.compile(r"\n\s*\n[ \t]*(?:please|answer|put|return|choose|select|output)\b[^\n]*\s*\Z", re.I)


def _strip_instructions(text: str) -> str:
    while match := _INSTRUCTION.search(text):
        text = text[: match.start()]
    return text


def _inline_options(text: str) -> tuple[str, list[str]]:
    """Question and options of a problem with "A. ..\nB. .." inlined after the question."""
    body = _strip_instructions(text)
    for start in reversed([match.start() for match in _OPTION_A.finditer(body)]):
        block = _OPTION_BLOCK.fullmatch(body, start)
        if block:
            return body[:start].strip(), [option.strip() for option in block.groups()]
    raise Reject("cannot find options A. to D. in problem")


def _gpqa_source(record: Record) -> tuple[str, list[str], str | None]:
    """Question, the four options as the source lists them, and the source's gold letter
    (None for the hub release, whose correct option has a column of its own and comes first)."""
    if record.get("Question") is not None:
        options = [field(record, "Correct Answer")] + [field(record, f"Incorrect Answer {i}") for i in (1, 2, 3)]
        return field(record, "Question").strip(), [option.strip() for option in options], None
    question, options = _inline_options(field(record, "problem"))
    letter = field(record, "answer").strip().strip("()").upper()
    if letter not in LETTERS:
        raise Reject(f"answer {letter!r} is not one of {', '.join(LETTERS)}")
    return question, options, letter


def option_order(question: str, seed: int) -> list[int]:
    """A permutation of the four options fixed by the seed and the question (hashlib, not the
    salted built-in hash, so every run and machine shuffles alike)."""
    key = f"{seed}\0{normalise_problem(question)}"
    return sorted(range(len(LETTERS)), key=lambda i: hashlib.sha256(f"{key}\0{i}".encode()).digest())


def gpqa_diamond(record: Record, options: Options) -> dict[str, Any]:
    """GPQA Diamond from the hub's columns or a processed file with the options inlined. The
    options are reshuffled either way: the processed file lists the correct one first in every
    row, so a model that always answers "A" would score 100%."""
    question, listed, source_letter = _gpqa_source(record)
    if not question or not all(listed):
        raise Reject("empty question or option")
    # Correct option first, the others in source order: both releases then shuffle alike.
    gold = LETTERS.index(source_letter or "A")
    ranked = [listed[gold]] + listed[:gold] + listed[gold + 1 :]
    order = option_order(question, int(options.get("seed", 0)))
    shuffled = [ranked[i] for i in order]
    problem = question + "\n\n" + "\n".join(f"{letter}. {option}" for letter, option in zip(LETTERS, shuffled))
    meta = {
        "original_letter": source_letter,
        "original_options": listed,
        **meta_of(record, ["id", "Record ID", "High-level domain", "Subdomain"]),
    }
    return bench_row(problem, [LETTERS[order.index(0)]], kind="choice", meta=meta)


ADAPTERS: dict[str, Adapter] = {
    "aime24": simple(["problem", "Problem"], ["answer", "Answer"], ["id", "ID", "year", "url"]),
    "aime25": simple(["problem", "question"], ["answer"], ["id"]),
    "math500": simple(["problem"], ["answer"], ["subject", "type", "level", "difficulty", "unique_id"]),
    "amc": simple(["problem"], ["answer"], ["url", "difficulty"]),
    "minerva": simple(["problem"], ["answer"], ["type", "idx"]),
    "olympiadbench": olympiadbench,
    "gpqa-diamond": gpqa_diamond,
}


def get_adapter(name: str) -> Adapter:
    return registry_lookup(ADAPTERS, name, "benchmark")
