"""Strategies shared by the fuzz tests: trees from a pydantic model's JSON schema, mutations, hostile values."""

from __future__ import annotations

import copy
import math
import resource
from typing import Any

from hypothesis import strategies as st

HOSTILE_NUMBERS = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 10**400, -(10**30), -1, 0, 1e-320])
HOSTILE_STRINGS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", " ", "\x00", "é", "🚗", "../../etc/passwd", "${x}", "{", "[", "&a", "*a", "!!python/none"]),
    st.integers(1_000, 300_000).map(lambda n: "x" * n),
)
HOSTILE_VALUES = st.one_of(
    HOSTILE_NUMBERS,
    HOSTILE_STRINGS,
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.integers(0, 200).map(lambda depth: _nested(depth)),
)

# A small valid family: fuzzers mutate copies of it.
FAMILY_BASE = {
    "name": "fam",
    "map": {"type": "straight", "lanes": 2, "oncoming_lanes": 1},
    "ego": {"lane": 0, "s": 20, "speed": 10, "command": "straight", "goal_s": 170},
    "actors": [
        {"id": "a", "type": "car", "lane": 0, "s": 60, "speed": 0},
        {"id": "b", "type": "bus", "lane": 1, "s": 90, "speed": 5},
    ],
}


def _nested(depth: int) -> Any:
    value: Any = 0
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


def from_schema(schema: dict, defs: dict | None = None, depth: int = 0) -> st.SearchStrategy:
    """Valid-looking values of a JSON schema (pydantic's): objects with their required and some optional keys."""
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return st.deferred(lambda: from_schema(defs[schema["$ref"].split("/")[-1]], defs, depth + 1))
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([from_schema(s, defs, depth) for s in schema[key]])
    if "allOf" in schema:
        return from_schema(schema["allOf"][0], defs, depth)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        if depth > 3:  # keep examples small: only what is required this deep
            props = {k: v for k, v in props.items() if k in required}
        optional = [k for k in props if k not in required]
        return st.fixed_dictionaries(
            {k: from_schema(props[k], defs, depth + 1) for k in props if k in required},
            optional={k: from_schema(props[k], defs, depth + 1) for k in optional},
        )
    if kind == "array":
        if "prefixItems" in schema:
            return st.tuples(*(from_schema(s, defs, depth + 1) for s in schema["prefixItems"])).map(list)
        items = schema.get("items", {})
        return st.lists(
            from_schema(items, defs, depth + 1) if items else st.integers(),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 3), 3),
        )
    if kind == "integer":
        return st.integers(
            _bound(schema, "minimum", "exclusiveMinimum", 1), _bound(schema, "maximum", "exclusiveMaximum", -1)
        )
    if kind == "number":
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        hi = schema.get("maximum", schema.get("exclusiveMaximum"))
        return st.floats(
            -500.0 if lo is None else lo,
            500.0 if hi is None else hi,
            exclude_min="exclusiveMinimum" in schema,
            exclude_max="exclusiveMaximum" in schema,
        )
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(lambda s: 0 < len(s) <= 40)
        return st.text(min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 12), 12))
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return st.one_of(st.none(), st.integers(), st.text(max_size=5))


def _bound(schema: dict, inclusive: str, exclusive: str, step: int) -> int:
    if inclusive in schema:
        return int(schema[inclusive])
    if exclusive in schema:
        return int(schema[exclusive]) + step
    return -50 if step > 0 else 500


@st.composite
def mutated(draw, tree: st.SearchStrategy, extra_values: st.SearchStrategy | None = None) -> Any:
    """A tree from ``tree`` with up to three mutations: a value replaced, a key dropped or added, a list grown."""
    data = copy.deepcopy(draw(tree))  # never mutate what the strategy holds (a st.just tree)
    for _ in range(draw(st.integers(0, 3))):
        paths = list(_paths(data))
        path = draw(st.sampled_from(paths))
        parent, key = _at(data, path[:-1]), path[-1] if path else None
        action = draw(st.sampled_from(["replace", "drop", "add", "grow"]))
        value = draw(extra_values if extra_values is not None and draw(st.booleans()) else HOSTILE_VALUES)
        if key is None:
            if action == "add" and isinstance(data, dict):
                data[draw(st.text(max_size=8))] = value
            continue
        if action == "replace":
            parent[key] = value
        elif action == "drop" and isinstance(parent, dict):
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.one_of(st.text(max_size=8), st.integers()))] = value
        elif action == "grow" and isinstance(parent[key], list):
            parent[key] = parent[key] * draw(st.integers(2, 50))
    return data


def _paths(data: Any, path: tuple = ()):
    yield path
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _paths(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _paths(v, (*path, i))


def _at(data: Any, path: tuple) -> Any:
    for part in path:
        data = data[part]
    return data


def peak_megabytes(call) -> tuple[Any, float]:
    """``call()``'s result (or the exception it raised, returned) and how far it raised the process's peak [MB].

    The peak resident size only grows, so this bounds what one call can take beyond any earlier call: an alias
    bomb or a huge allocation shows, at no cost to the call (tracemalloc would slow parsing several times).
    """
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        result = call()
    except Exception as e:  # noqa: BLE001 - the caller checks the type
        result = e
    return result, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024  # Linux: kB
