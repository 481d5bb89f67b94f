"""Prompt forms, and the `hf` generation backend on an untrained tiny model (plumbing, not
quality): sample numbering, seeds, finish reasons, left padding, context checks."""

from __future__ import annotations

import pytest

from lightr1.errors import Lightr1Error
from lightr1.generation import Prompt, Sampling, load_backend, prompts
from lightr1.tiny.model import make_tokenizer

# ---------------------------------------------------------------------------------------------
# Prompt forms


def test_named_forms_put_the_problem_first_and_ask_for_a_box():
    for form in ("deepseek-r1", "light-r1", "gpqa"):
        (message,) = prompts.messages("What is $2+3$?", form)
        assert message["role"] == "user"
        assert message["content"].startswith("What is $2+3$?")
        assert "\\boxed{}" in message["content"]
    assert prompts.messages("P", "light-r1")[0]["content"] == "P Let's think step by step and output the final answer within \\boxed{}."
    assert prompts.messages("P", "deepseek-r1")[0]["content"] == "P\nPlease reason step by step, and put your final answer within \\boxed{}."
    assert "letter" in prompts.messages("P", "gpqa")[0]["content"]
    assert prompts.messages("P {x}", "plain") == ({"role": "user", "content": "P {x}"},)  # braces in problems are text


def test_custom_form_and_bad_forms():
    assert prompts.messages("P", "Solve: {problem}\nBox it: \\boxed{{}}")[0]["content"] == "Solve: P\nBox it: \\boxed{}"
    with pytest.raises(Lightr1Error, match="unknown prompt form 'light_r1'"):
        prompts.messages("P", "light_r1")
    with pytest.raises(Lightr1Error, match="braces"):
        prompts.messages("P", "{problem} in \\boxed{}")


def test_render_appends_think_when_forced():
    tokenizer = make_tokenizer()
    chat = prompts.messages("P", "plain")
    plain = prompts.render(tokenizer, chat, force_think=False)
    assert plain == "<|im_start|>user\nP<|im_end|>\n<|im_start|>assistant\n"
    assert prompts.render(tokenizer, chat, force_think=True) == plain + "<think>\n"


def test_prompt_seeds_depend_on_run_seed_and_key_only():
    tokenizer = make_tokenizer()
    rows = [(f"p{i}", f"problem {i}") for i in range(6)]
    whole = prompts.make_prompts(tokenizer, rows, "light-r1", True, run_seed=7)
    shard = prompts.make_prompts(tokenizer, rows[3:][::-1], "light-r1", True, run_seed=7)
    assert {p.key: p.seed for p in shard} == {p.key: p.seed for p in whole[3:]}
    assert len({p.seed for p in whole}) == 6
    assert all(0 <= p.seed < 2**63 for p in whole)
    assert prompts.make_prompts(tokenizer, rows, "light-r1", True, run_seed=8)[0].seed != whole[0].seed
    assert whole[0].text.endswith("<|im_start|>assistant\n<think>\n") and "problem 0 Let's think" in whole[0].text
    assert prompts.make_prompts(None, rows[:1], "plain", True, run_seed=7)[0].text == ""  # chat-only APIs


def test_check_context_names_the_longest_offender():
    prompts.check_context({"a": 100, "b": 900}, max_tokens=1148, max_positions=2048)
    with pytest.raises(Lightr1Error) as err:
        prompts.check_context({"a": 1100, "b": 1500, "c": 10}, max_tokens=1024, max_positions=2048)
    message = str(err.value)
    for part in ("2 prompt(s)", "'b'", "1500 tokens", "max_tokens 1024", "2048 positions", "rope scaling", "at most 548"):
        assert part in message
    with pytest.raises(Lightr1Error, match="shorter prompt"):
        prompts.check_context({"a": 3000}, max_tokens=10, max_positions=2048)


# ---------------------------------------------------------------------------------------------
# The hf backend


@pytest.fixture(scope="module")
def backend(untrained_model_dir):
    backend = load_backend("hf", str(untrained_model_dir), {"batch_size": 4, "device": "cpu"})
    yield backend
    backend.close()


def _prompts(backend, problems: list[str], run_seed: int = 0) -> list[Prompt]:
    return prompts.make_prompts(backend.tokenizer, [(f"k{i}", p) for i, p in enumerate(problems)], "light-r1", True, run_seed)


def test_n_samples_per_prompt_are_numbered_and_reproducible(backend):
    batch = _prompts(backend, ["What is $1+1$?", "Compute $12+30$.", "A much longer problem about marbles and boxes?"] * 2)[:5]
    sampling = Sampling(n=3, temperature=1.0, top_p=0.95, max_tokens=6, seed=1)
    first = backend.generate(batch, sampling)
    assert [(c.key, c.sample) for c in first] == [(p.key, s) for p in batch for s in range(3)]
    assert all(c.finish_reason in ("stop", "length") and 1 <= c.tokens <= 6 for c in first)
    assert len({c.text for c in first}) > 5  # samples differ
    again = backend.generate(batch, sampling)
    assert [c.text for c in again] == [c.text for c in first]
    other = backend.generate(batch, Sampling(n=3, temperature=1.0, top_p=0.95, max_tokens=6, seed=2))
    assert [c.text for c in other] != [c.text for c in first]


def test_cut_at_max_tokens_is_length(backend):
    (completion,) = backend.generate(_prompts(backend, ["Compute $12+30$."]), Sampling(n=1, temperature=0, max_tokens=5))
    assert (completion.finish_reason, completion.tokens) == ("length", 5)
    assert completion.text


def test_end_of_turn_is_stop_and_left_out_of_the_text(backend, monkeypatch):
    batch = _prompts(backend, ["Compute $12+30$."])
    sampling = Sampling(n=1, temperature=1.0, max_tokens=12, seed=3)
    prompt_ids = backend.tokenizer(batch[0].text, add_special_tokens=False)["input_ids"]
    (row,) = backend._generate_batch([prompt_ids], [batch[0].seed], sampling)
    # Make a token the seeded sampler writes (not first, not earlier) an end-of-turn token:
    # the same seed draws the same tokens up to there, and generation must stop on it.
    k = next(i for i, token in enumerate(row) if i > 0 and token not in row[:i])
    monkeypatch.setattr(backend, "stop_ids", [*backend.stop_ids, row[k]])
    (stopped,) = backend.generate(batch, sampling)
    assert (stopped.finish_reason, stopped.tokens) == ("stop", k + 1)
    assert stopped.text == backend.tokenizer.decode(row[:k], skip_special_tokens=False)


def test_trim_and_decoding_keep_think_tags():
    from lightr1.generation.hf import trim

    assert trim([5, 6, 2, 0, 0], stop_ids=[2], pad_id=0) == ([5, 6], "stop", 3)
    assert trim([5, 0, 6], stop_ids=[2], pad_id=0) == ([5, 6], "length", 3)
    assert trim([2, 0], stop_ids=[2, 9], pad_id=0) == ([], "stop", 1)


def test_completion_text_shows_think_tags(backend):
    tokenizer = backend.tokenizer
    row = tokenizer("<think>\nx\n</think>\n\\boxed{1}<|im_end|><|endoftext|><|endoftext|>", add_special_tokens=False)["input_ids"]
    completion = backend._completion("k", 0, row)
    assert completion.text == "<think>\nx\n</think>\n\\boxed{1}"
    assert (completion.finish_reason, completion.tokens) == ("stop", len(row) - 2)


def test_left_padding_does_not_change_greedy_output(backend):
    short, long = _prompts(backend, ["Compute $12+30$.", "There are 74 beads in Sara's bag. A friend gives Sara 27 more beads. How many beads now?"])
    greedy = Sampling(n=1, temperature=0, max_tokens=12)
    (alone,) = backend.generate([short], greedy)
    together = backend.generate([long, short], greedy)
    assert together[1].key == short.key and together[1].text == alone.text


def test_context_overflow_and_greedy_n_are_errors(backend):
    batch = _prompts(backend, ["Compute $12+30$."])
    with pytest.raises(Lightr1Error, match=r"'k0'.*2048 positions.*rope scaling"):
        backend.generate(batch, Sampling(n=1, temperature=1.0, max_tokens=2040))
    with pytest.raises(Lightr1Error, match="greedy"):
        backend.generate(batch, Sampling(n=4, temperature=0, max_tokens=4))


def test_rope_scaling_extends_the_context(untrained_model_dir):
    from lightr1.generation.hf import Backend

    scaled = Backend(str(untrained_model_dir), device="cpu", rope_scaling={"type": "yarn", "factor": 2.0})
    try:
        assert scaled.max_positions == 4096
        assert scaled.model.config.rope_parameters["rope_type"] == "yarn"
        assert scaled.model.config.rope_parameters["rope_theta"] == 10000.0
        (completion,) = scaled.generate(_prompts(scaled, ["Compute $12+30$."]), Sampling(n=1, temperature=0, max_tokens=3))
        assert completion.tokens == 3
    finally:
        scaled.close()


def test_a_killed_sampling_job_resumes_with_the_batches_it_finished(untrained_model_dir, tmp_path):
    """`lightr1 sample` (a grading or evaluation shard) killed right after its first batch is
    saved: run again, it generates only the other batches, and its table is the one a run
    that was never killed writes."""
    import os
    import subprocess
    import sys

    import polars as pl

    from lightr1.curriculum.grading import problems_prompt_set
    from lightr1.faults import KILL_AT

    problems = pl.DataFrame({"problem_id": [f"p{i}" for i in range(6)], "problem": [f"{i} + {i}" for i in range(6)], "answer": [str(2 * i) for i in range(6)]})
    problems_prompt_set(problems).write_parquet(tmp_path / "prompts.parquet")

    def sample(work: str, kill_at: str | None = None) -> subprocess.CompletedProcess:
        arguments = ["--prompts", tmp_path / "prompts.parquet", "--model", untrained_model_dir, "--model-name", "m", "--backend", "hf"]
        arguments += ["--sampling", '{"n": 2, "temperature": 1.0, "max_tokens": 12}', "--seed", "3", "--prompt-form", "light-r1", "--force-think"]
        arguments += ["--batch-prompts", "2", "--work-dir", tmp_path / work, "--out", tmp_path / f"{work}.parquet"]
        env = {**os.environ, **({KILL_AT: kill_at} if kill_at else {})}
        command = [sys.executable, "-m", "lightr1", "sample", *map(str, arguments)]
        return subprocess.run(command, capture_output=True, text=True, env=env, start_new_session=True, timeout=300)

    killed = sample("work", kill_at="sample-batch:1")
    assert killed.returncode == -9 and not (tmp_path / "work.parquet").exists(), killed.stderr[-3000:]
    assert [p.name for p in (tmp_path / "work").glob("batch-*")] == ["batch-000000.parquet"]
    resumed = sample("work")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "2 of 6 prompts already sampled; 4 to generate" in resumed.stderr
    unkilled = sample("unkilled")
    assert unkilled.returncode == 0, unkilled.stderr[-3000:]
    assert pl.read_parquet(tmp_path / "work.parquet").equals(pl.read_parquet(tmp_path / "unkilled.parquet"))
