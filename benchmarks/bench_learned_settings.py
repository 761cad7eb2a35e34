"""Seconds per env step of the learned renderers' sampling settings, against raster, in one run.

    python benchmarks/bench_learned_settings.py [--lcm weights/syntheocc-lcm] [--camera-hw 256x448] [--env-steps 4]
        [--out benchmarks/results/learned_settings.json]

Each setting drives the same scenario (fog_bus), seed and constant-velocity plan; the first step warms caches and is
not timed. Settings: raster; SyntheOcc pure generation at 20 UniPC steps (the paper's method) and at 4; the shipped
default (raster-guided); with --lcm, the consistency-distilled model at 4 and 2 steps and raster-guided; OccScene at
its CPU default of 12 steps and its shipped default.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from occsim.suite.throughput import renderer_seconds_per_step


def settings(lcm: Path | None) -> list[tuple[str, str, dict]]:
    rows = [
        ("raster", "raster", {}),
        ("syntheocc, pure, 20 UniPC steps", "syntheocc", {"init": "noise", "steps": 20, "guidance": 7.5}),
        ("syntheocc, pure, 4 UniPC steps", "syntheocc", {"init": "noise", "steps": 4, "guidance": 7.5}),
        ("syntheocc, shipped default", "syntheocc", {}),
        ("syntheocc, raster-guided 0.25 x 4 UniPC", "syntheocc", {"init": "raster", "strength": 0.25, "steps": 4}),
    ]
    if lcm is not None:
        rows += [
            ("syntheocc distilled, pure, 4 LCM steps", "syntheocc", {"weights": str(lcm), "init": "noise", "steps": 4}),
            ("syntheocc distilled, pure, 2 LCM steps", "syntheocc", {"weights": str(lcm), "init": "noise", "steps": 2}),
            (
                "syntheocc distilled, raster-guided 0.25 x 4",
                "syntheocc",
                {"weights": str(lcm), "init": "raster", "strength": 0.25, "steps": 4},
            ),
        ]
    rows += [
        ("occscene, pure, 12 UniPC steps", "occscene", {"init": "noise", "steps": 12}),
        ("occscene, shipped default", "occscene", {}),
        ("occscene, raster-guided 0.2 x 12", "occscene", {"init": "raster", "strength": 0.2}),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lcm", type=Path, default=None, help="a distill-syntheocc folder")
    parser.add_argument("--camera-hw", default="256x448")
    parser.add_argument("--env-steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/learned_settings.json"))
    args = parser.parse_args()
    torch.manual_seed(0)
    hw = tuple(int(v) for v in args.camera_hw.split("x"))
    rows = []
    for name, renderer, kwargs in settings(args.lcm):
        seconds = renderer_seconds_per_step(renderer, hw, args.env_steps, kwargs)
        rows.append({"setting": name, "renderer": renderer, "options": kwargs, "s_per_step": round(seconds, 3)})
        print(f"{name:48s} {seconds:7.3f} s / step", flush=True)
    raster = rows[0]["s_per_step"]
    for row in rows:
        row["over_raster"] = round(row["s_per_step"] / raster, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({**_provenance(), "camera_hw": hw, "threads": torch.get_num_threads(), "rows": rows}, indent=1)
    )


if __name__ == "__main__":
    main()


def _provenance() -> dict:
    """Where and when the figures were measured, for the docs' benchmark tables."""
    return {
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
