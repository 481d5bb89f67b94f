"""Verifier benchmark: speed and accuracy of `lightr1.verify` on the real benchmark answer mix,
against plain math-verify and a DeepScaleR-style grader on the same items.

    .venv/bin/python bench/verify.py [--data ../shared/data] [--seed 0] [--limit N] [--per-gold 1] [--workers 1]

The mix (fixed by --seed): every gold of aime, aime25, amc, math (MATH-500), minerva and
olympiad_bench (1,590 problems; a list gold counts as one, any member matches) gets
--per-gold (a) equivalent rewrites and (b) wrong answers, each in a response
`<think>...</think> ... \\boxed{...}` (the reasoning holds a decoy box):

- (a) by the gold's form: integers as `033`, `\\frac{2n}{2}`, `\\sqrt{n^2}`, `a + b`, `2^{k}`,
  `n.0`, `1,234`, `n^\\circ`, `\\$n`, `x = n`; decimals as fractions, trailing zeros or
  scientific notation; fractions as terminating decimals, unreduced, `p/q`, `\\dfrac`, mixed
  numbers; scientific notation as plain decimals or `e` notation; expressions with terms
  reordered, `a\\sqrt{b}` as `\\sqrt{a^2 b}`, `\\frac{k\\pi}{m}` as `\\frac{k}{m}\\pi`, polynomials
  expanded or factored (sympy, on simple polynomial golds only), added `x =`; lists and sets
  reordered; tuples and intervals with one element rewritten; matrices as bmatrix; words
  unwrapped from `\\text{}`; `\\left`/`\\right` and spacing.
- (b) a number changed (+1, a digit, a sign), a fraction inverted, a truncated decimal
  (`0.33` for `\\frac13`), `a\\sqrt{b}` as `b\\sqrt{a}`, a term's sign flipped, an interval's
  bracket changed, a tuple's elements swapped, a list element dropped, another word.
  Degenerate ones (equal to the gold after normalisation, or equal under sympy) are dropped.

An item "needs symbolic comparison" when the answer and the gold differ after Hendrycks'
`strip_string` and are not both plain numbers; the share is printed (the mix is built so
that it is over a third).

Timing: the verifier's slow-path worker is started (and the import paid) before the clock;
caches are cleared, so gold parsing and every slow-path round trip are timed. With
--workers 1 the caller and its one math-verify worker never run at once: one core.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import sys
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lightr1.text import last_boxed  # noqa: E402
from lightr1.verify.verdicts import clear_caches, start_workers, verify, verify_many  # noqa: E402

BENCHMARKS = ("aime", "aime25", "amc", "math", "minerva", "olympiad_bench")
# Answers the fast path leaves to math-verify, not from the mix: asked before the clock.
WARM_UP = [("\\angle A", "\\angle B"), ("t(0,4]", "t(0,5]"), ("-\\begin{pmatrix}1\\\\2\\end{pmatrix}", "\\begin{pmatrix}-1\\\\-2\\end{pmatrix}"),
           ("\\frac 50", "\\frac 60"), ("f(x)=ax+b, where b is odd", "ax+b"), ("0.003^{\\prime\\prime}", "0.004^{\\prime\\prime}")]
INT = re.compile(r"-?\d+")
DECIMAL = re.compile(r"-?\d*\.\d+")
FRACTION = re.compile(r"(-?)\\[dt]?frac\{?(\d+)\}?\{?(\d+)\}?")
SCI = re.compile(r"(-?\d+(?:\.\d+)?)\s*(?:\\times|\\cdot)\s*10\^\{?(-?\d+)\}?")
SIMPLE_POLY = re.compile(r"[0-9a-df-hj-z+\-^{}()\s]*[a-df-hj-z][0-9a-df-hj-z+\-^{}()\s]*")  # no e, no i: constants
TEXT = re.compile(r"\\text\{\s*([A-Za-z]+)\s*\}")

# ------------------------------------------------------------------------------------------
# The mix.


def load_golds(data: Path) -> list[tuple[str, list[str]]]:
    out = []
    for name in BENCHMARKS:
        for row in json.loads((data / "benchmarks" / f"{name}.json").read_text(encoding="utf-8")):
            answer = row["answer"]
            golds = [str(a) for a in answer] if isinstance(answer, list) else [str(answer)]
            out.append((name, golds))
    return out


UNITS = re.compile(r"\s*(?:\\(?:text|mbox)\{\s*[a-zA-Z][a-zA-Z ]*\}(?:\^\{?-?\d\}?)?|(?<=\d)\s(?:Hz|cm|m|s|K))\s*$")


def clean(gold: str) -> str:
    """A gold as a model would box it: no `$`, `\\$`, `\\!`, newline or trailing unit."""
    text = gold.replace("\\$", "").replace("$", "").replace("\\!", "").strip()
    while UNITS.search(text) and UNITS.sub("", text):
        text = UNITS.sub("", text).strip()
    return text


def depth_split(text: str, sep: str = ",") -> list[str]:
    """`text` split at `sep` outside brackets and braces."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def terms(expr: str) -> list[tuple[str, str]] | None:
    """Top-level signed terms of a sum, or None when splitting is not clearly safe."""
    if any(bad in expr for bad in ("\\pm", "\\mp", "=", ",", "\\cup", "<", ">", "\\le", "\\ge", "e-", "e+")):
        return None
    out, depth, sign, start = [], 0, "+", 0
    for i, ch in enumerate(expr):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch in "+-" and depth == 0:
            before = expr[:i].rstrip()
            if not before:
                sign = ch
                start = i + 1
                continue
            if before[-1] in "^_(*/" or before.endswith(("\\times", "\\cdot")):
                return None
            out.append((sign, expr[start:i].strip()))
            sign, start = ch, i + 1
    out.append((sign, expr[start:].strip()))
    return out if len(out) > 1 and all(t for _, t in out) else None


def join_terms(items: list[tuple[str, str]]) -> str:
    text = ("-" if items[0][0] == "-" else "") + items[0][1]
    return text + "".join(f" {sign} {term}" for sign, term in items[1:])


def decimal(value: Fraction) -> str | None:
    """The exact decimal of a fraction whose denominator is made of 2s and 5s."""
    den = value.denominator
    twos = fives = 0
    while den % 2 == 0:
        den //= 2
        twos += 1
    while den % 5 == 0:
        den //= 5
        fives += 1
    if den != 1 or max(twos, fives) > 40:
        return None
    places = max(twos, fives)
    scaled = abs(value) * 10**places
    digits = str(scaled.numerator).rjust(places + 1, "0")
    text = digits[:-places] + "." + digits[-places:] if places else digits
    return ("-" if value < 0 else "") + text


def latex_fraction(value: Fraction) -> str:
    sign = "-" if value < 0 else ""
    return f"{sign}\\frac{{{abs(value.numerator)}}}{{{value.denominator}}}"


def number_of(text: str) -> Fraction | None:
    text = text.strip()
    if re.fullmatch(r"-?\d{1,3}(?:, ?\d{3})+(?:\.\d+)?", text):  # 58,500 and 11, 111, 100 (from 11,\! 111,\! 100)
        text = text.replace(",", "").replace(" ", "")
    if INT.fullmatch(text) or DECIMAL.fullmatch(text) or re.fullmatch(r"-?\d+(?:\.\d+)?e-?\d+", text):
        return Fraction(text)
    match = FRACTION.fullmatch(text)
    if match:
        value = Fraction(int(match.group(2)), int(match.group(3)))
        return -value if match.group(1) else value
    match = SCI.fullmatch(text)
    if match:
        return Fraction(match.group(1)) * Fraction(10) ** int(match.group(2))
    return None


def rewrite_number(text: str, value: Fraction, rng: random.Random) -> tuple[str, str]:
    options: list[tuple[str, str]] = []
    if value.denominator == 1:
        n = value.numerator
        options += [("int-frac", f"\\frac{{{2 * n}}}{{2}}"), ("int-dfrac", f"\\dfrac{{{3 * n}}}{{3}}"), ("int-sum", f"{n - 7} + 7"),
                    ("int-decimal", f"{n}.0"), ("int-assign", f"x = {n}")]
        if 0 <= n < 1000:
            options.append(("int-pad", f"{n:03d}"))
        if 0 < n < 10**6:
            options.append(("int-sqrt", f"\\sqrt{{{n * n}}}"))
        if n >= 1000:
            options.append(("int-thousands", f"{n:,}"))
        if n > 1 and n & (n - 1) == 0:
            options.append(("int-power", f"2^{{{n.bit_length() - 1}}}"))
        options += [("int-degrees", f"{n}^\\circ"), ("int-dollars", f"\\${n}")]
    else:
        options.append(("frac", latex_fraction(value)))
        options.append(("frac-unreduced", latex_fraction(value).replace(f"{{{abs(value.numerator)}}}{{{value.denominator}}}",
                                                                         f"{{{abs(value.numerator) * 4}}}{{{value.denominator * 4}}}")))
        if abs(value.numerator) < 10**6:
            options.append(("frac-slash", f"{value.numerator}/{value.denominator}"))
        dec = decimal(value)
        if dec is not None and dec != text:
            options.append(("decimal", dec))
            options.append(("scientific", sci_form(value)))
        if abs(value) > 1 and value.denominator < 100:
            whole, rest = divmod(abs(value.numerator), value.denominator)
            options.append(("mixed", f"{'-' if value < 0 else ''}{whole}\\frac{{{rest}}}{{{value.denominator}}}"))
    options = [(k, t) for k, t in options if t.replace(" ", "") != text.replace(" ", "")]
    return rng.choice(options) if options else ("same", text)


def sci_form(value: Fraction) -> str:
    dec = decimal(value)
    digits = dec.lstrip("-").replace(".", "").lstrip("0")
    if not digits:
        return "0"
    exponent = len(dec.lstrip("-").split(".")[0].lstrip("0")) - 1 if abs(value) >= 1 else -(len(dec.split(".")[1]) - len(dec.split(".")[1].lstrip("0")) + 1)
    mantissa = digits[0] + ("." + digits[1:].rstrip("0") if digits[1:].rstrip("0") else "")
    return f"{'-' if value < 0 else ''}{mantissa} \\times 10^{{{exponent}}}"


def wrong_number(text: str, value: Fraction, rng: random.Random) -> tuple[str, str]:
    options: list[tuple[str, str]] = []
    if value.denominator == 1:
        n = value.numerator
        options += [("int+1", str(n + 1)), ("int-1", str(n - 1)), ("int-neg", str(-n) if n else "1"), ("int*10", str(n * 10 or 1)),
                    ("int-frac-off", f"\\frac{{{2 * n + 1}}}{{2}}")]
        if 0 < abs(n) < 10**4:  # beyond, sqrt(n^2+1) is within float precision of n
            options.append(("int-sqrt-off", f"\\sqrt{{{n * n + 1}}}"))
    else:
        if abs(value.numerator) != 1 or value.denominator != 1:
            options.append(("frac-inverted", latex_fraction(1 / value)))
        options.append(("frac-num+1", latex_fraction(value + Fraction(1, value.denominator))))
        options.append(("frac-neg", latex_fraction(-value)))
        if decimal(value) is None:
            options.append(("truncated", f"{float(value):.2f}"))
        else:
            dec = decimal(value)
            options.append(("decimal-off", dec[:-1] + str((int(dec[-1]) + 1) % 10) if dec[-1].isdigit() else dec + "1"))
    return rng.choice(options)


def rewrite_expression(text: str, rng: random.Random) -> tuple[str, str] | None:
    options: list[tuple[str, str]] = []
    split = terms(text)
    if split:
        shuffled = split[:]
        for _ in range(5):
            rng.shuffle(shuffled)
            if shuffled != split:
                options.append(("reordered", join_terms(shuffled)))
                break
    radical = re.search(r"(?<![\d^_{.])(\d+)\s*\\sqrt\{(\d+)\}", text)
    if radical:
        a, b = int(radical.group(1)), int(radical.group(2))
        options.append(("radical", text[: radical.start()] + f"\\sqrt{{{a * a * b}}}" + text[radical.end() :]))
    frac_pi = re.fullmatch(r"(-?)\\frac\{(\d*)\s*\\pi\}\{(\d+)\}", text)
    if frac_pi:
        options.append(("frac-pi", f"{frac_pi.group(1)}\\frac{{{frac_pi.group(2) or 1}}}{{{frac_pi.group(3)}}}\\pi"))
    if SIMPLE_POLY.fullmatch(text) and not re.search(r"[a-z]{2}", text.replace(" ", "")) and "^{" not in text.replace("^{2}", "").replace("^{3}", ""):
        poly = sympy_rewrite(text, rng)
        if poly:
            options.append(poly)
    if "\\frac" in text:
        options.append(("dfrac", text.replace("\\frac", "\\dfrac")))
    if not re.search(r"[=<>x]|\\[lg]e|\\in|\\text|\\mbox|\w\(", text) and not options:
        options.append(("assign", f"x = {text}"))
    return rng.choice(options) if options else None


def sympy_rewrite(text: str, rng: random.Random) -> tuple[str, str] | None:
    """Expanded or factored form of a simple polynomial gold, by sympy (parsed without eval)."""
    import sympy
    from latex2sympy2_extended import latex2sympy

    try:
        expr = latex2sympy(text)
        forms = [("expanded", sympy.expand(expr)), ("factored", sympy.factor(expr))]
    except Exception:
        return None
    forms = [(k, sympy.latex(f)) for k, f in forms if sympy.latex(f).replace(" ", "") != text.replace(" ", "")]
    return rng.choice(forms) if forms else None


def wrong_expression(text: str, rng: random.Random) -> tuple[str, str] | None:
    options: list[tuple[str, str]] = []
    radical = re.search(r"(?<![\d^_{.])(\d+)\s*\\sqrt\{(\d+)\}", text)
    if radical and radical.group(1) != radical.group(2):
        options.append(("radical-swapped", text[: radical.start()] + f"{radical.group(2)}\\sqrt{{{radical.group(1)}}}" + text[radical.end() :]))
    split = terms(text)
    if split:
        i = rng.randrange(len(split))
        flipped = split[:]
        flipped[i] = ("-" if split[i][0] == "+" else "+", split[i][1])
        options.append(("sign-flipped", join_terms(flipped)))
    numbers = [m for m in re.finditer(r"\d+", text) if not re.search(r"(_\{?|\\begin\{|\\end\{)$", text[: m.start()])]
    if numbers:
        m = rng.choice(numbers)
        options.append(("number-changed", text[: m.start()] + str(int(m.group()) + 1) + text[m.end() :]))
    return rng.choice(options) if options else None


def is_list(text: str) -> bool:
    return len(depth_split(text)) > 1 and not (text[:1] in "([" and text[-1:] in ")]" and len(depth_split(text[1:-1])) > 1 and bracket_closes(text))


def bracket_closes(text: str) -> bool:
    """Whether the first character's bracket closes at the last character."""
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0:
            return i == len(text) - 1
    return False


def rewrite(gold: str, rng: random.Random) -> tuple[str, str] | None:
    text = clean(gold)
    inner = TEXT.fullmatch(text)
    if inner:
        return ("text-unwrapped", inner.group(1))
    text = re.sub(r"\\left|\\right", "", text) if rng.random() < 0.5 else text
    value = number_of(text)
    if value is not None:
        return rewrite_number(text, value, rng)
    if text.startswith("\\begin{pmatrix}"):
        return ("bmatrix", text.replace("pmatrix", "bmatrix"))
    if re.fullmatch(r"\\\{.*\\\}", text):
        items = depth_split(text[2:-2])
        if len(items) > 1:
            return ("set-reordered", "\\{" + ",".join(rotate(items)) + "\\}")
    if is_list(text):
        return ("list-reordered", ", ".join(x.strip() for x in rotate(depth_split(text))))
    if text[:1] in "([" and bracket_closes(text) and len(depth_split(text[1:-1])) > 1:
        items = depth_split(text[1:-1])
        for i in rng.sample(range(len(items)), len(items)):
            value = number_of(items[i])
            if value is not None:
                kind, new = rewrite_number(items[i].strip(), value, rng)
                if kind not in ("int-assign", "int-degrees", "int-dollars", "same"):
                    items[i] = new
                    return ("tuple-element", text[0] + ", ".join(x.strip() for x in items) + text[-1])
        return ("tuple-spaced", "\\left" + text[0] + " " + ", ".join(x.strip() for x in items) + " \\right" + text[-1])
    if "^\\circ" in text:
        return ("degrees-dropped", text.replace("^\\circ", ""))
    return rewrite_expression(text, rng)


def rotate(items: list[str]) -> list[str]:
    return items[1:] + items[:1]


def wrong(gold: str, rng: random.Random) -> tuple[str, str] | None:
    text = clean(gold)
    inner = TEXT.fullmatch(text)
    if inner:
        return ("other-word", "\\text{" + {"east": "west", "even": "odd"}.get(inner.group(1).lower(), "Someone") + "}")
    value = number_of(text)
    if value is not None:
        return wrong_number(text, value, rng)
    if is_list(text):
        items = depth_split(text)
        return ("list-dropped", ", ".join(x.strip() for x in items[:-1]))
    if text[:1] in "([" and bracket_closes(text) and len(depth_split(text[1:-1])) > 1:
        items = [x.strip() for x in depth_split(text[1:-1])]
        if len(items) == 2 and rng.random() < 0.5:
            brackets = {"(": "[", "[": "("}
            return ("bracket-changed", brackets[text[0]] + text[1:])
        if items[0] != items[1]:
            return ("tuple-swapped", text[0] + ", ".join([items[1], items[0], *items[2:]]) + text[-1])
    return wrong_expression(text, rng)


def response(answer: str, decoy: str, rng: random.Random) -> str:
    """A realistic long-CoT response: reasoning with math and a decoy box, then the answer."""
    steps = [
        "Let me set up the problem carefully. ", f"First, note that $x^2 - {rng.randint(2, 9)}x + {rng.randint(1, 20)} = 0$ has two roots. ",
        f"Hmm, wait, that gives ${rng.randint(10, 99)}$, which seems off. ", "Let me double-check by substituting back. ",
        f"Using $\\frac{{a+b}}{{2}} \\ge \\sqrt{{ab}}$, we get a bound of ${rng.randint(2, 50)}$. ", "Alternatively, consider the complementary count. ",
        f"So the sum is $\\sum_{{k=1}}^{{{rng.randint(5, 30)}}} k^2$. ", "That matches the small cases I tried. ",
    ]
    body = "".join(rng.choice(steps) for _ in range(rng.randint(8, 30)))
    tail = rng.choice([
        "The final answer is $\\boxed{{{a}}}$.", "**Answer:** $\\boxed{{{a}}}$", "Therefore, the answer is \\(\\boxed{{{a}}}\\).",
        "So we conclude:\n\\[\n\\boxed{{{a}}}\n\\]",
    ])
    return f"<think>\n{body}I first thought the answer was \\boxed{{{decoy}}}, but let me recheck. {body[: len(body) // 3]}\n</think>\n\n" \
           f"We solve step by step. {body[: len(body) // 4]}\n\n" + tail.format(a=answer)


def build_items(golds: list[tuple[str, list[str]]], seed: int, per_gold: int) -> list[dict]:
    rng = random.Random(seed)
    items = []
    for bench, gold_list in golds:
        base = gold_list[0]
        for label, make in ((True, rewrite), (False, wrong)):
            made = set()
            for _ in range(per_gold * 3):
                if len(made) == per_gold:
                    break
                result = make(base, rng)
                if result is None:
                    break
                kind, answer = result
                if answer in made or (not label and degenerate(gold_list, answer)):
                    continue
                made.add(answer)
                items.append({"bench": bench, "gold": gold_list, "answer": answer, "label": label, "kind": kind,
                              "response": response(answer, rng.choice(["0", "42", "\\frac{1}{2}"]), rng)})
    return items


def degenerate(golds: list[str], answer: str) -> bool:
    """A 'wrong' answer that equals a gold after normalisation, or under sympy."""
    return any(strip_string(clean(g)) == strip_string(answer) or sympy_equal(clean(g), answer, time_limit=2) is True for g in golds)


# ------------------------------------------------------------------------------------------
# Baselines.


def mathverify_grade(gold: list[str], region: str) -> bool:
    """Plain math-verify: verify(parse(gold), parse(answer)), any gold."""
    from math_verify import parse
    from math_verify import verify as mv_verify

    parsed = parse(region)
    return any(mv_verify(parse(g.strip() if "$" in g else f"${g.strip()}$"), parsed) for g in gold)


# Hendrycks MATH's strip_string (the MATH repository's normalisation), for DeepScaleR's grade_answer_mathd.


def _fix_fracs(string: str) -> str:
    substrs = string.split("\\frac")
    new_str = substrs[0]
    for substr in substrs[1:]:
        new_str += "\\frac"
        if substr and substr[0] == "{":
            new_str += substr
        elif len(substr) >= 2:
            a, b = substr[0], substr[1]
            if b != "{":
                new_str += "{" + a + "}{" + b + "}" + substr[2:]
            else:
                new_str += "{" + a + "}" + b + substr[2:]
        else:
            return string
    return new_str


def _fix_a_slash_b(string: str) -> str:
    parts = string.split("/")
    if len(parts) != 2:
        return string
    try:
        a, b = int(parts[0]), int(parts[1])
    except ValueError:
        return string
    return "\\frac{" + str(a) + "}{" + str(b) + "}" if string == f"{a}/{b}" else string


def _fix_sqrt(string: str) -> str:
    if "\\sqrt" not in string:
        return string
    splits = string.split("\\sqrt")
    new_string = splits[0]
    for split in splits[1:]:
        if split and split[0] != "{":
            new_string += "\\sqrt{" + split[0] + "}" + split[1:]
        else:
            new_string += "\\sqrt" + split
    return new_string


def strip_string(string: str) -> str:
    string = string.replace("\n", "").replace("\\!", "").replace("\\\\", "\\").replace("tfrac", "frac").replace("dfrac", "frac")
    string = string.replace("\\left", "").replace("\\right", "").replace("^{\\circ}", "").replace("^\\circ", "").replace("\\$", "")
    if "\\text{ " in string:  # remove units on the right
        string = string.split("\\text{ ")[0]
    string = string.replace("\\%", "").replace("%", "").replace(" .", " 0.").replace("{.", "{0.")
    if not string:
        return string
    if string[0] == ".":
        string = "0" + string
    if len(string.split("=")) == 2 and len(string.split("=")[0]) <= 2:
        string = string.split("=")[1]
    string = _fix_sqrt(string).replace(" ", "")
    string = _fix_fracs(string)
    if string == "0.5":
        string = "\\frac{1}{2}"
    return _fix_a_slash_b(string)


# A PRM800K-style sympy grader (DeepScaleR's grade_answer_sympy), parsing LaTeX with
# latex2sympy2_extended instead of sympy's parse_expr (which evaluates text).


def _normalize(expr: str) -> str:
    expr = re.sub(r"\\text\{(.*?)\}", r"\1", expr)
    for unit in ("degrees", "degree", "cm", "centimeters", "meters", "inches", "inch", "feet", "units", "unit", "dollars", "cents", "mph", "hours",
                 "minutes", "seconds", "sq"):
        expr = re.sub(rf"(\^\{{?\d\}}?)?\s*{unit}(es)?(s)?(\^\{{?\d\}}?)?\s*$", "", expr)
    expr = expr.replace("^{\\circ}", "").replace("^\\circ", "").replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "")
    expr = expr.replace("\\!", "").replace("\\left", "").replace("\\right", "").replace("dfrac", "frac").replace("tfrac", "frac")
    expr = re.sub(r"(\d),(\d\d\d)($|\D)", r"\1\2\3", expr)
    expr = re.sub(r"^[a-zA-Z]\s*=", "", expr.strip())
    expr = expr.strip().rstrip(".")
    return expr.replace(" ", "").lower() if re.fullmatch(r"[A-Za-z ]+", expr) else expr.replace(" ", "")


def _is_int(text: str) -> bool:
    return bool(re.fullmatch(r"-?\d+(\.0+)?", text.replace(",", "")))


class _Alarm(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Alarm


def _sympy_same(a: str, b: str) -> bool:
    import sympy
    from latex2sympy2_extended import latex2sympy

    x, y = latex2sympy(a), latex2sympy(b)
    return sympy.simplify(x - y) == 0


def sympy_equal(gold: str, given: str, time_limit: int = 5) -> bool | None:
    """True/False, or None when it raised or ran out of time."""
    gt, gv = _normalize(gold), _normalize(given)
    if gt == gv:
        return True
    if not gt or not gv:
        return False
    if gt[0] in "([" and gt[-1] in ")]" and gv[0] in "([" and gv[-1] in ")]":
        if gt[0] != gv[0] or gt[-1] != gv[-1]:
            return False
        gts, gvs = gt[1:-1].split(","), gv[1:-1].split(",")
    else:
        gts, gvs = gt.split(","), gv.split(",")
    if len(gts) != len(gvs):
        return False
    old = signal.signal(signal.SIGALRM, _on_alarm)
    signal.alarm(time_limit)
    try:
        for a, b in zip(gts, gvs):
            if _is_int(a) and not _is_int(b):
                return False
            if a != b and not _sympy_same(a, b):
                return False
        return True
    except _Alarm:
        return None
    except Exception:
        return None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def deepscaler_grade(gold: list[str], response_text: str) -> bool:
    """DeepScaleR's reward: the box after </think>; Hendrycks string equality or sympy, any gold."""
    if "</think>" not in response_text:
        return False
    answer = last_boxed(response_text.split("</think>")[1])
    if answer is None:
        return False
    for g in gold:
        g = g.strip()
        if strip_string(answer) == strip_string(g) or sympy_equal(g, answer):
            return True
    return False


# ------------------------------------------------------------------------------------------
# Run.


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    """CPU seconds of finished child processes (bulk workers and, waited by them, their workers)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def worker_pids() -> list[int]:
    from lightr1.verify import verdicts as module

    pool = module._POOL
    return [w.process.pid for w in pool.idle] if pool is not None else []


def needs_symbolic(item: dict) -> bool:
    a, g = strip_string(item["answer"]), strip_string(clean(item["gold"][0]))
    plain = re.compile(r"-?\d*\.?\d+")
    return a != g and not (plain.fullmatch(a) and plain.fullmatch(g))


def report(name: str, verdicts: list[bool], items: list[dict], seconds: float, mine: list[bool] | None = None) -> None:
    right = sum(v == it["label"] for v, it in zip(verdicts, items))
    false_pos = sum(v and not it["label"] for v, it in zip(verdicts, items))
    false_neg = sum(not v and it["label"] for v, it in zip(verdicts, items))
    agree = f", agrees with lightr1 on {sum(a == b for a, b in zip(verdicts, mine)) / len(items):.1%}" if mine is not None else ""
    print(f"{name:24s} {len(items) / seconds:9,.0f}/s  accuracy {right / len(items):.2%}  (wrongly accepted {false_pos}, wrongly rejected {false_neg}){agree}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="use the first N items of the (shuffled) mix")
    parser.add_argument("--per-gold", type=int, default=1, help="equivalent and wrong answers per gold")
    parser.add_argument("--workers", type=int, default=1, help="verify_many workers for the timed run")
    parser.add_argument("--no-baselines", action="store_true")
    parser.add_argument("--show", type=int, default=8, help="disagreements with the labels to print per grader")
    args = parser.parse_args()
    if not (args.data / "benchmarks" / "math.json").is_file():
        sys.exit(f"bench/verify.py: no data at {args.data} (expected benchmarks/math.json there; see --data)")

    start = time.perf_counter()
    items = build_items(load_golds(args.data), args.seed, args.per_gold)
    random.Random(args.seed).shuffle(items)
    items = items[: args.limit] if args.limit else items
    symbolic = sum(map(needs_symbolic, items))
    print(f"{len(items)} items ({sum(it['label'] for it in items)} equivalent, {sum(not it['label'] for it in items)} wrong) from "
          f"{len(load_golds(args.data))} golds in {time.perf_counter() - start:.1f} s; {symbolic / len(items):.1%} need symbolic comparison")
    by_bench = {b: sum(it["bench"] == b for it in items) for b in BENCHMARKS}
    print("  per benchmark: " + ", ".join(f"{b} {n}" for b, n in by_bench.items()))

    start_workers(1)  # the math-verify worker's import, and its first questions, are one-offs: before the clock
    for gold, answer in WARM_UP:
        verify(gold, f"\\boxed{{{answer}}}")
    clear_caches()
    rows = [(it["gold"], it["response"], "math") for it in items]
    pids = worker_pids()
    cpu0, children0, workers_cpu0, wall0 = time.process_time(), children_cpu(), sum(map(cpu_seconds, pids)), time.perf_counter()
    verdicts = verify_many(rows, workers=args.workers)
    wall = time.perf_counter() - wall0
    alive = [p for p in pids if Path(f"/proc/{p}").exists()]
    cpu = time.process_time() - cpu0 + children_cpu() - children0 + sum(map(cpu_seconds, alive)) - workers_cpu0
    mine = [v.correct for v in verdicts]
    for it, v in zip(items, verdicts):
        it["reason"] = v.reason
    reasons: dict[str, int] = {}
    for v in verdicts:
        reasons[v.reason] = reasons.get(v.reason, 0) + 1
    print(f"\nlightr1.verify: {len(items)} verifications in {wall:.2f} s wall = {len(items) / wall:,.0f}/s with {args.workers} worker(s)"
          f" (CPU of this process and its workers: {cpu:.2f} s = {len(items) / cpu:,.0f}/s per core)")
    print("  reasons: " + ", ".join(f"{k} {n}" for k, n in sorted(reasons.items())))
    clear_caches()
    from lightr1.verify import mathexpr

    slow = 0
    for it in items:
        try:
            any(mathexpr.equivalent(g, it["answer"]) for g in it["gold"])
        except mathexpr.Undecided:
            slow += 1
    print(f"  the fast path decided {1 - slow / len(items):.1%} of the items; {slow} went to math-verify")
    report("lightr1.verify", mine, items, wall)

    if not args.no_baselines:
        start = time.perf_counter()
        plain = [mathverify_grade(it["gold"], it["response"].split("</think>")[1]) for it in items]
        report("math-verify (plain)", plain, items, time.perf_counter() - start, mine)
        start = time.perf_counter()
        dsr = [deepscaler_grade(it["gold"], it["response"]) for it in items]
        report("DeepScaleR-style", dsr, items, time.perf_counter() - start, mine)
    else:
        plain = dsr = mine

    for name, got in (("lightr1.verify", mine), ("math-verify", plain), ("DeepScaleR-style", dsr)):
        wrong_items = [(it, v) for it, v in zip(items, got) if v != it["label"]]
        if wrong_items and args.show:
            print(f"\n{name}: {len(wrong_items)} disagreements with the labels, e.g.:")
            for it, v in wrong_items[: args.show]:
                print(f"  [{it['bench']}/{it['kind']}] gold {it['gold'][0].strip()!r} answer {it['answer']!r} label {it['label']} said {v}"
                      + (f" ({it['reason']})" if "reason" in it else ""))


if __name__ == "__main__":
    main()
