"""The one closed loop every caller uses: reset → observe → plan → step, until the episode ends.

Suites, data collection, the nuScenes-format logger and the benchmarks differ only in what they do around the
loop, so they pass hooks instead of writing the loop again (as Waymax's ``rollout`` and HighwayEnv's template
step do): ``act`` sees each decision and chooses the executed action, ``observe`` sees each observation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from occsim.types import PlannerInput, PrivilegedInput


class Agent(Protocol):
    """What the loop needs of a planner: a reset with the env's info, then one plan per step (see ``Planner``)."""

    privileged: bool  # gets PrivilegedInput (the env must be made with privileged=True)

    def reset(self, info: dict[str, Any]) -> None: ...  # noqa: D102

    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Any: ...  # noqa: D102


@dataclass(frozen=True)
class RolloutEnd:
    """How a rollout ended."""

    steps: int  # env steps taken
    terminated: bool  # collision or goal
    truncated: bool  # the scenario's time limit
    info: dict[str, Any]  # the last step's info (the reset's, if no step was taken)


Act = Callable[[int, dict, Any], Any]  # (step, observation, plan) -> the action to execute
Observe = Callable[[int, dict, dict], None]  # (step, observation, info); step 0 is the reset's


def rollout(
    env,
    agent: Agent,
    seed: int | None,
    act: Act | None = None,
    observe: Observe | None = None,
    max_steps: int | None = None,
) -> RolloutEnd:
    """Drive ``agent`` in the Gymnasium ``env`` from ``reset(seed=seed)`` until it terminates or is truncated.

    Args:
        env: an OccSim env (or anything with Gymnasium's ``reset`` and ``step``).
        agent: ``reset(info)`` once, then ``plan(PlannerInput, PrivilegedInput or None)`` every step.
        seed: the reset seed.
        act: called before each step with the plan; returns what is executed (default: the plan itself).
        observe: called with every observation, the reset's included.
        max_steps: stop after this many steps even if the episode goes on.
    """
    observation, info = env.reset(seed=seed)
    agent.reset(info)
    road = info.get("road")
    if observe is not None:
        observe(0, observation, info)
    steps, terminated, truncated = 0, False, False
    while not (terminated or truncated) and (max_steps is None or steps < max_steps):
        inputs = PlannerInput.from_observation(observation, info["t"])
        privileged = PrivilegedInput.from_observation(observation, road) if agent.privileged else None
        plan = agent.plan(inputs, privileged)
        action = plan if act is None else act(steps, observation, plan)
        observation, _, terminated, truncated, info = env.step(action)
        steps += 1
        if observe is not None:
            observe(steps, observation, info)
    return RolloutEnd(steps, bool(terminated), bool(truncated), info)
