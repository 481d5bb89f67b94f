"""Semi-on-policy DPO pairs, as Light-R1 built them: chosen = the verified-correct teacher
response of a curriculum problem (Light-R1: stage 2), rejected = a verified-wrong sample of the
SFT-stage-2 model on that problem. A second pair set ("DPO v2") strips special tokens from the
rejected responses. Exports follow LLaMA-Factory's ShareGPT ranking format (Light-R1-DPOData)."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence

import polars as pl

from lightr1.curriculum.stages import EmptySelection
from lightr1.errors import loading_model
from lightr1.generation.prompts import THINK
from lightr1.seeds import derived_seed

# Kinds of wrong sample, each a reason a response loses:
#   too_long  - cut at max_tokens before an answer (finish_reason "length")
#   too_short - finished, wrong, and shorter than the chosen response (gave up early)
#   wrong     - finished with a wrong answer, at least as long as the chosen response
REJECTED_KINDS = ("wrong", "too_short", "too_long")

PAIRS = pl.Schema(
    {
        "problem_id": pl.String,
        "problem": pl.String,
        "answer": pl.String,
        "chosen": pl.String,
        "rejected": pl.String,
        "rejected_kind": pl.String,
        "rejected_sample": pl.Int64,
        "samples": pl.Int64,  # samples of this problem
        "wrong_samples": pl.Int64,  # of which verified wrong
    }
)


def wrong_kind(correct: bool, finish_reason: str, response: str, chosen: str) -> str | None:
    """The kind of a wrong sample (None for a correct one)."""
    if correct:
        return None
    if finish_reason == "length":
        return "too_long"
    return "too_short" if len(response) < len(chosen) else "wrong"


def build_pairs(pool: pl.DataFrame, scored: pl.DataFrame, prefer: Sequence[str], seed: int, forced_think: bool) -> pl.DataFrame:
    """One pair per problem of the pool (a curriculum table: problems and their chosen
    responses) that has a wrong sample of a preferred kind: the first kind in `prefer` with
    candidates wins, and among them one is drawn at random (seeded by problem).
    Both sides are whole responses, like the SFT data: where the sampled model's prompt forced
    `<think>\n`, it is put back in front of the rejected sample. Stops, naming the counts, when
    no problem has a pair."""
    unknown = sorted(set(prefer) - set(REJECTED_KINDS))
    if unknown or not prefer:
        raise ValueError(f"rejected kinds must be some of {REJECTED_KINDS}, got {list(prefer)}")
    chosen = dict(zip(pool["problem_id"], pool["response"]))
    candidates: dict[str, dict[str, list[tuple[int, str]]]] = {}
    samples: dict[str, int] = {}
    wrong: dict[str, int] = {}
    for pid, sample, response, finish, correct in scored.select("problem_id", "sample", "response", "finish_reason", "correct").iter_rows():
        if pid not in chosen:
            continue
        samples[pid] = samples.get(pid, 0) + 1
        kind = wrong_kind(correct, finish, response, chosen[pid])
        if kind is not None:
            wrong[pid] = wrong.get(pid, 0) + 1
            candidates.setdefault(pid, {}).setdefault(kind, []).append((sample, response))
    rows = []
    for pid, problem, answer, good in pool.select("problem_id", "problem", "answer", "response").sort("problem_id").iter_rows():
        kinds = candidates.get(pid, {})
        kind = next((k for k in prefer if kinds.get(k)), None)
        if kind is None:
            continue
        sample, response = random.Random(derived_seed(seed, "dpo-rejected", pid)).choice(sorted(kinds[kind]))
        rows.append((pid, problem, answer, good, THINK + response if forced_think else response, kind, sample, samples[pid], wrong[pid]))
    pairs = pl.DataFrame(rows, schema=PAIRS, orient="row")
    if pairs.is_empty():
        steps = f"pool {len(pool)} -> sampled {len(samples)} -> with a wrong sample {len(wrong)} -> of kinds {list(prefer)} 0"
        raise EmptySelection(
            f"the filter 'a verified-wrong sample' left no DPO pair ({steps}); sample more (dpo.sampling.n) or allow more kinds (dpo.rejected)"
        )
    return pairs


def strip_special(text: str, special_tokens: Iterable[str]) -> str:
    """The text without any of the tokenizer's special-token strings (DPO v2's rejected side)."""
    for token in sorted(set(special_tokens), key=len, reverse=True):  # longest first: no partial leftovers
        text = text.replace(token, "")
    return text


def special_tokens(model_dir: str) -> list[str]:
    """The special-token strings of a model's tokenizer (what DPO v2 strips)."""
    from transformers import AutoTokenizer

    with loading_model(model_dir):
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    added = [token.content for token in tokenizer.added_tokens_decoder.values() if token.special]
    return sorted({*tokenizer.all_special_tokens, *added})


def strip_rejected(pairs: pl.DataFrame, special_tokens: Sequence[str]) -> pl.DataFrame:
    return pairs.with_columns(pl.col("rejected").map_elements(lambda text: strip_special(text, special_tokens), return_dtype=pl.String))


def sharegpt_ranking(pairs: pl.DataFrame) -> list[dict]:
    """LLaMA-Factory's ShareGPT ranking layout (Light-R1-DPOData): the conversation so far, then
    the chosen and the rejected assistant turn."""
    return [
        {"conversations": [{"from": "user", "value": problem}], "chosen": {"from": "assistant", "value": good}, "rejected": {"from": "assistant", "value": bad}}
        for problem, good, bad in pairs.select("problem", "chosen", "rejected").iter_rows()
    ]


def ranking_dataset_info(files: dict[str, str]) -> dict:
    """LLaMA-Factory dataset_info.json entries for ranking ShareGPT files."""
    tags = {"role_tag": "from", "content_tag": "value", "user_tag": "user", "assistant_tag": "assistant"}
    columns = {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"}
    return {name: {"file_name": file, "formatting": "sharegpt", "ranking": True, "columns": columns, "tags": tags} for name, file in files.items()}
