"""Fuzz: the family expression language. A finite number or an ExpressionError; in a family, file:line errors."""

from __future__ import annotations

import math

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from occsim.scenario import ScenarioError
from occsim.scenario.expressions import ExpressionError, evaluate_expression
from occsim.scenario.family import family_from_text, sample_family
from tests.fuzz.profiles import budget
from tests.fuzz.strategies import FAMILY_BASE

pytestmark = pytest.mark.fuzz

FIELDS = {"ego.s": 20.0, "ego.speed": 0.0, "lead.s": 1e300, "lead.type": "car", "lead.size.0": 4.5, "p.points": [1]}
ALLOWED_LEAVES = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from([*FIELDS, "nope", "lead.size[0]", "p.points[0]", "p.points[7]", "min", "0", "0.0", "1e308"]),
)
FORBIDDEN_LEAVES = st.sampled_from(
    [
        "'text'",
        'f"{1}"',
        "b'x'",
        "True",
        "None",
        "...",
        "1j",
        "[1, 2]",
        "{1: 2}",
        "(1, 2)",
        "lambda: 1",
        "__import__('os')",
        "ego.s.__class__",
        "x[1:2]",
        "x[-1]",
        "x['k']",
        "[i for i in x]",
        "(y := 1)",
        "1 if 1 else 2",
        "not 1",
        "~1",
        "1 < 2",
        "1 and 2",
        "print(1)",
        "min(key=1)",
        "min(*x)",
        "open('f')",
        "1e999",
        "9" * 400,
        "\x00",
        "#",
        "(",
        ")",
        "1 +",
        "",
        " ",
        "\n1",
        "a.b.c.d.e.f",
    ]
)
OPERATORS = st.sampled_from(["+", "-", "*", "/", "**", "%", "//", "@", "<<", "&"])


def expressions(leaves: st.SearchStrategy) -> st.SearchStrategy:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.tuples(inner, OPERATORS, inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, OPERATORS.filter(lambda o: o in "+-*/"), inner).map(lambda t: f"{t[0]} {t[1]} {t[2]}"),
            st.tuples(st.sampled_from(["min", "max", "abs", "sum", "pow", "len"]), st.lists(inner, max_size=4)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
            st.tuples(st.sampled_from(["-", "+", "--", "not "]), inner).map(lambda t: f"{t[0]}{t[1]}"),
        ),
        max_leaves=20,
    )


TEXTS = st.one_of(
    expressions(ALLOWED_LEAVES),
    expressions(st.one_of(ALLOWED_LEAVES, FORBIDDEN_LEAVES)),
    st.text(max_size=40),
    st.integers(1, 100_000).map(lambda n: "+".join(["1"] * n)),
    st.integers(1, 5_000).map(lambda n: "(" * n + "1" + ")" * n),
    st.integers(1, 5_000).map(lambda n: "-" * n + "1"),
    st.integers(1, 5_000).map(lambda n: "a" + ".b" * n),
    st.integers(1, 5_000).map(lambda n: "abs(" * n + "1" + ")" * n),
)


@given(TEXTS)
@example("50 / 0")
@example("ego.s / ego.speed")
@example("lead.s * lead.s")
@example("lead.s * 1e10 - lead.s * 1e10")
@example("+".join(["1"] * 200_000))
@example("min(1)")
@example("min()")
@example("lead.type")
@example("(1).real")
@example("-" * 255 + "1")
@budget(3.0)
def test_expressions_give_a_finite_number_or_an_expression_error(text):
    try:
        value = evaluate_expression(text, FIELDS.get)
    except ExpressionError as e:
        assert str(e) and len(str(e)) < 300  # says what is wrong, never echoes a huge text
        return
    assert isinstance(value, float) and math.isfinite(value)


CYCLES = [{"a.s": "b.s + 1", "b.s": "a.s - 1"}, {"a.s": "a.s"}, {"a.s": "b.s", "b.s": "b.speed", "b.speed": "a.s"}]
SLOTS = {
    "ego.speed": ("ego", "speed"),
    "a.s": ("actors", 0, "s"),
    "b.s": ("actors", 1, "s"),
    "b.speed": ("actors", 1, "speed"),
}


@given(
    st.dictionaries(
        st.sampled_from(sorted(SLOTS)),
        st.one_of(expressions(st.sampled_from([*SLOTS, "1", "0", "40", "ego.s"])), TEXTS),
        min_size=1,
        max_size=4,
    )
)
@example(CYCLES[0])
@example(CYCLES[1])  # a field that reads itself
@example(CYCLES[2])
@example({"a.s": "50 / 0"})
@example({"b.speed": "1e200 * 1e200"})
@budget(1.0)
def test_family_expressions_draw_or_give_file_line_errors(exprs):
    import copy

    data = copy.deepcopy(FAMILY_BASE)
    for field, text in exprs.items():
        node = data
        for part in SLOTS[field][:-1]:
            node = node[part]
        node[SLOTS[field][-1]] = {"expr": text}
    text = yaml.safe_dump(data, sort_keys=False)
    try:
        sample_family(family_from_text(text, "fam.yaml"), 2, 0)
    except ScenarioError as e:
        for problem in e.problems:
            assert problem.file == "fam.yaml" and (problem.line or "no draw of" in problem.message), problem
        if exprs in CYCLES:
            assert "refer to each other in a cycle" in str(e), str(e)
            return
    assert exprs not in CYCLES, "a cycle must be refused"
