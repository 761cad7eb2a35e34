"""``occsim convert-vad`` and ``occsim synthetic-vad``: VAD checkpoints for ``--planner vad:PATH``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from occsim.cli.common import app, fail, out


@app.command("convert-vad")
def convert_vad(
    checkpoint: Annotated[Path, typer.Argument(help="A released VAD checkpoint (.pth), e.g. VAD_tiny.pth.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write model.safetensors and config.json to.")],
) -> None:
    """Convert a VAD checkpoint to safetensors (read without running pickle; every key checked against the port)."""
    from occsim.planners.vad import CheckpointError, convert

    try:
        folder = convert(checkpoint, out_dir)
    except CheckpointError as error:
        raise fail(str(error)) from None
    size = (folder / "model.safetensors").stat().st_size / 2**20
    out.print(f"wrote {folder / 'model.safetensors'} ({size:.0f} MiB) and {folder / 'config.json'}")
    out.print(f"run it: occsim suite bus_ahead --planner vad:{folder}")


@app.command("synthetic-vad")
def synthetic_vad(
    variant: Annotated[Literal["tiny", "base"], typer.Argument(help="VAD-Tiny or VAD-Base.")],
    path: Annotated[Path, typer.Option("--out", help="The .pth file to write.")],
    seed: Annotated[int, typer.Option(help="Seed of the weights.")] = 0,
) -> None:
    """Write untrained, seeded VAD weights in the released checkpoint layout: to try the pipeline, not to drive."""
    from occsim.planners.vad import BASE, TINY
    from occsim.planners.vad.synthetic import write_synthetic_checkpoint

    written = write_synthetic_checkpoint(TINY if variant == "tiny" else BASE, path, seed)
    out.print(f"wrote {written} (VAD-{variant}, seed {seed}; untrained: its plans are noise)")
