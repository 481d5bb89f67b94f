"""The `openai` backend against a real OpenAI-compatible server (`transformers serve` on the
untrained tiny model) and, for error paths a real server cannot be made to produce, a stub."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from lightr1.errors import Lightr1Error
from lightr1.faults import KILL_AT
from lightr1.generation import Prompt, Sampling, load_backend

BIN = Path(sys.executable).parent
# transformers serve decodes greedily unless the model's generation config samples: this
# request field (its own extension) turns sampling on, so `seed` matters.
SAMPLE = {"generation_config": json.dumps({"do_sample": True})}
SECRET = "sk-lightr1-test-3f9a1c7e5b"


# -- the real server ------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    model: str
    log: Path

    def posts(self, path: str = "/v1/") -> int:
        """POST lines in the access log: how many requests reached the server."""
        return sum(1 for line in self.log.read_text(errors="replace").splitlines() if '"POST ' + path in line)

    def settled_posts(self, path: str = "/v1/") -> int:
        """The POST count once it stops moving (a request cut off by a killed client may still
        finish, and be logged, a moment later)."""
        count, stable_since = self.posts(path), time.monotonic()
        while time.monotonic() - stable_since < 1.0:
            time.sleep(0.1)
            now = self.posts(path)
            if now != count:
                count, stable_since = now, time.monotonic()
        return count


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def server(untrained_model_dir, tmp_path_factory) -> Iterator[Server]:
    """`transformers serve` pinned to the local model folder, on a free loopback port, offline;
    its uvicorn access log goes to a file. Requests name the model by the same path string."""
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "server.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [str(BIN / "transformers"), "serve", str(untrained_model_dir), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu"]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"transformers serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"transformers serve not healthy after 90 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield Server(url=url, model=str(untrained_model_dir), log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def prompts(count: int, think: bool = True) -> list[Prompt]:
    """Prompts rendered as the tiny chat template writes them, `<think>` forced."""
    out = []
    for i in range(count):
        chat = ({"role": "user", "content": f"What is {i} + {i + 1}?"},)
        text = f"<|im_start|>user\nWhat is {i} + {i + 1}?<|im_end|>\n<|im_start|>assistant\n" + ("<think>\n" if think else "")
        out.append(Prompt(key=f"q{i}", messages=chat, text=text, seed=1000 * i + 7))
    return out


def check_shape(completions, keys: list[str], n: int, max_tokens: int) -> None:
    assert [(c.key, c.sample) for c in completions] == [(k, s) for k in keys for s in range(n)]
    for c in completions:
        assert c.finish_reason in ("stop", "length")
        assert 0 < c.tokens <= max_tokens
        assert (c.finish_reason == "length") == (c.tokens == max_tokens)


def test_completions_against_transformers_serve(server):
    before = server.posts("/v1/completions")
    backend = load_backend("openai", server.model, {"base_url": server.url, "concurrency": 2, "extra_body": SAMPLE})
    sampling = Sampling(n=3, temperature=1.0, max_tokens=12)
    out = backend.generate(prompts(2), sampling)
    check_shape(out, ["q0", "q1"], 3, 12)
    assert server.settled_posts("/v1/completions") - before == 6  # one request per sample, n=1 each
    assert len({c.text for c in out}) == 6  # seeds differ per sample
    # The same seeds give the same texts, one request at a time: the server seeds torch's global
    # generator when a request arrives, so concurrent requests race for it.
    one = load_backend("openai", server.model, {"base_url": server.url + "/v1", "concurrency": 1, "extra_body": SAMPLE})
    runs = [[c.text for c in one.generate(prompts(1), Sampling(n=2, max_tokens=12))] for _ in range(2)]
    assert runs[0] == runs[1] and runs[0][0] != runs[0][1]
    backend.close()
    one.close()


def test_chat_against_transformers_serve(server):
    before = server.posts("/v1/chat/completions")
    backend = load_backend("openai", server.model, {"base_url": server.url, "endpoint": "chat", "extra_body": SAMPLE})
    chat_only = [Prompt(key=p.key, messages=p.messages, text="", seed=p.seed) for p in prompts(1)]
    out = backend.generate(chat_only, Sampling(n=2, max_tokens=10))
    check_shape(out, ["q0"], 2, 10)
    assert server.settled_posts("/v1/chat/completions") - before == 2


RESUME_SCRIPT = """
import json, sys
from lightr1.generation import Prompt, Sampling, load_backend
url, model, cache, out = sys.argv[1:5]
prompts = [Prompt(key=f"r{i}", messages=({"role": "user", "content": f"{i}*3"},),
                  text=f"<|im_start|>user\\n{i}*3<|im_end|>\\n<|im_start|>assistant\\n<think>\\n", seed=i) for i in range(6)]
backend = load_backend("openai", model, {"base_url": url, "concurrency": 1, "cache_dir": cache,
                                         "extra_body": {"generation_config": json.dumps({"do_sample": True})}})
rows = [c.__dict__ for c in backend.generate(prompts, Sampling(n=2, max_tokens=24))]
open(out, "w").write(json.dumps(rows))
"""


def test_killed_run_resumes_without_repeating_requests(server, tmp_path):
    script, cache, result = tmp_path / "run.py", tmp_path / "cache", tmp_path / "out.json"
    script.write_text(RESUME_SCRIPT)
    command = [sys.executable, str(script), server.url, server.model, str(cache), str(result)]
    start = server.settled_posts()

    def cached() -> int:
        return len(list(cache.glob("*/*.json")))

    # Killed once its third response is cached (concurrency 1: one request at a time).
    env = {**os.environ, KILL_AT: "openai-request:3"}
    first = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env, start_new_session=True)
    assert first.returncode == -9, f"the first run was not killed mid-way (rc {first.returncode}): {first.stderr[-2000:]}"
    done = cached()
    assert done == 3 and not result.exists()
    killed_at = server.settled_posts()
    assert killed_at - start == done  # nothing was in flight

    second = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr[-3000:]
    assert server.settled_posts() - killed_at == 12 - done  # only the missing samples were sent
    rows = json.loads(result.read_text())
    assert sorted((r["key"], r["sample"]) for r in rows) == [(f"r{i}", s) for i in range(6) for s in range(2)]
    assert cached() == 12
    # Every sample's text is the one its cache file holds: resumed rows came from the cache.
    texts = {json.loads(p.read_text())["text"] for p in cache.glob("*/*.json")}
    assert {r["text"] for r in rows} == texts


def test_api_key_never_written(server, tmp_path, monkeypatch, caplog, capfd):
    monkeypatch.setenv("LIGHTR1_TEST_KEY", SECRET)
    caplog.set_level(logging.DEBUG)  # urllib3 and our own retry messages included
    cache, out = tmp_path / "cache", tmp_path / "samples.jsonl"
    backend = load_backend("openai", server.model, {"base_url": server.url, "api_key_env": "LIGHTR1_TEST_KEY", "cache_dir": str(cache), "extra_body": SAMPLE})
    rows = backend.generate(prompts(1), Sampling(n=1, max_tokens=8))
    out.write_text("".join(json.dumps(r.__dict__) + "\n" for r in rows))
    assert SECRET not in repr(backend)
    written = [p for p in tmp_path.rglob("*") if p.is_file()] + [server.log]
    assert len(written) >= 3
    for path in written:
        assert SECRET not in path.read_text(errors="replace"), path
    captured = capfd.readouterr()
    assert SECRET not in caplog.text + captured.out + captured.err


# -- a stub server for error paths ----------------------------------------------------------


def completion_body(text: str = "ok", reason: str | None = "stop", tokens: int | None = 1) -> dict:
    body: dict = {"choices": [{"index": 0, "text": text, "finish_reason": reason}]}
    if tokens is not None:
        body["usage"] = {"prompt_tokens": 3, "completion_tokens": tokens}
    return body


@dataclass
class Stub:
    """Answers POSTs from a script of (status, body, headers, delay), then 200 with `default`."""

    url: str = ""
    script: list = field(default_factory=list)
    default: dict = field(default_factory=completion_body)
    requests: list = field(default_factory=list)


@pytest.fixture
def stub() -> Iterator[Stub]:
    state = Stub()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            status, payload, headers, delay = state.script.pop(0) if state.script else (200, state.default, {}, 0)
            time.sleep(delay)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


def stub_backend(stub: Stub, **options):
    return load_backend("openai", "stub-model", {"base_url": stub.url, "backoff": 0.01, **options})


def test_retries_503_then_succeeds(stub, caplog):
    stub.script = [(503, {"error": {"message": "overloaded"}}, {}, 0)] * 2
    out = stub_backend(stub).generate(prompts(1), Sampling(max_tokens=5))
    assert [c.text for c in out] == ["ok"] and len(stub.requests) == 3
    assert caplog.text.count("HTTP 503: overloaded") == 2
    body = stub.requests[0]["body"]
    assert stub.requests[0]["path"] == "/v1/completions"
    assert body == {"model": "stub-model", "prompt": prompts(1)[0].text, "max_tokens": 5, "temperature": 1.0, "top_p": 1.0, "n": 1, "seed": 7}


def test_429_honours_retry_after(stub):
    stub.script = [(429, {"error": "slow down"}, {"Retry-After": "1"}, 0)]
    start = time.monotonic()
    stub_backend(stub).generate(prompts(1), Sampling())
    assert time.monotonic() - start >= 0.9 and len(stub.requests) == 2


def test_400_raises_clear_error_without_retry(stub):
    stub.script = [(400, {"error": {"message": "max_tokens is too large"}}, {}, 0)]
    with pytest.raises(Lightr1Error, match=r"HTTP 400: max_tokens is too large"):
        stub_backend(stub).generate(prompts(1), Sampling())
    assert len(stub.requests) == 1


def test_gives_up_after_max_retries(stub):
    stub.script = [(500, "boom", {}, 0)] * 10
    with pytest.raises(Lightr1Error, match=r"gave up after 3 attempts: .*HTTP 500: boom"):
        stub_backend(stub, max_retries=2).generate(prompts(1), Sampling())
    assert len(stub.requests) == 3


def test_timeout_and_refused_connection_are_retried_then_reported(stub):
    stub.script = [(200, completion_body(), {}, 1.0)]
    out = stub_backend(stub, timeout=0.3).generate(prompts(1), Sampling())
    assert out[0].text == "ok" and len(stub.requests) == 2  # the slow one timed out, the retry did not
    closed = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Lightr1Error, match=r"gave up after 2 attempts: cannot reach"):
        load_backend("openai", "m", {"base_url": closed, "max_retries": 1, "backoff": 0.01}).generate(prompts(1), Sampling())


def test_chat_reasoning_is_joined_as_think_block(stub):
    answered = {"message": {"content": "So \\boxed{3}.", "reasoning_content": "1+2=3"}, "finish_reason": "stop"}
    cut = {"message": {"content": "cut", "reasoning": "a long thought"}, "finish_reason": "length"}
    stub.script = [(200, {"choices": [answered], "usage": {"completion_tokens": 9}}, {}, 0), (200, {"choices": [cut]}, {}, 0)]
    out = stub_backend(stub, endpoint="chat", concurrency=1).generate(prompts(1), Sampling(n=2, max_tokens=50))
    assert stub.requests[0]["path"] == "/v1/chat/completions" and stub.requests[0]["body"]["messages"] == [dict(prompts(1)[0].messages[0])]
    assert out[0].text == "<think>\n1+2=3\n</think>\n\nSo \\boxed{3}." and out[0].tokens == 9 and out[0].finish_reason == "stop"
    # No usage: tokens fall back to the documented estimate, ceil(characters / 4).
    assert out[1].text == "<think>\na long thought\n</think>\n\ncut" and out[1].tokens == 9 and out[1].finish_reason == "length"


def test_finish_reasons_are_mapped(stub):
    stub.script = [(200, completion_body(reason=r, tokens=t), {}, 0) for r, t in [("max_tokens", 4), ("eos", 2), (None, 4), (None, 3)]]
    out = stub_backend(stub, concurrency=1).generate(prompts(1), Sampling(n=4, max_tokens=4))
    assert [c.finish_reason for c in out] == ["length", "stop", "length", "stop"]


def test_key_stays_secret_on_errors(stub, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("LIGHTR1_TEST_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    echo = {"error": {"message": f"Incorrect API key provided: {SECRET}"}}
    stub.script = [(503, echo, {}, 0), (401, echo, {}, 0)]
    backend = stub_backend(stub, api_key_env="LIGHTR1_TEST_KEY", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(Lightr1Error) as info:
        backend.generate(prompts(1), Sampling())
    assert stub.requests[0]["headers"]["Authorization"] == f"Bearer {SECRET}"  # the key is used...
    assert "HTTP 401: Incorrect API key provided: ***" in str(info.value)  # ...and never repeated
    assert SECRET not in str(info.value) + caplog.text + repr(backend)
    backend.generate(prompts(1), Sampling())  # now the stub answers 200
    for path in tmp_path.rglob("*"):
        assert not path.is_file() or SECRET not in path.read_text(errors="replace")
    monkeypatch.delenv("LIGHTR1_TEST_KEY")
    with pytest.raises(Lightr1Error, match="LIGHTR1_TEST_KEY"):
        stub_backend(stub, api_key_env="LIGHTR1_TEST_KEY")


def test_cache_answers_repeated_requests(stub, tmp_path):
    options = {"cache_dir": str(tmp_path / "cache"), "concurrency": 1}
    first = stub_backend(stub, **options).generate(prompts(2), Sampling(n=2))
    assert len(stub.requests) == 4
    assert stub_backend(stub, **options).generate(prompts(2), Sampling(n=2)) == first
    assert len(stub.requests) == 4
    stub_backend(stub, **options).generate(prompts(2), Sampling(n=3))  # only sample 2 is new
    assert len(stub.requests) == 6 and [r["body"]["seed"] for r in stub.requests[4:]] == [9, 1009]


def test_context_checked_before_sending(stub, untrained_model_dir):
    backend = load_backend("openai", str(untrained_model_dir), {"base_url": stub.url, "max_model_len": 30})
    long = prompts(1)[0]  # 24 tokens, + 8 > 30
    with pytest.raises(Lightr1Error, match=r"do not fit the model's context.*'q0', has \d+ tokens"):
        backend.generate([long], Sampling(max_tokens=8))
    assert stub.requests == []
    short = Prompt(key="s", messages=({"role": "user", "content": "1+1"},), text="1+1=", seed=0)
    assert backend.generate([short], Sampling(max_tokens=8))[0].text == "ok"
    with pytest.raises(Lightr1Error, match="not a local model folder"):
        load_backend("openai", "deepseek-reasoner", {"base_url": stub.url, "max_model_len": 30})


def test_bad_options_are_refused():
    with pytest.raises(Lightr1Error, match="unknown openai endpoint"):
        load_backend("openai", "m", {"base_url": "http://127.0.0.1:1", "endpoint": "responses"})
    backend = load_backend("openai", "m", {"base_url": "http://127.0.0.1:1"})
    with pytest.raises(Lightr1Error, match="needs one"):
        backend.generate([Prompt(key="k", messages=({"role": "user", "content": "x"},), text="", seed=0)], Sampling())
