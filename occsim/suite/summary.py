"""Per planner x weather aggregates of a suite's results: terminal table and summary.csv.

Runs drawn from scenario families also get a per-family table (families.csv). With the perception meter on, also
object recall by class and distance band (recall.csv).
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.table import Table

from occsim.metrics.recall import BAND_NAMES, VEHICLES, merge_tallies, recall
from occsim.suite.records import RunRecord

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


def _mean(runs: list[RunRecord], value: Callable[[RunRecord], float]) -> float:
    return round(float(np.mean([float(value(r)) for r in runs])), 3) if runs else float("nan")


def _scores(group: list[RunRecord]) -> dict:
    """Run and error counts, and the mean scores of the runs that did not end in an error."""
    ok = [r for r in group if not r.failed]
    metered = [r for r in ok if r.episode.perceived_occupancy_miou is not None]
    return {
        "runs": len(group),
        "errors": len(group) - len(ok),
        "ncap": _mean(ok, lambda r: r.scores.ncap),
        "collision_rate": _mean(ok, lambda r: r.episode.collision),
        "pdms": _mean(ok, lambda r: r.scores.pdms),
        "route_completion": _mean(ok, lambda r: r.scores.route_completion),
        "driving_score": _mean(ok, lambda r: r.scores.driving_score),
        **({METER_COLUMN: _mean(metered, lambda r: r.episode.perceived_occupancy_miou)} if metered else {}),
    }


def _grouped(records: list[RunRecord], key: Callable[[RunRecord], tuple]) -> list[tuple[tuple, list[RunRecord]]]:
    groups: dict[tuple, list[RunRecord]] = {}
    for r in records:
        groups.setdefault(key(r), []).append(r)
    return sorted(groups.items())


def summarise(records: list[RunRecord]) -> list[dict]:
    """One row per (planner, weather): mean NCAP, collision rate, mean PDMS, route completion, driving score."""
    return [
        {"planner": planner, "weather": weather, **_scores(group)}
        for (planner, weather), group in _grouped(records, lambda r: (r.planner, r.weather))
    ]


def paired_difference(
    records: list[RunRecord], planner: str, baseline: str, value: Callable[[RunRecord], float]
) -> dict:
    """``value`` of ``planner``'s runs minus ``baseline``'s on the same runs: the mean and its standard error.

    Runs pair by (scenario, instance, seed, weather); runs that ended in an error are left out. The runs of one
    instance under different weathers share its traffic and tend to fail together, so they are one cluster and the
    standard error is that of the mean over instances: a per-run error would claim more than the runs show.
    The error is None where fewer than two instances pair.
    """

    def finished(name: str) -> dict[tuple, RunRecord]:
        return {(r.scenario, r.run, r.seed, r.weather): r for r in records if r.planner == name and not r.failed}

    mine, theirs = finished(planner), finished(baseline)
    clusters: dict[tuple, list[float]] = {}
    for key in mine.keys() & theirs.keys():
        clusters.setdefault(key[:3], []).append(float(value(mine[key])) - float(value(theirs[key])))
    differences = [d for cluster in clusters.values() for d in cluster]
    means = np.array([np.mean(cluster) for cluster in clusters.values()])
    error = float(means.std(ddof=1) / np.sqrt(len(means))) if len(means) > 1 else None
    return {
        "difference": round(float(np.mean(differences)), 4) if differences else None,
        "standard_error": round(error, 4) if error is not None else None,
        "runs": len(differences),
        "instances": len(means),
    }


FAMILY_COLUMNS = ("family", "planner", "runs", "errors", "ncap", "collision_rate", "route_completion", "pdms")


def family_rows(records: list[RunRecord]) -> list[dict]:
    """One row per (family, planner) over the runs drawn from scenario families (all weathers together)."""
    drawn = [r for r in records if r.origin.family]
    return [
        {"family": family, "planner": planner, **{k: v for k, v in _scores(group).items() if k in FAMILY_COLUMNS}}
        for (family, planner), group in _grouped(drawn, lambda r: (r.origin.family, r.planner))
    ]


def write_family_csv(rows: list[dict], path: Path) -> None:
    """families.csv: ``family_rows``' rows."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FAMILY_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def family_table(rows: list[dict]) -> Table:
    """The terminal table of ``family_rows``: one line per family, the planners side by side."""
    planners = sorted({row["planner"] for row in rows})
    table = Table(title="per family (all weathers; NCAP / collision rate / route completion)")
    table.add_column("family", no_wrap=True)
    for planner in planners:
        table.add_column(planner, no_wrap=True)
    by_key = {(row["family"], row["planner"]): row for row in rows}
    for family in sorted({row["family"] for row in rows}):
        cells = []
        for planner in planners:
            row = by_key.get((family, planner))
            cells.append(
                f"{row['ncap']:.2f} / {row['collision_rate']:.2f} / {row['route_completion']:.2f}" if row else "-"
            )
        table.add_row(family, *cells)
    return table


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


def recall_rows(records: list[RunRecord]) -> list[dict]:
    """One row per (weather, class) over the metered runs: found / visible per distance band, and the recall.

    A ``vehicles`` row sums the vehicle classes. Runs of every planner count alike: visibility and finding depend
    on the views, not on who drives.
    """
    by_weather: dict[str, list[dict]] = {}
    for r in records:
        if r.episode is not None and r.episode.object_recall is not None:
            by_weather.setdefault(r.weather, []).append(r.episode.object_recall)
    rows = []
    for weather, tallies in sorted(by_weather.items()):
        merged = merge_tallies(tallies)
        vehicles = merge_tallies([{"vehicles": merged[name]} for name in VEHICLES if name in merged])
        for name, bands in [*sorted(merged.items()), *vehicles.items()]:
            row: dict = {"weather": weather, "class": name}
            for band in BAND_NAMES:
                found, visible = bands.get(band, [0, 0])
                row[f"{band} m"] = round(recall([found, visible]), 3) if visible else float("nan")
                row[f"{band} m seen"] = visible
            rows.append(row)
    return rows


def write_recall_csv(rows: list[dict], path: Path) -> None:
    """recall.csv: ``recall_rows``' rows."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["weather", "class"])
        writer.writeheader()
        writer.writerows(rows)


def recall_table(rows: list[dict]) -> Table:
    """The terminal table of ``recall_rows``: recall (visible count) per class and distance band."""
    table = Table(title="object recall by the perception meter (found / visible within 40 m; visible count)")
    for c in ("weather", "class", *(f"{b} m" for b in BAND_NAMES)):
        table.add_column(c, no_wrap=True)
    for row in rows:
        cells = [f"{row[f'{b} m']:.2f} ({row[f'{b} m seen']})" if row[f"{b} m seen"] else "-" for b in BAND_NAMES]
        table.add_row(row["weather"], row["class"], *cells)
    return table
