"""Name -> class registries (renderers, planners, weather, behaviours) with helpful errors."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

T = TypeVar("T")


def did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    """``"; did you mean 'x'?"`` for the closest option, or an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


class Registry(Mapping[str, T], Generic[T]):
    """A read-only mapping filled by the ``register`` decorator; unknown names raise ValueError with a suggestion."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator adding the class under ``name`` (and setting its ``name`` attribute if it has one)."""

        def wrap(cls: T) -> T:
            if hasattr(cls, "name"):
                cls.name = name  # type: ignore[attr-defined]
            self._items[name] = cls
            return cls

        return wrap

    def __getitem__(self, name: str) -> T:
        if name not in self._items:
            available = ", ".join(sorted(self._items))
            raise ValueError(
                f"unknown {self.kind} '{name}'{did_you_mean(name, list(self._items))}; available: {available}"
            )
        return self._items[name]

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
