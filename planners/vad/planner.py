"""VAD as an OccSim planner: ``--planner vad:PATH`` with a released ``.pth`` checkpoint or a converted folder."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from occsim.planners.base import Planner, register_planner
from occsim.planners.vad.checkpoint import CheckpointError, load_model, load_weights
from occsim.planners.vad.contract import CAFFE_NORM, VADInputBuilder, waypoints_from_vad
from occsim.types import PlannerInput, PrivilegedInput, Trajectory

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
DTYPE_VARIABLE = "OCCSIM_VAD_DTYPE"  # the image encoder's dtype for planners made from a spec (suites, `occsim run`)


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` is a CPU with bfloat16 instructions (AVX512-BF16 or AMX), where bf16 halves the encoder."""
    if device.type != "cpu":
        return False
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # a torch without these probes: take the exact path
        return False


def encoder_dtype(name: str, device: torch.device) -> torch.dtype:
    """``auto``: bfloat16 on a CPU with native bf16, else float32; or the dtype named."""
    if name == "auto":
        return torch.bfloat16 if native_bf16(device) else torch.float32
    if name not in DTYPES:
        raise ValueError(f"VAD dtype {name!r} is not one of auto, {', '.join(DTYPES)}")
    return DTYPES[name]


@register_planner("vad")
class VADPlanner(Planner):
    """VAD-Tiny or VAD-Base (read from the weights) in plain PyTorch, with VAD's temporal BEV across an episode.

    Args:
        path: a released ``.pth`` checkpoint, a ``.safetensors`` file or a folder from ``occsim convert-vad``.
        device: ``cpu``, ``cuda``, ...; default CUDA where there is one.
        dtype: the ResNet's and FPN's dtype: ``float32`` (the official arithmetic), ``bfloat16``, ``float16``, or
            ``auto`` (bfloat16 on a CPU with native bf16, where it halves the image encoder's time, else float32);
            default ``$OCCSIM_VAD_DTYPE`` or ``auto``. The BEV encoder and heads stay float32: their sampling
            locations need the precision.
    """

    def __init__(self, path: str = "", device: str | None = None, dtype: str | None = None):
        if not path:
            raise ValueError("VAD needs weights: --planner vad:PATH (a .pth checkpoint or a `convert-vad` folder)")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        chosen = encoder_dtype(dtype or os.environ.get(DTYPE_VARIABLE, "auto"), self.device)
        self.model = load_model(path)
        self.model.to(self.device).prepare_for_inference(chosen)
        self.builder = VADInputBuilder(norm=CAFFE_NORM, scale=self.model.cfg.scale)
        self.episode = 0

    @classmethod
    def check_argument(cls, argument: str) -> list[str]:
        """The weights must be given and readable (read fully: a suite should not start on a broken checkpoint)."""
        if not argument:
            return ["planner 'vad' needs weights: --planner vad:PATH (a .pth checkpoint or a `convert-vad` folder)"]
        problems = []
        try:
            encoder_dtype(os.environ.get(DTYPE_VARIABLE, "auto"), torch.device("cpu"))
        except ValueError as error:
            problems.append(f"planner 'vad': ${DTYPE_VARIABLE}: {error}")
        try:
            load_weights(argument)
        except CheckpointError as error:
            problems.append(f"planner 'vad': {error}")
        return problems

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
