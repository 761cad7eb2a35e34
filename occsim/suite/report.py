"""``DIR/report.html``: a self-contained page (media beside it in DIR) showing where each planner fails."""

from __future__ import annotations

import html
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after choosing the headless backend
import numpy as np  # noqa: E402

from occsim.suite.ncap import grid_pictures, grid_rows, ncap_runs, section  # noqa: E402
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

RUN_COLUMNS = (
    ("scenario", "scenario"),
    ("planner", "planner"),
    ("weather", "weather"),
    ("run", "run"),
    ("seed", "seed"),
    ("outcome", "outcome"),
    ("ncap", "NCAP"),
    ("pdms", "PDMS"),
    ("route_completion", "route"),
    ("impact_speed", "impact [m/s]"),
    ("collided_with", "hit"),
    ("perceived_occupancy_miou", "perceived mIoU"),
)
FILTERS = ("planner", "weather", "scenario", "outcome")


def load_results(out_dir: Path) -> list[dict]:
    """Every complete line of DIR/results.jsonl."""
    path = out_dir / "results.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{out_dir} has no results.jsonl: run `occsim suite --out {out_dir}` first")
    records = []
    for line in path.read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line from a killed suite
    return records


def write_report(out_dir: Path) -> Path:
    """Write summary.csv, plots/*.png and report.html for the results in ``out_dir``; returns the page's path."""
    records = load_results(out_dir)
    rows = summarise(records)
    write_csv(rows, out_dir / "summary.csv")
    recalled = recall_rows(records)
    if recalled:
        write_recall_csv(recalled, out_dir / "recall.csv")
    families = family_rows(records)
    if families:
        write_family_csv(families, out_dir / "families.csv")
    plots = _plots(records, out_dir / "plots") + _difficulty_plot(records, out_dir / "plots")
    grids = grid_rows(ncap_runs(records))
    tests = section(grids, grid_pictures(grids, out_dir / "plots") if grids else [])
    page = out_dir / "report.html"
    page.write_text(_page(records, rows, plots, out_dir, recalled, families, tests))
    return page


def _plots(records: list[dict], folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    ok = [r for r in records if r.get("outcome") != "error"]
    if not ok:
        return []
    planners = sorted({r["planner"] for r in ok})
    written = []
    for axis, name in (("weather", "score_by_weather.png"), ("scenario", "score_by_scenario.png")):
        groups = sorted({r[axis] for r in ok})
        fig, panels = plt.subplots(1, 2, figsize=(max(8, 0.9 * len(groups) * len(planners)), 4.2), squeeze=False)
        width = 0.8 / len(planners)
        for panel, (field, label, top) in zip(
            panels[0], (("ncap", "mean NCAP score", 5.0), ("pdms", "mean PDMS", 1.0))
        ):
            for i, planner in enumerate(planners):
                means = [
                    np.mean([r[field] for r in ok if r["planner"] == planner and r[axis] == g] or [np.nan])
                    for g in groups
                ]
                panel.bar(np.arange(len(groups)) + i * width, means, width, label=planner)
            panel.set_xticks(np.arange(len(groups)) + width * (len(planners) - 1) / 2)
            panel.set_xticklabels(
                groups, rotation=35 if axis == "scenario" else 0, ha="right" if axis == "scenario" else "center"
            )
            panel.set_ylim(0, top)
            panel.set_ylabel(label)
            panel.set_title(f"{label} by {axis}")
            panel.grid(axis="y", alpha=0.3)
        panels[0][0].legend()
        fig.tight_layout()
        fig.savefig(folder / name, dpi=90)
        plt.close(fig)
        written.append(f"plots/{name}")
    return written


def _difficulty_plot(records: list[dict], folder: Path) -> list[str]:
    """NCAP against each family's first difficulty measure, one panel per family, a colour per planner.

    Dots are runs; the line joins the means of up to four equal-count bins of the measure.
    """
    runs = [r for r in records if r.get("outcome") != "error" and r.get("difficulty")]
    families = sorted({r["family"] for r in runs})
    if not families:
        return []
    planners = sorted({r["planner"] for r in runs})
    cols = min(4, len(families))
    rows = -(-len(families) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    rng = np.random.default_rng(0)  # vertical jitter so runs with equal scores stay visible; fixed for the page
    for ax, family in zip(axes.flat, families):
        group = [r for r in runs if r["family"] == family]
        measure = next(iter(group[0]["difficulty"]))
        for i, planner in enumerate(planners):
            mine = [r for r in group if r["planner"] == planner and measure in r["difficulty"]]
            if not mine:
                continue
            x = np.array([float(r["difficulty"][measure]) for r in mine])
            y = np.array([float(r["ncap"]) for r in mine])
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
    fig.savefig(folder / "score_by_difficulty.png", dpi=80)
    plt.close(fig)
    return ["plots/score_by_difficulty.png"]


def _family_section(families: list[dict]) -> str:
    """The per-family table (``summary.family_rows``); empty when no run came from a family."""
    if not families:
        return ""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in FAMILY_COLUMNS)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in FAMILY_COLUMNS) + "</tr>" for row in families
    )
    return f"<h2>Per family (all weathers)</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "" if value is None else html.escape(str(value))


def _recall_section(recalled: list[dict]) -> str:
    """The object-recall table (``summary.recall_rows``), each band's recall with its visible count; empty if none."""
    if not recalled:
        return ""
    keys = [k for k in recalled[0] if not k.endswith(" seen")]

    def cell(row: dict, key: str) -> str:
        seen = f" ({row[key + ' seen']})" if key + " seen" in row else ""
        return f"<td>{_cell(row[key])}{seen}</td>"

    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(cell(row, k) for k in keys) + "</tr>" for row in recalled)
    return (
        "<h2>Object recall (perception meter; found / visible within 40 m, visible count)</h2>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _page(
    records: list[dict],
    rows: list[dict],
    plots: list[str],
    out_dir: Path,
    recalled: list[dict],
    families: list[dict],
    tests: str = "",
) -> str:
    summary = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns(rows)) + "</tr>" for row in rows
    )
    options = {f: sorted({str(r.get(f, "")) for r in records}) for f in FILTERS}
    selects = "".join(
        f'<label>{f} <select data-filter="{f}"><option value="">all</option>'
        + "".join(f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in options[f])
        + "</select></label>"
        for f in FILTERS
    )
    body = []
    for r in sorted(
        records, key=lambda r: (r.get("scenario", ""), r.get("planner", ""), r.get("weather", ""), r.get("run", 0))
    ):
        attrs = " ".join(f'data-{f}="{html.escape(str(r.get(f, "")))}"' for f in FILTERS)
        cells = "".join(
            f'<td data-value="{html.escape(str(r.get(k, "")))}">{_cell(r.get(k))}</td>' for k, _ in RUN_COLUMNS
        )
        media = []
        if r.get("video") and (out_dir / r["video"]).exists():
            media.append(
                f'<video src="{html.escape(r["video"])}" controls muted loop preload="none" width="464"></video>'
            )
        if r.get("still") and (out_dir / r["still"]).exists():
            still = html.escape(r["still"])
            media.append(f'<a href="{still}"><img src="{still}" loading="lazy" width="232" alt="collision"></a>')
        if r.get("outcome") == "error":
            media.append(f'<pre class="error">{html.escape(r.get("error", ""))}</pre>')
        body.append(
            f'<tr class="{html.escape(str(r.get("outcome", "")))}" {attrs}>{cells}<td>{"".join(media)}</td></tr>'
        )
    images = "".join(f'<img src="{p}" alt="{p}">' for p in plots)
    head = "".join(f"<th>{c}</th>" for c in columns(rows))
    run_head = "".join(f'<th class="sortable" data-key="{k}">{label}</th>' for k, label in RUN_COLUMNS)
    return _TEMPLATE.format(
        n=len(records),
        summary_head=head,
        summary=summary,
        recall=_recall_section(recalled),
        families=_family_section(families),
        tests=tests,
        images=images,
        selects=selects,
        run_head=run_head,
        runs="".join(body),
    )


_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>OccSim suite report</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.8em 0; }}
td, th {{ border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; font-size: 14px; }}
th.sortable {{ cursor: pointer; background: #f2f2f2; }}
tr.collision td:nth-child(6) {{ color: #b00; font-weight: bold; }}
tr.goal td:nth-child(6) {{ color: #070; }}
tr.error td:nth-child(6) {{ color: #90c; }}
pre.error {{ white-space: pre-wrap; max-width: 40em; color: #90c; }}
.plots img {{ max-width: 48%; margin-right: 1%; }}
img.grid {{ max-width: 48%; margin: 0 1% 0.5em 0; }}
label {{ margin-right: 1em; }}
</style></head><body>
<h1>OccSim suite report</h1>
<p>{n} runs. NCAP: 5 without collision, else 4 &middot; (1 &minus; v<sub>impact</sub> / v<sub>constant-velocity</sub>).
PDMS = NC &middot; DAC &middot; (5 TTC + 5 EP + 2 C) / 12.</p>
<h2>Summary (per planner and weather)</h2>
<table id="summary"><thead><tr>{summary_head}</tr></thead><tbody>{summary}</tbody></table>
{families}
{tests}
{recall}
<div class="plots">{images}</div>
<h2>Runs</h2>
<div id="filters">{selects} <span id="shown"></span></div>
<table id="runs"><thead><tr>{run_head}<th>video / collision</th></tr></thead><tbody>{runs}</tbody></table>
<script>
(function () {{
  const rows = Array.from(document.querySelectorAll("#runs tbody tr"));
  const selects = Array.from(document.querySelectorAll("select[data-filter]"));
  function apply() {{
    let shown = 0;
    rows.forEach(function (row) {{
      const ok = selects.every(function (s) {{ return !s.value || row.dataset[s.dataset.filter] === s.value; }});
      row.style.display = ok ? "" : "none";
      if (ok) shown += 1;
    }});
    document.getElementById("shown").textContent = shown + " of " + rows.length + " runs";
  }}
  selects.forEach(function (s) {{ s.addEventListener("change", apply); }});
  document.querySelectorAll("th.sortable").forEach(function (th, column) {{
    th.addEventListener("click", function () {{
      const body = document.querySelector("#runs tbody");
      const descending = th.dataset.order !== "desc";
      th.dataset.order = descending ? "desc" : "asc";
      rows.sort(function (a, b) {{
        const x = a.children[column].dataset.value, y = b.children[column].dataset.value;
        const nx = parseFloat(x), ny = parseFloat(y);
        const cmp = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return descending ? -cmp : cmp;
      }});
      rows.forEach(function (row) {{ body.appendChild(row); }});
    }});
  }});
  apply();
}})();
</script>
</body></html>
"""
