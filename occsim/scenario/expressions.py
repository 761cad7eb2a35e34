"""The family language's expressions: ``{expr: "bus.s + 5"}`` and difficulty measures.

Arithmetic (+ - * /, parentheses, ``min``, ``max``, ``abs``) over numbers and field names (``ego.s``, ``lead.speed``,
``lead.behavior.points[1][0]``), parsed with Python's ``ast`` and checked node by node before anything is evaluated.
The text's length and bracket depth are bounded before parsing (Python's parser recurses per nested term); a division
by zero or a result that is not finite is an ``ExpressionError``, which the family loader turns into ``file:line``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from typing import Any

FUNCTIONS = {"min": lambda *a: min(a), "max": lambda *a: max(a), "abs": abs}  # min(x) of one number is x
ARITY = {"min": (1, None), "max": (1, None), "abs": (1, 1)}  # (fewest, most) arguments; None: no upper bound
MAX_EXPR_CHARS = 256  # an expression's length; the longest family measure is ~40
MAX_EXPR_DEPTH = 16  # brackets ( [ nested in an expression
OPERATORS = {ast.Add: float.__add__, ast.Sub: float.__sub__, ast.Mult: float.__mul__, ast.Div: float.__truediv__}


def is_number(value: Any) -> bool:
    """A finite int or float (a bool is not a number; an int too large for a float is not finite)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


class ExpressionError(ValueError):
    """An expression that cannot be read or evaluated; the caller adds the file, line and field."""


def evaluate_expression(text: str, lookup: Callable[[str], Any]) -> float:
    """The value of expression ``text``; ``lookup(name)`` gives a field's value (``ego.s``, ``lead.speed``).

    Raises:
        ExpressionError: the text is not an allowed expression, or its value is not a finite number.
    """
    return evaluate_parsed(parse_expression(text), lookup)


def check_expression_size(text: str) -> None:
    """Refuse an expression over ``MAX_EXPR_CHARS`` characters or ``MAX_EXPR_DEPTH`` nested brackets, unparsed.

    Python's parser recurses once per nested term, so an oversize expression must be refused before it runs.
    """
    if len(text) > MAX_EXPR_CHARS:
        raise ExpressionError(f"{len(text):,} characters; an expression is at most {MAX_EXPR_CHARS}")
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    if deepest > MAX_EXPR_DEPTH:
        raise ExpressionError(f"brackets nested {deepest} deep; an expression nests at most {MAX_EXPR_DEPTH}")


def parse_expression(text: str) -> ast.Expression:
    """The expression's syntax tree, refusing anything but numbers, field names, + - * /, min, max and abs.

    Raises:
        ExpressionError: the text is too long or too deep, not an expression, or uses anything else.
    """
    check_expression_size(text)
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:  # ValueError: a null byte, a huge int
        raise ExpressionError(f"not an expression ({getattr(e, 'msg', None) or e})") from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS) or node.keywords:
                raise ExpressionError("only min, max and abs may be called")
            fewest, most = ARITY[node.func.id]
            if len(node.args) < fewest or (most is not None and len(node.args) > most):
                takes = f"{fewest}" if fewest == most else f"at least {fewest}"
                raise ExpressionError(f"{node.func.id} takes {takes} argument(s), got {len(node.args)}")
        elif isinstance(node, ast.Constant):
            if not is_number(node.value):
                raise ExpressionError(f"{shown(node.value)} is not a number")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in OPERATORS:
                raise ExpressionError("only + - * / are allowed")
        elif (
            not isinstance(
                node,
                (ast.Expression, ast.Name, ast.Attribute, ast.Subscript, ast.Load, ast.UnaryOp, ast.USub, ast.UAdd),
            )
            and type(node) not in OPERATORS
        ):
            raise ExpressionError(f"{type(node).__name__} is not allowed")
        if isinstance(node, ast.Subscript) and _dotted(node) is None:
            raise ExpressionError("only a field's list entries may be indexed, with whole numbers: points[1][0]")
        if isinstance(node, ast.Attribute) and _dotted(node) is None:
            raise ExpressionError("only a field name may have a .part: lead.s, ego.speed")
    return tree


def _dotted(node: ast.AST) -> str | None:
    """``lead.behavior.points[1][0]`` as ``lead.behavior.points.1.0``; None for anything but a field name."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.attr}"
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, int):
        head = _dotted(node.value)
        return None if head is None else f"{head}.{node.slice.value}"
    return None


def expression_names(tree: ast.AST) -> set[str]:
    """The field names an expression reads (min, max and abs excluded)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        name = _dotted(node) if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)) else None
        if name is not None:  # a whole dotted name: its parts are not names of their own
            if name not in FUNCTIONS:
                found.add(name)
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def evaluate_parsed(tree: ast.AST, lookup) -> float:
    """The value of a parsed expression; ``lookup(name)`` gives a field's value.

    Raises:
        ExpressionError: a field that is not a number, a division by zero, or a result that is not finite.
    """
    node = tree.body if isinstance(tree, ast.Expression) else tree
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, (ast.Name, ast.Attribute, ast.Subscript)):
        name = _dotted(node)
        value = lookup(name)
        if not is_number(value):
            raise ExpressionError(f"'{name}' is {shown(value)}, not a number")
        return float(value)
    if isinstance(node, ast.UnaryOp):
        value = evaluate_parsed(node.operand, lookup)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = evaluate_parsed(node.left, lookup), evaluate_parsed(node.right, lookup)
        if isinstance(node.op, ast.Div) and right == 0:
            raise ExpressionError(f"division by zero ({shown(left)} / {shown(right)})")
        result = OPERATORS[type(node.op)](left, right)
        if not math.isfinite(result):
            raise ExpressionError(f"{shown(left)} {_SYMBOLS[type(node.op)]} {shown(right)} overflows a float")
        return result
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    return float(FUNCTIONS[node.func.id](*(evaluate_parsed(a, lookup) for a in node.args)))


_SYMBOLS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}


def shown(value: Any) -> str:
    """``value`` for a message, cut to 60 characters (a field may hold a long string or a huge list)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
