"""Planner transfer of the learned renderers: the same planners, scenarios, seeds and weathers under raster and a
learned renderer, and the gap of each score to raster (``occsim.metrics.transfer``).

    python benchmarks/bench_transfer.py --renderer syntheocc --option init=raster --option strength=0.5 \
        --planner vision --planner constant_velocity --weather clear,fog [--scenario bus_ahead ...] \
        [--camera-hw 256x448] [--runs 1] [--workers 2] [--perception-meter] [--label NAME] --out runs/transfer

Each renderer's suite lands in OUT/<label> (default the renderer's name; resumable); the transfer table is printed and
written to OUT/transfer.json, and with --perception-meter the object recall per renderer to OUT/recall.json.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from occsim.cli.common import renderer_options
from occsim.metrics.transfer import SCORES, planner_transfer
from occsim.suite.runner import SuiteConfig, run_suite
from occsim.suite.summary import recall_rows
from occsim.suite.tasks import collect_scenarios, expand_tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--renderer", default="syntheocc")
    parser.add_argument("--option", action="append", default=[], help="renderer option KEY=VALUE (JSON values)")
    parser.add_argument("--planner", action="append", default=[])
    parser.add_argument("--weather", default="clear,fog")
    parser.add_argument("--scenario", action="append", default=[])
    parser.add_argument("--camera-hw", default="256x448")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/transfer"))
    parser.add_argument("--perception-meter", action="store_true", help="also object recall and perceived mIoU")
    parser.add_argument("--label", default=None, help="name of the learned setting's folder and rows")
    args = parser.parse_args()
    options = renderer_options(args.option)
    scenarios, problems = collect_scenarios(args.scenario)
    if problems:
        raise SystemExit("\n".join(problems))
    weathers = [None if w == "own" else w for w in args.weather.split(",")]
    tasks = expand_tasks(scenarios, args.planner or ["vision", "constant_velocity"], weathers, args.runs, 0)
    hw = tuple(int(v) for v in args.camera_hw.split("x"))
    records, recall = [], {}
    label = args.label or args.renderer
    for name, renderer, kwargs in (("raster", "raster", {}), (label, args.renderer, options)):
        out = args.out / name
        config = SuiteConfig(
            out_dir=out,
            workers=args.workers,
            renderer=renderer,
            renderer_kwargs=kwargs,
            camera_hw=hw,
            no_video=True,
            resume=out.exists(),
            perception_meter=args.perception_meter,
        )
        runs = [replace(r, worker=replace(r.worker, renderer=name)) for r in run_suite(tasks, config).records]
        records += runs
        recall[name] = recall_rows(runs)
    rows = planner_transfer([r.to_json() for r in records])
    (args.out / "transfer.json").write_text(json.dumps(rows, indent=1))
    if args.perception_meter:
        (args.out / "recall.json").write_text(json.dumps(recall, indent=1))
    header = ["renderer", "planner", "weather", "runs", *SCORES, *(f"{k}_gap" for k in SCORES)]
    print(" | ".join(header))
    for row in rows:
        print(" | ".join(f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in header))


if __name__ == "__main__":
    main()
