"""The action space of the OccSim envs: a ``Box`` that checks an action (and, batched, a whole batch) before use.

Gymnasium's vector envs split a batch of actions with ``iterate(action_space, actions)`` and step world after
world, so a batch of the wrong size or with one bad row is found only after some worlds have moved (or, zipped,
never). Registering ``batch_space`` and ``iterate`` for these spaces (Gymnasium's documented extension points for
custom spaces) makes every vectorisation mode (``sync``, ``async`` and the batched ``vector_entry_point``) check
the whole batch first: a ``ValueError`` naming the expected and the received shapes, and no world advanced.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space, iterate


class ActionBox(spaces.Box):
    """A ``Box`` action space whose ``check`` refuses an action of another shape, a non-numeric dtype or NaN/inf."""

    def check(self, action: Any, what: str = "action") -> np.ndarray:
        """``action`` as a float64 array of the space's shape.

        Raises:
            ValueError: naming ``what``, the expected shape and dtype, and what was received.
        """
        return _checked(action, self.shape, self.dtype, what)


class BoundedActionBox(ActionBox):
    """An ``ActionBox`` whose values must also lie within its bounds (waypoints: beyond them is no plan at all)."""

    def check(self, action: Any, what: str = "action") -> np.ndarray:
        """As ``ActionBox.check``, and every value within [low, high]."""
        return _within(self, _checked(action, self.shape, self.dtype, what), what)


class BatchedActionBox(spaces.Box):
    """``num_envs`` stacked ``ActionBox`` actions; ``iterate`` checks the whole batch before yielding a row."""

    bounded = False  # the single space is a BoundedActionBox

    def check(self, actions: Any, what: str = "actions") -> np.ndarray:
        """The batch as a float64 array of shape ``(num_envs, *single shape)``; ValueError otherwise."""
        array = _checked(actions, self.shape, self.dtype, what, batch=True)
        return _within(self, array, what, batch=True) if self.bounded else array


@batch_space.register(ActionBox)
def _batch_action_box(space: ActionBox, n: int = 1) -> BatchedActionBox:
    repeats = (n,) + (1,) * space.low.ndim
    batched = BatchedActionBox(np.tile(space.low, repeats), np.tile(space.high, repeats), dtype=space.dtype)
    batched.bounded = isinstance(space, BoundedActionBox)
    return batched


@iterate.register(BatchedActionBox)
def _iterate_batched_actions(space: BatchedActionBox, items: Any) -> Iterator[np.ndarray]:
    return iter(list(space.check(items)))  # checked whole, before the caller steps a world


def _checked(action: Any, shape: tuple[int, ...], dtype: np.dtype, what: str, batch: bool = False) -> np.ndarray:
    expected = f"shape {shape} {np.dtype(dtype).name}" + (f" (num_envs={shape[0]} rows)" if batch else "")
    try:
        array = np.asarray(action)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise ValueError(f"invalid {what}: expected {expected}, got {type(action).__name__} ({e})") from None
    received = f"shape {array.shape} {array.dtype.name}"
    if array.dtype == np.bool_ or array.dtype.kind not in "iuf":
        raise ValueError(f"invalid {what}: expected {expected}, got {received} (not real numbers)")
    if array.shape != tuple(shape):
        raise ValueError(f"invalid {what}: expected {expected}, got {received}")
    array = array.astype(np.float64)
    if not np.all(np.isfinite(array)):
        bad = "" if not batch else f" in row(s) {sorted(set(np.argwhere(~np.isfinite(array))[:, 0].tolist()))}"
        raise ValueError(f"invalid {what}: NaN or inf{bad}; expected finite values of {expected}")
    return array


def _within(space: spaces.Box, array: np.ndarray, what: str, batch: bool = False) -> np.ndarray:
    outside = (array < space.low) | (array > space.high)
    if outside.any():
        rows = f" in row(s) {sorted(set(np.argwhere(outside)[:, 0].tolist()))}" if batch else ""
        raise ValueError(
            f"invalid {what}: values outside [{space.low.min():g}, {space.high.max():g}]{rows}; "
            f"got {array[outside].flat[0]:g}"
        )
    return array
