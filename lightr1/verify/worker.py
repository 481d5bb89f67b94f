"""The verifier's worker processes, speaking JSON lines over stdin/stdout.

    python -m lightr1.verify.worker          math-verify for what the fast path cannot decide:
                                             {"golds": [...], "answer": "...", "timeout": 5} ->
                                             {"correct": bool, "reason": "match"|"mismatch"|"unparsable"}
    python -m lightr1.verify.worker --bulk   whole rows, for `verify_many(..., workers=N)`:
                                             {"rows": [[gold, response, kind], ...], "options": {...}} ->
                                             {"verdicts": [[correct, extracted, reason], ...]}

The parent's watchdog kills a math-verify worker that overruns, so math-verify's own
SIGALRM timeouts are off. As a backstop for an orphan (its parent killed while it computes
something huge, where reading stdin would never notice), each question sets a CPU-time limit
at which the kernel ends the process.
"""

from __future__ import annotations

import json
import logging
import resource
import signal
import sys
import threading
from typing import Any


def _limit_cpu(seconds: float) -> None:
    used = resource.getrusage(resource.RUSAGE_SELF)
    soft = int(used.ru_utime + used.ru_stime + seconds) + 1
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _mv_input(text: str) -> str:
    return text if "$" in text or "\\boxed" in text else f"${text}$"


def slow_equivalent(golds: list[str], answer: str) -> tuple[bool, str]:
    """math-verify on the strings as given, then as normalised by the fast path's rules (units,
    thousands separators...), gold first: math-verify is asymmetric."""
    from math_verify import parse, verify

    from lightr1.verify.mathexpr import normalise

    readable = False
    for gold in golds:
        attempts = {(gold, answer), (normalise(gold), normalise(answer))}
        for gold_text, answer_text in attempts:
            parsed_gold = parse(_mv_input(gold_text), parsing_timeout=None)
            parsed_answer = parse(_mv_input(answer_text), parsing_timeout=None)
            readable = readable or any(not isinstance(x, str) for x in parsed_answer)
            if parsed_gold and parsed_answer and verify(parsed_gold, parsed_answer, timeout_seconds=None):
                return True, "match"
    return False, "mismatch" if readable else "unparsable"


def _serve_math(lines: Any, out: Any) -> None:
    import math_verify  # noqa: F401  (imported before "ready", so the watchdog times questions only)

    out.write("ready\n")
    out.flush()
    for line in lines:
        request = json.loads(line)
        _limit_cpu(max(30.0, 4 * float(request.get("timeout", 5.0))))
        correct, reason = slow_equivalent(request["golds"], request["answer"])
        out.write(json.dumps({"correct": correct, "reason": reason}) + "\n")
        out.flush()


def _serve_bulk(lines: Any, out: Any) -> None:
    from lightr1.verify.verdicts import start_workers, verify_many

    threading.Thread(target=start_workers, daemon=True).start()  # its math-verify worker imports while rows arrive
    for line in lines:
        request = json.loads(line)
        try:
            verdicts = verify_many([tuple(row) for row in request["rows"]], workers=1, **request["options"])
            reply: dict[str, Any] = {"verdicts": [[v.correct, v.extracted, v.reason] for v in verdicts]}
        except ValueError as err:
            reply = {"error": str(err)}
        out.write(json.dumps(reply) + "\n")
        out.flush()


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when a worker ends
    logging.disable(logging.WARNING)  # math-verify warns that its timeouts are off: they are meant to be
    if argv == ["--bulk"]:
        _serve_bulk(sys.stdin, sys.stdout)
    else:
        _serve_math(sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
