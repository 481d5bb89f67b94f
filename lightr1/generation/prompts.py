"""The recipe's prompt forms: named templates with a `{problem}` slot, selected in config, and
the rendering of chat messages into generation prompts.

Light-R1 evaluates with DeepScaleR's suffix and hard-codes `<think>\\n` after the generation
prompt; DeepSeek-R1 recommends its own instruction. Graders, evaluation and training must use
one form, so every stage takes it from config by name (or as a custom string).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lightr1.errors import Lightr1Error
from lightr1.generation import Prompt
from lightr1.seeds import derived_seed

THINK = "<think>\n"

FORMS: dict[str, str] = {
    # DeepSeek-R1's recommended math directive, on its own line as in Qwen2.5-Math's evaluation.
    "deepseek-r1": "{problem}\nPlease reason step by step, and put your final answer within \\boxed{{}}.",
    # DeepScaleR's instruction, joined with a space, which Light-R1's evaluation reuses.
    "light-r1": "{problem} Let's think step by step and output the final answer within \\boxed{{}}.",
    # One instruction only (DeepScaleR's GPQA prompt carries two that disagree).
    "gpqa": "{problem}\n\nPlease reason step by step, and put the letter of the correct option (A, B, C or D) within \\boxed{{}}.",
    "plain": "{problem}",
}


def template(form: str) -> str:
    """The template of a named form, or `form` itself when it is a custom template."""
    if form in FORMS:
        return FORMS[form]
    if "{problem}" not in form:
        raise Lightr1Error(f"unknown prompt form {form!r}: use one of {', '.join(FORMS)} or a template with a {{problem}} slot")
    try:
        form.format(problem="")
    except (KeyError, IndexError, ValueError) as err:
        # Other braces must be doubled ({{}} for \boxed{}), as in str.format.
        raise Lightr1Error(f"prompt template {form!r} has braces other than {{problem}} (write a literal brace as {{{{ or }}}}): {err}") from err
    return form


def messages(problem: str, form: str) -> tuple[dict[str, str], ...]:
    """The chat of one request: a single user message with the problem in the form."""
    return ({"role": "user", "content": template(form).format(problem=problem)},)


def render(tokenizer, messages: Iterable[Mapping[str, str]], force_think: bool) -> str:
    """The generation prompt text; with `force_think`, `<think>\\n` follows the assistant header
    as Light-R1 hard-codes it (so responses never contain the opening tag)."""
    text = tokenizer.apply_chat_template([dict(m) for m in messages], add_generation_prompt=True, tokenize=False)
    return text + THINK if force_think else text


def prompt_seed(run_seed: int, key: str) -> int:
    """A prompt's seed from (run seed, key): stable across processes and shards."""
    return derived_seed(run_seed, "prompt", key)


def make_prompts(tokenizer, rows: Iterable[tuple[str, str]], form: str, force_think: bool, run_seed: int) -> list[Prompt]:
    """Prompts for (key, problem) rows. `tokenizer` may be None (chat-only APIs): then `text`
    stays empty and the server applies its own template."""
    prompts = []
    for key, problem in rows:
        chat = messages(problem, form)
        text = render(tokenizer, chat, force_think) if tokenizer is not None else ""
        prompts.append(Prompt(key=key, messages=chat, text=text, seed=prompt_seed(run_seed, key)))
    return prompts


def check_context(prompt_tokens: Mapping[str, int], max_tokens: int, max_positions: int) -> None:
    """Fail before generating when a prompt plus `max_tokens` new tokens exceeds the model's
    positions: a model silently run past its context produces garbage, not an error."""
    over = {key: n for key, n in prompt_tokens.items() if n + max_tokens > max_positions}
    if not over:
        return
    key = max(over, key=lambda k: over[k])
    room = max_positions - over[key]
    smaller = f"a smaller max_tokens (at most {room})" if room > 0 else "a shorter prompt (it alone fills the context)"
    raise Lightr1Error(
        f"{len(over)} prompt(s) do not fit the model's context: the longest, {key!r}, has {over[key]} tokens, "
        f"plus max_tokens {max_tokens} is {over[key] + max_tokens} > the model's {max_positions} positions; "
        f"set a rope scaling config (e.g. {{'rope_type': 'yarn', 'factor': 4.0}}) or {smaller}"
    )


def completion_text(response: str, force_think: bool) -> str:
    """The response as the model continues it: where the prompt already ends in the forced
    `<think>\\n`, the response's own opening tag is dropped so it is not written twice."""
    if force_think and response.lstrip().startswith(THINK.strip()):
        return response.lstrip()[len(THINK.strip()) :].removeprefix("\n")
    return response
