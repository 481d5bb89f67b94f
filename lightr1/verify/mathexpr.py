"""A small, safe reader of LaTeX math answers and an equivalence test: the verifier's fast path.

Why not sympy here: parsing LaTeX with sympy or math-verify costs milliseconds per answer, and
`sympify`/`parse_expr` evaluate text. A tokenizer and a recursive-descent parser build a tree of
tuples instead; nothing is eval'ed. Values stay exact (`Fraction`) while the arithmetic stays
rational, and become complex floats otherwise (roots, pi, logs...). Expressions with variables
are compared at three fixed pseudo-random rational points, so `x^2+2x+1` meets `(x+1)^2`.

Everything outside what this module understands raises `Undecided`, and so do guards against
slow inputs (answer length, nesting depth, the size of exact powers and factorials): the caller
then asks math-verify in a worker process, under a watchdog. A returned True or False is final.

Decisions worth knowing (tests pin them):
- `1,000` is one thousand (a comma before exactly three digits, the whole answer a number);
  `1.000` is one, so they differ. `3,5` (or `3, 125`) is a list of two answers.
- A bare list `1, 2` and a set `\\{1,2\\}` compare without order; a tuple or an interval
  `(1,2]` compares in order and its brackets must agree.
- Exact rationals compare exactly (`0.33` is not `\\frac13`); float values compare to 1e-11
  relatively, so a decimal of 12 or more digits can match an irrational.
- `x=5`, `f(x)=2x` and `x \\in [1,2]` lose their name; `3\\frac12` is a mixed number;
  units, `^\\circ`, `\\%` and `\\$` are dropped; `52_8` is read as its digits 52.
- `e` is Euler's number, `i` the imaginary unit, `\\log` the natural logarithm.
"""

from __future__ import annotations

import cmath
import math
import zlib
from fractions import Fraction
from functools import lru_cache
from typing import Any

from lightr1.verify.normalise import PLAIN_NUMBER, flat, is_text, normalise
from lightr1.verify.parse import Parser, Undecided, tokenize

MAX_CHARS = 1000  # longer answers go to math-verify (under its watchdog)
MAX_BITS = 20_000  # of an exact numerator or denominator (about 6,000 digits)
REL_TOL = 1e-11
POINTS = 3  # evaluation points (rational) for expressions with variables
INTEGER_POINTS = 8  # evaluation points (integer) for expressions with floor or ceiling


# ------------------------------------------------------------------------------------------
# Values: Fraction while exact, complex otherwise, float only for +-infinity.

_CONSTANTS = {"pi": complex(math.pi), "e": complex(math.e), "i": 1j}


def _approx(x: Any) -> complex:
    if type(x) is Fraction:
        try:
            return complex(x.numerator / x.denominator)
        except OverflowError as err:
            raise Undecided("too large for a float") from err
    if type(x) is float:
        raise Undecided("arithmetic with infinity")
    return x


def _exact(x: Fraction) -> Fraction:
    if x.numerator.bit_length() > MAX_BITS or x.denominator.bit_length() > MAX_BITS:
        raise Undecided("exact value too large")
    return x


def _root(x: Fraction, n: int) -> Fraction | None:
    """The exact n-th root of a non-negative rational, or None."""
    num, den = x.numerator, x.denominator
    a, b = _int_root(num, n), _int_root(den, n)
    return Fraction(a, b) if a is not None and b is not None else None


def _int_root(k: int, n: int) -> int | None:
    if n == 2:
        r = math.isqrt(k)
    else:
        r = round(k ** (1.0 / n)) if k.bit_length() < 1000 else None
        if r is None:
            return None
        for candidate in (r - 1, r, r + 1):
            if candidate >= 0 and candidate**n == k:
                return candidate
        return None
    return r if r * r == k else None


def _power(base: Any, exponent: Any) -> Any:
    if type(base) is Fraction and type(exponent) is Fraction:
        if exponent.denominator == 1:
            n = exponent.numerator
            if base == 0 and n < 0:
                raise Undecided("division by zero")
            size = max(base.numerator.bit_length(), base.denominator.bit_length())
            if size > 1 and abs(n) * size > MAX_BITS:
                raise Undecided("power too large")  # big-int pow cannot be interrupted: refuse
            return base**n
        if base >= 0 and exponent.denominator <= 64:
            root = _root(base, exponent.denominator)
            if root is not None:
                return _power(root, Fraction(exponent.numerator))
    b, e = _approx(base), _approx(exponent)
    if abs(e) > 1e4 and abs(b) != 1:
        raise Undecided("power too large")
    try:
        return b**e
    except (OverflowError, ZeroDivisionError) as err:
        raise Undecided("power overflows") from err


def _nth_root(x: Any, n: Any) -> Any:
    if type(n) is Fraction and n.denominator == 1 and n.numerator % 2 == 1 and n > 0:
        if type(x) is Fraction and x < 0:
            return -_power(-x, 1 / n)  # \sqrt[3]{-8} is -2, not a complex root
        if type(x) is complex and x.imag == 0 and x.real < 0:
            return -_power(-x, 1 / n)
    if type(n) is Fraction and n == 0:
        raise Undecided("zeroth root")
    return _power(x, 1 / n if type(n) is Fraction else 1 / _approx(n))


_CMATH = {"sin": cmath.sin, "cos": cmath.cos, "tan": cmath.tan, "arcsin": cmath.asin, "arccos": cmath.acos, "arctan": cmath.atan,
          "sinh": cmath.sinh, "cosh": cmath.cosh, "tanh": cmath.tanh, "ln": cmath.log, "log": cmath.log, "exp": cmath.exp,
          "cot": lambda z: 1 / cmath.tan(z), "sec": lambda z: 1 / cmath.cos(z), "csc": lambda z: 1 / cmath.sin(z)}


def _real(x: Any) -> float | Fraction:
    if type(x) is Fraction:
        return x
    z = _approx(x)
    if abs(z.imag) > 1e-12 * max(1.0, abs(z.real)):
        raise Undecided("needs a real number")
    return z.real


def _factorial(x: Any) -> Any:
    x = _real(x)
    if type(x) is Fraction and x.denominator == 1 and 0 <= x <= 2000:
        return Fraction(math.factorial(int(x)))
    try:
        return complex(math.gamma(float(x) + 1))
    except (OverflowError, ValueError) as err:
        raise Undecided("factorial") from err


def _binomial(n: Any, k: Any) -> Any:
    n, k = _real(n), _real(k)
    if type(n) is Fraction and type(k) is Fraction and n.denominator == k.denominator == 1 and 0 <= n <= 5000:
        return Fraction(math.comb(int(n), int(k))) if k >= 0 else Fraction(0)
    try:
        n, k = float(n), float(k)
        return complex(math.gamma(n + 1) / (math.gamma(k + 1) * math.gamma(n - k + 1)))
    except (OverflowError, ValueError, ZeroDivisionError) as err:
        raise Undecided("binomial") from err


def evaluate(node: Any, point: int) -> Any:
    """The value of an expression tree with every variable set to its `point`-th value."""
    tag = node[0]
    if tag == "n":
        return node[1]
    if tag == "s":
        return _variable(node[1], point)
    if tag == "c":
        return float("inf") if node[1] == "inf" else _CONSTANTS[node[1]]
    if tag == "+":
        total: Any = Fraction(0)
        for child in node[1]:
            value = evaluate(child, point)
            total = _exact(total + value) if type(total) is Fraction and type(value) is Fraction else _approx(total) + _approx(value)
        return total
    if tag == "*":
        product: Any = Fraction(1)
        for child in node[1]:
            value = evaluate(child, point)
            product = _exact(product * value) if type(product) is Fraction and type(value) is Fraction else _approx(product) * _approx(value)
        return product
    if tag == "neg":
        value = evaluate(node[1], point)
        return -value
    if tag == "inv":
        value = evaluate(node[1], point)
        if value == 0:
            raise Undecided("division by zero")
        return 1 / value if type(value) is Fraction else 1 / _approx(value)
    if tag == "^":
        return _power(evaluate(node[1], point), evaluate(node[2], point))
    if tag == "root":
        return _nth_root(evaluate(node[2], point), evaluate(node[1], point))
    if tag == "f":
        value = _approx(evaluate(node[2], point))
        try:
            return _CMATH[node[1]](value)
        except (ValueError, ZeroDivisionError, OverflowError) as err:
            raise Undecided(f"{node[1]} undefined here") from err
    if tag == "log":
        base, value = _approx(evaluate(node[1], point)), _approx(evaluate(node[2], point))
        try:
            return cmath.log(value) / cmath.log(base)
        except (ValueError, ZeroDivisionError) as err:
            raise Undecided("log undefined here") from err
    if tag == "!":
        return _factorial(evaluate(node[1], point))
    if tag == "binom":
        return _binomial(evaluate(node[1], point), evaluate(node[2], point))
    if tag in ("floor", "ceil"):
        value = _real(evaluate(node[1], point))
        rounded = math.floor(value) if tag == "floor" else math.ceil(value)
        return Fraction(rounded)
    if tag == "abs":
        value = evaluate(node[1], point)
        return abs(value) if type(value) is Fraction else complex(abs(_approx(value)))
    raise Undecided(f"{tag} is not a number")


def _variable(name: str, point: int) -> Fraction:
    """The value of a variable at a point, the same on both sides of a comparison and different
    between variables. Points below POINTS: a rational in (0.5, 2.5), positive so that roots and
    logs stay real. The next INTEGER_POINTS: an integer in [6, 40], for floors and ceilings, which
    small points cannot tell apart (floor((2n-1)/5) and floor((2n-1)/6) agree near 1)."""
    h = zlib.crc32(f"{point}:{name}".encode())
    return Fraction(2050 + h % 8191, 4099) if point < POINTS else Fraction(6 + h % 35)


_DISCRETE = {"floor", "ceil"}  # factorials and binomials are smooth (gamma) between integers


def _scan(node: Any) -> tuple[bool, bool]:
    """(has variables, has discrete functions)."""
    if node[0] == "s":
        return True, False
    symbolic, discrete = False, node[0] in _DISCRETE
    for child in _children(node):
        s, d = _scan(child)
        symbolic, discrete = symbolic or s, discrete or d
    return symbolic, discrete


def _children(node: Any) -> list[Any]:
    tag = node[0]
    if tag in ("n", "s", "c"):
        return []
    if tag in ("+", "*"):
        return node[1]
    if tag in ("log", "root", "binom"):
        return [child for child in node[1:] if child is not None]
    if tag == "f":
        return [node[2]]
    return [child for child in node[1:] if isinstance(child, tuple)]


class Expr:
    """An expression tree with its values at the evaluation points, computed once: a gold is
    compared with many samples."""

    __slots__ = ("node", "symbolic", "discrete", "values", "error")

    def __init__(self, node: Any) -> None:
        self.node = node
        self.symbolic, self.discrete = _scan(node)
        self.values: dict[int, Any] = {}
        self.error: str | None = None
        try:
            for point in _points(self.symbolic, self.discrete):
                self.values[point] = _checked(evaluate(node, point))
        except (Undecided, RecursionError, ArithmeticError, ValueError, TypeError) as err:
            self.error = str(err) or type(err).__name__

    def value(self, point: int) -> Any:
        if self.error is not None:
            raise Undecided(self.error)
        point = point if self.symbolic else 0
        if point not in self.values:  # integer points, when the other side is discrete
            try:
                self.values[point] = _checked(evaluate(self.node, point))
            except (RecursionError, ArithmeticError, ValueError, TypeError) as err:
                raise Undecided(str(err) or type(err).__name__) from err
        return self.values[point]


def _points(symbolic: bool, discrete: bool) -> range:
    if not symbolic:
        return range(1)
    return range(POINTS, POINTS + INTEGER_POINTS) if discrete else range(POINTS)


def _checked(value: Any) -> Any:
    if type(value) is complex and not (math.isfinite(value.real) and math.isfinite(value.imag)):
        raise Undecided("not finite")
    return value


def _close(a: Any, b: Any) -> bool:
    if type(a) is Fraction and type(b) is Fraction:
        return a == b
    if type(a) is float or type(b) is float:
        return a == b  # infinities
    x, y = _approx(a), _approx(b)
    scale = max(abs(x), abs(y))
    return abs(x - y) <= REL_TOL * scale or scale < 1e-13


def _expr_equal(a: Expr, b: Expr) -> bool:
    points = _points(a.symbolic or b.symbolic, a.discrete or b.discrete)
    return all(_close(a.value(k), b.value(k)) for k in points)


def _proportional(a: Expr, b: Expr) -> bool:
    """Two equations `L = R` agree when L - R of one is a nonzero constant times the other's."""
    ratio = None
    for k in _points(a.symbolic or b.symbolic, a.discrete or b.discrete):
        x, y = _approx(a.value(k)), _approx(b.value(k))
        if abs(x) < 1e-13 or abs(y) < 1e-13:
            if not (abs(x) < 1e-13 and abs(y) < 1e-13):
                return False
            continue
        if ratio is None:
            ratio = x / y
        elif abs(x / y - ratio) > 1e-9 * abs(ratio):
            return False
    return True


# ------------------------------------------------------------------------------------------
# Answers: structures over expressions, and their comparison.


def _structure(node: Any) -> Any:
    tag = node[0]
    if tag == "seq":
        return ("seq", node[1], [_structure(item) for item in node[2]])
    if tag == "set":
        return ("set", [_structure(item) for item in node[1]])
    if tag == "union":
        return ("union", [_structure(part) for part in node[1]])
    if tag == "eq":
        return ("eq", Expr(("+", [node[1], ("neg", node[2])])))
    if tag == "rel":
        op, left, right = node[1], node[2], node[3]
        if op in (">", ">="):
            op, left, right = op.replace(">", "<"), right, left
        return ("rel", op, Expr(("+", [left, ("neg", right)])))
    if tag == "mat":
        return ("mat", [[Expr(cell) for cell in row] for row in node[1]])
    _check_scalar(node)
    return ("expr", Expr(node))


def _check_scalar(node: Any) -> None:
    if node[0] in ("seq", "set", "union", "eq", "rel", "mat"):
        raise Undecided(f"{node[0]} inside an expression")
    for child in _children(node):
        _check_scalar(child)


def _expand_pm(node: Any, sign: int) -> Any:
    """The tree with each `\\pm` term taken with `sign` (and each `\\mp` with the other)."""
    if isinstance(node, list):
        return [_expand_pm(x, sign) for x in node]
    if not isinstance(node, tuple):
        return node
    if node[0] in ("pm", "mp"):
        inner = _expand_pm(node[1], sign)
        return inner if (sign > 0) == (node[0] == "pm") else ("neg", inner)
    return tuple(_expand_pm(x, sign) for x in node)


def _has_pm(node: Any) -> bool:
    if isinstance(node, list):
        return any(_has_pm(x) for x in node)
    if not isinstance(node, tuple):
        return False
    return node[0] in ("pm", "mp") or any(_has_pm(x) for x in node[1:] if isinstance(x, (tuple, list)))


def parse(normalised: str) -> Any:
    """The structure of a normalised answer: ("text", word), or ("list", items) for several
    comma-separated items (a `\\pm` item counts as two), or one item. Raises Undecided."""
    tree = _parse_cached(normalised)
    if tree[0] == "undecided":
        raise Undecided(tree[1])
    return tree


@lru_cache(maxsize=1 << 17)
def _parse_cached(normalised: str) -> Any:
    # Failures are cached too: a gold the parser cannot read is met by many samples.
    if is_text(normalised):
        return ("text", flat(normalised))
    if len(normalised) > MAX_CHARS:
        return ("undecided", "answer too long")
    try:
        items = Parser(tokenize(normalised)).answer()
        expanded = []
        for item in items:
            expanded.extend([_expand_pm(item, 1), _expand_pm(item, -1)] if _has_pm(item) else [item])
        structures = [_structure(item) for item in expanded]
    except Undecided as err:
        return ("undecided", str(err))
    except RecursionError:
        return ("undecided", "nested too deep")
    return structures[0] if len(structures) == 1 else ("list", structures)


def clear_cache() -> None:
    _parse_cached.cache_clear()


def _unordered(a: list[Any], b: list[Any]) -> bool:
    if len(a) != len(b):
        return False
    unused = list(b)
    for x in a:
        for j, y in enumerate(unused):
            if same(x, y):
                del unused[j]
                break
        else:
            return False
    return True


def same(gold: Any, answer: Any) -> bool:
    """Whether two parsed answers are equal. Raises Undecided."""
    g, a = gold[0], answer[0]
    if g in ("list", "set") or a in ("list", "set"):
        if {g, a} <= {"list", "set", "expr"}:
            return _unordered(gold[1] if g in ("list", "set") else [gold], answer[1] if a in ("list", "set") else [answer])
        return False
    if g == "mat" and a == "seq" or g == "seq" and a == "mat":  # a column vector written as a tuple
        matrix, seq = (gold, answer) if g == "mat" else (answer, gold)
        cells = [cell for row in matrix[1] for cell in row]
        shape_ok = len(matrix[1]) == 1 or all(len(row) == 1 for row in matrix[1])
        return shape_ok and seq[1] == "()" and len(cells) == len(seq[2]) and all(s[0] == "expr" and _expr_equal(c, s[1]) for c, s in zip(cells, seq[2]))
    if g != a:
        return False
    if g == "expr":
        return _expr_equal(gold[1], answer[1])
    if g == "seq":
        return gold[1] == answer[1] and len(gold[2]) == len(answer[2]) and all(same(x, y) for x, y in zip(gold[2], answer[2]))
    if g == "union":
        return _unordered(gold[1], answer[1])
    if g == "eq":
        return _proportional(gold[1], answer[1])
    if g == "rel":
        return gold[1] == answer[1] and _expr_equal(gold[2], answer[2])
    if g == "mat":
        rows_g, rows_a = gold[1], answer[1]
        return len(rows_g) == len(rows_a) and all(len(x) == len(y) and all(_expr_equal(p, q) for p, q in zip(x, y)) for x, y in zip(rows_g, rows_a))
    return gold[1] == answer[1]  # text


def equivalent(gold: str, answer: str) -> bool:
    """Whether `answer` says what `gold` says. True and False are final; raises Undecided when
    only a slower tool (math-verify) can tell."""
    g, a = normalise(gold), normalise(answer)
    if g == a:
        return bool(g)
    if not g or not a:
        return False
    if PLAIN_NUMBER.fullmatch(g) and PLAIN_NUMBER.fullmatch(a) and len(g) + len(a) < 2000:  # most answers: no parse needed
        return Fraction(g) == Fraction(a)
    gold_tree = parse(g)
    if gold_tree[0] == "text":
        return gold_tree[1] == flat(a)
    answer_tree = parse(a)
    if answer_tree[0] == "text":
        return flat(g) == answer_tree[1]
    return same(gold_tree, answer_tree)


def percent_variants(gold: str) -> list[str]:
    """A gold written with a percent sign also matches its value as a fraction: 62.5% is 0.625."""
    if "%" not in gold:
        return [gold]
    return [gold, "\\frac{" + gold.replace("\\%", "").replace("%", "") + "}{100}"]
