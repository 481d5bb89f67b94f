"""The tiny world's tokenizer, chat template and base-model training."""

from __future__ import annotations

import json

import pytest

from lightr1.generation.prompts import THINK, messages, render
from lightr1.tiny import model as tiny
from lightr1.tiny.problems import TRAIN, make_problem


@pytest.fixture(scope="module")
def tokenizer():
    return tiny.make_tokenizer()


def test_tokenizer_round_trips_any_text(tokenizer):
    for text in ("Compute $37 + 48$.", "Zoë's café: 5 € × 3 = 15 €, ∑ 日本語 🙂", " two  spaces\nand\ttabs "):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert tokenizer.decode(ids) == text
        assert tokenizer.pad_token_id not in ids  # no unknown tokens: bytes cover everything


def test_special_tokens_are_single_tokens(tokenizer):
    for token in ("<think>", "</think>", "<|im_end|>", "<|im_start|>", "<|endoftext|>"):
        ids = tokenizer(token, add_special_tokens=False)["input_ids"]
        assert len(ids) == 1 and tokenizer.convert_ids_to_tokens(ids[0]) == token
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.padding_side == "left"


def test_template_has_qwen_layout_and_masks_the_response(tokenizer):
    chat = [{"role": "user", "content": "What is 2+3?"}, {"role": "assistant", "content": "<think>\nok\n</think>\n\n\\boxed{5}"}]
    text = tokenizer.apply_chat_template(chat, tokenize=False)
    assert text == "<|im_start|>user\nWhat is 2+3?<|im_end|>\n<|im_start|>assistant\n<think>\nok\n</think>\n\n\\boxed{5}<|im_end|>\n"
    encoded = tokenizer.apply_chat_template(chat, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    kept = [token for token, keep in zip(encoded["input_ids"], encoded["assistant_masks"]) if keep]
    assert tokenizer.decode(kept) == chat[1]["content"] + "<|im_end|>"
    first = encoded["assistant_masks"].index(1)
    assert tokenizer.decode(encoded["input_ids"][:first]) == render(tokenizer, chat[:1], force_think=False)


@pytest.mark.parametrize("force_think", [False, True])
def test_training_example_learns_the_response_only(tokenizer, force_think):
    import random

    problem = make_problem(random.Random(3), 1, TRAIN)
    ids, labels = tiny.encode_example(tokenizer, problem, "light-r1", force_think)
    prompt = render(tokenizer, messages(problem.text, "light-r1"), force_think)
    start = next(i for i, label in enumerate(labels) if label != -100)
    assert tokenizer.decode(ids[:start]) == prompt  # exactly what generation will see
    response = tokenizer.decode([label for label in labels if label != -100])
    # A forced `<think>\n` is prompt, not response; otherwise the base learns to open it.
    assert response == tiny.base_response(problem).removeprefix(THINK if force_think else "") + "<|im_end|>"


def test_base_problems_are_seeded_in_every_vocabulary_and_mostly_easy():
    problems = tiny.base_examples(seed=5, count=400)
    assert [p.text for p in problems[:20]] == [p.text for p in tiny.base_examples(seed=5, count=20)]
    assert {p.vocab for p in problems} == {"train", "bench", "gpqa"}
    levels = [p.level for p in problems]
    assert levels.count(1) > levels.count(3) > levels.count(5) > 0


def test_arithmetic_documents_are_worked_examples():
    import random

    from lightr1.tiny.problems import LEVELS, teacher_trace, work

    document = tiny.arithmetic_document(random.Random(4))
    examples = document.split("\n\n")
    assert len(examples) == tiny.DOCUMENT_PROBLEMS
    rng = random.Random(4)
    problem = make_problem(rng, rng.choice(LEVELS), tiny.base_vocab(rng))
    question, working = examples[0].split("\n", 1)
    assert question == problem.text and working == "\n".join(work(problem.terms).lines)
    assert working in teacher_trace(problem, random.Random(0))  # the same lines, without the chat


def test_base_restates_then_answers_in_one_line_without_working():
    import random

    from lightr1.tiny.problems import plain_expression

    problem = make_problem(random.Random(8), 4, TRAIN)  # a product, then a sum: two steps
    thought, answer = tiny.base_response(problem).split("\n</think>\n\n")
    assert thought == f"<think>\nRestating the problem: I need {plain_expression(problem.terms)}."
    assert answer == f"{plain_expression(problem.terms)} = {problem.answer}. The answer is $\\boxed{{{problem.answer}}}$."


def test_short_training_lowers_loss_and_saves_a_loadable_folder(tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tokenizer, log = tiny.fit_base(seed=0, steps=30, batch_size=8, lr=3e-3, arithmetic_share=0.5, form="plain", progress=False)
    loss = log["loss"]
    assert len(loss) == 30 and sum(loss[-5:]) / 5 < 0.6 * sum(loss[:5]) / 5
    assert 5 < sum(log["reading"]) < 25  # both kinds of step
    out = tmp_path / "base"
    tiny.save_model(model, tokenizer, out, extra_json={"training_log.json": log})
    assert json.loads((out / "training_log.json").read_text())["steps"] == 30
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left behind
    reloaded, retok = AutoModelForCausalLM.from_pretrained(out), AutoTokenizer.from_pretrained(out)
    text = render(retok, messages("Compute $12 + 30$.", "plain"), force_think=False)
    assert retok(text)["input_ids"] == tokenizer(text)["input_ids"]
    assert retok.chat_template == tokenizer.chat_template
    ids = torch.tensor([tokenizer(text)["input_ids"]])
    with torch.inference_mode():
        assert torch.allclose(reloaded(ids).logits, model(ids).logits, atol=1e-5)


def test_cli_trains_and_saves(tmp_path):
    from lightr1.cli import main

    out = tmp_path / "tiny-base"
    main(["tiny-model", "--out", str(out), "--seed", "1", "--steps", "2", "--batch-size", "2", "--prompt-form", "deepseek-r1"])
    log = json.loads((out / "training_log.json").read_text())
    assert (log["steps"], log["batch_size"], log["prompt_form"], log["force_think"]) == (2, 2, "deepseek-r1", False)
    assert (out / "config.json").exists() and (out / "tokenizer_config.json").exists()
