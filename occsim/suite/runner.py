"""Running a suite: reference rollouts and runs on worker processes or Ray, streamed into results.jsonl.

At most ``workers`` runs are in flight at once, so killing the suite loses at most those; the main process is the
only writer of the JSONL files, and ``--resume`` skips every key already written.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from occsim.suite.jobs import reference_job, run_job
from occsim.suite.store import JsonlStore, SuiteLock
from occsim.suite.tasks import Task


@dataclass
class SuiteConfig:
    """How to run a suite."""

    out_dir: Path
    workers: int = 1  # parallel runs (processes, or Ray CPUs)
    ray_address: str | None = None  # "local" for ray.init() here, an address for a cluster, None: no Ray
    renderer: str = "raster"
    renderer_kwargs: dict = field(default_factory=dict)  # the renderer's options (weights, steps, device, ...)
    camera_hw: tuple[int, int] = (256, 448)
    perception_meter: bool = False  # score every frame's perceived occupancy (perceived_occupancy_miou)
    no_video: bool = False
    planner_timeout: float | None = None
    resume: bool = False
    imports: list[str] = field(default_factory=list)  # modules that register user planners, imported by workers
    threads_per_run: int | None = None  # numba / torch threads per run; default cores // workers


@dataclass
class SuiteOutcome:
    """What a suite did in this invocation."""

    records: list[dict]  # every result in the folder, old and new
    ran: int  # runs finished in this invocation
    skipped: int  # already in results.jsonl
    interrupted: bool


def run_suite(tasks: list[Task], config: SuiteConfig, console: Console | None = None) -> SuiteOutcome:
    """Run ``tasks`` into ``config.out_dir``; see the module docstring for what is kept when things go wrong.

    Reference rollouts and runs share one queue: a run starts as soon as its references are recorded, so no core
    idles at a phase boundary. Longer scenarios go first, so the last runs to finish are short ones.
    """
    console = console or Console(stderr=True)
    out = config.out_dir
    lock = SuiteLock(out, config.resume)
    references = JsonlStore(out / "references.jsonl", ("scenario", "seed"))
    results = JsonlStore(out / "results.jsonl", "key")
    backend = _make_backend(config)
    threads = config.threads_per_run or backend.threads_per_job
    options = {
        "out_dir": str(out),
        "renderer": config.renderer,
        "renderer_kwargs": dict(config.renderer_kwargs),
        "camera_hw": list(config.camera_hw),
        "perception_meter": config.perception_meter,
        "no_video": config.no_video,
        "planner_timeout": config.planner_timeout,
        "imports": list(config.imports),
    }
    todo = sorted((t for t in tasks if t.key not in results), key=lambda t: -t.scenario.duration / t.scenario.dt)
    skipped = len(tasks) - len(todo)
    ref_key = {t.key: references.key_of({"scenario": t.scenario.name, "seed": t.seed}) for t in todo}
    ref_jobs = {ref_key[t.key]: (t.scenario, t.seed) for t in todo if ref_key[t.key] not in references}
    interrupted, ran = False, 0
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=console) as progress:
            ref_bar = progress.add_task("reference rollouts", total=len(ref_jobs), failed=0)
            run_bar = progress.add_task("runs", total=len(todo), failed=0)
            queue: list[tuple[str, Callable, tuple, object]] = [
                ("ref", reference_job, (scenario, seed, threads), key) for key, (scenario, seed) in ref_jobs.items()
            ]
            waiting = list(todo)
            failed = {"ref": 0, "run": 0}

            def release_ready() -> None:
                # runs whose references are recorded join the queue, in their (longest-first) order
                nonlocal waiting
                ready = [t for t in waiting if ref_key[t.key] in references]
                waiting = [t for t in waiting if ref_key[t.key] not in references]
                queue.extend(
                    ("run", run_job, (t, references.records[ref_key[t.key]], options, threads), t) for t in ready
                )

            release_ready()
            for kind, record in backend.run(queue, refill=release_ready, on_crash=_crash_record):
                if kind == "ref":
                    references.append(record)
                    failed["ref"] += "error" in record
                    progress.update(ref_bar, advance=1, failed=failed["ref"])
                elif results.append(record):
                    ran += 1
                    failed["run"] += record.get("outcome") == "error"
                    progress.update(run_bar, advance=1, failed=failed["run"])
    except KeyboardInterrupt:
        interrupted = True
        console.print(f"interrupted: {ran} runs finished in this invocation are kept in {out / 'results.jsonl'}")
    finally:
        backend.close(kill=interrupted)
        results.close()
        references.close()
        lock.release()
    return SuiteOutcome(records=list(results.records.values()), ran=ran, skipped=skipped, interrupted=interrupted)


def _crash_record(kind: str, item, error: BaseException) -> dict:
    """The record of a job whose worker process died."""
    message = f"worker died: {type(error).__name__}: {error}"
    if kind == "ref":
        scenario, seed = item.split("|")
        return {"scenario": scenario, "seed": int(seed), "error": message}
    t: Task = item
    return {**t.identity(), "outcome": "error", "error": message}


def _make_backend(config: SuiteConfig):
    if config.ray_address is not None:
        return RayBackend(config.workers, config.ray_address)
    return ProcessBackend(config.workers)


def _ignore_sigint() -> None:
    # Ctrl-C is the main process's to handle: it stops the workers itself, without a traceback from each.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ProcessBackend:
    """Worker processes (spawned, so no thread pools are forked), at most ``workers`` jobs in flight."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)
        self.threads_per_job = max(1, (os.cpu_count() or 1) // self.workers)
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.workers, mp_context=context, initializer=_ignore_sigint)

    def run(self, queue: list, refill: Callable[[], None], on_crash: Callable) -> Iterable[tuple]:
        """Run (kind, fn, args, item) jobs from ``queue`` (which ``refill`` may grow), at most ``workers`` at once.

        Yields (kind, result) as jobs finish; a job whose worker died yields ``on_crash(kind, item, error)``
        and the pool is rebuilt, with the jobs that were running beside it queued again.
        """
        running: dict[Future, tuple] = {}
        while queue or running:
            while queue and len(running) < self.workers:
                job = queue.pop(0)
                running[self._pool.submit(job[1], *job[2])] = job
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                job = running.pop(future)
                try:
                    result = future.result()
                except BrokenProcessPool as e:
                    yield job[0], on_crash(job[0], job[3], e)
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._new_pool()
                    queue[:0] = list(running.values())  # innocent bystanders run again
                    running.clear()
                    break
                yield job[0], result
            refill()

    def close(self, kill: bool) -> None:
        """Stop the pool; with ``kill`` do not wait for runs in flight."""
        if kill:
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=not kill, cancel_futures=True)


class RayBackend:
    """The same jobs as Ray tasks (one CPU each); ``address`` "local" starts Ray on this machine."""

    def __init__(self, workers: int, address: str):
        try:
            import ray
        except ImportError:
            raise RuntimeError("--ray needs Ray: pip install 'occsim[distributed]'") from None
        self.ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            if address == "local":
                ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False)
            else:
                ray.init(address=address, log_to_driver=False)
        self.workers = max(1, int(ray.available_resources().get("CPU", workers)))
        self.threads_per_job = 1
        self._remote: dict[Callable, object] = {}

    def run(self, queue: list, refill: Callable[[], None], on_crash: Callable) -> Iterable[tuple]:
        """As ``ProcessBackend.run``, with Ray tasks of one CPU each."""
        running: dict = {}
        while queue or running:
            while queue and len(running) < self.workers:
                job = queue.pop(0)
                remote = self._remote.setdefault(job[1], self.ray.remote(num_cpus=1, max_retries=0)(job[1]))
                running[remote.remote(*job[2])] = job
            done, _ = self.ray.wait(list(running), num_returns=1)
            for ref in done:
                job = running.pop(ref)
                try:
                    result = self.ray.get(ref)
                except Exception as e:  # the worker process died (Ray wraps it)
                    result = on_crash(job[0], job[3], e)
                yield job[0], result
            refill()

    def close(self, kill: bool) -> None:
        """Stop Ray if this backend started it; a session the caller opened is left running."""
        if self._started:
            self.ray.shutdown()
