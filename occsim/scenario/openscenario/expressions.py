"""OpenSCENARIO ``${...}`` expressions, parsed by a small recursive-descent parser (never Python's ``eval``).

The language of ASAM OpenSCENARIO 1.1-1.3: numbers, ``true`` / ``false``, parameter references ``$name``,
the constants ``pi`` and ``e``,
parentheses, unary ``-`` and ``not``, ``* / %``, ``+ -``, the comparisons ``== != < <= > >=``, ``and``, ``or``,
and the functions round, floor, ceil, sqrt, pow, sin, cos, tan, asin, acos, atan, sign, abs, min and max.
Arithmetic is in double precision. Length and nesting are bounded before anything is evaluated, and every
mistake (an unknown name, division by zero, a math domain error) is an ``ExpressionError`` saying what and where.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping

MAX_LENGTH = 4096  # characters of one expression; real ones are under 200
MAX_DEPTH = 64  # nesting of parentheses, calls and unary operators

Value = float | bool


class ExpressionError(ValueError):
    """An expression cannot be parsed or evaluated; the message names the expression and the problem."""


_TOKEN = re.compile(
    r"\s*(?:(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)|(?P<param>\$[A-Za-z_][A-Za-z0-9_.:]*)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>==|!=|<=|>=|[-+*/%(),<>]))"
)


def _sign(x: float) -> float:
    return float((x > 0) - (x < 0))


def _round(x: float) -> float:
    """Half away from zero, as C's round() (Python's rounds half to even)."""
    return float(math.floor(abs(x) + 0.5) * (1 if x >= 0 else -1))


FUNCTIONS: dict[str, tuple[int, Callable[..., float]]] = {  # name -> (arity, 0: any >= 1, function)
    "round": (1, _round),
    "floor": (1, math.floor),
    "ceil": (1, math.ceil),
    "sqrt": (1, math.sqrt),
    "pow": (2, math.pow),
    "sin": (1, math.sin),
    "cos": (1, math.cos),
    "tan": (1, math.tan),
    "asin": (1, math.asin),
    "acos": (1, math.acos),
    "atan": (1, math.atan),
    "sign": (1, _sign),
    "abs": (1, abs),
    "min": (0, min),
    "max": (0, max),
}
CONSTANTS = {"pi": math.pi, "e": math.e}
_COMPARE = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def tokenize(text: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of an expression body; ExpressionError at the first character that starts none."""
    tokens, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"unexpected {text[position:].strip()[:10]!r} at character {position + 1}")
        kind = match.lastgroup or "op"
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over the tokens, evaluating as it goes (expressions are small and used once)."""

    def __init__(self, tokens: list[tuple[str, str]], lookup: Callable[[str], Value], source: str):
        self.tokens, self.lookup, self.source = tokens, lookup, source
        self.at, self.depth = 0, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ExpressionError(f"{self.source}: ends too early")
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token[1] != text:
            raise ExpressionError(f"{self.source}: expected '{text}', got '{token[1]}'")

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExpressionError(f"{self.source}: nested more than {MAX_DEPTH} levels deep")

    def binary(self, operators: tuple[str, ...], operand: Callable[[], Value], word: bool = False) -> Value:
        left = operand()
        while (token := self.peek()) is not None and token[1] in operators and (token[0] == "name") == word:
            op = self.take()[1]
            right = operand()
            left = self.apply(op, left, right)
        return left

    def apply(self, op: str, a: Value, b: Value) -> Value:
        if op == "or":
            return bool(a) or bool(b)
        if op == "and":
            return bool(a) and bool(b)
        if op in _COMPARE:
            return _COMPARE[op](a, b)
        a, b = float(a), float(b)
        if op in "/%" and b == 0.0:
            raise ExpressionError(f"{self.source}: division by zero")
        value = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else 0.0, "%": math.fmod(a, b) if b else 0.0}[op]
        return self.finite(value)

    def finite(self, value: float) -> float:
        if not math.isfinite(value):
            raise ExpressionError(f"{self.source}: the result is not finite (overflow)")
        return value

    def disjunction(self) -> Value:
        return self.binary(("or",), self.conjunction, word=True)

    def conjunction(self) -> Value:
        return self.binary(("and",), self.comparison, word=True)

    def comparison(self) -> Value:
        return self.binary(tuple(_COMPARE), self.additive)

    def additive(self) -> Value:
        return self.binary(("+", "-"), self.multiplicative)

    def multiplicative(self) -> Value:
        return self.binary(("*", "/", "%"), self.unary)

    def unary(self) -> Value:
        token = self.peek()
        if token is not None and token[1] in ("-", "+", "not"):
            self.take()
            self.nest()
            value = self.unary()
            self.depth -= 1
            if token[1] == "not":
                return not bool(value)
            return -float(value) if token[1] == "-" else float(value)
        return self.primary()

    def primary(self) -> Value:
        kind, text = self.take()
        if kind == "number":
            return self.finite(float(text))
        if kind == "param":
            return self.lookup(text[1:])
        if text == "(":
            self.nest()
            value = self.disjunction()
            self.expect(")")
            self.depth -= 1
            return value
        if kind == "name" and text in ("true", "false"):
            return text == "true"
        if kind == "name" and text in CONSTANTS:
            return CONSTANTS[text]
        if kind == "name" and text in FUNCTIONS:
            return self.call(text)
        raise ExpressionError(f"{self.source}: unexpected '{text}'" + (" (a function?)" if kind == "name" else ""))

    def call(self, name: str) -> float:
        arity, function = FUNCTIONS[name]
        self.expect("(")
        self.nest()
        args = [self.disjunction()]
        while self.peek() == ("op", ","):
            self.take()
            args.append(self.disjunction())
        self.expect(")")
        self.depth -= 1
        if (arity and len(args) != arity) or not args:
            raise ExpressionError(
                f"{self.source}: {name}() takes {arity or 'one or more'} argument(s), got {len(args)}"
            )
        try:
            return self.finite(float(function(*(float(a) for a in args))))
        except (ValueError, OverflowError) as e:
            raise ExpressionError(f"{self.source}: {name}{tuple(args)}: {e}") from None


def evaluate(body: str, parameters: Mapping[str, Value] | Callable[[str], Value]) -> Value:
    """The value of the expression ``body`` (what is inside ``${...}``), reading ``$name`` from ``parameters``.

    Raises:
        ExpressionError: a syntax error, an unknown parameter or function, division by zero, overflow, a domain
            error, or an expression over MAX_LENGTH characters or MAX_DEPTH levels.
    """
    source = f"${{{body}}}" if len(body) <= 80 else f"${{{body[:77]}...}}"
    if len(body) > MAX_LENGTH:
        raise ExpressionError(f"an expression of {len(body):,} characters is over the {MAX_LENGTH}-character limit")

    def lookup(name: str) -> Value:
        if callable(parameters):
            return parameters(name)
        if name not in parameters:
            raise ExpressionError(f"{source}: no parameter '{name}'")
        return parameters[name]

    try:
        tokens = tokenize(body)
    except ExpressionError as e:
        raise ExpressionError(f"{source}: {e}") from None
    if not tokens:
        raise ExpressionError(f"{source}: empty expression")
    parser = _Parser(tokens, lookup, source)
    value = parser.disjunction()
    if parser.peek() is not None:
        raise ExpressionError(f"{source}: unexpected '{parser.peek()[1]}' after the expression")
    return value
