"""Name -> class registries (renderers, planners, weather, behaviours) with helpful errors."""

from __future__ import annotations

import difflib
import importlib
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
        self._lazy: dict[str, str] = {}

    def register_lazy(self, name: str, module: str) -> None:
        """Declare that importing ``module`` registers ``name``; it is imported on first use of the name.

        Keeps heavy imports (diffusers, for the learned renderers) off the path of everyone who never uses them.
        """
        if name not in self._items:
            self._lazy[name] = module

    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator adding the class under ``name`` (and setting its ``name`` attribute if it has one)."""

        def wrap(cls: T) -> T:
            if hasattr(cls, "name"):
                cls.name = name  # type: ignore[attr-defined]
            self._items[name] = cls
            return cls

        return wrap

    def __getitem__(self, name: str) -> T:
        if name in self._lazy:
            importlib.import_module(self._lazy.pop(name))
        if name not in self._items:
            names = list(self)
            raise ValueError(f"unknown {self.kind} '{name}'{did_you_mean(name, names)}; available: {', '.join(names)}")
        return self._items[name]

    def get(self, name: str, default: T | None = None) -> T | None:
        """The class registered as ``name`` (importing a lazy one), or ``default`` where there is none."""
        return self[name] if name in self else default

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*self._items, *self._lazy}))

    def __len__(self) -> int:
        return len({*self._items, *self._lazy})
