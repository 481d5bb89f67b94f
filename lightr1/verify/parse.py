"""A tokenizer and recursive-descent parser for LaTeX math answers: a tree of tuples, never
anything eval'ed. Input it does not understand raises `Undecided`."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

MAX_DEPTH = 60  # nesting of the parse tree
MAX_ITEMS = 200  # elements of a list, set or tuple


class Undecided(Exception):
    """The fast path cannot judge this pair: the caller falls back to math-verify."""


# ------------------------------------------------------------------------------------------
# Tokens and the parse tree. Nodes are tuples: ("n", Fraction), ("s", name), ("c", "pi"|"e"|"i"|"inf"),
# ("+", [nodes]), ("*", [nodes]), ("neg", x), ("inv", x), ("^", base, exponent), ("f", name, x),
# ("log", base, x), ("root", n, x), ("!", x), ("binom", n, k), ("floor"|"ceil"|"abs", x),
# ("pm", x) / ("mp", x) (a term with a sign chosen per item); structures: ("seq", "()", [..]),
# ("set", [..]), ("union", [..]), ("eq", left, right), ("rel", op, left, right), ("mat", rows).

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+(?![a-zA-Z]))?|\.\d+(?:[eE][-+]?\d+(?![a-zA-Z]))?)|(\\[a-zA-Z]+|\\.)|(\S))")
_SKIP = {"\\ ", "\\,", "\\;", "\\:", "\\!"}
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta", "iota", "kappa", "lambda", "mu", "nu",
          "xi", "rho", "varrho", "sigma", "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi",
          "Sigma", "Upsilon", "Phi", "Psi", "Omega", "hbar", "ell", "odot", "star"}
_FUNCS = {"sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "ln", "log", "exp", "lg"}
_INVERSE = {"sin": "arcsin", "cos": "arccos", "tan": "arctan"}
_ACCENTS = {"dot", "ddot", "bar", "hat", "vec", "tilde", "overline", "mathbb", "mathcal"}
_RELATIONS = {"=": "=", "<": "<", ">": ">", "\\le": "<=", "\\ge": ">=", "\\lt": "<", "\\gt": ">", "\\in": "in"}
_TIMES = {"*", "\\cdot", "\\times", "\\ast"}
_DIVIDE = {"/", "\\div"}
_ATOM_COMMANDS = {"\\frac", "\\sqrt", "\\binom", "\\pi", "\\infty", "\\lfloor", "\\lceil", "\\text", "\\begin", "\\{"}
_NAME = re.compile(r"(?:[a-zA-Z]|\\[a-zA-Z]+)(?:_(?:\w|\{[^{}]*\}))?'*(?:\([^()]*\))?")


def tokenize(text: str) -> list[str]:
    return [a or b or c for a, b, c in _TOKEN.findall(text) if (a or b or c) not in _SKIP]


def _is_number(token: str | None) -> bool:
    return token is not None and (token[0].isdigit() or (token[0] == "." and len(token) > 1))


def _starts_atom(token: str | None) -> bool:
    if token is None:
        return False
    if token[0] == "\\":
        return token in _ATOM_COMMANDS or token[1:] in _GREEK or token[1:] in _FUNCS or token[1:] in _ACCENTS
    return token.isalnum() or token in ("(", "{", "|")


class Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        if self.i >= len(self.tokens):
            raise Undecided("unexpected end")
        self.i += 1
        return self.tokens[self.i - 1]

    def expect(self, token: str) -> None:
        if self.take() != token:
            raise Undecided(f"expected {token}")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Undecided("nested too deep")

    # answer := item (',' item)* ; item := relation ('\cup' relation)*
    def answer(self) -> list[Any]:
        items = [self.item()]
        while self.peek() == ",":
            self.take()
            items.append(self.item())
            if len(items) > MAX_ITEMS:
                raise Undecided("too many items")
        if self.peek() is not None:
            raise Undecided(f"unexpected {self.peek()}")
        return items

    def item(self) -> Any:
        parts = [self.relation()]
        while self.peek() == "\\cup":
            self.take()
            parts.append(self.relation())
        return ("union", parts) if len(parts) > 1 else parts[0]

    def relation(self) -> Any:
        start = self.i
        left = self.sum()
        op = self.peek()
        if op not in _RELATIONS:
            return left
        name = "".join(self.tokens[start : self.i])
        self.take()
        right = self.sum()
        if self.peek() in _RELATIONS:
            raise Undecided("chained relation")
        if _RELATIONS[op] in ("=", "in") and _NAME.fullmatch(name):
            return right  # "x = 5", "f(x) = 2x", "x \in [1, 2]": the name is no part of the answer
        if _RELATIONS[op] == "in":
            raise Undecided("membership")
        return ("eq", left, right) if op == "=" else ("rel", _RELATIONS[op], left, right)

    def sum(self) -> Any:
        self.enter()
        terms = []
        sign = "+"
        if self.peek() in ("+", "-", "\\pm", "\\mp"):
            sign = self.take()
        while True:
            term = self.term()
            terms.append(term if sign == "+" else ("neg", term) if sign == "-" else ("pm" if sign == "\\pm" else "mp", term))
            if self.peek() not in ("+", "-", "\\pm", "\\mp"):
                break
            sign = self.take()
        self.depth -= 1
        return terms[0] if len(terms) == 1 else ("+", terms)

    def term(self) -> Any:
        factors = [self.unary()]
        while True:
            token = self.peek()
            if token in _TIMES:
                self.take()
                factors.append(self.unary())
            elif token in _DIVIDE:
                self.take()
                factors.append(("inv", self.unary()))
            elif _starts_atom(token):
                before = self.tokens[self.i - 1]
                factor = self.power()
                if token == "\\frac" and before.isdigit() and _is_integer_fraction(factor) and _is_plain_integer(factors[-1]):
                    factors[-1] = ("+", [factors[-1], factor])  # mixed number: 3\frac12 is 3 + 1/2
                else:
                    factors.append(factor)
            else:
                break
            if len(factors) > MAX_ITEMS:
                raise Undecided("too many factors")
        return factors[0] if len(factors) == 1 else ("*", factors)

    def unary(self) -> Any:
        token = self.peek()
        if token == "-":
            self.take()
            return ("neg", self.unary())
        if token == "+":
            self.take()
            return self.unary()
        return self.power()

    def power(self) -> Any:
        self.enter()
        base = self.atom()
        while self.peek() in ("!", "'"):
            base = ("!", base) if self.take() == "!" else _primed(base)
        if self.peek() == "^":
            self.take()
            base = ("^", base, self.exponent())
        self.depth -= 1
        return base

    def exponent(self) -> Any:
        token = self.peek()
        if token == "{":
            return self.group()
        if token in ("-", "+"):
            self.take()
            inner = self.exponent()
            return ("neg", inner) if token == "-" else inner
        return self.power()  # x^2, x^n, e^\pi: one atom (x^23 is read as x^{23})

    def group(self) -> Any:
        self.expect("{")
        inner = self.sum() if self.peek() != "}" else None
        self.expect("}")
        if inner is None:
            raise Undecided("empty group")
        return inner

    def argument(self) -> Any:
        """A command's argument: a {group}, or one character (\\frac12, \\sqrt2) or atom."""
        token = self.peek()
        if token == "{":
            return self.group()
        if _is_number(token) and len(token) > 1:
            self.tokens[self.i] = token[1:]  # \frac12: LaTeX takes one digit per argument
            return ("n", Fraction(int(token[0])))
        return self.atom()

    def raw_group(self) -> str:
        """The text of a {group}, for names, environments and \\text."""
        self.expect("{")
        depth, out = 1, []
        while True:
            token = self.take()
            depth += (token == "{") - (token == "}")
            if depth == 0:
                return "".join(out)
            out.append(token)

    def subscript(self) -> str:
        self.expect("_")
        return self.raw_group() if self.peek() == "{" else self.take()

    def atom(self) -> Any:
        token = self.take()
        if _is_number(token):
            node = ("n", _number(token))
            if self.peek() == "_":
                self.subscript()  # 52_8, 4210_{5}: a numeral in a base, read as its digits
            return node
        if token.isalpha() and len(token) == 1:
            return self.symbol(token)
        if token in ("(", "["):
            return self.bracket(token)
        if token == "{":
            self.i -= 1
            return self.group()
        if token == "|":
            inner = self.sum()
            self.expect("|")
            return ("abs", inner)
        if token == "\\{":
            return self.set()
        if token[0] == "\\":
            return self.command(token[1:])
        raise Undecided(f"unexpected {token}")

    def symbol(self, name: str) -> Any:
        if self.peek() == "_":
            return ("s", f"{name}_{self.subscript()}")
        if name == "e":
            return ("c", "e")
        if name == "i":
            return ("c", "i")
        return ("s", name)

    def bracket(self, opening: str) -> Any:
        self.enter()
        items = [self.sum()]
        while self.peek() == ",":
            self.take()
            items.append(self.sum())
            if len(items) > MAX_ITEMS:
                raise Undecided("too many items")
        closing = self.take()
        if closing not in (")", "]"):
            raise Undecided("unclosed bracket")
        self.depth -= 1
        if len(items) == 1:
            if opening + closing in ("()", "[]"):
                return items[0]
            raise Undecided("half-open bracket around one item")
        return ("seq", opening + closing, items)

    def set(self) -> Any:
        items = []
        while self.peek() != "\\}":
            items.append(self.sum())
            if self.peek() == ",":
                self.take()
            elif self.peek() != "\\}":
                raise Undecided("bad set")
            if len(items) > MAX_ITEMS:
                raise Undecided("too many items")
        self.take()
        return ("set", items)

    def command(self, name: str) -> Any:
        if name == "frac":
            return ("*", [self.argument(), ("inv", self.argument())])
        if name == "sqrt":
            index = None
            if self.peek() == "[":
                self.take()
                index = self.sum()
                self.expect("]")
            return ("root", index or ("n", Fraction(2)), self.argument())
        if name == "binom":
            return ("binom", self.argument(), self.argument())
        if name == "pi":
            return ("c", "pi")
        if name == "infty":
            return ("c", "inf")
        if name in _GREEK:
            return ("s", "\\" + name + (f"_{self.subscript()}" if self.peek() == "_" else ""))
        if name in _FUNCS:
            return self.function(name)
        if name in ("lfloor", "lceil"):
            inner = self.sum()
            self.expect("\\rfloor" if name == "lfloor" else "\\rceil")
            return (name[1:], inner)
        if name == "text":
            inner = self.raw_group().strip()
            if len(inner) == 1 and inner.isalpha():
                return self.symbol(inner)
            if inner in _FUNCS:
                return self.function(inner)
            raise Undecided("text in math")
        if name in _ACCENTS:
            return ("s", f"{name}:{self.raw_group()}" + (f"_{self.subscript()}" if self.peek() == "_" else ""))
        if name == "begin":
            return self.matrix()
        raise Undecided(f"unknown command \\{name}")

    def function(self, name: str) -> Any:
        power = base = None
        while self.peek() in ("^", "_"):
            if self.take() == "^":
                power = self.exponent()
            else:
                base = self.group() if self.peek() == "{" else self.atom()
        if self.peek() == "(":
            self.take()
            argument = self.bracket("(")
        else:  # \sin 2x, \log_2 8: the implicit product up to an operator or another function
            factors = [self.power()]
            while _starts_atom(self.peek()) and self.peek()[1:] not in _FUNCS and self.peek() not in ("(", "|"):
                factors.append(self.power())
            argument = factors[0] if len(factors) == 1 else ("*", factors)
        if power == ("neg", ("n", 1)) and name in _INVERSE:
            return ("f", _INVERSE[name], argument)  # \sin^{-1} x
        if name == "lg":
            name, base = "log", ("n", Fraction(10))
        node = ("log", base, argument) if name == "log" and base is not None else ("f", name, argument)
        return ("^", node, power) if power is not None else node

    def matrix(self) -> Any:
        kind = self.raw_group()
        if kind not in ("pmatrix", "bmatrix", "matrix", "Bmatrix"):
            raise Undecided(f"environment {kind}")
        rows: list[list[Any]] = [[]]
        while True:
            if self.peek() == "\\end":
                self.take()
                self.raw_group()
                break
            rows[-1].append(self.sum())
            token = self.take()
            if token == "\\\\":
                if self.peek() != "\\end":
                    rows.append([])
            elif token == "\\end":
                self.raw_group()
                break
            elif token != "&":
                raise Undecided("bad matrix")
        if len({len(row) for row in rows}) != 1:
            raise Undecided("ragged matrix")
        return ("mat", rows)


def _number(token: str) -> Fraction:
    mantissa, _, exponent = token.lower().partition("e")
    if exponent and abs(int(exponent)) > 400:
        raise Undecided("huge exponent")
    try:
        return Fraction(mantissa.rstrip(".") or "0") * (Fraction(10) ** int(exponent or 0))
    except ValueError as err:  # more digits than int() converts
        raise Undecided(str(err)) from err


def _is_plain_integer(node: Any) -> bool:
    return node[0] == "n" and node[1].denominator == 1


def _is_integer_fraction(node: Any) -> bool:
    return node[0] == "*" and len(node[1]) == 2 and _is_plain_integer(node[1][0]) and node[1][1][0] == "inv" and _is_plain_integer(node[1][1][1])


def _primed(node: Any) -> Any:
    if node[0] != "s":
        raise Undecided("prime on a non-symbol")
    return ("s", node[1] + "'")
