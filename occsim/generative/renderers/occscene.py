"""The ``occscene`` renderer: OccScene video diffusion in the closed loop, each step conditioned on the last.

It extends the ``syntheocc`` renderer: images come from the model at its own resolution and are resized to the
rig's, and depth and semantics are the raster renderer's. Unlike it, each frame is conditioned on the previous
generated frame of the same episode (cross-frame attention and the alignment's temporal scan, with the ego's motion
in between), and f_delta's occupancy of the final views is kept in ``perceived_occupancy`` (coarse Occ3D labels,
ego frame).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from occsim.generative.pipelines.occscene import ContextFrame, FrameCondition, OccScenePipeline
from occsim.generative.renderers.syntheocc import DEFAULT_INIT, DEFAULT_STRENGTH, SyntheOccRenderer
from occsim.sensors.renderer import register_renderer
from occsim.types import CameraFrames, CameraRig, Weather
from occsim.world.world import World

SMALL_OCCSCENE = Path(__file__).parents[1] / "weights" / "occscene-small"  # trained by `occsim train-occscene`
CPU_STEPS = 12  # UniPC steps by default: one env step stays under 10 s on a 2-core CPU (see the README)


@register_renderer("occscene")
class OccSceneRenderer(SyntheOccRenderer):
    """Joint perception-generation video diffusion conditioned on the occupancy window (paper 000).

    Args:
        rig: the cameras; images are generated at the model's resolution and resized to ``rig.hw``.
        weights: a directory written by ``occsim train-occscene``; default the small model shipped with OccSim.
        steps: denoising steps; default CPU_STEPS, or a distilled model's own.
        guidance: classifier-free guidance scale (1 turns it off and halves the UNet's work).
        device: torch device for the model.
        dtype: "float32", "float16" or "bfloat16".
        prompt: text that replaces the weather's prompt (and the scenario's ``weather.prompt``).
        init, strength, keep_detail: ``init="raster"`` starts each frame from its raster views noised to
            ``strength`` (SDEdit), as the ``syntheocc`` renderer does; the previous-frame context is kept.
        video: condition each frame on the previous one of the episode (off: every frame on its own).
    """

    pipeline_class = OccScenePipeline
    default_weights = SMALL_OCCSCENE

    def __init__(
        self,
        rig: CameraRig,
        weights: str | Path | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        prompt: str | None = None,
        init: str = DEFAULT_INIT,
        strength: float = DEFAULT_STRENGTH,
        keep_detail: bool = True,
        video: bool = True,
    ):
        super().__init__(rig, weights, steps, guidance, device, dtype, prompt, init, strength, keep_detail)
        self.video = video
        self.context: ContextFrame | None = None
        self.perceived_occupancy: np.ndarray | None = None

    def fallback_steps(self, settings: dict) -> int | None:
        """CPU_STEPS unless the model names its own (a distilled one)."""
        return None if "steps" in settings else CPU_STEPS

    def reset(self, world: World) -> None:
        """A new episode: its first frame has no previous frame to follow."""
        self.context = None
        self.perceived_occupancy = None

    def render(self, world: World, weather: Weather, seed: int) -> CameraFrames:
        """Six generated views, conditioned on this episode's previous frame; same inputs, same bytes."""
        small, condition = self.condition(world, weather, seed)
        pose = world.ego.pose
        out = self.pipe(
            FrameCondition(
                torch.from_numpy(condition.mpi.astype(np.int64)),
                torch.from_numpy(condition.nearest.astype(np.int64)),
                (pose.x, pose.y, pose.yaw),
            ),
            self.model_rig.intrinsics,
            self.model_rig.cam2ego,
            self.prompt_for(weather),
            context=self.context if self.video else None,
            num_inference_steps=self.steps,
            guidance_scale=self.guidance,
            generator=torch.Generator().manual_seed(seed),
            **self.start(small),
        )
        self.context, self.perceived_occupancy = out.context, out.occupancy
        return self.frames(out.images, small, world, weather, seed)
