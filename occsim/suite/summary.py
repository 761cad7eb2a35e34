"""Per planner x weather aggregates of a suite's results: terminal table and summary.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from rich.table import Table

COLUMNS = (
    "planner",
    "weather",
    "runs",
    "errors",
    "ncap",
    "collision_rate",
    "pdms",
    "route_completion",
    "driving_score",
)
METER_COLUMN = "perceived_miou"  # present when the runs were scored with the perception meter
SHORT_NAMES = {
    "collision_rate": "coll.",
    "route_completion": "route",
    "driving_score": "DS",
    "ncap": "NCAP",
    "pdms": "PDMS",
    "perceived_miou": "perc. mIoU",
}


def columns(rows: list[dict]) -> tuple[str, ...]:
    """COLUMNS, plus the perception meter's where any row has it."""
    return COLUMNS + ((METER_COLUMN,) if any(METER_COLUMN in row for row in rows) else ())


def summarise(records: list[dict]) -> list[dict]:
    """One row per (planner, weather): mean NCAP, collision rate, mean PDMS, route completion, driving score."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        groups.setdefault((r["planner"], r["weather"]), []).append(r)
    rows = []
    for (planner, weather), group in sorted(groups.items()):
        ok = [r for r in group if r.get("outcome") != "error"]

        def mean(field: str, runs: list[dict] = ok) -> float:
            return round(float(np.mean([float(r[field]) for r in runs])), 3) if runs else float("nan")

        metered = [r for r in ok if r.get("perceived_occupancy_miou") is not None]
        rows.append(
            {
                "planner": planner,
                "weather": weather,
                "runs": len(group),
                "errors": len(group) - len(ok),
                "ncap": mean("ncap"),
                "collision_rate": mean("collision"),
                "pdms": mean("pdms"),
                "route_completion": mean("route_completion"),
                "driving_score": mean("driving_score"),
                **({METER_COLUMN: mean("perceived_occupancy_miou", metered)} if metered else {}),
            }
        )
    return rows


def write_csv(rows: list[dict], path: Path) -> None:
    """summary.csv with ``columns(rows)``."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns(rows), restval="")
        writer.writeheader()
        writer.writerows(rows)


def summary_table(rows: list[dict]) -> Table:
    """The terminal table of ``summarise``'s rows."""
    table = Table(title="per planner and weather (means; coll. = collision rate, DS = driving score)")
    shown = columns(rows)
    for c in shown:
        table.add_column(SHORT_NAMES.get(c, c), no_wrap=True)
    for row in rows:
        cells = (row.get(c, "") for c in shown)
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in cells))
    return table
