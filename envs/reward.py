"""The env's reward: route progress, minus a collision penalty that grows with impact speed, off-road and comfort.

Every weight is a keyword of ``OccSimEnv(reward={...})``; ``info["reward_terms"]`` gives each term of a step, so a
learning curve can be read term by term.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from occsim.metrics.scores import COMFORT_BOUNDS
from occsim.sim import StepOutcome
from occsim.types import EgoState


@dataclass(frozen=True)
class RewardWeights:
    """Weights of the reward terms (all non-negative; a term's sign is fixed by what it rewards)."""

    progress: float = 0.1  # per metre of route progress this step (negative when driving backwards)
    collision: float = 10.0  # lost once, on a collision
    impact: float = 1.0  # further lost per m/s of impact speed: a 10 m/s crash costs 10 + 10
    offroad: float = 1.0  # lost per step in which a corner of the ego left the drivable area
    comfort: float = 0.1  # lost per m/s² beyond nuPlan's longitudinal and lateral bounds, averaged over the step

    @classmethod
    def from_kwargs(cls, value: RewardWeights | dict[str, Any] | None) -> RewardWeights:
        """From a dict of weights (unknown keys and negative weights are errors) or None for the defaults."""
        if value is None:
            return cls()
        if isinstance(value, RewardWeights):
            return value
        known = {f.name for f in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown reward terms {sorted(unknown)}; the terms: {', '.join(sorted(known))}")
        weights = cls(**{k: float(v) for k, v in value.items()})
        negative = [k for k, v in asdict(weights).items() if not (np.isfinite(v) and v >= 0.0)]
        if negative:
            raise ValueError(f"reward weights must be finite and >= 0, got {negative}")
        return weights


def comfort_excess(trace: tuple[EgoState, ...]) -> float:
    """Mean over the step's substeps of how far [m/s²] the acceleration leaves nuPlan's comfort bounds."""
    if not trace:
        return 0.0
    lon_lo, lon_hi = COMFORT_BOUNDS["lon_accel"]
    lat_bound = COMFORT_BOUNDS["lat_accel"][1]
    lon = np.array([s.acceleration for s in trace])
    lat = np.array([s.speed * s.yaw_rate for s in trace])
    excess = np.maximum(lon - lon_hi, 0.0) + np.maximum(lon_lo - lon, 0.0) + np.maximum(np.abs(lat) - lat_bound, 0.0)
    return float(excess.mean())


def reward_terms(
    outcome: StepOutcome, previous_progress: float, trace: tuple[EgoState, ...], weights: RewardWeights
) -> dict[str, float]:
    """Each term of one step's reward (their sum is the reward)."""
    collision = outcome.collision
    return {
        "progress": weights.progress * (outcome.progress - previous_progress),
        "collision": -weights.collision if collision else 0.0,
        "impact": -weights.impact * collision.impact_speed if collision else 0.0,
        "offroad": -weights.offroad if outcome.offroad else 0.0,
        "comfort": -weights.comfort * comfort_excess(trace),
    }
