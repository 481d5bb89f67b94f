"""Answer verification: is a response right, against one gold answer or any of several?

    verify(gold, response, kind="math", *, whole_response=False, forced_think=False, timeout=5.0) -> Verdict
    verify_many(rows, *, workers=1, timeout=5.0, whole_response=False, forced_think=False) -> list[Verdict]
    iter_verdicts(rows, ...) -> Iterator[Verdict]      the same, lazily (rows are (gold, response, kind))
    verify_file(path, out, ...)                        the `lightr1 verify` command
    start_workers(n=1)                                 start math-verify workers ahead of time

`Verdict(correct, extracted, reason)`; the reasons:

    match       the answer equals a gold
    mismatch    the answer was compared with every gold and equals none
    no_answer   nothing to compare: no `\\boxed{}` (for kind `choice`: no option letter) where the
                answer is looked for, an empty box, or reasoning that never closed
    unparsable  neither the fast parser nor math-verify could read the answer or the golds (or
                math-verify's worker died on them)
    timeout     math-verify took longer than `timeout` seconds: its worker was killed
    bad_row:... (the `lightr1 verify` command only) an input row that cannot be verified

Where the answer is: after the last `</think>`. A response that opened `<think>` and never
closed it has no answer; with `forced_think=True` (the prompt already ended in `<think>`) a
response without `</think>` has none either. `whole_response=True` searches the whole response
and ignores the tags (Light-R1's own evaluation). Kind `math` takes the last `\\boxed{}` or
`\\fbox{}`; kind `choice` takes an option letter (`\\boxed{C}`, `Answer: C`, `**C**`...).

How: `lightr1.mathexpr` decides most pairs in microseconds (normalisation, exact rationals,
numeric evaluation at fixed points); what it cannot read goes to math-verify in a worker
process (`lightr1.verify_worker`, JSON lines over pipes), which a watchdog kills once it
overruns `timeout` (math-verify's own SIGALRM timeouts fail off the main thread, and
multiprocessing's daemonic workers may not start pools, but may start a subprocess). The
worker pool starts lazily, is shared by threads, restarts after a fork and stops at exit.
The time bound counts from when a started worker takes the question: starting a worker
(about a second, once per worker) comes on top. Verdicts are cached per (golds, answer).
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lightr1.text import last_boxed
from lightr1.verify import mathexpr

MATCH, MISMATCH, NO_ANSWER, UNPARSABLE, TIMEOUT = "match", "mismatch", "no_answer", "unparsable", "timeout"
REASONS = (MATCH, MISMATCH, NO_ANSWER, UNPARSABLE, TIMEOUT)
KINDS = ("math", "choice")
STARTUP_LIMIT = 60.0  # seconds for a worker to import math-verify; beyond, something is broken
CHUNK = 256  # rows per message to a bulk worker
PROGRESS_MIN = 1000  # rows from which `verify_file` shows a progress bar

Gold = str | int | float | Sequence[str | int | float]


@dataclass(frozen=True, slots=True)
class Verdict:
    correct: bool
    extracted: str | None
    reason: str


def verify(gold: Gold, response: str, kind: str = "math", *, whole_response: bool = False, forced_think: bool = False, timeout: float = 5.0) -> Verdict:
    """Whether `response` answers with (any of) the gold answer(s)."""
    golds = gold_list(gold)
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r} (expected one of {', '.join(KINDS)})")
    region = answer_region(response, whole_response=whole_response, forced_think=forced_think)
    if region is None:
        return Verdict(False, None, NO_ANSWER)
    if kind == "choice":
        letter = choice_letter(region)
        if letter is None:
            return Verdict(False, None, NO_ANSWER)
        correct = letter in {_gold_letter(g) for g in golds}
        return Verdict(correct, letter, MATCH if correct else MISMATCH)
    extracted = last_boxed(region)
    if not extracted:
        return Verdict(False, None, NO_ANSWER)
    correct, reason = judge(golds, extracted, timeout)
    return Verdict(correct, extracted, reason)


def gold_list(gold: Gold) -> tuple[str, ...]:
    """Golds as a tuple of strings (numbers, as some benchmark files store them, become text)."""
    items = [gold] if isinstance(gold, (str, int, float)) else list(gold)
    golds = tuple(str(g) for g in items if g is not None and str(g).strip())
    if not golds:
        raise ValueError("no gold answer")
    return golds


def answer_region(response: str, *, whole_response: bool = False, forced_think: bool = False) -> str | None:
    """The part of a response the answer is taken from; None when the reasoning never ended."""
    if whole_response:
        return response
    end = response.rfind("</think>")
    if end >= 0:
        return response[end + len("</think>") :]
    if forced_think or "<think>" in response:
        return None
    return response


@lru_cache(maxsize=1 << 16)
def judge(golds: tuple[str, ...], answer: str, timeout: float = 5.0) -> tuple[bool, str]:
    """(correct, reason) for an extracted answer: the fast path, then math-verify for the golds
    it could not decide."""
    undecided = []
    for gold in golds:
        for variant in mathexpr.percent_variants(gold):
            try:
                if mathexpr.equivalent(variant, answer):
                    return True, MATCH
            except mathexpr.Undecided:
                undecided.append(variant)
    if not undecided:
        return False, MISMATCH
    reply = _pool().ask({"golds": undecided, "answer": answer, "timeout": timeout}, timeout)
    if reply is None:
        return False, TIMEOUT
    if reply["correct"]:
        return True, MATCH
    decided_some = len(undecided) < sum(len(mathexpr.percent_variants(g)) for g in golds)
    return False, MISMATCH if decided_some else reply["reason"]


def clear_caches() -> None:
    """Forget cached verdicts and parsed answers (benchmarks time cold caches)."""
    judge.cache_clear()
    mathexpr.clear_cache()


# ------------------------------------------------------------------------------------------
# Multiple choice.

_LETTER = r"\(?\s*([A-J])\s*\)?"
_SAYS = re.compile(r"(?i:answer|choice|option)(?:\s+(?i:is))?\s*[:=]?\s*(?:\*\*|\$|\\boxed\{|\\text(?:bf)?\{|\s)*" + _LETTER + r"(?![A-Za-z0-9])")
_BOLD = re.compile(r"\*\*\s*" + _LETTER + r"\s*[.:]?\s*\*\*")
_ALONE = re.compile(r"[\s*$.:(]*" + _LETTER + r"[\s*$.:)]*")
_BOXED_LETTER = re.compile(r"\(?([A-J])(?:\)|[.:]|\s|$)")


def choice_letter(region: str) -> str | None:
    """The option letter a response gives: in a box, after "answer is"/"Answer:", in bold, or
    alone on the last line."""
    boxed = last_boxed(region)
    if boxed is not None:
        inner = re.sub(r"\\(?:text|textbf|mathrm|mathbf)\{([^{}]*)\}", r"\1", boxed).replace("*", "").replace("$", "").strip()
        match = _BOXED_LETTER.match(inner)
        if match:
            return match.group(1)
    for pattern in (_SAYS, _BOLD):
        found = pattern.findall(region)
        if found:
            return found[-1]
    lines = [line for line in region.strip().splitlines() if line.strip()]
    match = _ALONE.fullmatch(lines[-1]) if lines else None
    return match.group(1) if match else None


def _gold_letter(gold: str) -> str:
    return gold.strip().strip("()").strip().upper()


# ------------------------------------------------------------------------------------------
# The slow path: math-verify in worker processes, under a watchdog.


def _worker_command(*args: str) -> tuple[list[str], dict[str, str]]:
    root = str(Path(__file__).resolve().parent.parent)  # this package, also when not installed
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}
    return [sys.executable, "-m", "lightr1.verify.worker", *args], env


class _WorkerDied(Exception):
    pass


class _Worker:
    """One math-verify process. A reader thread feeds its lines to a queue, so that waiting for
    an answer can time out."""

    def __init__(self) -> None:
        command, env = _worker_command()
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, encoding="utf-8", env=env)
        self.lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self.ready = False
        threading.Thread(target=self._read, args=(self.process.stdout, self.lines), daemon=True).start()

    @staticmethod
    def _read(stream: Any, lines: queue.SimpleQueue) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    def wait_ready(self) -> None:
        """Wait for the worker's import of math-verify (not counted in any question's time)."""
        if not self.ready:
            try:
                first = self.lines.get(timeout=STARTUP_LIMIT)
            except queue.Empty:
                first = None
            if first != "ready\n":
                raise RuntimeError(f"the verify worker did not start ({' '.join(_worker_command()[0])})")
            self.ready = True

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The worker's reply, or None when it overran `timeout`; raises _WorkerDied."""
        self.wait_ready()
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except OSError as err:
            raise _WorkerDied from err
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        if line is None:
            raise _WorkerDied
        return json.loads(line)

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()

    def close(self) -> None:
        try:
            self.process.stdin.close()  # the worker ends at the end of its input
            self.process.wait(timeout=1)
        except (OSError, subprocess.TimeoutExpired):
            self.stop()


class _Pool:
    """Workers shared by threads: one question per worker at a time, at most `size` workers,
    started when first needed. A worker that overruns is killed and replaced at once."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.pid = os.getpid()
        self.idle: list[_Worker] = []
        self.count = 0
        self.available = threading.Condition()

    def ask(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        worker = self._acquire()
        try:
            reply = worker.ask(request, timeout)
        except _WorkerDied:  # e.g. a crash deep in sympy: the question gets no answer
            worker.stop()
            self._release(_Worker())
            return {"correct": False, "reason": UNPARSABLE}
        except BaseException:
            worker.stop()
            self._release(None)
            raise
        if reply is None:
            worker.stop()
            self._release(_Worker())  # started now, it is ready by the next question
            return None
        self._release(worker)
        return reply

    def _acquire(self) -> _Worker:
        with self.available:
            while not self.idle and self.count >= self.size:
                self.available.wait()
            if self.idle:
                return self.idle.pop()
            self.count += 1
        try:
            return _Worker()
        except BaseException:
            self._release(None)
            raise

    def _release(self, worker: _Worker | None) -> None:
        with self.available:
            if worker is None:
                self.count -= 1
            else:
                self.idle.append(worker)
            self.available.notify()

    def start(self, n: int) -> None:
        workers = [self._acquire() for _ in range(min(n, self.size))]
        try:
            for worker in workers:
                worker.wait_ready()
        finally:
            for worker in workers:
                self._release(worker)

    def close(self) -> None:
        with self.available:
            workers, self.idle = self.idle, []
        for worker in workers:
            worker.close()


_POOL: _Pool | None = None
_POOL_LOCK = threading.Lock()


def _pool() -> _Pool:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL.pid != os.getpid():
            _POOL = _Pool(max(4, os.cpu_count() or 1))
        return _POOL


def start_workers(n: int = 1) -> None:
    """Start n math-verify workers (at most the pool's size) and wait until they are ready, so
    that the first slow answers, or a benchmark's clock, do not pay for their import."""
    _pool().start(n)


def _forget_pool_after_fork() -> None:
    # A forked child must not talk to its parent's workers (nor wait on a lock held at fork time).
    global _POOL, _POOL_LOCK
    _POOL, _POOL_LOCK = None, threading.Lock()


@atexit.register
def _close_pool() -> None:
    if _POOL is not None and _POOL.pid == os.getpid():
        _POOL.close()


os.register_at_fork(after_in_child=_forget_pool_after_fork)


# ------------------------------------------------------------------------------------------
# Many rows.

Row = tuple[Gold, str, str | None]


def iter_verdicts(rows: Iterable[Row], *, workers: int = 1, timeout: float = 5.0, whole_response: bool = False,
                  forced_think: bool = False) -> Iterator[Verdict]:
    """Verdicts of (gold, response, kind) rows, in order, lazily. With workers > 1, chunks of
    rows go to as many `lightr1.verify_worker --bulk` processes (each with its own math-verify
    worker), so the fast path runs on several cores too."""
    options = {"timeout": timeout, "whole_response": whole_response, "forced_think": forced_think}
    if workers <= 1:
        for gold, response, kind in rows:
            yield verify(gold, response, kind or "math", **options)
        return
    yield from _bulk(rows, workers, options)


def verify_many(rows: Iterable[Row], *, workers: int = 1, timeout: float = 5.0, whole_response: bool = False, forced_think: bool = False) -> list[Verdict]:
    """Verdicts of many (gold, response, kind) rows, in order; see `iter_verdicts`."""
    return list(iter_verdicts(rows, workers=workers, timeout=timeout, whole_response=whole_response, forced_think=forced_think))


class _BulkWorker:
    def __init__(self) -> None:
        command, env = _worker_command("--bulk")
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8", env=env)

    def run(self, rows: list[Row], options: dict[str, Any]) -> list[Verdict]:
        self.process.stdin.write(json.dumps({"rows": rows, "options": options}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("a bulk verify worker died")
        reply = json.loads(line)
        if "error" in reply:
            raise ValueError(reply["error"])
        return [Verdict(*verdict) for verdict in reply["verdicts"]]

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _bulk(rows: Iterable[Row], workers: int, options: dict[str, Any]) -> Iterator[Verdict]:
    free: queue.SimpleQueue[_BulkWorker] = queue.SimpleQueue()
    started = [_BulkWorker() for _ in range(workers)]
    for worker in started:
        free.put(worker)

    def run(chunk: list[Row]) -> list[Verdict]:
        worker = free.get()
        try:
            return worker.run(chunk, options)
        finally:
            free.put(worker)

    def chunks() -> Iterator[list[Row]]:
        chunk: list[Row] = []
        for gold, response, kind in rows:
            chunk.append((gold if isinstance(gold, (str, int, float)) else list(gold), response, kind))
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    try:
        with ThreadPoolExecutor(workers) as executor:
            pending: deque = deque()
            for chunk in chunks():
                pending.append(executor.submit(run, chunk))
                if len(pending) >= 2 * workers:  # keep every worker busy, and memory bounded
                    yield from pending.popleft().result()
            while pending:
                yield from pending.popleft().result()
    finally:
        for worker in started:
            worker.close()


# ------------------------------------------------------------------------------------------
# Files (the `lightr1 verify` command).


def verify_file(path: str | os.PathLike, out: str | os.PathLike, *, workers: int = 1, timeout: float = 5.0, whole_response: bool = False,
                forced_think: bool = False) -> None:
    """Rows `{gold, response, kind?}` in, the same rows plus `correct`, `extracted` and `reason`
    out (JSON lines, written atomically, in input order). A row that cannot be verified gets
    `reason: "bad_row:<why>"` rather than stopping the run."""
    from tqdm import tqdm

    from lightr1.errors import InputFileError
    from lightr1.io import atomic_path, count_raw_rows, read_raw

    total = count_raw_rows(path)
    if not total:  # nothing to judge is a wrong file or a failed step before, not a result
        raise InputFileError(f"{path}: no rows")
    pending: deque[tuple[dict[str, Any], str | None]] = deque()

    def valid_rows() -> Iterator[Row]:
        for raw in read_raw(path):
            record = raw.record if raw.record is not None else {}
            why = raw.error or _bad_row(record)
            pending.append((record, why))
            if why is None:
                yield record["gold"], record["response"], record.get("kind")

    def line(record: dict[str, Any], correct: bool, extracted: str | None, reason: str) -> str:
        return json.dumps({**record, "correct": correct, "extracted": extracted, "reason": reason}, ensure_ascii=False, default=str) + "\n"

    def flush_bad(handle: Any, bar: Any) -> None:
        while pending and pending[0][1] is not None:
            record, why = pending.popleft()
            handle.write(line(record, False, None, f"bad_row:{why}"))
            bar.update()

    verdicts = iter_verdicts(valid_rows(), workers=workers, timeout=timeout, whole_response=whole_response, forced_think=forced_think)
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as handle, tqdm(total=total, unit="row", desc="verify", file=sys.stderr,
                                                                                   disable=total < PROGRESS_MIN) as bar:
        for verdict in verdicts:
            flush_bad(handle, bar)
            record, _ = pending.popleft()
            handle.write(line(record, verdict.correct, verdict.extracted, verdict.reason))
            bar.update()
        flush_bad(handle, bar)


def _bad_row(record: dict[str, Any]) -> str | None:
    gold, response, kind = record.get("gold"), record.get("response"), record.get("kind")
    if gold is None:
        return "no gold"
    if not isinstance(gold, (str, int, float, list)) or isinstance(gold, bool):
        return "gold is not a string or a list"
    if isinstance(gold, list) and not all(isinstance(g, (str, int, float)) for g in gold):
        return "gold list holds a non-string"
    try:
        gold_list(gold)
    except ValueError:
        return "empty gold"
    if not isinstance(response, str):
        return "no response" if response is None else "response is not a string"
    if kind is not None and kind not in KINDS:
        return f"unknown kind {kind!r}"
    return None
