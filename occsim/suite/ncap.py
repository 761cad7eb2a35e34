"""OpenSCENARIO test grids in the report: runs grouped by protocol and test, as Euro NCAP's result sheets show them.

A run from an OpenSCENARIO sweep records its variation file, base scenario and parameter values. Runs of one
base scenario (and one ``Scenario_ID`` parameter, where the file has one: Vector's NCAP files use it to tell CCRs
from CCRm) form a test; its protocol is the base file's folder (e.g. AEB_C2C_2023). The test's grid axes are the
parameters that vary across its runs (e.g. ego speed and overlap), each grid point shows impact speed, speed
reduction, NCAP score and collision, and a picture per test and planner colours each point by its outcome.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from occsim.suite.records import RunRecord  # noqa: E402

TEST_PARAMETER = "Scenario_ID"  # the parameter NCAP files use to name the test of a shared base scenario
KMH = 3.6
# outcome bands, as Euro NCAP colours a grid: avoided, then by how much of the speed was taken off before impact
BANDS = ((1.01, "avoided", "#2e9e44"), (0.75, ">=75% slower", "#b5d334"), (0.5, ">=50%", "#f2d43a"))
BANDS += ((0.25, ">=25%", "#f09a36"), (0.0, "<25%", "#d7301f"))


@dataclass(frozen=True)
class GridRun:
    """An OpenSCENARIO run placed in its grid: protocol (the base file's folder), test and parameter values."""

    record: RunRecord
    protocol: str
    test: str
    parameters: dict  # parameter name -> value, as the variation file set them


def ncap_runs(records: list[RunRecord]) -> list[GridRun]:
    """The OpenSCENARIO runs that finished, each with its protocol, test and parameters."""
    found = []
    for record in records:
        origin = record.origin.openscenario
        if not isinstance(origin, dict) or "base" not in origin or record.failed:
            continue
        parameters = origin.get("parameters") or {}
        base = Path(origin["base"])
        test = parameters.get(TEST_PARAMETER) or base.stem
        found.append(GridRun(record, base.parent.name, str(test), parameters))
    return found


def grid_rows(runs: list[GridRun]) -> dict[tuple[str, str], list[dict]]:
    """Per (protocol, test): one table row per run with the varying parameters, planner and outcome figures."""
    groups: dict[tuple[str, str], list[GridRun]] = defaultdict(list)
    for run in runs:
        groups[(run.protocol, run.test)].append(run)
    table = {}
    for key, group in sorted(groups.items()):
        axes = varying(group)
        rows = [_grid_row(run, axes) for run in group]
        table[key] = sorted(rows, key=lambda r: tuple(_order(r.get(a)) for a in (*axes, "planner")))
    return table


def _grid_row(run: GridRun, axes: list[str]) -> dict:
    episode = run.record.episode
    initial = float(episode.initial_speed or 0.0)
    impact = float(episode.impact_speed or 0.0) if episode.collision else 0.0
    # the ego's own speed at contact: a head-on or crossing impact is faster than the ego ever drove
    own = impact if episode.ego_impact_speed is None else float(episode.ego_impact_speed)
    return {
        **{axis: run.parameters.get(axis) for axis in axes},
        "planner": run.record.planner,
        "weather": run.record.weather,
        "collision": bool(episode.collision),
        "impact [km/h]": round(impact * KMH, 1),
        "speed reduction [km/h]": round(max(initial - own, 0.0) * KMH, 1) if episode.collision else None,
        "ego at impact [km/h]": round(own * KMH, 1) if episode.collision else None,
        "NCAP": run.record.scores.ncap if run.record.scores else None,
    }


def varying(group: list[GridRun]) -> list[str]:
    """The parameters whose values differ across a test's runs, in the files' order."""
    names = list(dict.fromkeys(n for run in group for n in run.parameters))
    return [n for n in names if n != TEST_PARAMETER and len({str(r.parameters.get(n)) for r in group}) > 1]


def _order(value):
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def band(row: dict) -> int:
    """The outcome band of a grid point: 0 avoided, then by the share of speed taken off before impact."""
    if not row["collision"]:
        return 0
    reduction = row["speed reduction [km/h]"] or 0.0
    total = reduction + (row.get("ego at impact [km/h]") or 0.0)
    share = reduction / total if total > 0 else 0.0
    return next(i for i, (floor, _, _) in enumerate(BANDS) if i > 0 and share >= floor)


def grid_pictures(table: dict[tuple[str, str], list[dict]], folder: Path) -> list[str]:
    """One picture per test and planner: the first varying parameter across, the second down (if any)."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    colours = ListedColormap([c for _, _, c in BANDS])
    for (protocol, test), rows in table.items():
        axes = [
            k
            for k in rows[0]
            if k
            not in (
                "planner",
                "weather",
                "collision",
                "impact [km/h]",
                "speed reduction [km/h]",
                "ego at impact [km/h]",
                "NCAP",
            )
        ]
        for planner in sorted({r["planner"] for r in rows}):
            mine = [r for r in rows if r["planner"] == planner]
            across = sorted({r[axes[0]] for r in mine}, key=_order) if axes else [""]
            down = sorted({r[axes[1]] for r in mine}, key=_order) if len(axes) > 1 else [""]
            cells = np.full((len(down), len(across)), np.nan)
            labels = np.full((len(down), len(across)), "", dtype=object)
            for r in mine:
                i = down.index(r[axes[1]]) if len(axes) > 1 else 0
                j = across.index(r[axes[0]]) if axes else 0
                cells[i, j] = band(r)
                labels[i, j] = "ok" if not r["collision"] else f"{r['impact [km/h]']:.0f}"
            fig, ax = plt.subplots(figsize=(max(4.0, 0.55 * len(across) + 2.5), max(2.2, 0.45 * len(down) + 1.6)))
            ax.imshow(np.ma.masked_invalid(cells), cmap=colours, vmin=-0.5, vmax=len(BANDS) - 0.5, aspect="auto")
            for (i, j), text in np.ndenumerate(labels):
                ax.text(j, i, text, ha="center", va="center", fontsize=8)
            ax.set_xticks(range(len(across)), [str(a) for a in across], fontsize=8)
            ax.set_yticks(range(len(down)), [str(d) for d in down], fontsize=8)
            ax.set_xlabel(axes[0] if axes else "")
            ax.set_ylabel(axes[1] if len(axes) > 1 else "")
            ax.set_title(f"{protocol} {test} - {planner} (impact km/h)", fontsize=10)
            handles = [plt.Rectangle((0, 0), 1, 1, color=c) for _, _, c in BANDS]
            ax.legend(handles, [n for _, n, _ in BANDS], loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7)
            fig.tight_layout()
            name = f"ncap_{_safe(protocol)}_{_safe(test)}_{_safe(planner)}.png"
            fig.savefig(folder / name, dpi=110)
            plt.close(fig)
            written.append(f"{folder.name}/{name}")
    return written


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def section(table: dict[tuple[str, str], list[dict]], pictures: list[str]) -> str:
    """The report's HTML for the grids: per protocol and test, the picture(s) and the table of grid points."""
    if not table:
        return ""
    parts = ["<h2>OpenSCENARIO tests (by protocol and test)</h2>"]
    for (protocol, test), rows in table.items():
        keys = list(rows[0])
        head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
        body = "".join(
            "<tr>" + "".join(f"<td>{'' if r[k] is None else html.escape(str(r[k]))}</td>" for k in keys) + "</tr>"
            for r in rows
        )
        mine = [p for p in pictures if f"ncap_{_safe(protocol)}_{_safe(test)}_" in p]
        images = "".join(f'<img class="grid" src="{html.escape(p)}" alt="{html.escape(p)}">' for p in mine)
        parts.append(
            f"<h3>{html.escape(protocol)} &middot; {html.escape(test)}</h3><div>{images}</div>"
            f"<details><summary>{len(rows)} grid points</summary><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></details>"
        )
    return "".join(parts)
