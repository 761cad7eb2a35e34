"""Choosing the occupancy guard's settings for a vision network on a benchmark's val split, never its test split.

Every candidate is the same network with one guard (or none: ``vision-net``), run in closed loop on the first
instances of every family of the split under each weather. The chosen candidate has the highest val score, the
mean over runs of ``(NCAP / 5 + route completion) / 2``: a guard that never collides because it never passes
(stopped behind a bus it could drive round) scores no better than one that passes and sometimes touches. Ties go
to fewer collisions, then to the simpler candidate (the earlier one in the list).

``out/candidates/<name>/`` holds each candidate as a weights folder (the network's safetensors copied, its own
``config.json``), ``out/suite`` the runs (a rerun resumes), ``out/guard_choice.json`` every candidate's figures
and the choice. Each guard's figures also give its val score minus the network alone's on the same runs, with a
standard error over instances, so a choice that these runs do not resolve reads as one.
"""

from __future__ import annotations

import itertools
import json
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from occsim.planners.occupancy_guard import DEFAULT_GUARD, OccupancyGuard
from occsim.planners.vision import CONFIG_NAME, WEIGHTS_NAME, load_guard
from occsim.suite.records import RunRecord
from occsim.suite.runner import SuiteConfig, run_suite
from occsim.suite.splits import load_split, split_tasks
from occsim.suite.summary import paired_difference, summarise

NETWORK_ALONE = "none"
CHOOSABLE_SPLITS = ("train", "val")  # the test split is for the model card only


@dataclass(frozen=True)
class GuardCandidate:
    """A named guard setting; ``guard`` None is the network alone."""

    name: str
    guard: OccupancyGuard | None


def grid_candidates(base: OccupancyGuard, grid: dict[str, list[float]]) -> list[GuardCandidate]:
    """The network alone, then ``base`` with every combination of ``grid``'s values (field -> values).

    Raises:
        ValueError: a field the guard does not have, or one with no values.
    """
    fields = set(asdict(base))
    for name, values in grid.items():
        if name not in fields:
            raise ValueError(f"guard has no setting '{name}'; it has {', '.join(sorted(fields))}")
        if not values:
            raise ValueError(f"guard setting '{name}' has no values")
    candidates = [GuardCandidate(NETWORK_ALONE, None)]
    names = list(grid)
    for values in itertools.product(*(grid[n] for n in names)):
        changes = dict(zip(names, values))
        if "swerve_offsets" in changes:  # a tuple setting: 0 never swerves, V swerves by V metres
            changes["swerve_offsets"] = (changes["swerve_offsets"],) if changes["swerve_offsets"] else ()
        label = ",".join(f"{k}={v:g}" for k, v in zip(names, values)) or "base"
        candidates.append(GuardCandidate(label, replace(base, **changes)))
    return candidates


def parse_grid(items: list[str]) -> dict[str, list[float]]:
    """``["threshold=0.6,0.8", "hold_time=0,3"]`` -> ``{"threshold": [0.6, 0.8], "hold_time": [0.0, 3.0]}``.

    Raises:
        ValueError: an item without ``=`` or a value that is not a number.
    """
    grid: dict[str, list[float]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--grid '{item}': expected SETTING=V1,V2,...")
        try:
            grid[name.strip()] = [float(v) for v in values.split(",") if v.strip()]
        except ValueError:
            raise ValueError(f"--grid '{item}': values must be numbers") from None
    return grid


def val_score(row: dict) -> float:
    """``(NCAP / 5 + route completion) / 2`` of a summary row (both in 0..1)."""
    return (row["ncap"] / 5 + row["route_completion"]) / 2


def run_val_score(record: RunRecord) -> float:
    """``val_score`` of one finished run."""
    return val_score({"ncap": record.scores.ncap, "route_completion": record.scores.route_completion})


def choose_guard(
    weights: Path,
    out: Path,
    candidates: list[GuardCandidate],
    benchmark: str = "longtail",
    split: str = "val",
    instances: int = 3,
    weathers: tuple[str, ...] = ("clear", "fog", "night", "rain"),
    workers: int = 2,
    **suite_options,
) -> dict:
    """Run every candidate on ``split`` and return (and write to ``out/guard_choice.json``) the figures and choice.

    ``suite_options`` are further ``SuiteConfig`` fields (renderer, camera_hw, ...); the default is the suite's.

    Raises:
        ValueError: ``split`` is the test split, or two candidates share a name.
    """
    if split not in CHOOSABLE_SPLITS:
        raise ValueError(
            f"settings are chosen on {' or '.join(CHOOSABLE_SPLITS)}, not '{split}': the test split is run once, "
            "for the model card"
        )
    if len({c.name for c in candidates}) != len(candidates):
        raise ValueError("guard candidates need distinct names")
    weights, out = Path(weights), Path(out)
    specs = {c.name: _candidate_spec(weights, out / "candidates", c) for c in candidates}
    chosen_split = load_split(benchmark, split)
    tasks = split_tasks(chosen_split, list(specs.values()), list(weathers), instances)
    suite_dir = out / "suite"
    suite = SuiteConfig(out_dir=suite_dir, workers=workers, no_video=True, resume=suite_dir.exists(), **suite_options)
    outcome = run_suite(tasks, suite)
    if outcome.interrupted:
        raise KeyboardInterrupt
    keys = {t.key for t in tasks}
    records = [r for r in outcome.records if r.key in keys]
    rows = summarise(records)
    table = [_candidate_figures(c, specs[c.name], rows) for c in candidates]
    if NETWORK_ALONE in specs:  # each guard against the network alone, on the same runs, with its standard error
        for c, figures in zip(candidates, table):
            if c.name != NETWORK_ALONE:
                figures["vs_network_alone"] = paired_difference(
                    records, specs[c.name], specs[NETWORK_ALONE], run_val_score
                )
    best = max(range(len(table)), key=lambda i: (table[i]["val_score"], -table[i]["collision_rate"], -i))
    result = {
        "weights": str(weights),
        "split": chosen_split.label,
        "instances_per_family": instances,
        "weathers": list(weathers),
        "objective": "mean of (NCAP / 5 + route completion) / 2 over the runs; ties: fewer collisions",
        "standard_error": "over instances: the weathers of one instance are one cluster",
        "candidates": table,
        "chosen": table[best]["name"],
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "guard_choice.json").write_text(json.dumps(result, indent=2))
    return result


def difference_text(figures: dict) -> str:
    """A candidate's ``vs_network_alone`` as "+0.011 ± 0.012" ("" for the network alone or older files)."""
    paired = figures.get("vs_network_alone")
    if not paired or paired["difference"] is None:
        return ""
    error = "" if paired["standard_error"] is None else f" ± {paired['standard_error']:.3f}"
    return f"{paired['difference']:+.3f}{error}"


def apply_choice(weights: Path, choice: dict) -> OccupancyGuard | None:
    """Write the chosen candidate's guard into ``weights/config.json`` (``null`` for the network alone)."""
    chosen = next(c for c in choice["candidates"] if c["name"] == choice["chosen"])
    guard = OccupancyGuard.from_dict(chosen["guard"]) if chosen["guard"] else None
    path = Path(weights) / CONFIG_NAME
    config = json.loads(path.read_text())
    config["guard"] = asdict(guard) if guard else None
    path.write_text(json.dumps(config, indent=2))
    return guard


def base_guard(weights: Path) -> OccupancyGuard:
    """The guard the weights carry, else the default one: the point the grid varies from."""
    return load_guard(weights) or DEFAULT_GUARD


def _candidate_spec(weights: Path, folder: Path, candidate: GuardCandidate) -> str:
    if candidate.guard is None:
        return f"vision-net:{weights}"
    target = folder / candidate.name.replace("/", "_")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights / WEIGHTS_NAME, target / WEIGHTS_NAME)
    config = json.loads((weights / CONFIG_NAME).read_text())
    config["guard"] = asdict(candidate.guard)
    (target / CONFIG_NAME).write_text(json.dumps(config, indent=2))
    return f"vision:{target}"


def _candidate_figures(candidate: GuardCandidate, spec: str, rows: list[dict]) -> dict:
    mine = [r for r in rows if r["planner"] == spec]
    runs = sum(r["runs"] for r in mine)

    def mean(key: str) -> float:
        return round(sum(r[key] * r["runs"] for r in mine) / max(1, runs), 4)

    figures = {k: mean(k) for k in ("ncap", "collision_rate", "route_completion", "pdms")}
    return {
        "name": candidate.name,
        "planner": spec,
        "guard": asdict(candidate.guard) if candidate.guard else None,
        "runs": runs,
        **figures,
        "val_score": round(val_score(figures), 4),
        "by_weather": {
            r["weather"]: {k: r[k] for k in ("runs", "ncap", "collision_rate", "route_completion")} for r in mine
        },
    }
