"""The ``occsim`` command, one module per command group; each command parses options and calls one library function.

- ``run``: ``validate FILE...`` (check scenario files), ``run SCENARIO`` (one planner through one scenario)
- ``suite``: ``suite [SCENARIO...]`` (scenarios x planners x weathers x runs), ``report DIR``
- ``planner_training``: ``collect``, ``dagger``, ``train-planner``, ``eval-planner``, ``planner-card``
- ``rl_training``: ``train-rl``, ``rl-card``
- ``renderer_training``: ``collect-render``, ``train-syntheocc``, ``train-perception``, ``train-occscene``,
  ``distill-syntheocc``, ``tune-decoder``
- ``data``: ``make-nuscenes-mini OUT`` (synthetic data in the real nuScenes layout)
- ``serve``: ``serve-planner NAME`` (a planner over HTTP)
- ``vad``: ``convert-vad CKPT`` (a released VAD checkpoint to safetensors), ``synthetic-vad`` (seeded weights)
- ``throughput``: ``bench`` (steps per second and memory on this machine)
- ``snapshot``: ``snapshot SCENARIO`` (one still: six views beside the bird's-eye view, a PNG)
"""

from __future__ import annotations

import sys

from occsim.cli.common import app

# isort: off
# Each module registers its commands; the order here is the help's order.
from occsim.cli import run, suite, planner_training, rl_training, renderer_training  # noqa: F401, E402
from occsim.cli import data, serve, vad, throughput, snapshot  # noqa: F401, E402
# isort: on

__all__ = ["app", "expand_bare_ray", "main"]


def main() -> None:
    """Entry point of the ``occsim`` command."""
    app(args=expand_bare_ray(sys.argv[1:]))


def expand_bare_ray(args: list[str]) -> list[str]:
    """``--ray`` with no address (last, or before another option) means ``--ray local``."""
    out = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            out.append("local")
    return out
