"""``occsim make-nuscenes-mini``: synthetic data in the real nuScenes layout."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from occsim.cli.common import app, out, parse_hw


@app.command("make-nuscenes-mini")
def make_nuscenes_mini(
    out_dir: Annotated[Path, typer.Argument(help="Dataroot to create.")],
    image_hw: Annotated[str, typer.Option("--image-hw", help="Camera image HEIGHTxWIDTH.")] = "225x400",
    seconds: Annotated[float, typer.Option(min=1.0, help="Logged seconds per scene (keyframes at 2 Hz).")] = 15.0,
) -> None:
    """Write a small synthetic dataset in the real nuScenes layout (v1.0-mini), logged from OccSim worlds."""
    from occsim.training.nuscenes_mini import make_nuscenes_mini as make

    root, scenes = make(out_dir, parse_hw(image_hw, "--image-hw"), seconds)
    out.print(f"wrote {len(scenes)} synthetic scenes ({', '.join(scenes)}) in the nuScenes layout to {root}")
