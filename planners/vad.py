"""The real VAD (hustvl/VAD, ICCV 2023) as an OccSim planner, in this process.

``--planner vad:/path/to/VAD_base.pth`` with ``OCCSIM_VAD_ROOT`` pointing at a clone of VAD's repository. VAD needs
mmcv-full 1.4, mmdet3d 0.17 and their old torch, which rarely share an environment with OccSim; the usual way is
to serve it from VAD's own Python (``remote_server.py --model vad_contract:make_model``) and drive it with
``--planner remote:http://127.0.0.1:8765``. The conversions live in ``vad_contract.py`` for both.
"""

from __future__ import annotations

from typing import Any

from occsim.planners.base import Planner, register_planner
from occsim.planners.vad_contract import VADModel

from occsim.types import PlannerInput, PrivilegedInput, Trajectory


@register_planner("vad")
class VADPlanner(Planner):
    """A VAD checkpoint; raises a clear error naming whatever is missing (modules, plugin, config, checkpoint)."""

    def __init__(self, checkpoint: str = "", config: str | None = None, vad_root: str | None = None, device="cuda"):
        self.model = VADModel(checkpoint, config, vad_root, device)

    def reset(self, info: dict[str, Any]) -> None:
        """New episode: VAD's temporal BEV starts over."""
        self.model.reset(info)

    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        """VAD's plan for the input's command, in OccSim's ego frame."""
        return Trajectory(self.model.infer(inputs.as_dict()))
