"""What marks a value of a scenario file as a distribution (see ``occsim.scenario.family``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A distribution's kind → the other keys it may take.
KINDS: dict[str, set[str]] = {"uniform": set(), "normal": {"clip"}, "choice": {"weights"}, "expr": set()}
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Draw:
    """One distribution in a family file."""

    path: Path_  # where in the scenario, e.g. ("actors", 0, "s")
    kind: str  # uniform | normal | choice | expr
    spec: dict[str, Any]


def find_draws(data: Any, path: Path_ = ()) -> list[Draw]:
    """Every distribution in ``data``, outermost first (a distribution's own arguments are not searched).

    An ``openscenario`` block is not searched: its parameters vary through its own ``distribution``.
    """
    if path[:1] == ("openscenario",):
        return []
    if isinstance(data, dict):
        kinds = [k for k in data if k in KINDS]
        if kinds and path[:1] != ("family",):
            return [Draw(path, kinds[0], data)]
        return [d for key, value in data.items() for d in find_draws(value, (*path, key))]
    if isinstance(data, list):
        return [d for i, value in enumerate(data) for d in find_draws(value, (*path, i))]
    return []
