"""The work a suite hands to worker processes or Ray tasks. Every job returns its record, never raises."""

from __future__ import annotations

import importlib
import os
import platform
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

import occsim
from occsim.metrics.scores import run_scores
from occsim.scenario import Scenario
from occsim.suite.episode import run_episode
from occsim.suite.records import ReferenceRecord, RunRecord, WorkerInfo
from occsim.suite.tasks import Task

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


def reference_job(scenario: Scenario, seed: int, threads: int, planner_timeout: float | None = None) -> ReferenceRecord:
    """The no-intervention impact speed (NCAP's v_ref) and the expert's progress curve (EP) on this seed.

    No intervention is constant velocity straight on, or, for an OpenSCENARIO test, along the test's path (a
    turn-across-path test turns into its target).
    """
    set_threads(threads)
    common = {"renderer": "blank", "seed": seed, "camera_hw": REFERENCE_HW, "planner_timeout": planner_timeout}
    baseline = "no_intervention" if scenario.openscenario is not None else "constant_velocity"
    try:
        cv = run_episode(scenario, baseline, **common)
        expert = run_episode(scenario, "expert", **common)
    except BaseException as e:  # noqa: BLE001 - a job never raises: every failure is its record
        return ReferenceRecord(scenario.name, seed, error=repr(e), traceback=traceback.format_exc(limit=8))
    progress = tuple(round(h.progress, 4) for h in expert.history)
    return ReferenceRecord(scenario.name, seed, cv.impact_speed if cv.collision else 0.0, progress)


@dataclass(frozen=True)
class JobOptions:
    """What every run of a suite shares (``SuiteConfig``'s part that the workers need)."""

    out_dir: Path  # the suite's folder: videos/ and stills/ go in it
    renderer: str
    renderer_kwargs: dict  # the renderer's options
    camera_hw: tuple[int, int]
    perception_meter: bool
    no_video: bool
    planner_timeout: float | None  # [s] per reset() / plan() call; None: no limit
    imports: tuple[str, ...]  # modules that register user planners or renderers


def run_job(task: Task, reference: ReferenceRecord | None, options: JobOptions, threads: int) -> RunRecord:
    """One run: drive, score against the reference, write the video and still; errors become the record."""
    set_threads(threads)
    import_plugins(list(options.imports))
    out = options.out_dir
    worker = WorkerInfo(options.renderer, options.renderer_kwargs, versions(), os.getpid())
    try:
        if reference is None or reference.error is not None:
            raise RuntimeError(f"reference rollouts failed: {reference.error if reference else 'missing'}")
        video = None if options.no_video else out / "videos" / f"{task.file_stem}.mp4"
        still = out / "stills" / f"{task.file_stem}.png"
        result = run_episode(
            task.scenario,
            task.planner,
            weather=task.weather,
            renderer=options.renderer,
            renderer_kwargs=options.renderer_kwargs,
            perception_meter=options.perception_meter,
            seed=task.seed,
            camera_hw=options.camera_hw,
            video=video,
            still=still,
            planner_timeout=options.planner_timeout,
        )
        scores = run_scores(result.history, reference.reference)
        return replace(
            RunRecord.of_task(task, worker=worker),
            weather=result.weather,
            episode=replace(result, history=[]),  # the history stays here: records cross processes
            scores=scores,
            video=str(video.relative_to(out)) if video else None,
            still=str(still.relative_to(out)) if result.collision else None,
        )
    except BaseException as e:  # noqa: BLE001 - SystemExit or KeyboardInterrupt from a planner end only this run
        error = f"{type(e).__name__}: {e}"
        return RunRecord.of_task(task, worker=worker, error=error, traceback=traceback.format_exc(limit=8))
