"""The `openai` backend: any OpenAI-compatible server (vLLM `serve`, SGLang, the DeepSeek API,
`transformers serve`), queried with bounded concurrency, retries and an on-disk request cache.

Every sample is its own request (n=1, seed = prompt seed + sample index): some servers ignore
`n`, and one request per sample makes the cache per sample, so a killed job re-sends only what
had not finished. The API key is read from the environment variable named in config and lives
only in the request headers: never in logs, errors, cache files or outputs.
"""

from __future__ import annotations

import email.utils
import hashlib
import itertools
import json
import logging
import math
import os
import random
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from lightr1.errors import Lightr1Error
from lightr1.faults import kill_point
from lightr1.generation import Completion, Prompt, Sampling

log = logging.getLogger(__name__)

ENDPOINTS = {"completions": "/v1/completions", "chat": "/v1/chat/completions"}
RETRY_STATUSES = frozenset({408, 425, 429})  # plus every 5xx
LENGTH_REASONS = frozenset({"length", "max_tokens", "model_length"})
MAX_WAIT = 600.0  # a Retry-After longer than this is a server telling us to give up
SEED_MODULUS = 2**63  # servers validate seeds as signed 64-bit integers


class RetryableError(Exception):
    """A failure worth another try: 429/5xx, a dropped connection, a timeout."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Backend:
    def __init__(
        self,
        model: str,
        base_url: str,
        endpoint: str = "completions",
        api_key_env: str | None = None,
        concurrency: int = 8,
        timeout: float = 600,
        max_retries: int = 6,
        cache_dir: str | None = None,
        max_model_len: int | None = None,
        tokenizer: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
        backoff: float = 1.0,
    ) -> None:
        """`tokenizer` (a local folder or hub id; defaults to `model` when that is a local folder)
        counts prompt tokens for the `max_model_len` check. `extra_body` is merged into every
        request, for server-specific fields (vLLM: {"skip_special_tokens": false}; transformers
        serve: {"generation_config": "{\\"do_sample\\": true}"}, without which it decodes
        greedily). `backoff` is the first retry wait in seconds, doubled per attempt."""
        if endpoint not in ENDPOINTS:
            raise Lightr1Error(f"unknown openai endpoint {endpoint!r} (known: {', '.join(ENDPOINTS)})")
        if concurrency < 1 or max_retries < 0:
            raise Lightr1Error(f"openai backend: concurrency must be >= 1 and max_retries >= 0 (got {concurrency}, {max_retries})")
        self.model = model
        self.url = base_url.rstrip("/").removesuffix("/v1") + ENDPOINTS[endpoint]
        self.endpoint = endpoint
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.max_model_len = max_model_len
        self.extra_body = dict(extra_body or {})
        self._api_key = _read_key(api_key_env)
        self._local = threading.local()
        self._cached_count = itertools.count(1)  # thread-safe: next() holds the GIL
        self._tokenizer = _load_tokenizer(tokenizer or model, explicit=tokenizer is not None) if max_model_len else None

    def __repr__(self) -> str:  # the key must not surface in a repr either
        return f"openai.Backend(model={self.model!r}, url={self.url!r}, endpoint={self.endpoint!r})"

    # -- requests --------------------------------------------------------------------------

    def request_body(self, prompt: Prompt, sampling: Sampling, sample: int) -> dict[str, Any]:
        """The JSON body of one sample's request."""
        body: dict[str, Any] = {"model": self.model}
        if self.endpoint == "completions":
            if not prompt.text:
                raise Lightr1Error(f"prompt {prompt.key!r} has no rendered text: the completions endpoint needs one (or use endpoint: chat)")
            body["prompt"] = prompt.text
        else:
            body["messages"] = [dict(m) for m in prompt.messages]
        body.update(
            max_tokens=sampling.max_tokens,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            n=1,
            seed=(prompt.seed + sample) % SEED_MODULUS,
        )
        body.update(self.extra_body)
        return body

    def cache_key(self, body: Mapping[str, Any]) -> str:
        """sha256 of the canonical JSON of model, endpoint and body: the server's address is not
        part of it, so a moved server keeps its cache."""
        canonical = json.dumps({"model": self.model, "endpoint": self.endpoint, "body": body}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def _session(self):
        import requests

        session = getattr(self._local, "session", None)
        if session is None:  # one per worker thread: requests.Session is not thread-safe
            session = self._local.session = requests.Session()
            session.headers["Content-Type"] = "application/json"
            if self._api_key:
                session.headers["Authorization"] = f"Bearer {self._api_key}"
        return session

    def _post_once(self, body: Mapping[str, Any]) -> dict[str, Any]:
        import requests

        try:
            response = self._session().post(self.url, data=json.dumps(body), timeout=self.timeout)
        except requests.Timeout:
            raise RetryableError(f"no answer from {self.url} within {self.timeout} s") from None
        except requests.RequestException as err:
            raise RetryableError(self._scrub(f"cannot reach {self.url}: {type(err).__name__}: {err}")) from None
        if response.status_code in RETRY_STATUSES or response.status_code >= 500:
            raise RetryableError(self._status_message(response), _retry_after(response.headers.get("Retry-After")))
        if response.status_code >= 400:
            raise Lightr1Error(self._status_message(response))
        try:
            return response.json()
        except ValueError:
            raise RetryableError(f"{self.url} answered {response.status_code} with a body that is not JSON: {self._scrub(response.text[:200])!r}") from None

    def _post(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """POST with retries: exponential backoff with jitter, or the server's Retry-After."""
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            try:
                return self._post_once(body)
            except RetryableError as err:
                if attempt + 1 == attempts:
                    raise Lightr1Error(f"gave up after {attempts} attempts: {err}") from None
                wait_s = err.retry_after if err.retry_after is not None else self.backoff * 2**attempt * random.uniform(0.5, 1.0)
                wait_s = min(wait_s, MAX_WAIT)
                log.warning("%s; retry %d/%d in %.1f s", err, attempt + 1, self.max_retries, wait_s)
                time.sleep(wait_s)
        raise AssertionError("unreachable")

    def _status_message(self, response) -> str:
        return self._scrub(f"{self.url} answered HTTP {response.status_code}: {_error_text(response)}")

    def _scrub(self, text: str) -> str:
        """Remove the key from server text before it reaches a message (some servers echo it)."""
        return text.replace(self._api_key, "***") if self._api_key else text

    # -- one sample, cached ------------------------------------------------------------------

    def _cache_path(self, key: str) -> Path | None:
        return self.cache_dir / key[:2] / f"{key}.json" if self.cache_dir else None

    def _cached(self, key: str) -> dict[str, Any] | None:
        path = self._cache_path(key)
        if path is None or not path.is_file():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # unreadable: ask again (writes are atomic, so this is rare)
        return entry if isinstance(entry, dict) and {"text", "finish_reason", "tokens"} <= entry.keys() else None

    def _sample(self, prompt: Prompt, sampling: Sampling, sample: int, body: dict[str, Any], key: str) -> Completion:
        record = parse_response(self._post(body), self.endpoint, sampling.max_tokens, self._count_tokens)
        path = self._cache_path(key)
        if path is not None:
            from lightr1.io import atomic_path

            entry = {"model": self.model, "endpoint": self.endpoint, "seed": body["seed"], **record}
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(entry, ensure_ascii=False) + "\n", encoding="utf-8")
            kill_point("openai-request", next(self._cached_count))
        return Completion(key=prompt.key, sample=sample, **record)

    # -- the interface -----------------------------------------------------------------------

    def generate(self, prompts: Sequence[Prompt], sampling: Sampling) -> list[Completion]:
        from tqdm import tqdm

        self._check_context(prompts, sampling.max_tokens)
        jobs = [(prompt, sample) for prompt in prompts for sample in range(sampling.n)]
        results: list[Completion | None] = [None] * len(jobs)
        todo = []
        for index, (prompt, sample) in enumerate(jobs):
            body = self.request_body(prompt, sampling, sample)
            key = self.cache_key(body)
            cached = self._cached(key)
            if cached is not None:
                results[index] = Completion(key=prompt.key, sample=sample, text=cached["text"], finish_reason=cached["finish_reason"], tokens=cached["tokens"])
            else:
                todo.append((index, prompt, sample, body, key))
        with tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc=f"{self.endpoint} {self.model}", unit="sample") as bar:
            self._run(todo, sampling, results, bar)
        return [r for r in results if r is not None]

    def _run(self, todo: list, sampling: Sampling, results: list, bar) -> None:
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="lightr1-openai") as pool:
            futures = {pool.submit(self._sample, prompt, sampling, sample, body, key): index for index, prompt, sample, body, key in todo}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for future in done:
                    if future.exception() is not None:
                        for other in pending:
                            other.cancel()  # what finished is cached; a re-run sends only the rest
                        raise future.exception()
                    results[futures[future]] = future.result()
                    bar.update(1)

    def _count_tokens(self, text: str) -> int:
        """Tokens of a response the server did not count: exact with a tokenizer at hand, else
        OpenAI's rule of thumb of about 4 characters per token (an estimate)."""
        if self._tokenizer is not None:
            return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])
        return math.ceil(len(text) / 4)

    def _check_context(self, prompts: Sequence[Prompt], max_tokens: int) -> None:
        """Fail before sending anything when a prompt plus max_tokens exceeds max_model_len:
        servers differ in whether they refuse such a request or silently cut the response."""
        if not self.max_model_len:
            return
        from lightr1.generation.prompts import check_context

        counts = {prompt.key: len(self._tokenizer(self._prompt_text(prompt), add_special_tokens=False)["input_ids"]) for prompt in prompts}
        check_context(counts, max_tokens, self.max_model_len)

    def _prompt_text(self, prompt: Prompt) -> str:
        if self.endpoint == "completions" or not getattr(self._tokenizer, "chat_template", None):
            return prompt.text or "".join(m["content"] for m in prompt.messages)
        return self._tokenizer.apply_chat_template([dict(m) for m in prompt.messages], add_generation_prompt=True, tokenize=False)

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()


def parse_response(data: Mapping[str, Any], endpoint: str, max_tokens: int, count_tokens) -> dict[str, Any]:
    """text, finish_reason and tokens of a one-choice response. A chat response's separate
    reasoning (`reasoning_content`, or `reasoning` on newer vLLM) is joined back in front of the
    answer as a `<think>` block, so every backend yields the same text shape."""
    try:
        choice = data["choices"][0]
        if endpoint == "completions":
            text = choice["text"] or ""
        else:
            message = choice["message"]
            text = message.get("content") or ""
            reasoning = message.get("reasoning_content") or message.get("reasoning")
            if reasoning:
                text = f"<think>\n{reasoning}\n</think>\n\n{text}"
    except (KeyError, IndexError, TypeError) as err:
        raise Lightr1Error(f"unexpected response shape (no {err}): {json.dumps(data)[:300]}") from None
    usage = data.get("usage") or {}
    tokens = usage.get("completion_tokens")
    tokens = int(tokens) if isinstance(tokens, int) else count_tokens(text)
    return {"text": text, "finish_reason": finish_reason(choice.get("finish_reason"), tokens, max_tokens), "tokens": tokens}


def finish_reason(reason: str | None, tokens: int, max_tokens: int) -> str:
    """The contract's reason: "length" for a response cut at max_tokens (by whatever name the
    server gives it), "stop" otherwise; a server that names no reason is judged by its tokens."""
    if reason in LENGTH_REASONS:
        return "length"
    if reason is None:
        return "length" if tokens >= max_tokens else "stop"
    return "stop"


def _read_key(env: str | None) -> str | None:
    if not env:
        return None
    key = os.environ.get(env)
    if not key:
        raise Lightr1Error(f"openai backend: the environment variable {env} (api_key_env) is not set or empty")
    return key


def _load_tokenizer(name: str, explicit: bool):
    """A tokenizer to count prompt tokens with; `model` counts only when it is a local folder
    (a served name like "deepseek-reasoner" names no tokenizer)."""
    if not explicit and not Path(name).is_dir():
        raise Lightr1Error(f"openai backend: max_model_len needs a tokenizer to count prompt tokens; {name!r} is not a local model folder, so set `tokenizer`")
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as err:
        raise Lightr1Error(f"openai backend: cannot load tokenizer {name!r}: {err}") from err


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _error_text(response) -> str:
    """The server's own words: OpenAI's {"error": {"message"}}, FastAPI's {"detail"}, or text."""
    try:
        data = response.json()
    except ValueError:
        return response.text[:500] or response.reason or ""
    if isinstance(data, dict):
        error = data.get("error", data.get("detail", data.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:500]
    return json.dumps(data)[:500]
