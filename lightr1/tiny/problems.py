"""Arithmetic problems of graded difficulty, their wordings, and a programmatic reasoner that
writes long `<think>` traces. Pure functions of a seeded `random.Random`.

A problem is a list of terms (sign, factors) evaluated as products first, then left to right:
((+1, (3, 4)), (+1, (7,)), (-1, (5,))) is 3*4 + 7 - 5. Levels grade the work by its number of
steps: 1 adds two digits, 2 adds a digit to or takes it from a number in the teens, 3 has three
operands, 4 is a*b + c, and 5 is a two-step word problem (a product, then an addition and a
subtraction). Every step is a small fact (a sum or difference under 40, a product under 25):
a model of about 1M parameters learns those facts in minutes on a CPU but not a whole multi-step
problem at one glance, so working step by step is what makes it right, as long reasoning does
for real models.

Training and benchmark problems are worded from disjoint vocabularies (names, objects,
sentence templates), so that a training problem resembles a benchmark problem, even with its
digits removed, only where the tiny world plants it on purpose.

Over 500 lines: numbers, wordings and the reasoner share one problem representation and one
vocabulary; the tiny model's tests pin the traces they write together.
"""

from __future__ import annotations

import operator
import random
import re
from dataclasses import dataclass, replace
from math import prod

Term = tuple[int, tuple[int, ...]]  # (sign, factors): one factor is a number, two a product
Range = tuple[int, int]

LEVELS = (1, 2, 3, 4, 5)


# ---------------------------------------------------------------------------------------------
# Numbers


@dataclass(frozen=True)
class Pattern:
    """The shape of a problem: per term a sign and the ranges its factors are drawn from."""

    terms: tuple[tuple[int, tuple[Range, ...]], ...]

    @property
    def shape(self) -> tuple[tuple[int, int], ...]:
        return tuple((sign, len(ranges)) for sign, ranges in self.terms)


_DIGIT, _TEEN, _COUNT, _PER = (2, 9), (10, 19), (2, 4), (2, 6)

PATTERNS: dict[int, tuple[Pattern, ...]] = {
    1: (Pattern(((1, (_DIGIT,)), (1, (_DIGIT,)))),),
    2: (Pattern(((1, (_TEEN,)), (1, (_DIGIT,)))), Pattern(((1, (_TEEN,)), (-1, (_DIGIT,))))),
    3: (
        Pattern(((1, (_DIGIT,)), (1, (_DIGIT,)), (1, (_DIGIT,)))),
        Pattern(((1, (_DIGIT,)), (1, (_DIGIT,)), (-1, (_DIGIT,)))),
        Pattern(((1, (_TEEN,)), (-1, (_DIGIT,)), (1, (_DIGIT,)))),
    ),
    4: (Pattern(((1, (_COUNT, _PER)), (1, (_DIGIT,)))),),
    5: (
        Pattern(((1, (_COUNT, _PER)), (1, (_DIGIT,)), (-1, (_DIGIT,)))),
        Pattern(((1, (_DIGIT,)), (1, (_COUNT, _PER)), (-1, (_DIGIT,)))),
    ),
}


def running_totals(terms: tuple[Term, ...]) -> list[int]:
    """The total after each term, in the order a reader (and the reasoner) works them."""
    totals, total = [], 0
    for sign, factors in terms:
        total += sign * prod(factors)
        totals.append(total)
    return totals


def evaluate(terms: tuple[Term, ...]) -> int:
    return running_totals(terms)[-1]


def draw_terms(rng: random.Random, pattern: Pattern) -> tuple[Term, ...]:
    """Operands for a pattern such that nothing ever goes negative (one cannot give away more
    marbles than one has) and the answer is positive."""
    while True:
        terms = tuple((sign, tuple(rng.randint(lo, hi) for lo, hi in ranges)) for sign, ranges in pattern.terms)
        if min(running_totals(terms)) >= 0 and evaluate(terms) > 0:
            return terms


def pattern_of(terms: tuple[Term, ...], level: int) -> Pattern:
    shape = tuple((sign, len(factors)) for sign, factors in terms)
    return next(p for p in PATTERNS[level] if p.shape == shape)


def sympy_expression(terms: tuple[Term, ...]) -> str:
    """The problem as an expression sympy parses, e.g. '3*12+7-5'."""
    return _expression(terms, times="*", space="")


def plain_expression(terms: tuple[Term, ...]) -> str:
    """The problem as the reasoner writes it, e.g. '3 * 12 + 7 - 5'."""
    return _expression(terms, times="*", space=" ")


def latex_expression(terms: tuple[Term, ...], tight: bool) -> str:
    return _expression(terms, times="\\times", space="" if tight else " ")


def _expression(terms: tuple[Term, ...], times: str, space: str) -> str:
    parts = []
    for index, (sign, factors) in enumerate(terms):
        if index:
            parts.append("+" if sign > 0 else "-")
        parts.append(f"{space}{times}{space}".join(str(f) for f in factors))
    return space.join(parts)


# ---------------------------------------------------------------------------------------------
# Words


@dataclass(frozen=True)
class Vocab:
    """Everything a problem is worded from. Placeholders: {name} {obj} {container} {place},
    {a} and {b} (numbers: a count, or a count of containers and how many each holds), {expr}."""

    name: str
    number_format: str  # how numbers appear in word problems: "{}" or "${}$" (AIME style)
    names: tuple[str, ...]
    objects: tuple[str, ...]
    containers: tuple[str, ...]
    places: tuple[str, ...]
    start: tuple[str, ...]
    start_groups: tuple[str, ...]
    gain: tuple[str, ...]
    gain_groups: tuple[str, ...]
    lose: tuple[str, ...]
    question: tuple[str, ...]
    bare: tuple[str, ...]
    preambles: tuple[str, ...]


TRAIN = Vocab(
    name="train",
    number_format="{}",
    names=tuple("Ava Ben Cara Dev Ella Finn Gia Hank Iris Jack Kai Lily Max Nora Owen Pia Rex Sara Tom Zoe".split()),
    objects=tuple("marbles stickers apples pencils shells coins cards books cookies buttons stamps beads".split()),
    containers=tuple("boxes bags packs jars".split()),
    places=tuple("park school market garden library beach".split()),
    start=("{name} has {a} {obj}.", "{name} starts the day with {a} {obj}.", "There are {a} {obj} in {name}'s bag."),
    start_groups=("{name} has {a} {container} with {b} {obj} in each.", "{name} buys {a} {container} of {obj}, and each one holds {b}."),
    gain=("Then {name} finds {a} more.", "A friend gives {name} {a} more {obj}.", "At the {place}, {name} gets {a} more {obj}."),
    gain_groups=("Then {name} buys {a} {container} with {b} {obj} in each.", "Later {name} gets {a} more {container}, and each one holds {b} {obj}."),
    lose=("Then {name} gives away {a} of them.", "{name} loses {a} {obj} on the way to the {place}.", "{name} uses {a} {obj} for a school project."),
    question=("How many {obj} does {name} have now?", "How many {obj} does {name} have in the end?"),
    bare=("Compute ${expr}$.", "What is ${expr}$?", "Find the value of ${expr}$.", "Work out ${expr}$ and give the result."),
    preambles=(
        "It was a bright Saturday morning, and {name} had promised to tidy up at home before going out to the {place} with a few close friends.",
        "{name} keeps careful notes about every collection in a small green notebook, and today there is a "
        "new page to fill in after a long trip to the {place}.",
        "During the summer break, {name} spent many afternoons at the {place}, trading with neighbors and "
        "counting everything twice to be sure nothing was lost.",
        "The teacher asked the class to write a short story with numbers in it, so {name} wrote about a busy week and a visit to the {place}.",
        "Rain kept everyone indoors all weekend, so {name} decided to sort out the shelves and count what was there.",
    ),
)

# AIME-like and MATH-500-like problems: formal wording, numbers in $...$ as in the real sets.
BENCH = Vocab(
    name="bench",
    number_format="${}$",
    names=tuple(
        "Beatrix Cornelius Desmond Eloise Florian Genevieve Horatio Isadora Lysander Marguerite Octavia Percival Rosalind Thaddeus Ulysses Wilhelmina".split()
    ),
    objects=tuple("lanterns violins telescopes parchments tapestries goblets hourglasses compasses quills crystals scrolls medallions".split()),
    containers=tuple("crates chests cabinets satchels".split()),
    places=tuple("observatory conservatory lighthouse monastery vineyard archive".split()),
    start=("Suppose that {name} possesses exactly {a} {obj}.", "Initially, the collection of {name} consists of {a} {obj}."),
    start_groups=(
        "Suppose that {name} owns {a} {container}, each containing precisely {b} {obj}.",
        "Initially, {name} stores {b} {obj} in each of {a} {container}.",
    ),
    gain=("Afterwards, {name} acquires an additional {a} {obj}.", "Subsequently, a courier delivers {a} further {obj} to {name}."),
    gain_groups=(
        "Afterwards, {name} acquires {a} additional {container}, each containing precisely {b} {obj}.",
        "Subsequently, {name} receives {a} sealed {container} holding {b} {obj} apiece.",
    ),
    lose=("Later, {name} donates {a} {obj} to the {place}.", "Subsequently, {a} of the {obj} are misplaced by {name}."),
    question=("Determine the number of {obj} that {name} possesses at the end.", "Determine the final count of {obj} belonging to {name}."),
    bare=(
        "In the ledger of {name}, one entry reads ${expr}$. Evaluate this entry.",
        "Determine the value of the expression ${expr}$ inscribed by {name} above the door of the {place}.",
        "{name} engraves ${expr}$ on a brass plate. Evaluate the engraved expression.",
    ),
    # Names and places recur often in benchmark preambles: two benchmark problems then never
    # share a long run of words, so a planted copy matches the one row it copies.
    preambles=(
        "The {place} has long been kept by {name}, whose meticulous ledger records every artifact that passes through the heavy oak doors of the {place}.",
        "Each autumn, {name} holds an inventory at the {place}, and this year {name} intends to record every figure with great precision.",
        "According to a chronicle preserved at the {place}, the steward {name} once undertook a careful census of the treasures kept "
        "within the walls of the {place}.",
        "Visitors to the {place} often remark on the orderly shelves, which {name} arranges anew at the start of every season.",
        "Few collections rival the one at the {place}, and none is tended more carefully than by {name}.",
    ),
)

# GPQA-like questions: laboratory wording, asked as multiple choice.
GPQA = Vocab(
    name="gpqa",
    number_format="{}",
    names=tuple("Okafor Lindqvist Moreau Tanaka Castellanos Nakamura Oyelaran Varga Brandt Ishikawa Kowalczyk Ferreira".split()),
    objects=tuple("vials pipettes cuvettes flasks beakers slides cultures ampoules".split()),
    containers=tuple("racks trays cartons".split()),
    places=("laboratory", "cleanroom", "cryostat facility"),
    start=(
        "The research group of Dr. {name} keeps {a} {obj} in the {place}.",
        "An inventory of the {place} lists {a} {obj} belonging to Dr. {name}.",
    ),
    start_groups=(
        "The research group of Dr. {name} keeps {a} {container} in the {place}, with {b} {obj} per unit.",
        "Dr. {name} stocks the {place} with {a} {container} of {obj}, each holding {b}.",
    ),
    gain=(
        "A supplier then ships {a} more {obj} to the group.",
        "Dr. {name} later orders {a} additional {obj} for the {place}.",
        "A collaborating team lends {a} {obj} to Dr. {name}.",
    ),
    gain_groups=(
        "The group then receives {a} {container} with {b} {obj} per unit.",
        "Dr. {name} then unpacks {a} {container} containing {b} {obj} each.",
    ),
    lose=(
        "During a titration series, {a} {obj} are used up.",
        "A contamination incident in the {place} destroys {a} {obj}.",
        "Dr. {name} discards {a} {obj} after a failed assay.",
    ),
    question=(
        "What is the total number of {obj} held by the group afterwards?",
        "How large is the final stock of {obj} available to Dr. {name}?",
        "Which number of {obj} remains in the {place} at the end of the study?",
    ),
    bare=(
        "In a kinetic model studied by Dr. {name}, a rate constant equals ${expr}$ in suitable units. What is its numerical value?",
        "A calibration log kept in the {place} by Dr. {name} lists the quantity ${expr}$. What number does it denote?",
    ),
    preambles=(
        "The {place} run by Dr. {name} is preparing a long series of enzyme kinetics experiments, so every consumable in the {place} must be logged.",
        "Safety rules at the {place} require that stock levels be reconciled after each shift, a task Dr. {name} takes very seriously.",
        "Dr. {name} recently moved the group into a renovated {place}, where storage space is scarce.",
        "An audit of the {place} is scheduled for next month, and Dr. {name} wants every count to be exact.",
    ),
)

VOCABS = {vocab.name: vocab for vocab in (TRAIN, BENCH, GPQA)}


@dataclass(frozen=True)
class Wording:
    """The choices that turn terms into text; kept so that a problem can be re-rendered with
    other numbers in the same words (a "digits changed" copy)."""

    style: str  # "word" or "bare"
    phrases: tuple[int, ...]  # per term, an index into that term's phrase list
    question: int
    bare: int
    preambles: tuple[int, ...]  # empty for a short problem
    tight: bool  # bare style: "$37+48$" rather than "$37 + 48$"
    name: str
    obj: str
    container: str
    place: str


@dataclass(frozen=True)
class TinyProblem:
    """A problem as text, with what produced it: its integer answer, level, terms (for the
    reasoner), wording (to re-render it with other numbers) and vocabulary name."""

    text: str
    answer: int
    level: int
    terms: tuple[Term, ...]
    wording: Wording
    vocab: str

    @property
    def words(self) -> int:
        return len(self.text.split())


def make_wording(rng: random.Random, vocab: Vocab, n_terms: int, style: str, long: bool) -> Wording:
    return Wording(
        style=style,
        phrases=tuple(rng.randrange(6) for _ in range(n_terms)),  # reduced modulo each list's length
        question=rng.randrange(len(vocab.question)),
        bare=rng.randrange(len(vocab.bare)),
        preambles=tuple(rng.sample(range(len(vocab.preambles)), 2)) if long else (),
        tight=rng.random() < 0.5,
        name=rng.choice(vocab.names),
        obj=rng.choice(vocab.objects),
        container=rng.choice(vocab.containers),
        place=rng.choice(vocab.places),
    )


def render(terms: tuple[Term, ...], wording: Wording, vocab: Vocab) -> str:
    slots = {"name": wording.name, "obj": wording.obj, "container": wording.container, "place": wording.place}
    sentences = [vocab.preambles[i].format(**slots) for i in wording.preambles]
    if wording.style == "bare":
        sentences.append(vocab.bare[wording.bare].format(expr=latex_expression(terms, wording.tight), **slots))
    else:
        for index, (term, choice) in enumerate(zip(terms, wording.phrases)):
            phrases = _phrases(vocab, index, term)
            numbers = [vocab.number_format.format(f) for f in term[1]]
            sentences.append(phrases[choice % len(phrases)].format(**dict(zip("ab", numbers)), **slots))
        sentences.append(vocab.question[wording.question].format(**slots))
    return " ".join(sentences)


def _phrases(vocab: Vocab, index: int, term: Term) -> tuple[str, ...]:
    sign, factors = term
    grouped = len(factors) == 2
    if index == 0:
        return vocab.start_groups if grouped else vocab.start
    if sign < 0 and not grouped:
        return vocab.lose
    if sign > 0:
        return vocab.gain_groups if grouped else vocab.gain
    raise ValueError("no wording for subtracting a product")


def make_problem(rng: random.Random, level: int, vocab: Vocab = TRAIN, *, style: str | None = None, long: bool = False) -> TinyProblem:
    """A fresh problem of a level. Level 5 is always a word problem; otherwise the style is
    drawn (half bare expressions, half word problems) unless given. `long` adds a two-sentence
    story preamble (over 40 words in all), which gives n-gram decontamination something to find."""
    pattern = rng.choice(PATTERNS[level])
    terms = draw_terms(rng, pattern)
    if style is None:
        style = "word" if level == 5 or rng.random() < 0.5 else "bare"
    wording = make_wording(rng, vocab, len(terms), style, long)
    return TinyProblem(render(terms, wording, vocab), evaluate(terms), level, terms, wording, vocab.name)


def with_terms(problem: TinyProblem, terms: tuple[Term, ...]) -> TinyProblem:
    """The same problem in the same words, with other numbers."""
    text = render(terms, problem.wording, VOCABS[problem.vocab])
    return replace(problem, text=text, answer=evaluate(terms), terms=terms)


def with_new_numbers(problem: TinyProblem, rng: random.Random) -> TinyProblem:
    """A "digits changed" copy: same words, fresh numbers of the same shape, answer recomputed."""
    pattern = pattern_of(problem.terms, problem.level)
    while True:
        terms = draw_terms(rng, pattern)
        if terms != problem.terms and evaluate(terms) != problem.answer:
            return with_terms(problem, terms)


# ---------------------------------------------------------------------------------------------
# The reasoner


@dataclass(frozen=True)
class Slip:
    """One arithmetic slip: step `step` comes out 10**`column` too high (its ones or its tens
    digit one too high). Later steps carry the wrong value along."""

    step: int
    column: int


SLIP_COLUMNS = 2


@dataclass(frozen=True)
class Step:
    left: int
    op: str
    right: int
    result: int

    @property
    def equation(self) -> str:
        return f"{self.left} {self.op} {self.right} = {self.result}"


@dataclass(frozen=True)
class Work:
    lines: tuple[str, ...]
    steps: tuple[Step, ...]
    value: int
    valid: bool  # False when a slip drove a total below zero (such work is not used)


_OPENERS = ("Okay, let me work through this carefully.", "Alright, let's see.", "Let me think about this step by step.")
_CLOSERS = ("So the answer is {v}.", "That gives {v}.", "Therefore the result is {v}.")
_OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul}


def calculate(left: int, op: str, right: int, slip: int | None = None) -> Step:
    """One step of working; `slip` is the column (0 ones, 1 tens) that comes out one high."""
    return Step(left, op, right, _OPS[op](left, right) + (10**slip if slip is not None else 0))


def restate(terms: tuple[Term, ...]) -> str:
    # The expression itself, not the problem retold in words: retelling makes a 1M model read
    # each operand from far back in the prompt, and it lost count (`9 + 7` became `9 + 7 + 7`).
    return f"Restating the problem: I need {plain_expression(terms)}."


def work(terms: tuple[Term, ...], slip: Slip | None = None) -> Work:
    """The reasoner's working: products first, then additions and subtractions left to right,
    one line per step, then a check that undoes the last step. A slip makes one step's result
    wrong, and the steps after it carry the wrong value."""
    steps: list[Step] = []

    def step(left: int, op: str, right: int) -> Step:
        column = slip.column if slip is not None and slip.step == len(steps) else None
        steps.append(calculate(left, op, right, column))
        return steps[-1]

    values = [step(factors[0], "*", factors[1]).result if len(factors) == 2 else factors[0] for _, factors in terms]
    total = values[0]
    for (sign, _), value in zip(terms[1:], values[1:]):
        if sign < 0 and total < value:
            return Work((), tuple(steps), total, valid=False)
        total = step(total, "+" if sign > 0 else "-", value).result
    last = steps[-1]
    undo = {"+": "-", "-": "+", "*": "/"}[last.op]
    lines = [
        restate(terms),
        *(f"{s.equation}." for s in steps),
        f"Check: {last.result} {undo} {last.right} = {last.left}, which matches, so {last.result} is right.",
    ]
    return Work(tuple(lines), tuple(steps), total, valid=True)


def _slips(terms: tuple[Term, ...]) -> list[Slip]:
    n_steps = sum(len(f) == 2 for _, f in terms) + len(terms) - 1
    return [Slip(step, column) for step in range(n_steps) for column in range(SLIP_COLUMNS)]


def wrong_work(terms: tuple[Term, ...], rng: random.Random) -> Work:
    """Working with one slip that changes the final answer (slips are tried in random order)."""
    candidates = _slips(terms)
    rng.shuffle(candidates)
    right = evaluate(terms)
    for slip in candidates:
        result = work(terms, slip)
        if result.valid and result.value != right:
            return result
    raise ValueError(f"no slip changes the answer of {plain_expression(terms)}")


def teacher_trace(problem: TinyProblem, rng: random.Random, wrong: bool = False) -> str:
    """A long R1-style response: "<think>\\n" + step-by-step work + "\\n</think>\\n\\n" + a short
    summary ending in \\boxed{answer}. A wrong trace slips once and boxes the wrong result.

    The summary gives only the result: a 1M-parameter model copies well from the line just above
    (the closer) and badly from far away, and a summary that re-copied every step came out garbled."""
    done = wrong_work(problem.terms, rng) if wrong else work(problem.terms)
    # No opener before the restatement: the base restates first thing in its thought too.
    body = [*done.lines, rng.choice(_CLOSERS).format(v=done.value)]
    return "<think>\n" + "\n".join(body) + "\n</think>\n\n" + f"The final answer is \\boxed{{{done.value}}}"


def think_body(trace: str) -> str:
    return trace.split("<think>\n", 1)[-1].split("\n</think>", 1)[0]


def limo_solution(problem: TinyProblem, rng: random.Random) -> str:
    """A LIMO-style solution: the long reasoning, then "**Final Answer**" and the boxed answer."""
    return think_body(teacher_trace(problem, rng)) + f"\n\n**Final Answer**\n\\boxed{{{problem.answer}}}"


def short_solution(problem: TinyProblem) -> str:
    """A short human-style solution, as in the `solution` column of the real sets."""
    ops = {"+": "+", "-": "-", "*": "\\cdot"}
    chain = ", then ".join(f"${s.left} {ops[s.op]} {s.right} = {s.result}$" for s in work(problem.terms).steps)
    return f"Solution. {chain}. Hence the answer is $\\boxed{{{problem.answer}}}$."


# ---------------------------------------------------------------------------------------------
# Proofs (rows whose answer is "proof": they cannot be checked and must be rejected)

_PROOFS = (
    (
        "Prove that if {name} adds any two odd numbers of {obj}, the total is always even.",
        "Write the two odd numbers as 2m + 1 and 2n + 1 for whole numbers m and n.\nTheir sum is 2m + 2n + 2 "
        "= 2(m + n + 1).\nThat is twice a whole number, so it is even.",
        "Write the numbers as $2m+1$ and $2n+1$; their sum $2(m+n+1)$ is even. $\\blacksquare$",
    ),
    (
        "Show that when {name} lines up two consecutive whole numbers of {obj}, their product is even.",
        "Call the numbers n and n + 1.\nOne of any two consecutive whole numbers is even.\nAn even number times any whole number is even, so n(n + 1) is even.",
        "One of $n$ and $n+1$ is even, so $n(n+1)$ is even. $\\blacksquare$",
    ),
    (
        "Prove that {name} can never split an odd number of {obj} into two equal piles.",
        "Two equal piles of k each hold 2k in total.\n2k is even for every whole number k.\nAn odd number is not even, so no such k exists.",
        "Equal piles give $2k$, which is even, never odd. $\\blacksquare$",
    ),
)


def make_proof(rng: random.Random, vocab: Vocab = TRAIN) -> tuple[str, str]:
    """A proof problem and a teacher response for it (no boxed answer)."""
    problem, reasoning, summary_text = rng.choice(_PROOFS)
    text = problem.format(name=rng.choice(vocab.names), obj=rng.choice(vocab.objects))
    trace = "<think>\n" + rng.choice(_OPENERS) + "\n" + reasoning + "\n</think>\n\n" + summary_text
    return text, trace


# ---------------------------------------------------------------------------------------------
# Text variants used to plant contamination

_MATH = re.compile(r"\$([^$]*)\$")


def respace_latex(text: str, rng: random.Random) -> str:
    """Change how inline math is written without changing the math: `$37+48$` becomes
    `$ 37 + 48 $`, `\\(37+48\\)` or `$37 + 48$` (one variant for the whole text)."""
    variant = rng.randrange(3)
    respaced = _MATH.sub(lambda match: _respace(match.group(1), variant), text)
    # Toggling the spacing of "$37$" changes nothing: fall back to padding the delimiters.
    return respaced if respaced != text else _MATH.sub(lambda match: _respace(match.group(1), 0), text)


def _respace(math: str, variant: int) -> str:
    if variant == 0:
        return "$ " + _spaced(math) + " $"
    if variant == 1:
        return "\\(" + math + "\\)"
    return "$" + (_tight(math) if _spaced(math) == math else _spaced(math)) + "$"


def _spaced(math: str) -> str:
    return " ".join(re.sub(r"(\\times|[+\-*])", r" \1 ", math).split())


def _tight(math: str) -> str:
    return "".join(math.split())


_SENTENCE_BREAK = re.compile(r"(?<!Dr)\. ")  # "Dr. Varga" is not the end of a sentence


def reformat_whitespace(text: str, rng: random.Random) -> str:
    """Same words, other whitespace: sentences on their own lines, doubled spaces, or blank
    lines and a trailing newline."""
    variant = rng.randrange(3) if _SENTENCE_BREAK.search(text) else 1
    if variant == 0:
        return _SENTENCE_BREAK.sub(".\n", text)
    if variant == 1:
        return text.replace(" ", "  ")
    return "\n" + _SENTENCE_BREAK.sub(".\n\n", text) + "\n"
