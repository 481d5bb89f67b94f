"""The tiny world's base model: a ~1M-parameter Qwen2-architecture model with a small BPE
tokenizer and a Qwen-style chat template in which `<think>` and `</think>` are special tokens.
Saved as a normal Hugging Face folder, so every stage loads it like a hub model."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from lightr1.io import atomic_folder

END_OF_TURN = "<|im_end|>"
PAD = "<|endoftext|>"
START_OF_TURN = "<|im_start|>"
THINK_TOKENS = ("<think>", "</think>")
SPECIAL_TOKENS = (PAD, START_OF_TURN, END_OF_TURN, *THINK_TOKENS)

# Qwen2.5's layout (<|im_start|>role\n...<|im_end|>\n) with {% generation %} markers around
# assistant text, which TRL's assistant_only_loss needs; the end-of-turn token is inside them.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{%- if message['role'] == 'assistant' -%}"
    "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{%- else -%}"
    "{{ message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\\n' }}{%- endif -%}"
)


# Qwen2's pre-tokenizer split: single digits, words with their leading space, punctuation runs.
QWEN2_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
VOCAB_SIZE = 800
CORPUS_PROBLEMS = 3000


def tokenizer_corpus() -> list[str]:
    """Seeded text like the world's (problems of every vocabulary, teacher traces right and
    wrong, short solutions, prompt forms) to learn BPE merges from."""
    import random

    from lightr1.generation.prompts import FORMS
    from lightr1.tiny.problems import BENCH, GPQA, LEVELS, TRAIN, make_problem, short_solution, teacher_trace

    rng = random.Random("lightr1-tiny-tokenizer")
    corpus = list(FORMS.values())
    for index in range(CORPUS_PROBLEMS):
        problem = make_problem(rng, rng.choice(LEVELS), (TRAIN, BENCH, GPQA)[index % 3], long=rng.random() < 0.2)
        corpus += [problem.text, teacher_trace(problem, rng), teacher_trace(problem, rng, wrong=True), short_solution(problem)]
    return corpus


def make_tokenizer():
    """Qwen2's byte-level BPE tokenizer with merges learnt from the world's text (VOCAB_SIZE
    tokens): any text round-trips, digits stay single tokens as in Qwen2, and the frequent
    words of problems and traces become one token each, so sequences are about half as long as
    bytes and a 1M model spends its capacity on the numbers."""
    from tokenizers import AddedToken, Regex, Tokenizer, models, pre_tokenizers, trainers
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE())
    split = pre_tokenizers.Split(Regex(QWEN2_SPLIT), behavior="isolated")
    bpe.pre_tokenizer = pre_tokenizers.Sequence([split, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE, special_tokens=list(SPECIAL_TOKENS), initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    bpe.train_from_iterator(tokenizer_corpus(), trainer)
    merges = [tuple(merge) for merge in json.loads(bpe.to_str())["model"]["merges"]]
    tokenizer = Qwen2Tokenizer(
        vocab=bpe.get_vocab(),
        merges=merges,
        eos_token=END_OF_TURN,
        pad_token=PAD,
        unk_token=PAD,
        padding_side="left",
        model_max_length=2048,
    )
    tokenizer.add_special_tokens({"additional_special_tokens": [AddedToken(token, special=True) for token in (START_OF_TURN, *THINK_TOKENS)]})
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def make_model(tokenizer, seed: int = 0, max_positions: int = 2048):
    """An untrained Qwen2 model sized for a CPU: hidden 128, 4 layers, 4 heads (2 KV), tied
    embeddings: about 1M parameters."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=512,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.convert_tokens_to_ids(END_OF_TURN),
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = config.eos_token_id
    model.generation_config.pad_token_id = config.pad_token_id
    return model


def save_model(model, tokenizer, out_dir: str | os.PathLike, extra_json: Mapping[str, Any] | None = None) -> None:
    """Save a model folder atomically: written beside the target, then renamed into place.
    `extra_json` maps file names to objects written as JSON into the folder (e.g. a log)."""
    with atomic_folder(out_dir) as staging:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        for name, value in (extra_json or {}).items():
            (staging / name).write_text(json.dumps(value, indent=1) + "\n")


# ---------------------------------------------------------------------------------------------
# The base model: pretrained on worked arithmetic, and tuned on chats that it answers at one
# glance, as an instruct model without long reasoning. It has read how to work a problem step by
# step, but does not do so when asked: SFT on long reasoning has to teach it that.

# Easy levels dominate, so that the base solves level 1 often and the rest rarely: pass rates
# then spread across problems, which difficulty grading needs.
BASE_LEVEL_WEIGHTS = {1: 0.4, 2: 0.2, 3: 0.15, 4: 0.15, 5: 0.1}
# A real base model has read the language of every benchmark: chats come in every vocabulary.
BASE_VOCAB_WEIGHTS = {"train": 0.5, "bench": 0.35, "gpqa": 0.15}
BASE_STREAM = "lightr1-tiny-base"  # apart from the world's own streams ("lightr1-tiny/...")
DOCUMENT_PROBLEMS = 2


def base_vocab(rng):
    """A vocabulary drawn by BASE_VOCAB_WEIGHTS."""
    from lightr1.tiny.problems import VOCABS

    return VOCABS[rng.choices(list(BASE_VOCAB_WEIGHTS), list(BASE_VOCAB_WEIGHTS.values()))[0]]


def base_response(problem) -> str:
    """A one-line thought that restates the problem as an expression, then the expression and
    its value in one line and the boxed answer: the base answers at one glance. The thought is
    the first line of the teacher's working, in the same place, so SFT has only to teach the
    steps that follow it (a base that restated nowhere lost its reading of the benchmarks'
    wording when SFT taught restating on the training wording alone)."""
    from lightr1.generation.prompts import THINK
    from lightr1.tiny.problems import plain_expression, restate

    answer = f"{plain_expression(problem.terms)} = {problem.answer}. The answer is $\\boxed{{{problem.answer}}}$."
    return f"{THINK}{restate(problem.terms)}\n</think>\n\n{answer}"


def arithmetic_document(rng) -> str:
    """Pretraining text: DOCUMENT_PROBLEMS fresh problems, each followed by the teacher's
    working (restated as an expression, one line per step, checked), with no chat around them:
    worked examples, as a real base reads in textbooks, in every vocabulary. Reading a problem
    into its expression is the step a 1M model finds hardest; chats alone taught it too little
    (the base dropped the middle operand of three)."""
    from lightr1.tiny.problems import LEVELS, make_problem, work

    problems = (make_problem(rng, rng.choice(LEVELS), base_vocab(rng)) for _ in range(DOCUMENT_PROBLEMS))
    return "\n\n".join("\n".join((problem.text, *work(problem.terms).lines)) for problem in problems)


def base_examples(seed: int, count: int) -> list:
    """`count` fresh problems from a stream of the base's own, levels drawn by
    BASE_LEVEL_WEIGHTS and vocabularies by BASE_VOCAB_WEIGHTS. Like a real base model's
    pretraining, they may by chance repeat a problem of the world or of its benchmarks; the
    world's decontamination is about the training data, which this is not."""
    import random

    from lightr1.tiny.problems import make_problem

    rng = random.Random(f"{BASE_STREAM}/{seed}")
    levels, weights = list(BASE_LEVEL_WEIGHTS), list(BASE_LEVEL_WEIGHTS.values())
    # One stream, problem after problem: a longer run sees the shorter run's problems first.
    return [make_problem(rng, rng.choices(levels, weights)[0], base_vocab(rng)) for _ in range(count)]


def encode_example(tokenizer, problem, form: str, force_think: bool) -> tuple[list[int], list[int]]:
    """Token ids and loss labels (-100 outside the response) of one problem, from the chat
    template's assistant mask (the `{% generation %}` span: response and end-of-turn token).
    A forced `<think>\\n` belongs to the prompt, as `lightr1.prompts.render` writes it, so it
    is masked out too."""
    from lightr1.generation.prompts import THINK, messages

    chat = [*messages(problem.text, form), {"role": "assistant", "content": base_response(problem)}]
    encoded = tokenizer.apply_chat_template(chat, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = list(encoded["input_ids"]), list(encoded["assistant_masks"])
    if force_think:
        start = mask.index(1)
        forced = len(tokenizer(THINK, add_special_tokens=False)["input_ids"])
        mask[start : start + forced] = [0] * forced
    return ids, [token if keep else -100 for token, keep in zip(ids, mask)]


def pad_batch(examples: list[tuple[list[int], list[int]]], pad_id: int):
    """Right-padded input ids, attention mask and labels (-100 on padding) as tensors."""
    import torch

    width = max(len(ids) for ids, _ in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), -100, dtype=torch.long)
    attention = torch.zeros((len(examples), width), dtype=torch.long)
    for row, (tokens, targets) in enumerate(examples):
        ids[row, : len(tokens)] = torch.tensor(tokens)
        labels[row, : len(targets)] = torch.tensor(targets)
        attention[row, : len(tokens)] = 1
    return ids, attention, labels


def lr_factor(step: int, steps: int, warmup: int) -> float:
    """Linear warmup, then cosine decay to a tenth: a short run still ends on a small step."""
    import math

    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return 0.1 + 0.45 * (1 + math.cos(math.pi * progress))


def length_batches(lengths: list[int], batch_size: int, rng) -> list[list[int]]:
    """Indices grouped into batches of similar length (little padding: on a CPU every padded
    position costs as much as a real one), in a seeded random order."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def fit_base(
    *,
    seed: int = 0,
    steps: int = 400,
    batch_size: int = 16,
    lr: float = 2e-3,
    arithmetic_share: float = 0.6,
    form: str = "light-r1",
    force_think: bool = False,
    progress: bool = True,
):
    """Train the untrained tiny model into the world's base. A seeded `arithmetic_share` of the
    steps are batches of worked arithmetic (loss on every token); the others are chats with
    one-line answers to fresh problems (loss on the response only, prompts in the pipeline's
    form). Returns (model, tokenizer, log) with the settings and the loss per step in the log."""
    import random
    import time

    import torch
    from tqdm import tqdm

    tokenizer = make_tokenizer()
    model = make_model(tokenizer, seed=seed)
    model.train()
    rng = random.Random(f"{BASE_STREAM}/{seed}/schedule")
    reading = [rng.random() < arithmetic_share for _ in range(steps)]
    chat_steps = steps - sum(reading)
    examples = [encode_example(tokenizer, p, form, force_think) for p in base_examples(seed, chat_steps * batch_size)]
    chats = iter(length_batches([len(ids) for ids, _ in examples], batch_size, random.Random(f"{BASE_STREAM}/{seed}/batches")))
    documents = random.Random(f"{BASE_STREAM}/{seed}/arithmetic")

    def batch(read: bool):
        if read:
            ids = tokenizer([arithmetic_document(documents) for _ in range(batch_size)], add_special_tokens=False)["input_ids"]
            return pad_batch([(row, row) for row in ids], tokenizer.pad_token_id)
        return pad_batch([examples[i] for i in next(chats)], tokenizer.pad_token_id)

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, steps, max(1, steps // 20)))
    losses: list[float] = []
    start = time.monotonic()
    bar = tqdm(reading, desc="tiny base", unit="step", disable=not progress)
    for read in bar:
        ids, attention, labels = batch(read)
        loss = model(input_ids=ids, attention_mask=attention, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 5))
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    model.eval()
    log = {
        "seed": seed,
        "steps": steps,
        "batch_size": batch_size,
        "lr": lr,
        "arithmetic_share": arithmetic_share,
        "prompt_form": form,
        "force_think": force_think,
        "level_weights": BASE_LEVEL_WEIGHTS,
        "seconds": round(time.monotonic() - start, 2),
        "loss": losses,
        "reading": reading,
    }
    return model, tokenizer, log


def train_base(out_dir: str | os.PathLike, **settings) -> dict:
    """`fit_base` with `settings`, then save the model folder atomically with the log in it as
    `training_log.json`; returns the log."""
    model, tokenizer, log = fit_base(**settings)
    save_model(model, tokenizer, out_dir, extra_json={"training_log.json": log})
    return log
