"""Adapters for the training sources: each maps one raw row of a source (its real hub schema,
saved as parquet, jsonl, json or csv) to the unified problem row that `ingest.stage_source`
checks, or rejects it with a reason. The helpers at the top are shared with `benchmarks`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lightr1.data.ingest import Adapter, Reject, field
from lightr1.errors import Lightr1Error
from lightr1.text import last_boxed

Record = Mapping[str, Any]
Options = Mapping[str, Any]

R1 = "deepseek-r1"
SHORT_ANSWER_CHARS = 100


# --- helpers shared by source and benchmark adapters ---------------------------------------


def pick(record: Record, names: Sequence[str], kind: type | tuple[type, ...] = str, *, optional: bool = False) -> Any:
    """The value of the first of several alias columns that the row fills (releases of one
    dataset spell a column differently: `problem` / `Problem` / `question`)."""
    for name in names:
        if record.get(name) is not None:
            return field(record, name, kind)
    if optional:
        return None
    raise Reject(f"missing field {' / '.join(repr(name) for name in names)}")


def render_answer(value: Any) -> str:
    """An answer as text: hub files store some as numbers (27, 27.0), which must read "27"."""
    if isinstance(value, bool):
        raise Reject(f"answer is a boolean ({value})")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise Reject(f"answer is {value}")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value.strip()
    raise Reject(f"answer is {type(value).__name__}, expected string or number")


def answer_field(record: Record, names: Sequence[str], *, optional: bool = False) -> str | None:
    value = pick(record, names, (str, int, float), optional=optional)
    return None if value is None else render_answer(value)


def meta_of(record: Record, names: Sequence[str]) -> dict[str, Any]:
    """The row's non-null values of these columns, kept for reports and audits."""
    return {name: record[name] for name in names if record.get(name) is not None}


def teacher(text: str, correct: bool | None, model: str) -> dict[str, Any]:
    return {"text": text, "correct": correct, "model": model}


def think_responses(record: Record, reasoning: str, final: str, correct: bool | None, model: str) -> list[dict[str, Any]]:
    """The R1-style response `<think>reasoning</think> final` built from two columns, or none
    when the row carries no reasoning (the problem is still usable without a teacher)."""
    trace = field(record, reasoning, optional=True)
    if trace is None:
        return []
    text = f"<think>\n{trace.strip()}\n</think>\n\n{field(record, final).strip()}"
    return [teacher(text, correct, model)]


def problem_row(problem: str, answer: str | None, *, solution: str | None = None, responses: Sequence[dict[str, Any]] = (), meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"problem": problem, "answer": answer, "solution": solution, "teacher_responses": list(responses), "meta": dict(meta or {})}


def boxed_answer(text: str, what: str) -> str:
    answer = last_boxed(text)
    if answer is None:
        raise Reject(f"no \\boxed answer in {what}")
    return answer


def registry_lookup(registry: Mapping[str, Adapter], name: str, kind: str) -> Adapter:
    try:
        return registry[name]
    except KeyError:
        raise Lightr1Error(f"unknown {kind} adapter '{name}' (known: {', '.join(sorted(registry))})") from None


# --- adapters ----------------------------------------------------------------------------------


def plain(problem: str, answer: str, solution: str, meta: Sequence[str] = ()) -> Adapter:
    """An adapter for a source whose rows are simply a problem, an answer and a solution,
    under these column names."""

    def adapt(record: Record, options: Options) -> dict[str, Any]:
        return problem_row(
            field(record, problem),
            answer_field(record, [answer]),
            solution=field(record, solution, optional=True),
            meta=meta_of(record, meta),
        )

    return adapt


def openr1_math(record: Record, options: Options) -> dict[str, Any]:
    """open-r1/OpenR1-Math-220k: R1 generations, each verified by math-verify."""
    question_type = field(record, "question_type", optional=True)
    if question_type == "proof":
        raise Reject("proof problem (question_type 'proof'): no answer to check")
    generations = field(record, "generations", list, optional=True) or []
    verified = field(record, "correctness_math_verify", list, optional=True) or []
    responses = [
        teacher(text, verified[i] if i < len(verified) and isinstance(verified[i], bool) else None, R1)
        for i, text in enumerate(generations)
    ]
    return problem_row(
        field(record, "problem"),
        answer_field(record, ["answer"]),
        solution=field(record, "solution", optional=True),
        responses=responses,
        meta=meta_of(record, ["source", "problem_type", "question_type", "uuid"]),
    )


def openthoughts(record: Record, options: Options) -> dict[str, Any]:
    """open-thoughts/OpenThoughts-114k (config "metadata"): math rows only; the answer is the
    last box of the reference solution, the teacher response is R1's trace and solution."""
    domain = field(record, "domain")
    if domain != "math":
        raise Reject(f"domain '{domain}' is not math")
    reference = field(record, "ground_truth_solution")
    return problem_row(
        field(record, "problem"),
        boxed_answer(reference, "ground_truth_solution"),
        solution=reference,
        responses=think_responses(record, "deepseek_reasoning", "deepseek_solution", None, R1),
        meta=meta_of(record, ["source", "domain"]),
    )


def s1k(record: Record, options: Options) -> dict[str, Any]:
    """simplescaling/s1K-1.1: the answer is the solution's last box, or the whole solution
    when that is a short one-liner (many s1K solutions are bare answers); R1 graded Yes/No."""
    solution = field(record, "solution")
    answer = last_boxed(solution)
    if answer is None:
        short = solution.strip()
        if "\n" in short or len(short) > SHORT_ANSWER_CHARS:
            raise Reject("no \\boxed answer in solution and solution is not a short answer")
        answer = short
    grade = field(record, "deepseek_grade", optional=True)
    correct = None if grade is None else grade.strip() == "Yes"
    return problem_row(
        field(record, "question"),
        answer,
        solution=solution,
        responses=think_responses(record, "deepseek_thinking_trajectory", "deepseek_attempt", correct, R1),
        meta=meta_of(record, ["cot_type", "source_type"]),
    )


def hendrycks_math(record: Record, options: Options) -> dict[str, Any]:
    """hendrycks MATH: the answer is the solution's last box, unless the file already carries
    an `answer` column (DeepScaleR's processed release, which has no solution)."""
    solution = field(record, "solution", optional=True)
    answer = answer_field(record, ["answer"], optional=True)
    if answer is None:
        if solution is None:
            raise Reject("missing field 'answer' and field 'solution'")
        answer = boxed_answer(solution, "solution")
    return problem_row(
        field(record, "problem"),
        answer,
        solution=solution,
        meta=meta_of(record, ["level", "difficulty", "type"]),
    )


def _year(record: Record) -> int:
    value = pick(record, ["year", "Year"], (int, float, str))
    try:
        return int(render_answer(value))
    except ValueError:
        raise Reject(f"year {value!r} is not a number") from None


def aime(record: Record, options: Options) -> dict[str, Any]:
    """AIME training rows (schema of Light-R1's aime.json, or gneubig/aime-1983-2024). Years
    after `max_year` are benchmark years and must never be trained on."""
    year, max_year = _year(record), int(options.get("max_year", 2023))
    if year > max_year:
        raise Reject(f"AIME {year} is after max_year {max_year} (a benchmark year)")
    return problem_row(
        pick(record, ["problem", "Question"]),
        answer_field(record, ["answer", "Answer"]),
        solution=field(record, "solution", optional=True),
        meta={"year": year, **meta_of(record, ["ID", "aime_number", "Part", "problem_number", "Problem Number", "difficulty"])},
    )


_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant", "system": "system"}
_THINK_END = "</think>"


def _turns(record: Record) -> list[tuple[str, str]]:
    """ShareGPT turns as (role, text), in either spelling: from/value or role/content."""
    turns = []
    for index, turn in enumerate(field(record, "conversations", list)):
        if not isinstance(turn, Mapping):
            raise Reject(f"turn {index} is {type(turn).__name__}, not an object")
        role_key, text_key = ("from", "value") if turn.get("from") is not None else ("role", "content")
        role, text = turn.get(role_key), turn.get(text_key)
        if not isinstance(role, str) or role not in _ROLES or not isinstance(text, str):
            raise Reject(f"turn {index} is malformed (role {role!r}, text {type(text).__name__})")
        turns.append((_ROLES[role], text))
    return turns


def light_r1_sft(record: Record, options: Options) -> dict[str, Any]:
    """qihoo360/Light-R1-SFTData: a user question and one verified long-CoT answer; the answer
    is the last box after the reasoning (a box inside the thinking is not a final answer)."""
    turns = _turns(record)
    user = next((i for i, (role, _) in enumerate(turns) if role == "user"), None)
    if user is None:
        raise Reject("no user turn in conversations")
    response = next((text for role, text in turns[user + 1 :] if role == "assistant"), None)
    if response is None:
        raise Reject("no assistant turn after the user turn")
    if _THINK_END not in response:
        raise Reject(f"assistant turn has no {_THINK_END} (unfinished reasoning)")
    final = response.rsplit(_THINK_END, 1)[1]
    return problem_row(
        turns[user][1],
        boxed_answer(final, f"the assistant turn after {_THINK_END}"),
        responses=[teacher(response, True, "light-r1-sft")],
    )


ADAPTERS: dict[str, Adapter] = {
    "openr1-math-220k": openr1_math,
    "openthoughts-114k": openthoughts,
    "limo": plain("question", "answer", "solution"),
    "s1k-1.1": s1k,
    "openmathinstruct-2": plain("problem", "expected_answer", "generated_solution", ["problem_source"]),
    "omni-math": plain("problem", "answer", "solution", ["domain", "difficulty", "source"]),
    "hendrycks-math": hendrycks_math,
    "deepscaler": plain("problem", "answer", "solution"),
    "aime": aime,
    "light-r1-sft": light_r1_sft,
}


def get_adapter(name: str) -> Adapter:
    return registry_lookup(ADAPTERS, name, "source")

