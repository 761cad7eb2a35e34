"""The diffusion renderers' data and training.

``collect-render``, ``train-syntheocc``, ``train-perception``, ``train-occscene``, ``distill-syntheocc`` and
``tune-decoder``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from occsim.cli.common import app, check_choices, defaults_of, fail, hw_text, out, parse_hw, scenario_option
from occsim.training.configs import (
    DecoderTuning,
    DistillConfig,
    NuScenesRenderConfig,
    OccSceneTrainConfig,
    PerceptionTrainConfig,
    RenderCollectConfig,
    SyntheOccTrainConfig,
)

RENDER, NUSCENES = defaults_of(RenderCollectConfig), defaults_of(NuScenesRenderConfig)
SYNTHEOCC, PERCEPTION, OCCSCENE = (
    defaults_of(SyntheOccTrainConfig),
    defaults_of(PerceptionTrainConfig),
    defaults_of(OccSceneTrainConfig),
)
DISTILL, DECODER = defaults_of(DistillConfig), defaults_of(DecoderTuning)


@app.command("collect-render")
def collect_render(
    scenarios: Annotated[
        list[str] | None,
        typer.Option("--scenarios", help="Scenario names, YAML files or folders (repeatable); default the built-ins."),
    ] = None,
    episodes: Annotated[
        int, typer.Option(min=1, help="Episodes per scenario, each under a random weather.")
    ] = RENDER.episodes_per_scenario,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the episode .npz files.")] = Path("data/render"),
    image_hw: Annotated[
        str, typer.Option("--image-hw", help="Target views HEIGHTxWIDTH (multiples of the latent factor).")
    ] = hw_text(RENDER.image_hw),
    latent_factor: Annotated[
        int, typer.Option(min=1, help="Image pixels per latent pixel: 4 for the small default, 8 for Stable Diffusion.")
    ] = RENDER.latent_factor,
    planes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help=f"MPI depth planes; default {RENDER.planes} (the release's {NUSCENES.planes} with --layout official).",
        ),
    ] = None,
    weather: Annotated[
        str | None, typer.Option(help="One weather for every episode; default a random one each.")
    ] = RENDER.weather,
    seed: Annotated[
        int, typer.Option(help="Seed offset: another value gives other jitters (for evaluation sets).")
    ] = RENDER.seed,
    layout: Annotated[
        str, typer.Option(help="MPI encoding: occsim, or official (the released SyntheOcc's 256 planes and ids).")
    ] = RENDER.layout,
    nuscenes: Annotated[
        Path | None,
        typer.Option(help="A nuScenes dataroot: pair its real camera JPEGs with MPIs from Occ3D labels instead."),
    ] = None,
    version: Annotated[str, typer.Option(help="With --nuscenes: the metadata version folder.")] = NUSCENES.version,
    occ3d: Annotated[
        Path | None, typer.Option(help="With --nuscenes: the Occ3D gts folder (<scene>/<token>/labels.npz).")
    ] = None,
    scenes: Annotated[
        list[str] | None, typer.Option("--scenes", help="With --nuscenes: scene names (repeatable); default all.")
    ] = None,
) -> None:
    """Training pairs for the diffusion renderers: raster (or real nuScenes) views, latent MPIs, occupancy, prompts."""
    from occsim.data.nuscenes import NuScenesError
    from occsim.training.collect_nuscenes import collect_nuscenes
    from occsim.training.collect_render import collect_render as run

    hw = parse_hw(image_hw, "--image-hw")
    planes = planes or (NUSCENES.planes if layout == "official" or nuscenes is not None else RENDER.planes)
    try:
        if nuscenes is not None:
            config = NuScenesRenderConfig(
                nuscenes, out_dir, version, occ3d, tuple(scenes or ()), hw, latent_factor, planes, layout=layout
            )
            meta = collect_nuscenes(config)
            out.print(f"{meta['episodes']} scenes, {meta['samples']} keyframes in {out_dir}")
            return
        config = RenderCollectConfig(
            out_dir, episodes, hw, latent_factor, planes, weather=weather, seed=seed, layout=layout
        )
    except (NuScenesError, ValueError) as e:
        raise fail(str(e)) from None
    check_choices([], weather, "raster", {})
    meta = run(scenario_option(scenarios), config)
    out.print(f"{meta['episodes']} episodes, {meta['samples']} samples in {out_dir}")


@app.command("train-syntheocc")
def train_syntheocc(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect-render`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the pipeline, metrics and model card.")] = Path(
        "weights/syntheocc"
    ),
    base: Annotated[
        Path | None,
        typer.Option(help="Local Stable Diffusion directory (vae/, unet/, ...); default the small model built here."),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps of the diffusion stage.")] = SYNTHEOCC.steps,
    vae_steps: Annotated[
        int, typer.Option(min=1, help="Small default: steps of its autoencoder stage.")
    ] = SYNTHEOCC.vae_steps,
    pixel_space: Annotated[
        bool, typer.Option(help="Small default: lossless 4x4 pixel folding instead of a trained autoencoder.")
    ] = SYNTHEOCC.pixel_space,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Six-view samples per step and process.")
    ] = SYNTHEOCC.batch_size,
    learning_rate: Annotated[
        float | None, typer.Option(min=0.0, help="Default 3e-4 (small model) or 1e-5 (with --base).")
    ] = None,
    mixed_precision: Annotated[str, typer.Option(help="no, fp16 or bf16 (accelerate's).")] = SYNTHEOCC.mixed_precision,
    held_out: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of episodes held out.")] = SYNTHEOCC.held_out,
    eval_samples: Annotated[int, typer.Option(min=1, help="Held-out samples generated for the model card.")] = 24,
    save_every: Annotated[int, typer.Option(min=1, help="Steps between checkpoints.")] = SYNTHEOCC.save_every,
    seed: Annotated[int, typer.Option()] = SYNTHEOCC.seed,
    format: Annotated[  # noqa: A002 - the option's documented name
        str,
        typer.Option(help="occsim, or official: the released SyntheOcc's layout on an SD 2.1 --base."),
    ] = SYNTHEOCC.format,
    init_from: Annotated[
        Path | None,
        typer.Option(help="Go on training a model: a train-syntheocc folder, or (--format official) a release."),
    ] = None,
    foreground_gain: Annotated[
        float, typer.Option(min=1.0, help="Eq. 6's m: the largest weight of object pixels (paper: 2).")
    ] = SYNTHEOCC.foreground_gain,
    near_lane_boost: Annotated[
        float, typer.Option(min=1.0, help="Sampling weight x this for frames with an object in the ego's corridor.")
    ] = SYNTHEOCC.near_lane_boost,
    gradient_checkpointing: Annotated[
        bool, typer.Option(help="Recompute activations in the backward pass (full-size models on a GPU).")
    ] = SYNTHEOCC.gradient_checkpointing,
) -> None:
    """Train the SyntheOcc renderer (also under `accelerate launch`), then measure it and write its model card."""
    from occsim.training.card import document
    from occsim.training.syntheocc import train_syntheocc as run

    try:
        config = SyntheOccTrainConfig(
            data_dir=data_dir,
            out_dir=out_dir,
            base=base,
            steps=steps,
            vae_steps=vae_steps,
            pixel_space=pixel_space,
            batch_size=batch_size,
            learning_rate=learning_rate,
            mixed_precision=mixed_precision,
            held_out=held_out,
            save_every=save_every,
            seed=seed,
            format=format,
            init_from=init_from,
            foreground_gain=foreground_gain,
            near_lane_boost=near_lane_boost,
            gradient_checkpointing=gradient_checkpointing,
        )
        pipe, record = run(config)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    if not record["held_out_episodes"]:
        out.print(f"trained in {record['train_seconds']:.0f} s; no held-out episodes, so no evaluation")
        return
    result = document(pipe, record, data_dir, out_dir, samples=eval_samples, seed=seed)
    table = Table(title=f"layout agreement on {result['evaluation']['samples']} held-out samples (segmentation probe)")
    for column in ("views", "pixel accuracy", "mIoU"):
        table.add_column(column)
    for name in ("raster", "syntheocc", "empty_mpi", "shuffled_mpi"):
        figures = result["evaluation"][name]
        table.add_row(name, f"{figures['pixel_accuracy']:.3f}", f"{figures['miou']:.3f}")
    out.print(table)
    out.print(f"trained in {record['train_seconds']:.0f} s; model card: {out_dir / 'MODEL_CARD.md'}")


@app.command("train-perception")
def train_perception(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect-render`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the model and metrics.json.")] = Path(
        "weights/perception"
    ),
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = PERCEPTION.steps,
    batch_size: Annotated[int, typer.Option(min=1, help="Six-view samples per step.")] = PERCEPTION.batch_size,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = PERCEPTION.learning_rate,
    held_out: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="Share of episodes held out.")
    ] = PERCEPTION.held_out,
    evaluate: Annotated[
        list[Path] | None, typer.Option(help="Another collect-render folder to score on (repeatable).")
    ] = None,
    seed: Annotated[int, typer.Option()] = PERCEPTION.seed,
) -> None:
    """Train the camera-based occupancy perception model; report its mIoU on held-out episodes per weather."""
    from occsim.training.episodes import episode_files
    from occsim.training.perception import OccupancySamples, score, write_card
    from occsim.training.perception import train_perception as run

    config = PerceptionTrainConfig(data_dir, out_dir, steps, batch_size, learning_rate, held_out, seed)
    try:
        model, record = run(config)
        extra = {
            str(f): score(model, OccupancySamples.load(episode_files(f), model.config.coarse)) for f in evaluate or []
        }
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    if extra:
        record["evaluation"] = extra
        (out_dir / "metrics.json").write_text(json.dumps(record, indent=1))
    write_card(out_dir, record)
    table = Table(title="occupancy perception (coarse 1.6 x 1.6 x 0.8 m cells)")
    for column in ("set", "weather", "samples", "mIoU", "IoU"):
        table.add_column(column)
    for name, figures in [("held-out", record["held_out"]), *extra.items()]:
        for weather, f in figures.items():
            table.add_row(name, weather, str(f["samples"]), f"{f['miou']:.3f}", f"{f['iou']:.3f}")
    out.print(table)
    out.print(f"trained in {record['train_seconds']:.0f} s; model and metrics in {out_dir}")


@app.command("train-occscene")
def train_occscene(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect-render`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the pipeline, metrics and model card.")] = Path(
        "weights/occscene"
    ),
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps, both stages.")] = OCCSCENE.steps,
    stage_two: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the steps in stage II (f_delta trains too).")
    ] = OCCSCENE.stage_two,
    batch_size: Annotated[int, typer.Option(min=1, help="Consecutive-frame pairs per step.")] = OCCSCENE.batch_size,
    mixer: Annotated[str, typer.Option(help="The alignment's sequence mixer: mamba or attention.")] = OCCSCENE.mixer,
    camera_encoding: Annotated[
        bool, typer.Option("--camera-encoding/--no-camera-encoding", help="The camera parameter encoder (eq. 3).")
    ] = OCCSCENE.camera_encoding,
    joint: Annotated[
        bool, typer.Option("--joint/--no-joint", help="Condition on f_delta's perceived occupancy (Algorithm 2).")
    ] = OCCSCENE.joint,
    context_dropout: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of steps without context.")
    ] = OCCSCENE.context_dropout,
    syntheocc: Annotated[
        Path | None, typer.Option(help="The SyntheOcc model to start from; default the shipped small one.")
    ] = None,
    perception: Annotated[
        Path | None, typer.Option(help="f_delta's starting weights; default the shipped perception model.")
    ] = None,
    evaluate: Annotated[
        list[Path] | None, typer.Option(help="Another collect-render folder to score on (repeatable).")
    ] = None,
    clips: Annotated[int, typer.Option(min=1, help="Clips scored per set for the model card.")] = 4,
    length: Annotated[int, typer.Option(min=2, help="Frames per clip.")] = 3,
    device: Annotated[str, typer.Option(help="torch device.")] = OCCSCENE.device,
    seed: Annotated[int, typer.Option()] = OCCSCENE.seed,
) -> None:
    """Train the OccScene renderer (two stages, joint perception-generation), then measure it and write its card."""
    from occsim.training.episodes import episode_files, split_episodes
    from occsim.training.occscene import FrameSamples, document
    from occsim.training.occscene import train_occscene as run

    try:
        config = OccSceneTrainConfig(
            data_dir,
            out_dir,
            syntheocc=syntheocc,
            perception=perception,
            steps=steps,
            stage_two=stage_two,
            batch_size=batch_size,
            context_dropout=context_dropout,
            joint=joint,
            mixer=mixer,
            camera_encoding=camera_encoding,
            device=device,
            seed=seed,
        )
        run(config)
        _, held = split_episodes(episode_files(data_dir), config.held_out, seed)
        sets = [("held-out episodes", FrameSamples.load(held))] if held else []
        sets += [(str(folder), FrameSamples.load(episode_files(folder))) for folder in evaluate or []]
        if sets:
            record = document(out_dir, sets, clips, length)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    if sets:
        table = Table(title="OccScene on held-out clips (perceived mIoU; reprojection error [0-255]; s / frame)")
        for column in ("set", "views", "mIoU", "reproj.", "s/frame"):
            table.add_column(column)
        for name, per in record["evaluation"]["sets"].items():
            for which, r in per.items():
                table.add_row(
                    name,
                    which,
                    f"{r['perceived_miou']:.3f}",
                    f"{r['reprojection']:.2f}",
                    f"{r['seconds_per_frame']:.2f}",
                )
        out.print(table)
    out.print(f"model, metrics and model card in {out_dir}")


@app.command("distill-syntheocc")
def distill_syntheocc(
    data_dir: Annotated[Path, typer.Argument(help="A collect-render folder matching the teacher's sizes.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the distilled pipeline and its card.")] = Path(
        "weights/syntheocc-lcm"
    ),
    teacher: Annotated[
        Path | None, typer.Option(help="A train-syntheocc folder; default the shipped syntheocc-small.")
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = DISTILL.steps,
    batch_size: Annotated[int, typer.Option(min=1, help="Six-view samples per step.")] = DISTILL.batch_size,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = DISTILL.learning_rate,
    guidance: Annotated[
        float, typer.Option(min=1.0, help="The teacher's guidance, baked into the student.")
    ] = DISTILL.guidance,
    sample_steps: Annotated[
        int, typer.Option(min=1, max=50, help="The distilled model's default steps.")
    ] = DISTILL.sample_steps,
    held_out: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of episodes held out.")] = DISTILL.held_out,
    eval_samples: Annotated[int, typer.Option(min=1, help="Held-out samples for the side-by-side figures.")] = 12,
    eval_dir: Annotated[
        Path | None,
        typer.Option("--eval", help="A collect-render folder for the figures (e.g. --seed 1); default the held-out."),
    ] = None,
    save_every: Annotated[int, typer.Option(min=1, help="Steps between checkpoints.")] = DISTILL.save_every,
    seed: Annotated[int, typer.Option()] = DISTILL.seed,
) -> None:
    """Consistency-distil a SyntheOcc model for 2-4 step sampling, then compare it with its teacher side by side."""
    from occsim.training.distill import distill_and_compare

    config = DistillConfig(
        data_dir=data_dir,
        out_dir=out_dir,
        teacher=teacher,
        steps=steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        guidance=guidance,
        sample_steps=sample_steps,
        held_out=held_out,
        save_every=save_every,
        seed=seed,
    )
    try:
        record, rows = distill_and_compare(config, eval_dir, eval_samples)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    if rows is None:
        out.print(f"distilled in {record['train_seconds']:.0f} s; no evaluation episodes or teacher probe: no figures")
        return
    table = Table(title=f"fidelity on {eval_samples} held-out samples, same seeds")
    for column in ("sampling", "probe mIoU", "perceived mIoU", "s / sample"):
        table.add_column(column)
    for r in rows:
        seconds = "-" if r["seconds_per_sample"] is None else f"{r['seconds_per_sample']:.2f}"
        table.add_row(r["setting"], f"{r['probe_miou']:.3f}", f"{r['perceived_miou']:.3f}", seconds)
    out.print(table)
    out.print(f"distilled in {record['train_seconds']:.0f} s; model card: {out_dir / 'MODEL_CARD.md'}")


@app.command("tune-decoder")
def tune_decoder(
    data_dir: Annotated[Path, typer.Argument(help="A collect-render folder at the models' image size.")],
    weights: Annotated[
        list[Path] | None,
        typer.Option(help="Model folders sharing one autoencoder (repeatable); default the shipped small models."),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = DECODER.steps,
    batch_size: Annotated[int, typer.Option(min=1, help="Single views per step.")] = DECODER.batch_size,
    foreground_weight: Annotated[
        float, typer.Option(min=1.0, help="Loss weight of object-class pixels.")
    ] = DECODER.foreground_weight,
    held_out: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of episodes held out.")] = 0.1,
    eval_dir: Annotated[
        Path | None, typer.Option("--eval", help="A collect-render folder for the figures; default the held-out.")
    ] = None,
    seed: Annotated[int, typer.Option()] = DECODER.seed,
) -> None:
    """Train a model's autoencoder decoder further (encoder frozen, so its diffusion model stays valid)."""
    from occsim.generative.renderers.occscene import SMALL_OCCSCENE
    from occsim.generative.renderers.syntheocc import SMALL_WEIGHTS
    from occsim.training.decoder import tune_shared_decoder

    folders = weights or [SMALL_WEIGHTS, SMALL_OCCSCENE]
    tuning = DecoderTuning(steps=steps, batch_size=batch_size, foreground_weight=foreground_weight, seed=seed)
    try:
        record = tune_shared_decoder(folders, data_dir, tuning, held_out, eval_dir)
    except (FileNotFoundError, ValueError) as e:
        raise fail(str(e)) from None
    before, after, seconds = record["before"], record["after"], record["seconds"]
    table = Table(title="autoencoder round trip before and after")
    for column in ("decoder", "L1 [0-255]", "L1 on objects", "perceived mIoU"):
        table.add_column(column)
    for name, r in (("before", before), ("after", after)):
        table.add_row(name, f"{r['l1']:.2f}", f"{r['foreground_l1']:.2f}", f"{r['perceived_miou']:.3f}")
    out.print(table)
    out.print(
        f"raster views: perceived mIoU {after['raster_perceived_miou']:.3f}; {seconds:.0f} s; saved in "
        + ", ".join(map(str, folders))
    )
