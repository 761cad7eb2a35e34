"""Cost of vision planners: safetensors size and mean ``plan()`` time at 6 x 256 x 448, measured in the same run.

    python benchmarks/bench_planner.py --weights planners/weights/vision --weights OLD_WEIGHTS [--calls 30] \
        [--threads 2] [--out benchmarks/results/planner_cost.json]

The issue's budget: under 20 MB and under 50 ms per plan() on this 2-core CPU. Each row also gives the time
relative to the first weights', so a change of machine load shows up as a change in both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from occsim.planners.vision import WEIGHTS_DIR, WEIGHTS_NAME, load_guard
from occsim.training.planner_card import plan_milliseconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", action="append", type=Path, default=[])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default all cores)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = []
    for folder in args.weights or [WEIGHTS_DIR]:
        ms = plan_milliseconds(folder, (256, 448), calls=args.calls)
        rows.append(
            {
                "weights": str(folder),
                "megabytes": round((folder / WEIGHTS_NAME).stat().st_size / 1e6, 2),
                "guard": load_guard(folder) is not None,
                "plan_ms": round(ms, 1),
                "relative": round(ms / (rows[0]["plan_ms"] if rows else ms), 2),
            }
        )
    for row in rows:
        print(
            f"{row['weights']}: {row['megabytes']} MB, guard {'on' if row['guard'] else 'off'}, "
            f"{row['plan_ms']} ms per plan() ({row['relative']}x the first)"
        )
    if args.out:
        args.out.write_text(json.dumps({**_provenance(), "threads": torch.get_num_threads(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()


def _provenance() -> dict:
    """Where and when the figures were measured, for the docs' benchmark tables."""
    return {
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
