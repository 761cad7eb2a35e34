"""The work a suite hands to worker processes or Ray tasks. Every job returns a JSON-ready dict, never raises."""

from __future__ import annotations

import importlib
import os
import platform
import traceback
from pathlib import Path

import numpy as np

import occsim
from occsim.metrics.scores import run_scores
from occsim.scenario import Scenario
from occsim.suite.episode import run_episode
from occsim.suite.tasks import Task
from occsim.types import ReferenceRun

REFERENCE_HW = (8, 8)  # reference rollouts use the blank renderer: image size does not matter


def import_plugins(modules: list[str]) -> None:
    """Import user modules that register planners or renderers (workers start fresh and need them too)."""
    for module in modules:
        importlib.import_module(module)


def set_threads(threads: int) -> None:
    """Limit numba and torch threads so parallel workers do not oversubscribe the cores."""
    import numba
    import torch

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    torch.set_num_threads(max(1, threads))


def versions() -> dict[str, str]:
    """Versions that decide whether two results are comparable."""
    import torch

    return {
        "occsim": occsim.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
    }


def reference_job(scenario: Scenario, seed: int, threads: int, planner_timeout: float | None = None) -> dict:
    """The no-intervention impact speed (NCAP's v_ref) and the expert's progress curve (EP) on this seed.

    No intervention is constant velocity straight on, or, for an OpenSCENARIO test, along the test's path (a
    turn-across-path test turns into its target).
    """
    set_threads(threads)
    record = {"scenario": scenario.name, "seed": seed}
    common = {"renderer": "blank", "seed": seed, "camera_hw": REFERENCE_HW, "planner_timeout": planner_timeout}
    baseline = "no_intervention" if scenario.openscenario is not None else "constant_velocity"
    try:
        cv = run_episode(scenario, baseline, **common)
        expert = run_episode(scenario, "expert", **common)
    except BaseException as e:  # noqa: BLE001 - a job never raises: every failure is its record
        return {**record, "error": repr(e), "traceback": traceback.format_exc(limit=8)}
    return {
        **record,
        "impact_speed": cv.impact_speed if cv.collision else 0.0,
        "expert_progress": [round(h.progress, 4) for h in expert.history],
    }


def run_job(task: Task, reference: dict | None, options: dict, threads: int) -> dict:
    """One run: drive, score against the reference, write the video and still; errors become the record."""
    set_threads(threads)
    import_plugins(options.get("imports", []))
    out = Path(options["out_dir"])
    record = {
        **task.identity(),
        "renderer": options["renderer"],
        "renderer_kwargs": options.get("renderer_kwargs", {}),
        "versions": versions(),
        "pid": os.getpid(),
    }
    try:
        if reference is None or "error" in reference:
            raise RuntimeError(f"reference rollouts failed: {reference.get('error') if reference else 'missing'}")
        video = None if options["no_video"] else out / "videos" / f"{task.file_stem}.mp4"
        still = out / "stills" / f"{task.file_stem}.png"
        result = run_episode(
            task.scenario,
            task.planner,
            weather=task.weather,
            renderer=options["renderer"],
            renderer_kwargs=options.get("renderer_kwargs"),
            perception_meter=options.get("perception_meter", False),
            seed=task.seed,
            camera_hw=tuple(options["camera_hw"]),
            video=video,
            still=still,
            planner_timeout=options.get("planner_timeout"),
        )
        ref = ReferenceRun(reference["impact_speed"], tuple(reference["expert_progress"]))
        scores = run_scores(result.history, ref)
        record.update(result.to_dict())
        record.pop("version")  # the "versions" entry has it, beside torch's and numpy's
        record.update(scores.to_dict())
        record["weather"] = result.weather
        record["video"] = str(video.relative_to(out)) if video else None
        record["still"] = str(still.relative_to(out)) if result.collision else None
    except BaseException as e:  # noqa: BLE001 - SystemExit or KeyboardInterrupt from a planner end only this run
        record.update(
            {"outcome": "error", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=8)}
        )
    return record
