"""``OccScenePipeline``: joint perception-generation video diffusion (OccScene, paper 000, section III).

It extends the SyntheOcc pipeline (the world's MPI through the ControlNet, cross-view attention) with
- the perception model f_delta, which at every denoising step reads the views decoded from the current latent and
  predicts semantic occupancy (Algorithm 2); its class probabilities, looked up along every camera ray, join the
  world's occupancy as the condition of
- the Mamba-based Dual Alignment module, which scans occupancy over depth and latents over time and enters the
  ControlNet's first features through a zero convolution (eq. 9), and
- cross-frame attention to the previous generated frame, recorded once per frame in a context pass.

Frames come one at a time along the ego's trajectory: each call takes the previous call's ``context`` and returns
the next one, so consecutive env steps stay consistent. The batch layout each step is [unconditional views,
conditional views] as in SyntheOcc; the alignment does not read the text, so it runs once for both halves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from occsim.classes import CLASS_NAMES
from occsim.generative.models.cross_view import set_video_mode
from occsim.generative.models.images import to_uint8
from occsim.generative.models.mda import MambaDualAlignment, camera_parameters
from occsim.generative.models.perception import OccupancyPerception
from occsim.generative.models.pixel_space import decode_latents, latent_factor
from occsim.generative.pipelines.conditioning import frustum_points, plane_depths, sample_frustum
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline, load_parts, read_settings

NUM_CLASSES = len(CLASS_NAMES)


@dataclass(frozen=True)
class FrameCondition:
    """One frame's world condition at latent resolution."""

    mpi: torch.Tensor  # (V, D, h, w) Occ3D labels per plane
    nearest: torch.Tensor  # (V, h, w) nearest-surface labels
    ego_pose: tuple[float, float, float]  # world x, y [m], yaw [rad]: the motion between frames comes from it


@dataclass(frozen=True)
class ContextFrame:
    """A generated frame the next one is conditioned on."""

    condition: FrameCondition
    latents: torch.Tensor  # (V, C, h, w) its final latents
    logits: torch.Tensor | None  # (1, 18, X, Y, Z) what f_delta perceived in it (None: not perceived)


@dataclass(frozen=True)
class OccSceneOutput:
    """What one call generates."""

    images: np.ndarray  # (V, H, W, 3) uint8
    occupancy: np.ndarray  # (X, Y, Z) uint8 coarse labels f_delta perceives in the final views
    context: ContextFrame  # pass it to the next call


def ego_motion(source: tuple[float, float, float], target: tuple[float, float, float]) -> torch.Tensor:
    """(4, 4) transform from ``source``'s ego frame to ``target``'s, for world poses (x, y, yaw)."""

    def pose(x: float, y: float, yaw: float) -> torch.Tensor:
        c, s = np.cos(yaw), np.sin(yaw)
        return torch.tensor([[c, -s, 0, x], [s, c, 0, y], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=torch.float32)

    return torch.linalg.inv(pose(*target)) @ pose(*source)


class OccScenePipeline(OccSimSyntheOccPipeline):
    """SyntheOcc + perception model + Mamba-based Dual Alignment + cross-frame attention (paper 000)."""

    def __init__(self, vae, text_encoder, tokenizer, unet, controlnet, scheduler, mda, perception):
        super().__init__(vae, text_encoder, tokenizer, unet, controlnet, scheduler)
        self.register_modules(mda=mda, perception=perception)

    @classmethod
    def from_syntheocc(
        cls,
        syntheocc: str | Path,
        perception: str | Path,
        joint: bool = True,
        mixer: str = "mamba",
        camera_encoding: bool = True,
        frames: int = 2,
        depth: int = 8,
        patch: int = 4,
    ) -> OccScenePipeline:
        """A new OccScene model on a trained SyntheOcc model and perception model; the new parts start at zero.

        Args:
            syntheocc: a folder written by ``occsim train-syntheocc``.
            perception: a folder written by ``occsim train-perception``.
            joint: condition on f_delta's perceived occupancy as well as the world's (the joint scheme).
            mixer: ``mamba`` or ``attention`` for the alignment's sequence mixer.
            camera_encoding: gate occupancy features with the camera encoder (eq. 3).
            frames: frames the alignment sees (the current one and ``frames - 1`` before it).
            depth: the alignment's depth planes (the MPI's planes are averaged down to it; at most the MPI's).
            patch: latent pixels per alignment patch side (must divide the latent's height and width).

        Raises:
            ValueError: ``depth`` does not divide the MPI's planes, or ``patch`` the latent size.
        """
        directory = Path(syntheocc)
        settings = read_settings(directory)
        depth = min(depth, settings["planes"])
        latent_hw = [s // settings["latent_factor"] for s in settings["image_hw"]]
        if settings["planes"] % depth or any(s % patch for s in latent_hw):
            raise ValueError(
                f"depth {depth} must divide the MPI's {settings['planes']} planes and patch {patch} the latent "
                f"size {latent_hw[0]}x{latent_hw[1]}"
            )
        parts = load_parts(directory, settings, video=True)
        controlnet = parts["controlnet"]
        mda = MambaDualAlignment(
            occupancy_channels=2 * NUM_CLASSES if joint else NUM_CLASSES,
            latent_channels=parts["unet"].config.in_channels,
            out_channels=controlnet.controlnet.config.block_out_channels[0],
            depth=depth,
            frames=frames,
            patch=patch,
            mixer=mixer,
            camera_encoding=camera_encoding,
        )
        model = OccupancyPerception.from_pretrained(perception, local_files_only=True)
        pipe = cls(**parts, mda=mda.eval(), perception=model.eval())  # eval, as ``load`` gives them
        pipe.settings = {**settings, "video": True, "joint": joint}
        return pipe

    @classmethod
    def load(cls, directory: str | Path, torch_dtype: torch.dtype | None = None) -> OccScenePipeline:
        """Load what ``save`` wrote (safetensors only)."""
        directory = Path(directory)
        settings = read_settings(directory)
        if "joint" not in settings:
            raise FileNotFoundError(f"{directory} holds a SyntheOcc model, not an OccScene one")
        pipe = cls(
            **load_parts(directory, settings),
            mda=MambaDualAlignment.from_pretrained(directory / "mda", local_files_only=True),
            perception=OccupancyPerception.from_pretrained(directory / "perception", local_files_only=True),
        )
        pipe.settings = settings
        return pipe.to(torch_dtype=torch_dtype) if torch_dtype else pipe

    @property
    def joint(self) -> bool:
        """Whether f_delta's perceived occupancy conditions the generation."""
        return bool(self.settings.get("joint", True))

    def frame_condition(
        self,
        occupancy: np.ndarray,
        intrinsics: np.ndarray,
        cam2ego: np.ndarray,
        image_hw: tuple[int, int],
        ego_pose: tuple[float, float, float],
    ) -> FrameCondition:
        """A ``FrameCondition`` from an occupancy window, the cameras (for ``image_hw`` images) and the ego pose."""
        mpi, nearest = self.mpi_condition(occupancy, intrinsics, cam2ego, image_hw)
        return FrameCondition(mpi, nearest, tuple(float(v) for v in ego_pose))

    def perceive(self, latents: torch.Tensor, intrinsics: torch.Tensor, cam2ego: torch.Tensor) -> torch.Tensor:
        """f_delta on the views decoded from ``latents`` (V, C, h, w): (1, 18, X, Y, Z) logits."""
        images = decode_latents(self.vae, latents).float().clamp(-1, 1)
        return self.perception(images[None], intrinsics[None], cam2ego[None])

    def frustum(self, intrinsics: torch.Tensor, cam2ego: torch.Tensor, image_hw: tuple[int, int]) -> torch.Tensor:
        """(V, D, h, w, 3) ego-frame points of the MPI cells of the cameras (``intrinsics`` for ``image_hw``)."""
        h, w = (s // latent_factor(self.vae) for s in image_hw)
        scale = torch.tensor([w / image_hw[1], h / image_hw[0], 1.0], device=intrinsics.device)
        depths = torch.as_tensor(plane_depths(self.settings["planes"], self.settings["max_depth"]))
        return frustum_points(intrinsics * scale[:, None], cam2ego, (h, w), depths)

    def occupancy_volume(
        self, condition: FrameCondition, logits: torch.Tensor | None, points: torch.Tensor
    ) -> torch.Tensor:
        """(V, C_occ, D', h, w): one frame's world occupancy along every ray, one-hot, and f_delta's classes.

        In the joint scheme the class probabilities f_delta perceives are looked up at the same cells (``points``,
        the frame's ``frustum``). Depth is averaged down to the alignment's planes.
        """
        world = F.one_hot(condition.mpi.long().to(points.device), NUM_CLASSES).permute(0, 4, 1, 2, 3).float()
        if not self.joint:
            return self._pool(world)
        if logits is None:  # nothing perceived (a context frame from outside the pipeline): uniform belief
            perceived = torch.full_like(world, 1.0 / NUM_CLASSES)
        else:
            probs = logits.softmax(dim=1).detach().float()  # Algorithm 1: the condition does not train f_delta
            perceived = sample_frustum(probs, points[None])[0].transpose(0, 1)  # (V, 18, D, h, w)
        return self._pool(torch.cat([world, perceived], dim=1))

    def cameras(self, frames: list[FrameCondition], intrinsics: torch.Tensor, cam2ego: torch.Tensor) -> torch.Tensor:
        """(V, N, 16) ``camera_parameters`` of every view in every frame, posed in the last frame's ego frame."""
        image_hw = tuple(self.settings["image_hw"])
        posed = [ego_motion(f.ego_pose, frames[-1].ego_pose).to(cam2ego.device) @ cam2ego for f in frames]
        return torch.stack([camera_parameters(intrinsics, t, image_hw) for t in posed], dim=1).to(cam2ego.device)

    def _pool(self, volume: torch.Tensor) -> torch.Tensor:
        """(B, C, D, h, w) -> (B, C, D', h, w): average consecutive planes down to the alignment's depth."""
        factor = volume.shape[2] // self.mda.config.depth
        return F.avg_pool3d(volume.float(), (factor, 1, 1)) if factor > 1 else volume.float()

    @torch.no_grad()
    def __call__(
        self,
        condition: FrameCondition,
        intrinsics: np.ndarray,
        cam2ego: np.ndarray,
        prompt: str,
        context: ContextFrame | None = None,
        negative_prompt: str = "",
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        generator: torch.Generator | None = None,
        init_images: np.ndarray | None = None,
        strength: float = 1.0,
        keep_detail: bool = False,
    ) -> OccSceneOutput:
        """Generate the six views of one frame (Algorithm 2), conditioned on the previous frame if given.

        Args:
            condition: this frame's world condition (``frame_condition``).
            intrinsics: (V, 3, 3) for images of the model's size (``settings["image_hw"]``).
            cam2ego: (V, 4, 4) camera-to-ego transforms.
            prompt: weather and style text.
            context: the previous call's ``context``, or None for a first frame.
            negative_prompt: the unconditional half of classifier-free guidance.
            num_inference_steps: sampler steps (None: the model's own, see ``sampling``).
            guidance_scale: classifier-free guidance weight; 1 turns guidance off (None: the model's own).
            generator: seeds the initial noise.
            init_images: (V, H, W, 3) uint8 views at the model's size to start from (SDEdit), or None.
            strength: how much of the schedule runs from ``init_images`` (1: pure generation).
            keep_detail: add back what the autoencoder loses of ``init_images`` (see the SyntheOcc pipeline).
        """
        device, dtype = self.device, self.unet.dtype
        image_hw = tuple(self.settings["image_hw"])
        k = torch.as_tensor(intrinsics, dtype=torch.float32, device=device)
        t_cam = torch.as_tensor(cam2ego, dtype=torch.float32, device=device)
        views = condition.mpi.shape[0]
        num_inference_steps, guidance_scale = self.sampling(num_inference_steps, guidance_scale)
        text, mpi_in, nearest_in = self.guided_inputs(
            prompt, negative_prompt, guidance_scale, condition.mpi, condition.nearest
        )
        frames = [context.condition, condition] if context is not None else [condition]
        cameras = self.cameras(frames, k, t_cam).to(dtype)
        points = self.frustum(k, t_cam, image_hw)
        slot = self.mda.config.frames - 1  # the current frame's
        if context is not None:  # the previous frame's features do not change while this one is denoised
            volume = self.occupancy_volume(context.condition, context.logits, points).to(dtype)
            previous = self.mda.frame_features(volume, cameras[:, 0], slot - 1)
        self.record_context(None if context is None else context.latents, text[-views:])  # the conditional half
        start = self.encode_start(init_images, strength, keep_detail)
        latents, timesteps = self.initial_latents(
            views,
            condition.mpi.shape[-2:],
            num_inference_steps,
            generator,
            None if start is None else start[1],
            strength,
        )
        try:
            for t in self.progress_bar(timesteps):
                logits = self.perceive(latents, k, t_cam) if self.joint else None  # Algorithm 2, line 4
                volume = self.occupancy_volume(condition, logits, points).to(dtype)
                current = self.mda.frame_features(volume, cameras[:, -1], slot)
                if context is None:
                    features, sequence = current[:, None], latents[:, None]
                else:
                    features = torch.stack([previous, current], dim=1)
                    sequence = torch.stack([context.latents.to(latents), latents], dim=1)
                residual = self.mda.align(features, sequence)
                latents = self.denoise(latents, t, text, mpi_in, nearest_in, guidance_scale, residual, generator)
        finally:
            set_video_mode(self.unet, "off")
        images = decode_latents(self.vae, latents).float()
        if keep_detail and start is not None:
            images = images + self.detail_residual(*start)
        images = images.clamp(-1, 1)
        logits = self.perception(images[None], k[None], t_cam[None])  # Algorithm 2 returns X_occ with y_0
        return OccSceneOutput(
            images=to_uint8(images),
            occupancy=logits[0].argmax(dim=0).to(torch.uint8).cpu().numpy(),
            context=ContextFrame(condition, latents.detach(), logits.detach()),
        )

    def video(
        self,
        conditions: list[FrameCondition],
        intrinsics: np.ndarray,
        cam2ego: np.ndarray,
        prompt: str,
        seed: int = 0,
        **kwargs,
    ) -> list[OccSceneOutput]:
        """Frames along a trajectory (``conditions`` in time order), each conditioned on the one before.

        Frame n draws its noise from ``seed + n``; ``kwargs`` go to every call (steps, guidance, negative prompt).
        """
        outputs: list[OccSceneOutput] = []
        for n, condition in enumerate(conditions):
            context = outputs[-1].context if outputs else None
            generator = torch.Generator().manual_seed(seed + n)
            outputs.append(self(condition, intrinsics, cam2ego, prompt, context=context, generator=generator, **kwargs))
        return outputs

    def record_context(self, latents: torch.Tensor | None, text: torch.Tensor) -> None:
        """The context pass: the previous frame's clean latents through the UNet at t = 0, features recorded.

        The next UNet calls attend to them across frames; None (no previous frame) turns that attention off. Used by
        generation and by the joint training loss alike.
        """
        if latents is None:
            set_video_mode(self.unet, "off")
            return
        set_video_mode(self.unet, "record")
        zero = torch.zeros(latents.shape[0], dtype=torch.long, device=self.device)
        with torch.no_grad():
            self.unet(latents.to(self.device, self.unet.dtype), zero, text)
        set_video_mode(self.unet, "attend")
