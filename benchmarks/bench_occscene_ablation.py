"""OccScene ablation on OccSim data (paper 000, Tables VI-VII): joint scheme on/off x Mamba alignment vs attention.

Every variant starts from the same SyntheOcc and perception models and trains for the same number of steps on the
same pairs; all are scored on the same held-out clips with the same seeds: the perceived-occupancy mIoU of the
generated views (the shipped perception model as the meter), the photometric error between consecutive frames after
reprojection with the known ego motion and depth, and seconds per frame. Raster views and SyntheOcc (frames drawn
independently) are the references.

    python benchmarks/bench_occscene_ablation.py /work/data/render_occ --eval /work/data/eval_clear \
        --eval /work/data/eval_fog --out runs/occscene_ablation --steps 300

Writes ``results.json`` and ``results.md`` in ``--out``; trained variants are kept there and reused on a rerun.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from occsim.generative.models.perception import PerceptionMeter
from occsim.generative.pipelines.occscene import OccScenePipeline
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline
from occsim.generative.renderers.syntheocc import SMALL_WEIGHTS
from occsim.training.configs import OccSceneTrainConfig
from occsim.training.episodes import episode_files
from occsim.training.occscene import (
    FrameSamples,
    clip_starts,
    evaluate_video,
    occscene_frames,
    raster_frames,
    syntheocc_frames,
    train_occscene,
)

VARIANTS = {  # name: (joint, mixer, camera encoding)
    "joint + MDA (OccScene)": (True, "mamba", True),
    "joint, w/o MDA (attention)": (True, "attention", False),
    "w/o joint + MDA": (False, "mamba", True),
    "w/o joint, w/o MDA": (False, "attention", False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path, help="collect-render folder to train on")
    parser.add_argument("--eval", type=Path, action="append", required=True, help="collect-render folder to score on")
    parser.add_argument("--out", type=Path, default=Path("runs/occscene_ablation"))
    parser.add_argument("--steps", type=int, default=300, help="training steps of every variant")
    parser.add_argument("--clips", type=int, default=4, help="clips per evaluation folder")
    parser.add_argument("--length", type=int, default=3, help="frames per clip")
    parser.add_argument("--sample-steps", type=int, default=12, help="denoising steps when generating")
    args = parser.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    args.out.mkdir(parents=True, exist_ok=True)
    meter = PerceptionMeter.load()
    sets = []
    for folder in args.eval:
        samples = FrameSamples.load(episode_files(folder))
        sets.append((folder.name, samples, clip_starts(samples, args.clips, args.length)))

    def score(generate) -> dict:
        return {name: evaluate_video(generate, s, starts, args.length, meter) for name, s, starts in sets}

    results: dict[str, dict] = {"raster (reference)": score(raster_frames)}
    syntheocc = OccSimSyntheOccPipeline.load(SMALL_WEIGHTS)
    syntheocc.set_progress_bar_config(disable=True)
    results["SyntheOcc (frames independent)"] = score(syntheocc_frames(syntheocc, args.sample_steps))
    training = {}
    for name, (joint, mixer, camera) in VARIANTS.items():
        folder = args.out / name.split(" (")[0].replace(" ", "_").replace(",", "").replace("/", "")
        if not (folder / "metrics.json").is_file():
            config = OccSceneTrainConfig(
                args.data, folder, steps=args.steps, joint=joint, mixer=mixer, camera_encoding=camera
            )
            train_occscene(config)
        record = json.loads((folder / "metrics.json").read_text())
        training[name] = {"train_seconds": record["train_seconds"], "steps": record["steps_done"]}
        pipe = OccScenePipeline.load(folder)
        pipe.set_progress_bar_config(disable=True)
        results[name] = score(occscene_frames(pipe, args.sample_steps))
        (args.out / "results.json").write_text(json.dumps({"results": results, "training": training}, indent=1))
    (args.out / "results.json").write_text(json.dumps({"results": results, "training": training}, indent=1))
    lines = [
        f"{args.steps} training steps per variant; {args.clips} clips x {args.length} frames per set; "
        f"{args.sample_steps} denoising steps",
        "",
        "| renderer | set | perceived mIoU | reprojection error [0-255] | s / frame | train s |",
        "|---|---|---|---|---|---|",
    ]
    for name, per_set in results.items():
        for set_name, r in per_set.items():
            train = training.get(name, {}).get("train_seconds", "")
            lines.append(
                f"| {name} | {set_name} | {r['perceived_miou']:.3f} | {r['reprojection']:.2f} | "
                f"{r['seconds_per_frame']:.2f} | {train} |"
            )
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
