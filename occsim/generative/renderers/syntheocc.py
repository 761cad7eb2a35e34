"""The ``syntheocc`` renderer: the world's semantic MPI and the weather's prompt through a trained SyntheOcc model.

Images come from the diffusion model at the resolution it was trained for and are resized to the rig's; depth and
semantics (privileged observations, metrics) are the raster renderer's, since they are the world's geometry. The
nearest-surface condition is pooled from a raster pass at the model's resolution, exactly as its training pairs were.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from safetensors import safe_open

from occsim.generative.pipelines.conditioning import LatentCondition, latent_condition, plane_depths
from occsim.generative.pipelines.official import check_base, check_official, load_official
from occsim.generative.pipelines.prompts import official_prompt, weather_prompt
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline
from occsim.sensors.mpi import build_mpi
from occsim.sensors.raster import RasterRenderer
from occsim.sensors.renderer import Renderer, register_renderer
from occsim.types import CameraFrames, CameraRig, Weather
from occsim.world.world import World

SMALL_WEIGHTS = Path(__file__).parents[1] / "weights" / "syntheocc-small"  # trained by `occsim train-syntheocc`
DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
MAX_STEPS = 1000  # a scheduler's training timesteps: more denoising steps than this mean nothing
MAX_GUIDANCE = 50.0  # classifier-free guidance beyond this only saturates the image
MAX_PROMPT = 300  # characters, as the scenario schema allows
INITS = ("noise", "raster")  # where denoising starts: pure generation, or the raster views (SDEdit)
# The default: raster-guided, the last tenth of the schedule (2 of 20 UniPC steps). The best measured trade-off of
# the shipped small models: the planner behaves as in raster and a step takes about a second (README, "Defaults").
DEFAULT_INIT, DEFAULT_STRENGTH = "raster", 0.1
# The weights' layout: OccSim's own (`occsim train-syntheocc`) or the released SyntheOcc checkpoint on a local SD 2.1.
FORMATS = ("occsim", "official")


def check_weights(directory: Path) -> None:
    """A model directory ``save`` wrote, its index and every safetensors header readable.

    Raises:
        FileNotFoundError: no such directory, or not a saved model.
        ValueError: a weights file is torn or not safetensors.
    """
    if not directory.is_dir():
        raise FileNotFoundError(f"weights directory not found: {directory}")
    if not (directory / "model_index.json").is_file():
        raise FileNotFoundError(
            f"no SyntheOcc pipeline in {directory} (no model_index.json): pass a train-syntheocc --out folder"
        )
    files = sorted(directory.rglob("*.safetensors"))
    if not files:
        raise ValueError(f"{directory} holds no .safetensors weights")
    for path in files:
        try:
            with safe_open(str(path), framework="pt") as f:
                f.keys()
        except Exception as e:  # safetensors raises its own error types for a torn or foreign file
            raise ValueError(f"{path} is not a readable safetensors file ({type(e).__name__}: {e})") from None


@register_renderer("syntheocc")
class SyntheOccRenderer(Renderer):
    """Multi-view diffusion conditioned on the occupancy window (paper 001).

    Args:
        rig: the cameras; images are generated at the model's resolution and resized to ``rig.hw``.
        weights: a directory written by ``occsim train-syntheocc``; default the small model shipped with OccSim.
        steps: denoising steps; default the model's own (UniPC's 20, a distilled model's 4).
        guidance: classifier-free guidance scale (1 turns it off and halves the work); default the model's own.
        device: torch device for the model ("cpu", "cuda", "cuda:1", ...).
        dtype: "float32", "float16" or "bfloat16" (half precision on a GPU).
        prompt: text that replaces the weather's prompt (and the scenario's ``weather.prompt``).
        init: where denoising starts: ``raster`` (the default; SDEdit: the raster views of the same world, noised to
            ``strength``, so geometry and objects come from the world) or ``noise`` (pure generation, the paper's
            method, which a pretrained base on a GPU can afford).
        strength: with ``init="raster"``, the share of the schedule that runs (0: the raster views through the
            autoencoder; 1: pure generation); ``strength x steps`` steps run.
        keep_detail: with ``init="raster"``, add back what the autoencoder loses of the raster views (the small
            models' autoencoder blurs away small and distant objects), and upsample only the model's change to the
            raster views onto the rig-size raster; strength 0 then returns the rig-size raster views.
        format: ``occsim`` (a model ``occsim train-syntheocc`` wrote) or ``official`` (the released SyntheOcc's
            ``controlnet/`` and ``unet/`` in ``weights``, on the Stable Diffusion 2.1 folder ``base``; 448 x 800,
            its own MPI condition and prompt; ``init`` defaults to ``noise``, the paper's method).
        base: the local Stable Diffusion 2.1 folder, for ``format="official"``.

    Subclasses set ``pipeline_class`` and ``default_weights`` and reuse ``condition`` and ``frames``.
    """

    pipeline_class = OccSimSyntheOccPipeline
    default_weights = SMALL_WEIGHTS

    def __init__(
        self,
        rig: CameraRig,
        weights: str | Path | None = None,
        steps: int | None = None,
        guidance: float | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        prompt: str | None = None,
        init: str | None = None,
        strength: float = DEFAULT_STRENGTH,
        keep_detail: bool = True,
        format: str = "occsim",  # noqa: A002 - the option's documented name
        base: str | Path | None = None,
    ):
        super().__init__(rig)
        options = dict(
            weights=weights,
            steps=steps,
            guidance=guidance,
            dtype=dtype,
            prompt=prompt,
            init=init,
            strength=strength,
            keep_detail=keep_detail,
        )
        if format != "occsim" or base is not None:  # subclasses without the official format do not name these
            options.update(format=format, base=base)
        self.check_options(**options)
        self.official = format == "official"
        self.init = init or ("noise" if self.official else DEFAULT_INIT)
        self.strength, self.keep_detail = float(strength), bool(keep_detail)
        if self.official:
            self.pipe = load_official(weights, base, DTYPES[dtype]).to(device)
        else:
            self.pipe = self.pipeline_class.load(weights or self.default_weights, DTYPES[dtype]).to(device)
        self.pipe.set_progress_bar_config(disable=True)
        settings = self.pipe.settings
        self.steps, self.guidance = self.pipe.sampling(
            steps if steps is not None else self.fallback_steps(settings), guidance
        )
        self.prompt = prompt
        self.factor = int(settings["latent_factor"])
        self.depths = plane_depths(int(settings["planes"]), float(settings["max_depth"]))
        self.model_rig = rig.resized(tuple(settings["image_hw"]))
        self.condition_raster = RasterRenderer(self.model_rig)
        self.geometry_raster = self.condition_raster if self.model_rig.hw == rig.hw else RasterRenderer(rig)

    def fallback_steps(self, settings: dict) -> int | None:
        """Steps when neither the caller nor the model names them (None: the pipeline's default)."""
        return None

    @classmethod
    def check_options(cls, **options) -> None:
        """Names, ranges and the weights directory (its files' headers read, nothing loaded).

        Raises:
            ValueError: a bad name or value. FileNotFoundError: no saved model at ``weights``.
        """
        super().check_options(**options)
        steps = options.get("steps")
        steps = 1 if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be a whole number from 1 to {MAX_STEPS}, got {steps!r}")
        guidance = options.get("guidance")
        guidance = 1.0 if guidance is None else guidance
        if isinstance(guidance, bool) or not isinstance(guidance, (int, float)) or not 0.0 <= guidance <= MAX_GUIDANCE:
            raise ValueError(f"guidance must be a number from 0 to {MAX_GUIDANCE:g}, got {guidance!r}")
        for name in ("weights", "base", "dtype", "format", "init"):  # text: `weights=10` parses as a number
            if options.get(name) is not None and not isinstance(options[name], (str, Path)):
                raise ValueError(f"{name} must be text (a name or a folder path), got {options[name]!r}")
        dtype = options.get("dtype", "float32")
        kind = options.get("format", "occsim")
        if kind not in FORMATS or (kind == "official" and cls.pipeline_class is not OccSimSyntheOccPipeline):
            allowed = FORMATS if cls.pipeline_class is OccSimSyntheOccPipeline else FORMATS[:1]
            raise ValueError(f"format must be one of {', '.join(allowed)} for this renderer, got {kind!r}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if (options.get("init") or DEFAULT_INIT) not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)}, got {options.get('init')!r}")
        strength = options.get("strength", 1.0)
        if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0.0 <= strength <= 1.0:
            raise ValueError(f"strength must be a number from 0 to 1, got {strength!r}")
        if not isinstance(options.get("keep_detail", True), bool):
            raise ValueError(f"keep_detail must be true or false, got {options.get('keep_detail')!r}")
        prompt = options.get("prompt")
        if prompt is not None and (not isinstance(prompt, str) or not 0 < len(prompt) <= MAX_PROMPT):
            raise ValueError(f"prompt must be text of 1 to {MAX_PROMPT} characters, got {str(prompt)[:40]!r}")
        if kind == "official":
            if not options.get("weights"):
                raise ValueError("format official needs weights: the released checkpoint's folder")
            check_official(options["weights"])
            check_base(options.get("base"))
        else:
            check_weights(Path(options.get("weights") or cls.default_weights))

    def render(self, world: World, weather: Weather, seed: int) -> CameraFrames:
        """Six generated views; the same world, weather and ``seed`` give the same bytes on the same device."""
        small, mpi, nearest = self.inputs(world, weather, seed)
        images = self.pipe(
            mpi,
            nearest,
            self.prompt_for(weather),
            num_inference_steps=self.steps,
            guidance_scale=self.guidance,
            generator=torch.Generator().manual_seed(seed),
            **self.start(small),
        )
        return self.frames(images, small, world, weather, seed)

    def start(self, small: CameraFrames | None) -> dict:
        """Where denoising starts: the raster views at the model's size (``init="raster"``), or noise."""
        if self.init == "raster":
            return {"init_images": small.rgb, "strength": self.strength, "keep_detail": self.keep_detail}
        return {}

    def inputs(
        self, world: World, weather: Weather, seed: int
    ) -> tuple[CameraFrames | None, torch.Tensor, torch.Tensor]:
        """The raster pass at the model's size (None if nothing needs it) and the pipeline's ``(mpi, nearest)``.

        The official format reads both from the occupancy window alone (``build_mpi(layout="official")``), as the
        release's data did; OccSim's models take the nearest surface from the raster pass, as their training did.
        """
        if self.official:
            small = self.condition_raster.render(world, weather, seed) if self.init == "raster" else None
            h, w = self.model_rig.hw
            latent = self.model_rig.resized((h // self.factor, w // self.factor))
            condition = build_mpi(world.occupancy(), latent.intrinsics, latent.cam2ego, latent.hw, layout="official")
            return small, condition[:, :-1].long(), condition[:, -1].long()
        small, condition = self.condition(world, weather, seed)
        mpi, nearest = (torch.from_numpy(a.astype(np.int64)) for a in (condition.mpi, condition.nearest))
        return small, mpi, nearest

    def condition(self, world: World, weather: Weather, seed: int) -> tuple[CameraFrames, LatentCondition]:
        """A raster pass at the model's size and the latent condition read from it and the occupancy window."""
        small = self.condition_raster.render(world, weather, seed)
        return small, latent_condition(world.occupancy(), small, self.model_rig, self.factor, self.depths)

    def prompt_for(self, weather: Weather) -> str:
        """The weather's prompt, unless the scenario's ``weather.prompt`` or the ``prompt`` option replaces it."""
        if self.official:
            return official_prompt(weather.kind, self.prompt or weather.prompt)
        return weather_prompt(weather.kind, self.prompt or weather.prompt)

    def frames(
        self, images: np.ndarray, small: CameraFrames | None, world: World, weather: Weather, seed: int
    ) -> CameraFrames:
        """Generated ``images`` resized to the rig, with the raster's depth and semantics at the rig's size."""
        geometry = (
            small
            if small is not None and self.geometry_raster is self.condition_raster
            else self.geometry_raster.render(world, weather, seed)
        )
        h, w = self.rig.hw
        if images.shape[1:3] != (h, w):
            if self.init == "raster" and self.keep_detail:
                # Only the model's change to the raster views is upsampled: the rig-size raster keeps its own
                # detail (the thin poles and distant cars that a model-size frame, upsampled, smears away).
                change = images.astype(np.float32) - small.rgb.astype(np.float32)
                change = np.stack([cv2.resize(view, (w, h), interpolation=cv2.INTER_LINEAR) for view in change])
                images = np.clip(np.rint(geometry.rgb.astype(np.float32) + change), 0, 255).astype(np.uint8)
            else:
                images = np.stack([cv2.resize(view, (w, h), interpolation=cv2.INTER_CUBIC) for view in images])
        return CameraFrames(rgb=images, depth=geometry.depth, semantic=geometry.semantic)
