"""Fuzz: scenario and family YAML. Valid trees load; anything else is a ScenarioError with file:line or field."""

from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from occsim.scenario import Scenario, ScenarioError, parse_scenario
from occsim.scenario.family import Family, family_from_text, sample_family
from occsim.scenario.schema import Scenario as ScenarioModel
from tests.fuzz.profiles import budget
from tests.fuzz.strategies import FAMILY_BASE, from_schema, mutated, peak_megabytes

pytestmark = pytest.mark.fuzz

SOURCE = "fuzz.yaml"
SCHEMA = ScenarioModel.model_json_schema()
TREES = from_schema(SCHEMA)
WHOLE_FILE = ("empty file", "over the", "alias", "expected a mapping", "no draw of", "YAML syntax", "nested more")
MAX_SECONDS, MAX_MB = 5.0, 300.0

ALIAS_BOMB = "\n".join(
    ["name: bomb", 'a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 12)]
)
RECURSIVE = "name: loop\nactors: &a [*a]\n"


def check_located(error: ScenarioError) -> None:
    """Every problem names the file and a line or a field, or is about the whole file."""
    assert error.problems, "a ScenarioError lists its problems"
    for problem in error.problems:
        assert problem.file == SOURCE, problem
        if problem.line is None and not problem.field:
            assert any(words in problem.message for words in WHOLE_FILE), str(problem)


def load_within_bounds(load, text: str):
    """``load(text)``: a result or a located ScenarioError, in bounded time and memory."""
    start = time.perf_counter()
    result, peak = peak_megabytes(lambda: load(text))
    assert time.perf_counter() - start < MAX_SECONDS
    assert peak < MAX_MB, f"{peak:.0f} MB"
    if isinstance(result, ScenarioError):
        check_located(result)
    elif isinstance(result, BaseException):
        raise result
    return result


def texts(trees: st.SearchStrategy) -> st.SearchStrategy:
    """YAML texts of the trees, some cut, spliced with junk, nested deep or aliased."""
    dumped = trees.map(lambda t: yaml.safe_dump(t, sort_keys=False, allow_unicode=True))

    @st.composite
    def spliced(draw):
        text = draw(dumped)
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.text(max_size=30)) + text[at + draw(st.integers(0, 30)) :]

    return st.one_of(
        dumped,
        dumped.map(lambda t: t[: len(t) // 2]),
        spliced(),
        st.integers(1, 3000).map(lambda n: "a: " + "[" * n + "]" * n),
        st.integers(1, 3000).map(lambda n: "a:\n" + "".join(" " * i + "- \n" for i in range(n))),
        st.just(ALIAS_BOMB),
        st.just(RECURSIVE),
        st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    )


@given(mutated(TREES))
@example({"name": "x", "map": {"type": "straight", "lanes": float("nan")}})
@example({"name": "x", "map": {"type": "straight"}, "actors": [{"id": "a", "type": "car", "s": 10**400}]})
@example({"name": "x", "map": {"type": "curve", "radius": 1e308}})
@example({"name": "x", "map": {"type": "opendrive", "file": "\x00"}})  # found: ValueError from os.stat
@budget(1.0)
def test_scenario_trees_load_or_give_located_errors(tree):
    text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)
    result = load_within_bounds(lambda t: parse_scenario(t, SOURCE), text)
    assert result is None or isinstance(result, (Scenario, ScenarioError))


@given(texts(mutated(TREES)))
@example(ALIAS_BOMB)
@example(RECURSIVE)
@example("a: " + "[" * 3000 + "]" * 3000)
@budget(1.0)
def test_scenario_texts_load_or_give_located_errors(text):
    load_within_bounds(lambda t: parse_scenario(t, SOURCE), text)


NUMBERS = st.floats(-100, 200, allow_nan=False)
FIELDS = st.sampled_from(["ego.s", "ego.speed", "map.length", "a.s", "a.speed", "b.s", "weather.visibility", "nope.x"])
EXPRESSIONS = st.recursive(
    st.one_of(NUMBERS.map(repr), FIELDS, st.sampled_from(["0", "1e308", "-0.0"])),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(st.sampled_from(["min", "max", "abs"]), st.lists(inner, max_size=3)).map(
            lambda t: f"{t[0]}({', '.join(t[1])})"
        ),
    ),
    max_leaves=8,
)
DISTRIBUTIONS = st.one_of(
    st.tuples(NUMBERS, NUMBERS).map(lambda t: {"uniform": list(t)}),
    st.tuples(NUMBERS, NUMBERS).map(lambda t: {"normal": list(t), "clip": [t[0] - 5, t[0] + 5]}),
    st.lists(st.one_of(NUMBERS, st.sampled_from(["car", "bus", "fog"])), max_size=3).map(lambda v: {"choice": v}),
    EXPRESSIONS.map(lambda e: {"expr": e}),
    st.dictionaries(st.sampled_from(["uniform", "expr", "clip", "weights", "gamma"]), st.integers(), max_size=2),
)


@st.composite
def families(draw) -> dict:
    """A small valid scenario with distributions dropped on some of its values, then mutated."""
    import copy

    data = copy.deepcopy(FAMILY_BASE)
    slots = [("ego", "s"), ("ego", "speed"), ("actors", 0, "s"), ("actors", 1, "s"), ("actors", 1, "speed")]
    for path in draw(st.lists(st.sampled_from(slots), max_size=4, unique=True)):
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = draw(DISTRIBUTIONS)
    if draw(st.booleans()):
        data["family"] = {"difficulty": draw(st.dictionaries(st.sampled_from(["ttc", "gap"]), EXPRESSIONS, max_size=2))}
    return draw(mutated(st.just(data), DISTRIBUTIONS))


def draw_family(text: str):
    family = family_from_text(text, SOURCE)
    return sample_family(family, 2, 0) if family.is_family else family


@given(families())
@example({**FAMILY_BASE, "ego": {**FAMILY_BASE["ego"], "s": {"expr": "50 / 0"}}})
@example({**FAMILY_BASE, "ego": {**FAMILY_BASE["ego"], "s": {"expr": "+".join(["1"] * 200_000)}}})
@example({**FAMILY_BASE, "ego": {**FAMILY_BASE["ego"], "s": {"uniform": [-1e308, 1e308]}}})
@example({**FAMILY_BASE, "ego": {**FAMILY_BASE["ego"], "s": {"normal": [0, 1e308]}}})
@example({**FAMILY_BASE, "actors": [[{"s": {"uniform": [1, 2]}}]]})
@example({**FAMILY_BASE, "actors": {"a": {"s": {"uniform": [1, 2]}}}})
@example({**FAMILY_BASE, "family": {"difficulty": ["a"]}})
@example({**FAMILY_BASE, "family": {"difficulty": {"x": "a.s / (a.s - a.s)"}}})
@example({**FAMILY_BASE, "name": {"choice": ["a", "b"]}})
@example({**FAMILY_BASE, "ego": {**FAMILY_BASE["ego"], "s": {"uniform": [0, 1], 0: 1}}})  # a number key
@example({**FAMILY_BASE, "family": {"difficulty": {"ttc": "min(0.0)"}}})  # min of one number
@budget(1.5)
def test_family_trees_draw_or_give_located_errors(tree):
    text = yaml.safe_dump(tree, sort_keys=False, allow_unicode=True)
    result = load_within_bounds(draw_family, text)
    assert result is None or isinstance(result, (list, Family, ScenarioError))
