"""Running a suite: reference rollouts, then every task, on worker processes or Ray, streamed into results.jsonl.

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
    camera_hw: tuple[int, int] = (256, 448)
    no_video: bool = False
    planner_timeout: float | None = None
    resume: bool = False
    imports: list[str] = field(default_factory=list)  # modules that register user planners, imported by workers


@dataclass
class SuiteOutcome:
    """What a suite did in this invocation."""

    records: list[dict]  # every result in the folder, old and new
    ran: int  # runs finished in this invocation
    skipped: int  # already in results.jsonl
    interrupted: bool


def run_suite(tasks: list[Task], config: SuiteConfig, console: Console | None = None) -> SuiteOutcome:
    """Run ``tasks`` into ``config.out_dir``; see the module docstring for what is kept when things go wrong."""
    console = console or Console(stderr=True)
    out = config.out_dir
    lock = SuiteLock(out, config.resume)
    references = JsonlStore(out / "references.jsonl", ("scenario", "seed"))
    results = JsonlStore(out / "results.jsonl", "key")
    backend = _make_backend(config)
    interrupted = False
    skipped = sum(t.key in results for t in tasks)
    ran = 0
    try:
        ref_jobs = {}
        for t in tasks:
            key = f"{t.scenario.name}|{t.seed}"
            if key not in references and t.key not in results:
                ref_jobs[key] = (t.scenario, t.seed)
        todo = [t for t in tasks if t.key not in results]
        options = {
            "out_dir": str(out),
            "renderer": config.renderer,
            "camera_hw": list(config.camera_hw),
            "no_video": config.no_video,
            "planner_timeout": config.planner_timeout,
            "imports": list(config.imports),
        }
        threads = backend.threads_per_job
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("failed {task.fields[failed]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=console) as progress:
            bar = progress.add_task("reference rollouts", total=len(ref_jobs), failed=0)
            failed = 0
            for record in backend.map(reference_job, [(s, seed, threads) for s, seed in ref_jobs.values()]):
                references.append(record)
                failed += "error" in record
                progress.update(bar, advance=1, failed=failed)
            bar = progress.add_task("runs", total=len(todo), failed=0)
            failed = 0

            def args(t: Task) -> tuple:
                return (t, references.records.get(f"{t.scenario.name}|{t.seed}"), options, threads)

            for record in backend.map(run_job, [args(t) for t in todo], on_crash=_crash_record(todo)):
                if results.append(record):
                    ran += 1
                    failed += record.get("outcome") == "error"
                progress.update(bar, advance=1, failed=failed)
    except KeyboardInterrupt:
        interrupted = True
        console.print(f"interrupted: {ran} runs finished in this invocation are kept in {out / 'results.jsonl'}")
    finally:
        backend.close(kill=interrupted)
        results.close()
        references.close()
        lock.release()
    records = list(JsonlStore(out / "results.jsonl", "key").records.values())
    return SuiteOutcome(records=records, ran=ran, skipped=skipped, interrupted=interrupted)


def _crash_record(tasks: list[Task]) -> Callable[[int, BaseException], dict]:
    def make(index: int, error: BaseException) -> dict:
        t = tasks[index]
        return {
            "key": t.key,
            "scenario": t.scenario.name,
            "planner": t.planner,
            "weather": t.weather or t.scenario.weather.type,
            "run": t.run,
            "seed": t.seed,
            "outcome": "error",
            "error": f"worker died: {type(error).__name__}: {error}",
        }

    return make


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

    def map(self, fn: Callable, arg_list: list[tuple], on_crash: Callable | None = None) -> Iterable[dict]:
        """Yield results as they finish (not in order); a crashed worker's job yields ``on_crash(index, error)``."""
        queue = list(enumerate(arg_list))[::-1]
        running: dict[Future, int] = {}
        while queue or running:
            while queue and len(running) < self.workers:
                index, args = queue.pop()
                running[self._pool.submit(fn, *args)] = index
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index = running.pop(future)
                try:
                    yield future.result()
                except BrokenProcessPool as e:
                    if on_crash is None:
                        raise
                    yield on_crash(index, e)
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    self._pool = self._new_pool()
                    queue.extend((i, arg_list[i]) for i in running.values())  # innocent bystanders run again
                    running.clear()

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

    def map(self, fn: Callable, arg_list: list[tuple], on_crash: Callable | None = None) -> Iterable[dict]:
        """Yield results as Ray tasks finish, at most one per CPU in flight."""
        remote = self._remote.setdefault(fn, self.ray.remote(num_cpus=1, max_retries=0)(fn))
        queue = list(enumerate(arg_list))[::-1]
        running: dict = {}
        while queue or running:
            while queue and len(running) < self.workers:
                index, args = queue.pop()
                running[remote.remote(*args)] = index
            done, _ = self.ray.wait(list(running), num_returns=1)
            for ref in done:
                index = running.pop(ref)
                try:
                    yield self.ray.get(ref)
                except Exception as e:  # the worker process died (Ray wraps it)
                    if on_crash is None:
                        raise
                    yield on_crash(index, e)

    def close(self, kill: bool) -> None:
        """Stop Ray if this backend started it; a session the caller opened is left running."""
        if self._started:
            self.ray.shutdown()
