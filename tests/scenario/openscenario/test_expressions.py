"""The ${...} expression language: operators, precedence, functions, and every mistake as an ExpressionError."""

import math

import pytest

from occsim.scenario.openscenario.expressions import MAX_LENGTH, ExpressionError, evaluate

P = {"v": 50.0, "o": -50.0, "w": 1.8, "flag": True, "name": "car"}


@pytest.mark.parametrize(
    "body,value",
    [
        ("$v / 3.6", 50.0 / 3.6),
        ("1 + 2 * 3 - 4 / 2", 5.0),
        ("(1 + 2) * 3", 9.0),
        ("-2 * -3", 6.0),
        ("7 % 3", 1.0),
        ("sign($o) * min(1.0, 100.0 - $o) * abs($o)", -50.0),
        ("round(2.5) + round(-2.5) + floor(1.7) + ceil(1.2)", 3.0 - 3.0 + 1.0 + 2.0),
        ("sqrt(16) + pow(2, 3) + max(1, 5, 3)", 17.0),
        ("sin(0) + cos(0) + tan(0) + asin(0) + acos(1) + atan(0)", 1.0),
        ("65 * pi / 180", 65 * math.pi / 180),
        ("1 < 2 and 3 >= 3", True),
        ("not $flag or 2 == 3", False),
        ("1 != 2", True),
    ],
)
def test_values(body, value):
    assert evaluate(body, P) == pytest.approx(value)


@pytest.mark.parametrize(
    "body,message",
    [
        ("50 / 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ("1 +", "ends too early"),
        ("foo(1)", "unexpected 'foo'"),
        ("$missing + 1", "no parameter 'missing'"),
        ("sqrt(-1)", "math domain error"),
        ("pow(10, 400)", "range error"),
        ("1e308 * 10", "not finite"),
        ("(" * 100 + "1" + ")" * 100, "nested more than"),
        ("min()", r"unexpected '\)'"),
        ("pow(1)", "takes 2 argument"),
        ("1 2", "unexpected '2'"),
        ("1 # 2", "unexpected '# 2'"),
        ("", "empty expression"),
    ],
)
def test_mistakes_are_expression_errors(body, message):
    with pytest.raises(ExpressionError, match=message):
        evaluate(body, P)


def test_long_expressions_are_refused_before_parsing_and_long_sums_do_not_recurse():
    with pytest.raises(ExpressionError, match="limit"):
        evaluate("+".join(["1"] * (MAX_LENGTH // 2 + 10)), P)
    assert evaluate("+".join(["1"] * 2000), P) == 2000.0  # left-associative sums are a loop, not a recursion
