"""``occsim bench``: speed and memory of the closed loop on this machine."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from occsim.cli.common import app, out


@app.command()
def bench(as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False) -> None:
    """Measure env steps/s (vs HighwayEnv in the same run), build_mpi time and peak memory on this machine."""
    from occsim.suite.throughput import TARGETS, run_all

    figures = run_all()
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    table = Table(title="occsim bench")
    table.add_column("figure")
    table.add_column("value")
    table.add_column("target")
    for key, value in figures.items():
        if key == "targets_met":
            continue
        target = TARGETS.get(key)
        met = figures["targets_met"].get(key)
        mark = ("", "") if met is None else (" ok", "green") if met else (" missed", "red")
        table.add_row(key, str(value), Text.assemble("" if target is None else str(target), mark))
    out.print(table)
