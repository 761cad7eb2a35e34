"""Planner transfer: whether a planner behaves in a learned renderer's views as in the raster world they show.

NAVSIM v2 asks whether a pseudo-simulation ranks planners as closed loop does; here the same planner, scenarios,
seeds and weathers run under the raster renderer and a learned one, and the gap between the two is the renderer's
fidelity as a simulator user sees it.
"""

from __future__ import annotations

import numpy as np

SCORES = ("ncap", "collision_rate", "route_completion", "pdms")


def planner_transfer(records: list[dict], reference: str = "raster") -> list[dict]:
    """One row per (renderer, planner, weather): mean scores and the gap to the ``reference`` renderer.

    Only runs that finished under both renderers are compared (same scenario, copy, seed, planner and weather), so
    the gap is never a difference of two different run sets. Error records count as unfinished.

    Args:
        records: result records of suites run with several renderers (``results.jsonl`` lines).
        reference: the renderer the others are compared with.

    Returns:
        Rows with ``renderer``, ``planner``, ``weather``, ``runs``, each of SCORES and ``<score>_gap`` (renderer
        minus reference; 0 for the reference itself).
    """
    finished = [r for r in records if r.get("outcome") not in (None, "error")]
    by_run = {(r["renderer"], r["planner"], r["weather"], r["scenario"], r["run"], r["seed"]): r for r in finished}
    rows = []
    for renderer, planner, weather in sorted({(r["renderer"], r["planner"], r["weather"]) for r in finished}):
        pairs = [
            (run, by_run[(reference, *key[1:])])
            for key, run in by_run.items()
            if key[:3] == (renderer, planner, weather) and (reference, *key[1:]) in by_run
        ]
        if not pairs:
            continue
        mine, theirs = _means([p[0] for p in pairs]), _means([p[1] for p in pairs])
        row = {"renderer": renderer, "planner": planner, "weather": weather, "runs": len(pairs), **mine}
        row.update({f"{k}_gap": round(mine[k] - theirs[k], 4) for k in SCORES})
        rows.append(row)
    return rows


def _means(runs: list[dict]) -> dict[str, float]:
    return {
        "ncap": round(float(np.mean([r["ncap"] for r in runs])), 4),
        "collision_rate": round(float(np.mean([bool(r["collision"]) for r in runs])), 4),
        "route_completion": round(float(np.mean([r["route_completion"] for r in runs])), 4),
        "pdms": round(float(np.mean([r["pdms"] for r in runs])), 4),
    }
