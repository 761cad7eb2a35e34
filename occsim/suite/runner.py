"""Running a suite: reference rollouts and runs on worker processes or Ray, streamed into results.jsonl.

At most ``workers`` runs are in flight at once, so killing the suite loses at most those; the main process is the
only writer of the JSONL files, and ``--resume`` skips every key already written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from occsim.suite.episode import SLOW_STEP
from occsim.suite.jobs import JobOptions, reference_job, run_job
from occsim.suite.provenance import suite_provenance
from occsim.suite.records import ReferenceKey, ReferenceRecord, RunRecord
from occsim.suite.store import JsonlStore, StoreWriteError, SuiteLock, check_configuration
from occsim.suite.tasks import Task
from occsim.suite.watchdog import DEFAULT_PLANNER_TIMEOUT
from occsim.suite.workers import Job, ProcessBackend, RayBackend
from occsim.types import DEFAULT_CAMERA_HW


@dataclass
class SuiteConfig:
    """How to run a suite."""

    out_dir: Path
    workers: int = 1  # parallel runs (processes, or Ray CPUs)
    ray_address: str | None = None  # "local" for ray.init() here, an address for a cluster, None: no Ray
    renderer: str = "raster"
    renderer_kwargs: dict = field(default_factory=dict)  # the renderer's options (weights, steps, device, ...)
    camera_hw: tuple[int, int] = DEFAULT_CAMERA_HW
    perception_meter: bool = False  # score every frame's perceived occupancy (perceived_occupancy_miou)
    no_video: bool = False
    planner_timeout: float | None = DEFAULT_PLANNER_TIMEOUT  # per reset() / plan() call; None: no limit
    resume: bool = False
    seed: int = 0  # the base seed the tasks' seeds derive from (recorded, so a resume cannot mix seeds)
    imports: list[str] = field(default_factory=list)  # modules that register user planners, imported by workers
    threads_per_run: int | None = None  # numba / torch threads per run; default cores // workers


@dataclass
class SuiteOutcome:
    """What a suite did in this invocation."""

    records: list[RunRecord]  # every result in the folder, old and new
    ran: int  # runs finished in this invocation
    skipped: int  # already in results.jsonl
    interrupted: bool
    stopped: str | None = None  # why the suite stopped early (the disk refused a record), else None


def run_suite(tasks: list[Task], config: SuiteConfig, console: Console | None = None) -> SuiteOutcome:
    """Run ``tasks`` into ``config.out_dir``; see the module docstring for what is kept when things go wrong.

    Reference rollouts and runs share one queue: a run starts as soon as its references are recorded, so no core
    idles at a phase boundary. Longer scenarios go first, so the last runs to finish are short ones.
    """
    console = console or Console(stderr=True)
    out = config.out_dir
    lock = SuiteLock(out, config.resume)
    try:
        check_configuration(out, configuration(config, tasks), config.resume)
        # a resume retries what failed: error records go, and their runs happen again
        references = JsonlStore(
            out / "references.jsonl", ReferenceRecord.from_json, lambda r: r.key, retry=lambda r: r.error is not None
        )
        results = JsonlStore(out / "results.jsonl", RunRecord.from_json, lambda r: r.key, retry=lambda r: r.failed)
        backend = _make_backend(config)
    except BaseException:
        lock.release()
        raise
    if results.retried:
        console.print(f"retrying {results.retried} runs that ended in an error", markup=False)
    todo = sorted((t for t in tasks if t.key not in results), key=lambda t: -t.scenario.duration / t.scenario.dt)
    threads = config.threads_per_run or backend.threads_per_job
    jobs = _Jobs(todo, references, _job_options(config), threads, config.planner_timeout)
    tally = _Tally(0)
    try:
        _drive(backend, jobs, references, results, tally, console)
    except KeyboardInterrupt:
        tally.interrupted = True
        kept = f"interrupted: {tally.ran} runs finished in this invocation are kept in {out / 'results.jsonl'}"
        console.print(kept, markup=False)
    except StoreWriteError as e:
        tally.interrupted, tally.stopped = True, str(e)
        console.print(f"stopped: {e}; the {tally.ran} runs recorded before it are kept, every line whole", markup=False)
    finally:
        backend.close(kill=tally.interrupted)
        results.close()
        references.close()
        lock.release()
    return SuiteOutcome(
        records=list(results.records.values()),
        ran=tally.ran,
        skipped=len(tasks) - len(todo),
        interrupted=tally.interrupted,
        stopped=tally.stopped,
    )


@dataclass
class _Tally:
    """What this invocation has done so far."""

    ran: int
    interrupted: bool = False
    stopped: str | None = None


class _Jobs:
    """The shared queue: reference rollouts first, then each run as soon as its references are recorded."""

    def __init__(
        self,
        todo: list[Task],
        references: JsonlStore[ReferenceRecord],
        options: JobOptions,
        threads: int,
        planner_timeout: float | None,
    ):
        self.references, self.options, self.threads = references, options, threads
        self.runs = len(todo)
        self.waiting = list(todo)
        self.ref_key = {t.key: ReferenceKey(t.scenario.name, t.seed) for t in todo}
        needed = {self.ref_key[t.key]: t.scenario for t in todo if self.ref_key[t.key] not in references}
        self.refs = len(needed)
        self.queue = [
            Job("ref", reference_job, (scenario, key.seed, threads, planner_timeout), key)
            for key, scenario in needed.items()
        ]
        self.release_ready()

    def release_ready(self) -> None:
        """Runs whose references are recorded join the queue, in their (longest-first) order."""
        ready = [t for t in self.waiting if self.ref_key[t.key] in self.references]
        self.waiting = [t for t in self.waiting if self.ref_key[t.key] not in self.references]
        self.queue.extend(
            Job("run", run_job, (t, self.references.records[self.ref_key[t.key]], self.options, self.threads), t)
            for t in ready
        )


def _drive(
    backend,
    jobs: _Jobs,
    references: JsonlStore[ReferenceRecord],
    results: JsonlStore[RunRecord],
    tally: _Tally,
    console: Console,
) -> None:
    """Run the queue on the backend with progress bars, recording each reference and result as it comes."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        ref_bar = progress.add_task("reference rollouts", total=jobs.refs, note="failed 0")
        run_bar = progress.add_task("runs", total=jobs.runs, note="failed 0")
        steps = StepBars(progress)
        failed_refs = failed_runs = 0
        for kind, record in backend.run(jobs.queue, refill=jobs.release_ready, on_crash=_crash_record):
            if kind is None:  # a pause while runs are in flight: show the slow ones' steps
                steps.show(backend.progress())
            elif kind == "ref":
                references.append(record)
                failed_refs += record.error is not None
                progress.update(ref_bar, advance=1, note=f"failed {failed_refs}")
            elif results.append(record):
                tally.ran += 1
                failed_runs += record.failed
                progress.update(run_bar, advance=1, note=f"failed {failed_runs}")


def _job_options(config: SuiteConfig) -> JobOptions:
    return JobOptions(
        out_dir=config.out_dir,
        renderer=config.renderer,
        renderer_kwargs=dict(config.renderer_kwargs),
        camera_hw=tuple(config.camera_hw),
        perception_meter=config.perception_meter,
        no_video=config.no_video,
        planner_timeout=config.planner_timeout,
        imports=tuple(config.imports),
    )


def configuration(config: SuiteConfig, tasks: list[Task] | None = None) -> dict:
    """What decides a suite's scores, recorded in its folder: a resume must match it.

    With ``tasks``, also what produced the figures: each planner's spec and weights hash, and the benchmark splits
    run (see ``occsim.suite.provenance``); a resume may add planners, but not change a recorded planner's weights.
    """
    tasks = tasks or []
    labels = [t.origin["benchmark"] for t in tasks if t.origin and t.origin.get("benchmark")]
    return {
        "seed": config.seed,
        "renderer": config.renderer,
        "renderer_kwargs": dict(config.renderer_kwargs),
        "camera_hw": list(config.camera_hw),
        "perception_meter": config.perception_meter,
        **suite_provenance([t.planner for t in tasks], labels),
    }


class StepBars:
    """One progress bar per run in flight whose steps are slow (over SLOW_STEP seconds each: a learned renderer)."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.bars: dict[int, TaskID] = {}  # id(item) -> its bar

    def show(self, in_flight: list[tuple[object, int, int, float]]) -> None:
        """Update the bars from (item, steps done, steps in all, seconds running) of each job in flight."""
        live = set()
        for item, done, total, seconds in in_flight:
            key = id(item)
            live.add(key)
            slow = seconds / max(done, 1) > SLOW_STEP
            if key not in self.bars and slow and total:
                self.bars[key] = self.progress.add_task(f"  {_label(item)}", total=total, note="steps")
            if key in self.bars:
                self.progress.update(self.bars[key], completed=done)
        for key in [k for k in self.bars if k not in live]:
            self.progress.remove_task(self.bars.pop(key))


def _label(item: Task | ReferenceKey) -> str:
    """A job in words: a run's scenario / planner / weather / copy, or a reference rollout's scenario and seed."""
    if isinstance(item, Task):
        return f"{item.scenario.name} / {item.planner} / {item.weather or 'own'} / r{item.run}"
    return f"references {item.scenario} seed {item.seed}"


def _crash_record(kind: str, item: Task | ReferenceKey, message: str) -> RunRecord | ReferenceRecord:
    """The record of a job whose worker died or overran the planner timeout."""
    if isinstance(item, ReferenceKey):
        return ReferenceRecord(item.scenario, item.seed, error=f"reference rollouts: {message}")
    error = f"planner '{item.planner}' {message}" if message.startswith("took longer") else message
    return RunRecord.of_task(item, error=error)


def _make_backend(config: SuiteConfig):
    if config.ray_address is not None:
        return RayBackend(config.workers, config.ray_address)
    return ProcessBackend(config.workers, config.planner_timeout)
