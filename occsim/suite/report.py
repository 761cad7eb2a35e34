"""``DIR/report.html``: a self-contained page (media beside it in DIR) showing where each planner fails.

The page is a Jinja2 template with a little inline script (no CDN: nothing is fetched when it is opened): every
table sorts by a click on its header, long ones take a text filter, the runs take filters by planner, weather,
scenario and outcome, and each video shows a poster frame (the collision, or the first frame) until it plays.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import imageio.v2 as imageio
import jinja2
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend
import numpy as np  # noqa: E402

from occsim.suite.ncap import grid_pictures, grid_rows, ncap_runs, section  # noqa: E402
from occsim.suite.records import RunRecord  # noqa: E402
from occsim.suite.summary import (  # noqa: E402
    FAMILY_COLUMNS,
    columns,
    family_rows,
    recall_rows,
    summarise,
    write_csv,
    write_family_csv,
    write_recall_csv,
)

POSTER_WIDTH = 464  # [px] videos are shown this wide in the runs table (their poster frames are written so)
PLOT_DPI = 100


@dataclass(frozen=True)
class RunColumn:
    """A column of the runs table: its name (the record's field, and the cells' class), heading and reader."""

    name: str
    label: str
    value: Callable[[RunRecord], object]


RUN_COLUMNS = (
    RunColumn("scenario", "scenario", lambda r: r.scenario),
    RunColumn("planner", "planner", lambda r: r.planner),
    RunColumn("weather", "weather", lambda r: r.weather),
    RunColumn("run", "run", lambda r: r.run),
    RunColumn("seed", "seed", lambda r: r.seed),
    RunColumn("outcome", "outcome", lambda r: r.outcome),
    RunColumn("ncap", "NCAP", lambda r: r.scores and r.scores.ncap),
    RunColumn("pdms", "PDMS", lambda r: r.scores and r.scores.pdms),
    RunColumn("route_completion", "route", lambda r: r.scores and r.scores.route_completion),
    RunColumn("impact_speed", "impact [m/s]", lambda r: r.episode and r.episode.impact_speed),
    RunColumn("collided_with", "hit", lambda r: r.episode and r.episode.collided_with),
    RunColumn("perceived_occupancy_miou", "perceived mIoU", lambda r: r.episode and r.episode.perceived_occupancy_miou),
)
OPTIONAL_COLUMNS = ("perceived_occupancy_miou", "collided_with")  # shown only where some run has a value
FILTERS = {  # the runs table's drop-down filters
    "planner": lambda r: r.planner,
    "weather": lambda r: r.weather,
    "scenario": lambda r: r.scenario,
    "outcome": lambda r: r.outcome,
}


def load_results(out_dir: Path) -> list[RunRecord]:
    """Every complete line of DIR/results.jsonl."""
    path = out_dir / "results.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{out_dir} has no results.jsonl: run `occsim suite --out {out_dir}` first")
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(RunRecord.from_json(json.loads(line)))
        except json.JSONDecodeError:
            continue  # a torn last line from a killed suite
    return records


def write_report(out_dir: Path) -> Path:
    """Write summary.csv, plots/*.png, poster frames and report.html for ``out_dir``; returns the page's path."""
    records = load_results(out_dir)
    rows = summarise(records)
    write_csv(rows, out_dir / "summary.csv")
    recalled = recall_rows(records)
    if recalled:
        write_recall_csv(recalled, out_dir / "recall.csv")
    families = family_rows(records)
    if families:
        write_family_csv(families, out_dir / "families.csv")
    ok = [r for r in records if not r.failed]
    plots = out_dir / "plots"
    grids = grid_rows(ncap_runs(records))
    shown = [c for c in RUN_COLUMNS if c.name not in OPTIONAL_COLUMNS or any(c.value(r) is not None for r in records)]
    page = out_dir / "report.html"
    page.write_text(
        _TEMPLATE.render(
            n=len(records),
            counts={f: len({pick(r) for r in records}) for f, pick in FILTERS.items()},
            summary_columns=columns(rows),
            summary=rows,
            weather_plot=_score_plot(ok, "weather", plots),
            scenario_plot=_score_plot(ok, "scenario", plots),
            family_columns=FAMILY_COLUMNS,
            families=families,
            difficulty_plot=_difficulty_plot(records, plots),
            tests=section(grids, grid_pictures(grids, plots) if grids else []),
            recall=_recall_section(recalled),
            filters={f: sorted({str(pick(r)) for r in records}) for f, pick in FILTERS.items()},
            run_columns=shown,
            runs=[_run_row(r, out_dir, shown) for r in sorted(records, key=_run_order)],
        )
    )
    return page


def _run_order(r: RunRecord) -> tuple:
    return (r.scenario or "", r.planner or "", r.weather or "", r.run or 0)


def _run_row(r: RunRecord, out_dir: Path, shown: list[RunColumn]) -> dict:
    """What the template shows of a run: its cells, filter values and media (a poster frame for its video)."""
    video = r.video if r.video and (out_dir / r.video).exists() else None
    poster = _poster(out_dir, video, r.still) if video else None
    return {
        "outcome": r.outcome,
        "filters": {f: str(pick(r)) for f, pick in FILTERS.items()},
        "cells": [(column.name, column.value(r)) for column in shown],
        "video": video,
        "poster": poster and poster[0],
        "height": poster and poster[1],  # the video's box is the poster's size before the video loads
        "still": r.still if r.still and (out_dir / r.still).exists() else None,
        "error": r.error if r.failed else None,
    }


def _poster(out_dir: Path, video: str, still: str | None) -> tuple[str, int] | None:
    """``videos/<run>.png`` beside the video: the collision still, or else the video's first frame, at show size.

    Returns its path and height [px]. Written once (kept while newer than the video); None if the video cannot be
    read.
    """
    poster = Path(video).with_suffix(".png")
    target = out_dir / poster
    if target.exists() and target.stat().st_mtime >= (out_dir / video).stat().st_mtime:
        return str(poster), imageio.imread(target).shape[0]
    try:
        if still and (out_dir / still).exists():
            frame = imageio.imread(out_dir / still)
        else:
            with imageio.get_reader(out_dir / video) as reader:
                frame = reader.get_data(0)
    except (OSError, ValueError, IndexError):
        return None
    height = round(frame.shape[0] * POSTER_WIDTH / frame.shape[1])
    imageio.imwrite(target, cv2.resize(frame[..., :3], (POSTER_WIDTH, height), interpolation=cv2.INTER_AREA))
    return str(poster), height


def _score_plot(ok: list[RunRecord], axis: str, folder: Path) -> str | None:
    """Mean NCAP and PDMS per ``axis`` value and planner: ``plots/score_by_<axis>.png``, or None without runs.

    By weather: two panels of vertical bars. By scenario: horizontal bars, one row per scenario, so that every
    name stays readable however many scenarios there are.
    """
    if not ok:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    planners = sorted({r.planner for r in ok})
    groups = sorted({getattr(r, axis) for r in ok})
    width = 0.8 / len(planners)
    across = axis == "weather"
    size = (max(7.0, 1.1 * len(groups) * len(planners) + 2), 3.6) if across else (13.0, 1.2 + 0.32 * len(groups))
    size = (size[0], max(size[1], 0.28 * len(groups) * len(planners) + 1.2)) if not across else size
    fig, panels = plt.subplots(1, 2, figsize=size, squeeze=False, sharey=not across)
    metrics = (("mean NCAP score", 5.0, lambda r: r.scores.ncap), ("mean PDMS", 1.0, lambda r: r.scores.pdms))
    positions = np.arange(len(groups))
    for panel, (label, top, value) in zip(panels[0], metrics):
        for i, planner in enumerate(planners):
            means = [
                np.mean([value(r) for r in ok if r.planner == planner and getattr(r, axis) == g] or [np.nan])
                for g in groups
            ]
            bars = panel.bar if across else panel.barh
            drawn = bars(positions + i * width, means, width, label=planner)
            panel.bar_label(drawn, fmt="%.2f", fontsize=8, padding=2)  # a zero shows as 0.00, not as nothing
        ticks = positions + width * (len(planners) - 1) / 2
        if across:
            panel.set_xticks(ticks, groups)
            panel.set_ylim(0, top * 1.1)  # room for the bar labels
            panel.set_ylabel(label)
            panel.grid(axis="y", alpha=0.3)
        else:
            panel.set_yticks(ticks, groups)
            panel.invert_yaxis()  # first scenario on top, as in the tables
            panel.set_xlim(0, top * 1.1)
            panel.set_xlabel(label)
            panel.grid(axis="x", alpha=0.3)
        panel.set_title(f"{label} by {axis}")
    fig.legend(*panels[0][0].get_legend_handles_labels(), loc="upper center", ncols=len(planners), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / size[1]))  # room for the legend above the panels
    name = f"score_by_{axis}.png"
    fig.savefig(folder / name, dpi=PLOT_DPI)
    plt.close(fig)
    return f"plots/{name}"


def _difficulty_plot(records: list[RunRecord], folder: Path) -> str | None:
    """NCAP against each family's first difficulty measure, one panel per family, a colour per planner.

    Dots are runs; the line joins the means of up to four equal-count bins of the measure.
    """
    runs = [r for r in records if not r.failed and r.origin.difficulty]
    families = sorted({r.origin.family for r in runs})
    if not families:
        return None
    planners = sorted({r.planner for r in runs})
    cols = min(4, len(families))
    rows = -(-len(families) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.9 * rows), squeeze=False)
    rng = np.random.default_rng(0)  # vertical jitter so runs with equal scores stay visible; fixed for the page
    for ax, family in zip(axes.flat, families):
        group = [r for r in runs if r.origin.family == family]
        measure = next(iter(group[0].origin.difficulty))
        for i, planner in enumerate(planners):
            mine = [r for r in group if r.planner == planner and measure in r.origin.difficulty]
            if not mine:
                continue
            x = np.array([float(r.origin.difficulty[measure]) for r in mine])
            y = np.array([float(r.scores.ncap) for r in mine])
            color = f"C{i}"
            ax.scatter(x, y + rng.uniform(-0.08, 0.08, len(y)), s=10, alpha=0.5, color=color, label=planner)
            order = np.argsort(x)
            bins = [b for b in np.array_split(order, min(4, len(order))) if len(b)]
            ax.plot([x[b].mean() for b in bins], [y[b].mean() for b in bins], color=color, linewidth=1.5)
        ax.set_title(family, fontsize=10)
        ax.set_xlabel(measure, fontsize=9)
        ax.set_ylim(-0.3, 5.3)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(families) :]:
        ax.axis("off")
    axes[0][0].set_ylabel("NCAP")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    folder.mkdir(parents=True, exist_ok=True)
    fig.savefig(folder / "score_by_difficulty.png", dpi=PLOT_DPI)
    plt.close(fig)
    return "plots/score_by_difficulty.png"


def _text(value) -> str:
    """A table cell's text: floats to two decimals, None empty."""
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else str(value)


def _sort_value(value) -> str:
    """What a cell sorts by: the number itself where there is one (the shown text is rounded)."""
    return "" if value is None else str(value)


def _recall_section(recalled: list[dict]) -> str:
    """The object-recall table (``summary.recall_rows``), each band's recall with its visible count; empty if none."""
    if not recalled:
        return ""
    keys = [k for k in recalled[0] if not k.endswith(" seen")]

    def cell(row: dict, key: str) -> str:
        seen = f" ({row[key + ' seen']})" if key + " seen" in row else ""
        return f"<td>{html.escape(_text(row[key]))}{seen}</td>"

    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(cell(row, k) for k in keys) + "</tr>" for row in recalled)
    return (
        '<section id="recall"><h2>Object recall</h2><p class="note">Perception meter: found / visible within 40 m, '
        f'with the visible count.</p><table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
        "</table></section>"
    )


_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True)
_ENVIRONMENT.filters.update(text=_text, sort_value=_sort_value)
_TEMPLATE = _ENVIRONMENT.from_string((Path(__file__).parent / "report.html.j2").read_text())
