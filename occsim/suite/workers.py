"""Where a suite's jobs run: supervised worker processes here, or Ray tasks.

Worker processes are watched one by one. A worker that crashes (a segfault, ``os._exit``, the OOM killer) or
overruns ``--planner-timeout`` ends only its own job, as an error record with the cause, and is replaced; the
jobs beside it carry on. Workers leave when the suite's process is gone, even after ``kill -9``.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from multiprocessing.connection import wait
from typing import Any, Literal

from occsim.suite import watchdog


@dataclass(frozen=True)
class Job:
    """One unit of work: ``function(*args)`` in a worker; ``item`` says what it is about (a Task, a ReferenceKey)."""

    kind: Literal["ref", "run"]  # reference rollouts, or a run
    function: Callable
    args: tuple
    item: Any


POLL = 0.25  # [s] how often the main process looks at deadlines while waiting
PARENT_CHECK = 0.5  # [s] how often a worker checks that the suite is still there


def death_cause(exitcode: int | None) -> str:
    """A worker's end in words: the signal that killed it, or its exit code."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    if exitcode == watchdog.TIMEOUT_EXIT_CODE:
        return "ended by its planner-timeout watcher"
    return f"exit code {exitcode}"


def _worker_main(conn, shared, parent: int) -> None:
    """A worker's loop: run (function, args) messages until the pipe closes or the suite's process is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    watchdog.install(shared)
    threading.Thread(target=_leave_with_parent, args=(parent,), daemon=True).start()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        function, args = message
        try:
            reply = ("ok", function(*args))
        except BaseException as e:  # noqa: BLE001 - the jobs return their errors; this is the last line of defence
            reply = ("error", f"{type(e).__name__}: {e}")
        conn.send(reply)


def _leave_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK)
    os._exit(1)


class _Worker:
    """One spawned worker process with its pipe and its shared deadline."""

    def __init__(self, context):
        self.shared = context.RawArray("d", watchdog.SHARED_SIZE)
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, self.shared, os.getpid()), daemon=True)
        self.process.start()
        child.close()
        self.job: Job | None = None
        self.started = 0.0

    def start(self, job: Job) -> None:
        self.job, self.started = job, time.monotonic()
        self.shared[3] = self.shared[4] = 0.0
        self.conn.send((job.function, job.args))

    def stop(self, kill: bool) -> None:
        self.conn.close()
        if kill:
            self.process.kill()
        self.process.join(timeout=None if kill else 10)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


class ProcessBackend:
    """At most ``workers`` jobs at once, each in a supervised worker process (spawned: no thread pools forked)."""

    def __init__(self, workers: int, planner_timeout: float | None = None):
        self.workers = max(1, workers)
        self.threads_per_job = max(1, (os.cpu_count() or 1) // self.workers)
        self.planner_timeout = planner_timeout
        self._context = multiprocessing.get_context("spawn")
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []

    def progress(self) -> list[tuple[object, int, int, float]]:
        """(item, steps done, steps in all, seconds since it started) of every job in flight."""
        now = time.monotonic()
        return [(w.job.item, *watchdog.progress_of(w.shared), now - w.started) for w in self._busy]

    def run(self, queue: list[Job], refill: Callable[[], None], on_crash: Callable) -> Iterable[tuple]:
        """Run the jobs of ``queue`` (which ``refill`` may grow), at most ``workers`` at once.

        Yields (kind, result) as jobs finish, and (None, None) every POLL seconds meanwhile (a moment to show
        progress); a job whose worker died or overran the timeout yields ``on_crash(kind, item, message)`` and its
        worker is replaced.
        """
        while queue or self._busy:
            while queue and len(self._busy) < self.workers:
                worker = self._idle.pop() if self._idle else _Worker(self._context)
                worker.start(queue.pop(0))
                self._busy.append(worker)
            wait([w.conn for w in self._busy] + [w.process.sentinel for w in self._busy], timeout=POLL)
            for worker in list(self._busy):
                finished = self._check(worker, on_crash)
                if finished is not None:
                    self._busy.remove(worker)
                    yield finished
            yield None, None
            refill()

    def _check(self, worker: _Worker, on_crash: Callable) -> tuple | None:
        """(kind, record) if the worker's job is over (answered, crashed or overran), else None."""
        kind, item = worker.job.kind, worker.job.item
        try:
            if worker.conn.poll():
                status, value = worker.conn.recv()
                self._idle.append(worker)
                return kind, value if status == "ok" else on_crash(kind, item, f"the job raised {value}")
        except (EOFError, OSError):
            pass  # the pipe broke with the worker: handled as a death below
        late = watchdog.overdue(worker.shared)
        if worker.process.is_alive() and late is None:
            return None
        if late is not None:
            worker.stop(kill=True)
            phase, step = late
            message = f"took longer than {self.planner_timeout:g} s in {phase}() at step {step}; its worker was ended"
        else:
            worker.stop(kill=True)
            message = f"worker died ({death_cause(worker.process.exitcode)})"
        return kind, on_crash(kind, item, message)

    def close(self, kill: bool) -> None:
        """Stop every worker; with ``kill`` do not wait for jobs in flight."""
        for worker in self._busy + self._idle:
            worker.stop(kill=kill or worker in self._busy)
        self._busy, self._idle = [], []


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

    def run(self, queue: list[Job], refill: Callable[[], None], on_crash: Callable) -> Iterable[tuple]:
        """As ``ProcessBackend.run``, with Ray tasks of one CPU each (time limits by the tasks' watcher thread)."""
        running: dict = {}
        while queue or running:
            while queue and len(running) < self.workers:
                job = queue.pop(0)
                remote = self._remote.setdefault(job.function, self.ray.remote(num_cpus=1, max_retries=0)(job.function))
                running[remote.remote(*job.args)] = job
            done, _ = self.ray.wait(list(running), num_returns=1)
            for ref in done:
                job = running.pop(ref)
                try:
                    result = self.ray.get(ref)
                except Exception as e:  # the worker process died (Ray wraps it)
                    result = on_crash(job.kind, job.item, f"worker died: {type(e).__name__}: {e}")
                yield job.kind, result
            refill()

    def progress(self) -> list:
        """Ray tasks do not report their steps."""
        return []

    def close(self, kill: bool) -> None:
        """Stop Ray if this backend started it; a session the caller opened is left running."""
        if self._started:
            self.ray.shutdown()
