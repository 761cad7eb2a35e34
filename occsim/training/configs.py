"""What every training and data-making run takes: one frozen config type per command, each field with its unit.

The ``occsim`` commands take their defaults from these types and hand them over whole; a config checks its own
values (``__post_init__``), so the library and the command refuse the same things with the same message. The module
imports nothing heavy, so the command line can read it without loading torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from occsim.types import DEFAULT_CAMERA_HW, VISION_INPUT_HW

Layout = Literal["occsim", "official"]  # MPI encoding: OccSim's models, or the released SyntheOcc's


def _one_of(option: str, value: object, allowed: tuple) -> None:
    """Raise ValueError naming the option unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        names = [str(a) for a in allowed]
        raise ValueError(f"--{option} must be {', '.join(names[:-1])} or {names[-1]}, got {value!r}")


@dataclass(frozen=True)
class Perturbation:
    """How often and how hard the executed plan departs from the expert's."""

    probability: float = 0.1  # chance per step of starting a perturbation
    min_steps: int = 2  # steps a perturbation lasts
    max_steps: int = 4
    max_yaw: float = 0.15  # [rad] the plan is rotated by up to this, drifting the ego sideways
    speed_range: tuple[float, float] = (0.5, 1.4)  # the plan is stretched along x by a factor in this range


@dataclass(frozen=True)
class CollectConfig:
    """A collection run."""

    out_dir: Path
    weather: str | None = "clear"
    episodes_per_scenario: int = 20
    camera_hw: tuple[int, int] = (128, 224)  # rendered size
    image_hw: tuple[int, int] = VISION_INPUT_HW  # stored size: the vision network's input
    workers: int = 1
    perturbation: Perturbation = Perturbation()
    driver: str | None = None  # a learned planner ("vision:DIR") that drives, DAgger style; None: the expert
    expert_share: float = 1.0  # with a driver: chance per step that the expert's plan is executed (DAgger's β)
    background_seeds: bool = False  # each episode's background (buildings, trees) drawn from its own seed
    zoom: float = 1.0  # > 1: also store the vision planner's zoom view (``VisionConfig.zoom``) of each step
    # Chance per step that an actor within HIDE_RANGE is left out of the pictures for ``hide_steps`` steps while it
    # stays in the world and the BEV targets: what a BEV memory learns to keep (0: never, the data as before).
    hide: float = 0.0
    hide_steps: int = 2
    # Only actors slower than this [m/s] are hidden (None: any). A moving car's old place is empty a step later, so
    # hiding one teaches the memory to keep a car where it no longer is (a ghost trailing every crossing car).
    hide_max_speed: float | None = None

    def __post_init__(self):
        if not 0.0 <= self.hide <= 1.0 or self.hide_steps < 1:
            raise ValueError(f"hide must be in 0..1 and hide_steps at least 1, got {self.hide}, {self.hide_steps}")
        if self.hide_max_speed is not None and self.hide_max_speed < 0:
            raise ValueError(f"hide_max_speed must be at least 0, got {self.hide_max_speed}")


@dataclass(frozen=True)
class TrainConfig:
    """A training run."""

    data_dir: Path
    out_dir: Path
    more_data: tuple[Path, ...] = ()  # further collection folders trained on too (DAgger's aggregated rounds)
    init_from: Path | None = None  # a vision weights folder to start from (its network shape is kept)
    augment: bool = False  # colour and exposure jitter on the training views
    epochs: int = 6
    batch_size: int = 16
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    bev_weight: float = 0.5  # weight of the auxiliary BEV-occupancy loss against the L1 planning loss
    # BCE weight of an occupied objects cell: they are ~0.4 % of the cells, and unweighted BCE learns to predict none.
    object_pos_weight: float = 20.0
    # BEV loss weight of a frame drawn with an actor hidden (``collect --hide``) where the network remembers the
    # frames before it: only the memory can know the actor is there, so these frames teach it. Where it remembers
    # nothing (a network without memory, a window's first frame) such a frame weighs 0: the hidden actor is in no
    # input, and drawing it anyway would be learning to imagine cars.
    hidden_weight: float = 1.0
    val_fraction: float = 0.15  # of the episodes
    seed: int = 0
    threads: int | None = None
    # A network with a BEV memory (``VisionConfig.temporal``); from non-temporal ``init_from`` weights it keeps
    # every trained layer and learns the fusion.
    temporal: bool = False
    sequence: int = 4  # frames per truncated-backpropagation window of a temporal network

    def __post_init__(self) -> None:
        if self.sequence < 1:
            raise ValueError(f"--sequence must be at least 1 frame, got {self.sequence}")
        if not self.hidden_weight >= 0:
            raise ValueError(f"--hidden-weight must be at least 0, got {self.hidden_weight}")


@dataclass(frozen=True)
class DaggerConfig:
    """A DAgger run."""

    out_dir: Path
    benchmark: str = "longtail"
    rounds: int = 3
    episodes_per_round: int = 10  # train instances per family collected in each round
    expert_share: float = 0.5  # β in round 1; β_k = expert_share ** k (round 0 is the expert alone)
    epochs: int = 6  # round 0's training
    fine_tune_epochs: int = 3  # each later round's, from the previous round's weights
    batch_size: int = 16
    learning_rate: float = 2e-3
    init_from: Path | None = None  # weights round 0 starts from (None: a fresh network)
    augment: bool = True
    object_pos_weight: float = 20.0  # see TrainConfig
    zoom: float = 1.0  # > 1: the planners see a zoom view of the front camera too (``VisionConfig.zoom``)
    background_seeds: bool = True
    collect_camera_hw: tuple[int, int] = (128, 224)
    # The split each round is scored on: val, so that choosing rounds and settings never reads the test split.
    eval_split: Literal["val", "test"] = "val"
    eval_instances: int = 3  # instances per family of eval_split in each round's evaluation
    eval_weathers: tuple[str, ...] = ("clear", "fog")
    eval_camera_hw: tuple[int, int] = DEFAULT_CAMERA_HW
    evaluate_start: bool = True  # also score the starting planner (init_from, or the shipped one) before round 0
    workers: int = 2
    seed: int = 0
    threads: int | None = None
    temporal: bool = False  # see TrainConfig
    sequence: int = 4  # see TrainConfig


@dataclass
class RlConfig:
    """One PPO run; every field is a ``train-rl`` option."""

    out_dir: Path
    scenarios: Literal["builtin", "longtail-train", "both"] = "builtin"  # longtail-train: the benchmark's train split
    total_steps: int = 200_000  # env steps over all worlds
    num_envs: int = 8
    n_steps: int = 128  # steps per world between updates (SB3's rollout length)
    batch_size: int = 256
    epochs: int = 4
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    ent_coef: float = 0.01
    stack: int = 3  # bird's-eye images stacked
    seed: int = 0
    reward: dict[str, float] = field(default_factory=dict)  # reward weights (``occsim.envs.RewardWeights``)
    weather: str | None = None  # None: each scenario's own
    resume: Path | None = None  # an SB3 ``ppo.zip`` to go on from (a file you wrote: it is a pickle)
    checkpoint_steps: int = 20_000  # ``ppo.zip`` and ``weights/`` are rewritten this often, so a kill loses little

    def __post_init__(self) -> None:
        _one_of("scenarios", self.scenarios, ("builtin", "longtail-train", "both"))
        for term, value in self.reward.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"--reward {term} takes a number, got {value!r}")
        self.reward = {term: float(value) for term, value in self.reward.items()}


@dataclass(frozen=True)
class RenderCollectConfig:
    """A collect-render run."""

    out_dir: Path
    episodes_per_scenario: int = 4
    image_hw: tuple[int, int] = (64, 112)  # target views; the latent is image_hw / latent_factor
    latent_factor: int = 4  # image pixels per latent pixel: 4 for the small default VAE, 8 for Stable Diffusion's
    planes: int = 32  # MPI depth planes
    max_depth: float = 51.2  # [m] of the farthest plane
    every: int = 2  # keep every n-th env step (consecutive steps are near duplicates)
    weather: str | None = None  # one weather for every episode; None draws one per episode
    seed: int = 0  # added to the base seed: another value gives other jitters (an evaluation set)
    layout: Layout = "occsim"  # MPI encoding: "occsim" (OccSim's models) or "official" (the released SyntheOcc)

    def __post_init__(self) -> None:
        _one_of("layout", self.layout, ("occsim", "official"))
        if self.image_hw[0] % self.latent_factor or self.image_hw[1] % self.latent_factor:
            raise ValueError(
                f"--image-hw must be multiples of --latent-factor {self.latent_factor}, got {self.image_hw[0]}x"
                f"{self.image_hw[1]}"
            )
        if self.layout == "official" and self.planes != 256:
            raise ValueError(f"--layout official has the release's 256 planes, not --planes {self.planes}")


@dataclass(frozen=True)
class NuScenesRenderConfig:
    """A collect-render run over logged nuScenes keyframes."""

    dataroot: Path  # the nuScenes folder (samples/, v1.0-*/)
    out_dir: Path  # where the episode files go
    version: str = "v1.0-trainval"  # the metadata folder
    occ3d: Path | None = None  # folder of <scene>/<sample token>/labels.npz; None: dataroot/gts
    scenes: tuple[str, ...] = ()  # scene names; empty: every scene with Occ3D labels
    image_hw: tuple[int, int] = (448, 800)  # target views; the latent is image_hw / latent_factor
    latent_factor: int = 8  # image pixels per latent pixel (8: Stable Diffusion's autoencoder)
    planes: int = 256  # MPI depth planes
    max_depth: float = 51.2  # [m] of the farthest plane
    layout: Layout = "official"  # MPI encoding: "official" (the released SyntheOcc) or "occsim"

    def __post_init__(self) -> None:
        _one_of("layout", self.layout, ("occsim", "official"))


@dataclass(frozen=True)
class SyntheOccTrainConfig:
    """A train-syntheocc run."""

    data_dir: Path  # a folder written by ``occsim collect-render``
    out_dir: Path  # where the pipeline, metrics, pictures and model card go
    base: Path | None = None  # local Stable Diffusion directory; None: the small default built here
    steps: int = 4000  # optimiser steps of the diffusion stage
    vae_steps: int = 600  # optimiser steps of the small default's autoencoder (16 views each)
    pixel_space: bool = False  # small default only: PixelSpace instead of a trained autoencoder
    batch_size: int = 4  # six-view samples per step (per process)
    learning_rate: float | None = None  # None: 3e-4 for the small default, 1e-5 with a pretrained base
    prompt_dropout: float = 0.1  # share of samples trained with the empty prompt (classifier-free guidance)
    held_out: float = 0.1  # share of episodes kept out of training, for the evaluation
    mixed_precision: Literal["no", "fp16", "bf16"] = "no"  # "no", "fp16" or "bf16" (accelerate's; fp16 needs a GPU)
    save_every: int = 1000  # steps between checkpoints, so a stopped run keeps its progress
    seed: int = 0
    format: Layout = "occsim"  # "occsim" or "official" (the released SyntheOcc's layout, on an SD 2.1 --base)
    # A model to go on training: a train-syntheocc folder (occsim format; longer training over several sessions) or
    # a release-layout folder (official format). None: a new model.
    init_from: Path | None = None
    foreground_gain: float = 2.0  # eq. 6's m: the largest progressive and depth-aware weight of object pixels
    near_lane_boost: float = 1.0  # sampling weight x this for frames with an object in the ego's corridor ahead
    gradient_checkpointing: bool = False  # recompute activations in the backward pass (full-size models on a GPU)

    def __post_init__(self) -> None:
        _one_of("mixed-precision", self.mixed_precision, ("no", "fp16", "bf16"))
        _one_of("format", self.format, ("occsim", "official"))


@dataclass(frozen=True)
class PerceptionTrainConfig:
    """A train-perception run."""

    data_dir: Path  # a folder written by ``occsim collect-render``
    out_dir: Path  # where the model and its metrics go
    steps: int = 3000  # optimiser steps
    batch_size: int = 8  # six-view samples per step
    learning_rate: float = 1e-3
    held_out: float = 0.1  # share of episodes kept for the figures
    seed: int = 0


@dataclass(frozen=True)
class OccSceneTrainConfig:
    """A train-occscene run."""

    data_dir: Path  # a folder written by ``occsim collect-render``
    out_dir: Path  # where the pipeline and metrics.json go
    syntheocc: Path | None = None  # the SyntheOcc model it starts from; None: the shipped small one
    perception: Path | None = None  # f_delta's starting weights; None: the shipped small perception model
    steps: int = 400  # optimiser steps, both stages
    stage_two: float = 0.5  # share of the steps in stage II (f_delta trains too); joint scheme only
    batch_size: int = 2  # frame pairs per step
    learning_rate: float = 5e-5  # for the pretrained SyntheOcc parts and f_delta
    new_learning_rate: float = 5e-4  # for the new parts: alignment module and cross-frame attention
    context_dropout: float = 0.2  # share of steps without the previous frame
    prompt_dropout: float = 0.1
    held_out: float = 0.1  # share of episodes kept out (the same split as train-syntheocc's with the same seed)
    joint: bool = True  # the joint perception-generation scheme
    mixer: Literal["mamba", "attention"] = "mamba"  # the alignment's sequence mixer: mamba or attention
    camera_encoding: bool = True  # the alignment's camera parameter encoder (eq. 3)
    patch: int = 4  # latent pixels per alignment patch side
    device: str = "cpu"
    seed: int = 0

    def __post_init__(self) -> None:
        _one_of("mixer", self.mixer, ("mamba", "attention"))


@dataclass(frozen=True)
class DistillConfig:
    """A distill-syntheocc run."""

    data_dir: Path  # a collect-render folder with the teacher's image size, planes and latent factor
    out_dir: Path  # where the distilled pipeline, its metrics and model card go
    teacher: Path | None = None  # a train-syntheocc folder; None: the shipped syntheocc-small
    steps: int = 1500  # optimiser steps
    batch_size: int = 2  # six-view samples per step
    learning_rate: float = 1e-4
    guidance: float = 7.5  # the teacher's classifier-free guidance, baked into the student
    solver_steps: int = 50  # the DDIM skipping schedule: one solver step jumps 1000 / solver_steps timesteps
    ema: float = 0.95  # decay of the target network (LCM's 0.95)
    timestep_scaling: float = 10.0  # LCM's boundary-condition scaling
    sample_steps: int = 4  # the distilled pipeline's default number of steps
    held_out: float = 0.1  # share of episodes kept out (the same split train-syntheocc makes with the same seed)
    save_every: int = 500
    seed: int = 0


@dataclass(frozen=True)
class DecoderTuning:
    """A tune-decoder run."""

    steps: int = 3000
    batch_size: int = 16  # single views per step
    learning_rate: float = 5e-4
    foreground_weight: float = 4.0  # loss weight of object-class pixels (1 elsewhere)
    seed: int = 0
