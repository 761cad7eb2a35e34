"""VAD as an OccSim planner: ``--planner vad:PATH`` with a released ``.pth`` checkpoint or a converted folder."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from occsim.planners.base import Planner, register_planner
from occsim.planners.vad.checkpoint import CheckpointError, load_model, load_weights
from occsim.planners.vad.contract import CAFFE_NORM, VADInputBuilder, waypoints_from_vad

from occsim.types import PlannerInput, PrivilegedInput, Trajectory

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@register_planner("vad")
class VADPlanner(Planner):
    """VAD-Tiny or VAD-Base (read from the weights) in plain PyTorch, with VAD's temporal BEV across an episode.

    Args:
        path: a released ``.pth`` checkpoint, a ``.safetensors`` file or a folder from ``occsim convert-vad``.
        device: ``cpu``, ``cuda``, ...; default CUDA where there is one.
        dtype: ``float32`` (default), or ``bfloat16``/``float16`` for the image backbone and neck (the BEV encoder
            and heads stay float32: their sampling locations need the precision).
    """

    def __init__(self, path: str = "", device: str | None = None, dtype: str = "float32"):
        if not path:
            raise ValueError("VAD needs weights: --planner vad:PATH (a .pth checkpoint or a `convert-vad` folder)")
        if dtype not in DTYPES:
            raise ValueError(f"VAD dtype {dtype!r} is not one of {', '.join(DTYPES)}")
        self.model = load_model(path)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device).prepare_for_inference(DTYPES[dtype])
        self.builder = VADInputBuilder(norm=CAFFE_NORM, scale=self.model.cfg.scale)
        self.episode = 0

    @classmethod
    def check_argument(cls, argument: str) -> list[str]:
        """The weights must be given and readable (read fully: a suite should not start on a broken checkpoint)."""
        if not argument:
            return ["planner 'vad' needs weights: --planner vad:PATH (a .pth checkpoint or a `convert-vad` folder)"]
        try:
            load_weights(argument)
        except CheckpointError as error:
            return [f"planner 'vad': {error}"]
        return []

    def reset(self, info: dict[str, Any]) -> None:
        """A new episode is a new scene: a new scene token, so ``step`` drops the previous BEV."""
        self.episode += 1
        self.builder.reset(f"occsim-{self.episode}")

    def predict(self, inputs: PlannerInput) -> dict[str, torch.Tensor]:
        """VAD's raw outputs for one frame (``ego_fut_preds`` (1, 3, 6, 2) offsets in the LiDAR frame, ...)."""
        vad_inputs = self.builder.build(inputs.as_dict())
        img = torch.from_numpy(vad_inputs.img)[None].to(self.device)
        metas = vad_inputs.img_metas
        return self.model.step(img, metas["can_bus"], np.stack(metas["lidar2img"]), self.builder.scene_token)

    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        """The command's trajectory, cumulated and moved from VAD's LiDAR frame into OccSim's ego frame."""
        preds = self.predict(inputs)["ego_fut_preds"][0].float().cpu().numpy()
        return Trajectory(waypoints_from_vad(preds, int(inputs.command)).astype(np.float32))
