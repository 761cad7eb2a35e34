"""``occsim distill-syntheocc``: latent consistency distillation of a SyntheOcc model, for 2-4 step sampling.

The recipe of diffusers' latent-consistency distillation (Luo et al., LCM, 2023) applied to the MPI ControlNet and
the UNet together: a student, copied from the teacher, learns to map a noisy latent at timestep t straight to the
clean latent that the teacher's probability-flow ODE reaches, by matching the EMA student's output one DDIM step
of the guided teacher later (the skipping-step solver). Guidance is baked in: the student runs one unguided pass
per step, half the work of the teacher's guided pass. The result samples with diffusers' ``LCMScheduler``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from diffusers import DDPMScheduler, LCMScheduler
from torch.utils.data import DataLoader

from occsim.generative.models.perception import PerceptionMeter
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline
from occsim.generative.renderers.syntheocc import SMALL_WEIGHTS
from occsim.training.configs import DistillConfig
from occsim.training.episodes import RenderPairs, class_balanced_sampler, episode_files, split_episodes
from occsim.training.evaluate import save_examples, save_loss_curve
from occsim.training.fidelity import Sampling, compare_sampling
from occsim.training.probe import SegmentationProbe
from occsim.training.reweighing import loss_weights
from occsim.training.run import TrainingRun, write_metrics
from occsim.training.syntheocc import data_meta, encode_all

SIGMA_DATA = 0.5  # LCM's boundary-condition constants (LCMScheduler uses the same)
HUBER_C = 0.001  # pseudo-Huber constant of the LCM recipe
SCHEDULE_KEYS = ("num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas", "prediction_type")


def boundary_scalings(t: torch.Tensor, timestep_scaling: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(c_skip, c_out) of the consistency function at timesteps ``t``: c_skip -> 1 and c_out -> 0 at t = 0."""
    scaled = t.float() * timestep_scaling
    c_skip = SIGMA_DATA**2 / (scaled**2 + SIGMA_DATA**2)
    c_out = scaled / (scaled**2 + SIGMA_DATA**2) ** 0.5
    return c_skip, c_out


class _Schedule:
    """The teacher's noise schedule as tensors: alpha_t, sigma_t, and conversions of a v- or noise-prediction."""

    def __init__(self, scheduler: DDPMScheduler):
        cumprod = scheduler.alphas_cumprod.float()
        self.alpha, self.sigma = cumprod.sqrt(), (1 - cumprod).sqrt()
        self.prediction_type = scheduler.config.prediction_type

    def at(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.alpha[t].view(-1, 1, 1, 1), self.sigma[t].view(-1, 1, 1, 1)

    def x0_and_noise(self, output: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The clean latent and the noise a model ``output`` at (``x``, ``t``) implies."""
        alpha, sigma = self.at(t)
        if self.prediction_type == "v_prediction":
            return alpha * x - sigma * output, sigma * x + alpha * output
        if self.prediction_type == "epsilon":
            return (x - sigma * output) / alpha, output
        raise ValueError(f"prediction_type {self.prediction_type!r} is not supported; use epsilon or v_prediction")


def distill_syntheocc(config: DistillConfig) -> tuple[OccSimSyntheOccPipeline, dict]:
    """Distil ``config.teacher`` on ``config.data_dir``; writes the student pipeline into ``config.out_dir``.

    Raises:
        FileNotFoundError: no collect-render data or no teacher.
        ValueError: the data does not match the teacher's image size, planes or latent factor.
    """
    config = with_teacher(config)
    run = TrainingRun("distill-syntheocc", config)
    teacher = OccSimSyntheOccPipeline.load(config.teacher)
    meta = data_meta(config.data_dir)
    settings = _teacher_settings(teacher, meta, config)
    train_files, held_files = split_episodes(episode_files(config.data_dir), config.held_out, config.seed)
    pairs = RenderPairs(config.data_dir, train_files)
    torch.manual_seed(config.seed)
    latents = encode_all(teacher.vae, pairs.images, torch.device("cpu"))
    with torch.no_grad():  # encode_prompt gives [negative (empty), prompt]
        empty = teacher.encode_prompt("")[0]
        by_prompt = {p: teacher.encode_prompt(p)[1] for p in set(pairs.prompts)}
    prompt_states = torch.stack([by_prompt[p] for p in pairs.prompts])
    # the teacher's noise schedule only: a sampler's own settings (UniPC's solver order...) mean nothing here
    schedule_config = {k: teacher.scheduler.config[k] for k in SCHEDULE_KEYS if k in teacher.scheduler.config}
    nets = _Nets.from_teacher(teacher)
    solver = _Solver(DDPMScheduler(**schedule_config), config, empty)
    optimiser = torch.optim.AdamW(nets.params, lr=config.learning_rate, weight_decay=0.0)
    sampler = class_balanced_sampler(pairs, config.steps * config.batch_size, seed=config.seed)
    loader = DataLoader(range(len(pairs)), batch_size=config.batch_size, sampler=sampler, drop_last=True)
    generator = torch.Generator().manual_seed(config.seed)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    losses: list[float] = []
    lcm = LCMScheduler(
        **schedule_config,
        original_inference_steps=config.solver_steps,
        timestep_scaling=config.timestep_scaling,
        clip_sample=False,
        thresholding=False,
    )
    distilled = {
        **settings,
        "steps": config.sample_steps,
        "guidance": 1.0,
        "distilled": {"teacher_guidance": config.guidance, "solver_steps": config.solver_steps},
    }

    def save() -> OccSimSyntheOccPipeline:
        pipe = OccSimSyntheOccPipeline(
            vae=teacher.vae,
            text_encoder=teacher.text_encoder,
            tokenizer=teacher.tokenizer,
            unet=nets.student_unet,
            controlnet=nets.student_cn,
            scheduler=lcm,
        )
        pipe.settings = {k: v for k, v in teacher.settings.items() if k not in distilled}
        pipe.save(out, **distilled)
        return pipe

    with run.stoppable():
        bar = run.progress(loader)
        for step, index in enumerate(bar):
            index = index.numpy()
            batch = _Batch(
                x0=latents[index].flatten(0, 1),
                mpi=torch.from_numpy(pairs.mpi[index]).flatten(0, 1).long(),
                nearest=torch.from_numpy(pairs.nearest[index]).flatten(0, 1).long(),
                depth=torch.from_numpy(pairs.depth[index]).flatten(0, 1),
                text=prompt_states[index].repeat_interleave(6, dim=0),
            )
            loss = solver.loss(nets, batch, len(index), generator)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(nets.params, 1.0)
            optimiser.step()
            nets.update_target(config.ema)
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.5f}")
            if (step + 1) % config.save_every == 0:
                save()
    pipe = save()
    record = run.record(
        data={**meta, "train_episodes": len(train_files), "train_samples": len(pairs)},
        held_out_episodes=[f.name for f in held_files],
        losses=losses,
        teacher=str(config.teacher),
    )
    return pipe, record


def with_teacher(config: DistillConfig) -> DistillConfig:
    """``config`` with its teacher resolved: None is the shipped syntheocc-small."""
    return replace(config, teacher=Path(config.teacher or SMALL_WEIGHTS))


def _teacher_settings(teacher: OccSimSyntheOccPipeline, meta: dict, config: DistillConfig) -> dict:
    """The teacher's image size, planes, depth and latent factor, which the data must match.

    Raises:
        ValueError: the data was collected at other sizes.
    """
    settings = {key: teacher.settings[key] for key in ("image_hw", "planes", "max_depth", "latent_factor")}
    mismatched = [
        k for k in settings if k != "max_depth" and list(np.atleast_1d(meta[k])) != list(np.atleast_1d(settings[k]))
    ]
    if mismatched:
        raise ValueError(
            f"{config.data_dir} does not match the teacher {config.teacher}: "
            + ", ".join(f"{k} {meta[k]} vs {settings[k]}" for k in mismatched)
        )
    return settings


@dataclass
class _Batch:
    """One step's six-view samples, flattened to views."""

    x0: torch.Tensor  # (B * 6, C, h, w) clean latents
    mpi: torch.Tensor  # the semantic MPI
    nearest: torch.Tensor  # nearest-surface labels
    depth: torch.Tensor  # nearest-surface depth [m]
    text: torch.Tensor  # prompt states, one per view


@dataclass
class _Nets:
    """The teacher (frozen), the student being trained and its EMA target (UNet and ControlNet each)."""

    teacher: OccSimSyntheOccPipeline
    student_unet: torch.nn.Module
    student_cn: torch.nn.Module
    target_unet: torch.nn.Module
    target_cn: torch.nn.Module

    @classmethod
    def from_teacher(cls, teacher: OccSimSyntheOccPipeline) -> _Nets:
        """Student and target both start as copies of the teacher."""
        nets = cls(
            teacher,
            copy.deepcopy(teacher.unet).train(),
            copy.deepcopy(teacher.controlnet).train(),
            copy.deepcopy(teacher.unet),
            copy.deepcopy(teacher.controlnet),
        )
        for module in (teacher.unet, teacher.controlnet, nets.target_unet, nets.target_cn, teacher.text_encoder):
            module.requires_grad_(False).eval()
        return nets

    @property
    def params(self) -> list[torch.nn.Parameter]:
        """The student's parameters (the optimiser's)."""
        return [*self.student_unet.parameters(), *self.student_cn.parameters()]

    def update_target(self, ema: float) -> None:
        """Move the target towards the student by ``1 - ema``."""
        with torch.no_grad():
            targets = [*self.target_unet.parameters(), *self.target_cn.parameters()]
            for tgt, src in zip(targets, self.params, strict=True):
                tgt.lerp_(src, 1.0 - ema)


class _Solver:
    """The consistency loss: the student at t against the EMA target one guided-teacher DDIM step later."""

    def __init__(self, noise_scheduler: DDPMScheduler, config: DistillConfig, empty: torch.Tensor):
        self.schedule = _Schedule(noise_scheduler)
        self.jump = noise_scheduler.config.num_train_timesteps // config.solver_steps
        self.timesteps = torch.arange(1, config.solver_steps + 1) * self.jump - 1  # 19, 39, ..., 999
        self.config = config
        self.empty = empty

    def loss(self, nets: _Nets, batch: _Batch, samples: int, generator: torch.Generator) -> torch.Tensor:
        """The pseudo-Huber consistency loss of one batch of ``samples`` six-view samples."""
        config, schedule, x0 = self.config, self.schedule, batch.x0
        # one solver index per six-view sample, shared by its views
        n = torch.randint(0, config.solver_steps, (samples,), generator=generator).repeat_interleave(6)
        t = self.timesteps[n]
        s = (t - self.jump).clamp(min=0)
        noise = torch.randn(x0.shape, generator=generator)
        alpha_t, sigma_t = schedule.at(t)
        x_t = alpha_t * x0 + sigma_t * noise
        c_skip, c_out = (c.view(-1, 1, 1, 1) for c in boundary_scalings(t, config.timestep_scaling))
        output = _predict(nets.student_unet, nets.student_cn, x_t, t, batch.text, batch.mpi, batch.nearest)
        prediction = c_skip * x_t + c_out * schedule.x0_and_noise(output, x_t, t)[0]
        with torch.no_grad():
            target = self._target(nets, batch, x_t, t, s)
        # eq. 7's foreground and distance weights, so small far objects keep their share of the loss
        weights = loss_weights(batch.nearest, batch.depth, config.steps, config.steps).unsqueeze(1)
        return ((torch.sqrt((prediction - target) ** 2 + HUBER_C**2) - HUBER_C) * weights).mean()

    def _target(self, nets: _Nets, batch: _Batch, x_t: torch.Tensor, t: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The EMA target's consistency output at s, after the guided teacher's DDIM step t -> s."""
        # guidance on v is guidance on x0 and noise: both linear
        teacher, schedule, views = nets.teacher, self.schedule, x_t.shape[0]
        guided = _predict(
            teacher.unet,
            teacher.controlnet,
            torch.cat([x_t, x_t]),
            torch.cat([t, t]),
            torch.cat([self.empty.expand(views, -1, -1), batch.text]),
            torch.cat([batch.mpi, batch.mpi]),
            torch.cat([batch.nearest, batch.nearest]),
        )
        uncond, cond = guided.chunk(2)
        x0_teacher, noise_teacher = schedule.x0_and_noise(uncond + self.config.guidance * (cond - uncond), x_t, t)
        alpha_s, sigma_s = schedule.at(s)
        x_s = alpha_s * x0_teacher + sigma_s * noise_teacher
        c_skip_s, c_out_s = (c.view(-1, 1, 1, 1) for c in boundary_scalings(s, self.config.timestep_scaling))
        target_output = _predict(nets.target_unet, nets.target_cn, x_s, s, batch.text, batch.mpi, batch.nearest)
        return c_skip_s * x_s + c_out_s * schedule.x0_and_noise(target_output, x_s, s)[0]


def _predict(unet, controlnet, x, t, text, mpi, nearest) -> torch.Tensor:
    """The ControlNet and UNet's prediction (v or noise) at (``x``, ``t``)."""
    down, mid = controlnet(x, t, text, mpi, nearest)
    return unet(x, t, text, down_block_additional_residuals=down, mid_block_additional_residual=mid).sample


def write_distilled_card(out_dir: Path, record: dict, rows: list[dict], evaluated_on: str) -> Path:
    """MODEL_CARD.md of a distilled model: how it was made and its fidelity beside the teacher's."""
    cfg, data = record["config"], record["data"]
    size_mb = sum(f.stat().st_size for f in Path(out_dir).rglob("*.safetensors")) / 1e6
    lines = []
    for r in rows:
        seconds = "-" if r["seconds_per_sample"] is None else f"{r['seconds_per_sample']:.2f}"
        lines.append(
            f"| {r['setting']} | {r['probe_pixel_accuracy']:.3f} | {r['probe_miou']:.3f} | "
            f"{r['perceived_miou']:.3f} | {seconds} |"
        )
    table = "\n".join(lines)
    text = f"""# OccSim SyntheOcc renderer, consistency-distilled

The teacher `{cfg["teacher"]}` distilled for few-step sampling (latent consistency distillation, the recipe of
diffusers' LCM training script): the student maps a noisy latent straight to the teacher's guided ODE solution and
samples with diffusers' `LCMScheduler` in {cfg["sample_steps"]} unguided steps (guidance {cfg["guidance"]} baked
in). Load it as any SyntheOcc model: `renderer_kwargs={{"weights": DIR}}`; its steps and guidance are its defaults.

## How it was made
- Command: `occsim distill-syntheocc {cfg["data_dir"]} --out {cfg["out_dir"]} --steps {cfg["steps"]} \
--batch-size {cfg["batch_size"]}`
- Data: {data["train_episodes"]} training episodes ({data["train_samples"]} six-view samples) of
  `occsim collect-render` ({len(record["held_out_episodes"])} more held out).
- Training: {cfg["steps"]} steps of {cfg["batch_size"]} samples; DDIM skipping solver over {cfg["solver_steps"]}
  timesteps, EMA target {cfg["ema"]}, pseudo-Huber loss with eq. 7's foreground and depth weights, class-balanced
  sampling: {record["train_seconds"]:.0f} s on this CPU. {size_mb:.1f} MB of safetensors.

## Fidelity side by side ({evaluated_on}, same samples and seeds)
Probe: the teacher's segmentation probe against the world's nearest-surface labels; perceived mIoU: the perception
meter's occupancy from the views against the world's coarsened window.

| sampling | probe pixel acc. | probe mIoU | perceived mIoU | s / sample |
|---|---|---|---|---|
{table}

![samples](samples.png)

![training loss](training.png)
"""
    path = Path(out_dir) / "MODEL_CARD.md"
    path.write_text(text)
    return path


def distill_and_compare(
    config: DistillConfig, eval_dir: Path | None = None, eval_samples: int = 12
) -> tuple[dict, list[dict] | None]:
    """``occsim distill-syntheocc``: distil, then the side-by-side fidelity table and the model card.

    The table compares the teacher at 20 and at the student's steps with the student at its steps and half of them,
    on ``eval_dir``'s episodes (default the held-out ones), if the teacher has a segmentation probe.

    Returns:
        (the run record, the table's rows or None when there was nothing to measure on).
    """
    config = with_teacher(config)
    out_dir, teacher = Path(config.out_dir), Path(config.teacher)
    student, record = distill_syntheocc(config)
    save_loss_curve(out_dir / "training.png", record["losses"], ylabel="consistency loss (pseudo-Huber)")
    held = [Path(config.data_dir) / name for name in record["held_out_episodes"]]
    figures_from = episode_files(eval_dir) if eval_dir else held
    if not figures_from or not (teacher / "probe").is_dir():
        write_metrics(out_dir, record)
        return record, None
    base = OccSimSyntheOccPipeline.load(teacher)
    steps, few = config.sample_steps, max(2, config.sample_steps // 2)
    rows, examples = compare_sampling(
        [
            Sampling("teacher, 20 UniPC steps", base, 20, config.guidance),
            Sampling(f"teacher, {steps} UniPC steps", base, steps, config.guidance),
            Sampling(f"distilled, {steps} LCM steps", student, steps, 1.0),
            Sampling(f"distilled, {few} LCM steps", student, few, 1.0),
        ],
        figures_from,
        SegmentationProbe.from_pretrained(teacher / "probe", local_files_only=True),
        PerceptionMeter.load(),
        samples=eval_samples,
        seed=config.seed,
    )
    save_examples(out_dir / "samples.png", examples, title="held-out sample: teacher and distilled student")
    write_metrics(out_dir, {**record, "fidelity": rows})
    where = f"{len(figures_from)} episodes of {eval_dir}" if eval_dir else "held-out episodes"
    write_distilled_card(out_dir, record, rows, f"{eval_samples} samples from {where}")
    return record, rows
