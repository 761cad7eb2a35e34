"""Time limits on planner calls (``reset`` and ``plan``), enforced from outside the planner's thread.

In a suite worker the deadline sits in memory shared with the suite's main process, which ends the worker when a
call overruns: nothing the planner does (``except Exception``, native code holding the GIL) can slip past it.
Elsewhere (Ray tasks, a plain ``run_episode``) a watcher thread raises ``PlannerTimeout`` in the planner's thread
and, if the call is stuck in native code, ends the process after a grace period.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import time
from collections.abc import Iterator

DEFAULT_PLANNER_TIMEOUT = 60.0  # [s] the suite's limit on one planner reset() or plan() call
PHASES = ("reset", "plan")
GRACE = 5.0  # [s] a thread-watched call gets this long after its PlannerTimeout before the process is ended
TIMEOUT_EXIT_CODE = 124  # a process ended by its watcher thread exits with this (as coreutils' timeout)

# A suite worker's RawArray('d', SHARED_SIZE): the call's deadline (time.monotonic, 0 when idle), its step and
# phase index, and the episode's progress (steps done, steps in all) for the suite's per-run progress bars.
SHARED_SIZE = 5
_shared = None


class PlannerTimeout(BaseException):
    """A planner call overran its limit. A BaseException, so a planner's ``except Exception`` cannot swallow it."""


def install(shared) -> None:
    """Called once in a suite worker: publish deadlines in ``shared`` for the main process to watch."""
    global _shared
    _shared = shared


def report_progress(done: int, total: int) -> None:
    """Publish an episode's progress to the suite's main process (a no-op outside a suite worker)."""
    if _shared is not None:
        _shared[3], _shared[4] = done, total


def progress_of(shared) -> tuple[int, int]:
    """(steps done, steps in all) a worker last published (read by the main process)."""
    return int(shared[3]), int(shared[4])


def overdue(shared) -> tuple[str, int] | None:
    """(phase, step) of a worker's call that has passed its deadline, else None (read by the main process)."""
    deadline, step, phase = shared[0], shared[1], shared[2]
    if deadline > 0.0 and time.monotonic() > deadline:
        return PHASES[int(phase)], int(step)
    return None


@contextlib.contextmanager
def planner_call(timeout: float | None, phase: str, step: int) -> Iterator[None]:
    """Limit the planner call inside the block to ``timeout`` seconds (None: no limit)."""
    if not timeout:
        yield
        return
    if _shared is not None:
        _shared[1], _shared[2] = step, PHASES.index(phase)
        _shared[0] = time.monotonic() + timeout
        try:
            yield
        finally:
            _shared[0] = 0.0
        return
    done, lock = threading.Event(), threading.Lock()
    what = f"{phase}() at step {step}"
    watcher = threading.Thread(target=_watch, args=(threading.get_ident(), timeout, done, lock, what), daemon=True)
    watcher.start()
    try:
        yield
    finally:
        with lock:  # the watcher never fires once the block is left
            done.set()


def _watch(thread_id: int, timeout: float, done: threading.Event, lock: threading.Lock, what: str) -> None:
    if done.wait(timeout):
        return
    with lock:
        if done.is_set():
            return
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(PlannerTimeout))
    if done.wait(GRACE):
        return
    sys.stderr.write(f"planner {what} ran past its {timeout:g} s limit and did not stop; ending the process\n")
    sys.stderr.flush()
    os._exit(TIMEOUT_EXIT_CODE)
