"""Pure generation (``init=noise``) of SyntheOcc models side by side on the same held-out samples and seeds: the
layout probe's mIoU against the world's nearest-surface labels and the perception meter's occupancy mIoU.

    python benchmarks/bench_pure_generation.py --weights occsim/generative/weights/syntheocc-small \\
        --weights weights/syntheocc-more --eval data/eval [--samples 12] [--steps 20]

Used to measure what further training of the small model buys (README, "Better small models"). The probe is the
first model's (``probe/``), so every model is read by the same eyes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from occsim.generative.models.perception import PerceptionMeter
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline
from occsim.training.episodes import episode_files
from occsim.training.fidelity import Sampling, compare_sampling
from occsim.training.probe import SegmentationProbe


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, action="append", required=True, help="a model folder (repeatable)")
    parser.add_argument("--eval", type=Path, required=True, help="a collect-render folder at the models' size")
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/pure_generation.json"))
    args = parser.parse_args()
    pipes = [(str(folder), OccSimSyntheOccPipeline.load(folder)) for folder in args.weights]
    settings = [Sampling(name, pipe, args.steps, args.guidance) for name, pipe in pipes]
    probe = SegmentationProbe.from_pretrained(args.weights[0] / "probe", local_files_only=True)
    rows, _ = compare_sampling(
        settings, episode_files(args.eval), probe, PerceptionMeter.load(), samples=args.samples, seed=0
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))
    print("setting | probe mIoU | perceived mIoU | s / sample")
    for r in rows:
        seconds = "-" if r["seconds_per_sample"] is None else f"{r['seconds_per_sample']:.2f}"
        print(f"{r['setting']} | {r['probe_miou']:.3f} | {r['perceived_miou']:.3f} | {seconds}")


if __name__ == "__main__":
    main()
