"""Fault injection for the suite: crashing and hanging planners, resume mismatches, lock races, a full disk."""

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from occsim.cli import app
from occsim.suite.records import RunRecord
from occsim.suite.store import JsonlStore, StoreWriteError, SuiteDirError, SuiteLock

runner = CliRunner()
TINY = ["--camera-hw", "16x28", "--no-video"]
FAULTY = ["--import", "tests.suite.faulty_planners"]


def lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def suite(out: Path, planners: list[str], *extra: str, scenarios=("bus_ahead",)):
    args = ["suite", *scenarios, "--out", str(out), *FAULTY, *TINY, *extra]
    return runner.invoke(app, [*args, *sum((["--planner", p] for p in planners), [])])


@pytest.mark.slow  # a multi-process suite
def test_crashed_workers_end_only_their_own_runs(tmp_path):
    result = suite(tmp_path, ["hard_exit", "segfault", "constant_velocity", "expert"], "--workers", "2")
    assert result.exit_code == 1, result.output
    by = {r["planner"]: r for r in lines(tmp_path)}
    assert len(by) == 4
    assert "exit code 7" in by["hard_exit"]["error"]
    assert "SIGSEGV" in by["segfault"]["error"]
    assert by["constant_velocity"]["outcome"] == "collision" and by["expert"]["outcome"] == "goal"
    pids = {r["pid"] for r in by.values() if "pid" in r}  # the crashed runs' records have none
    assert pids and os.getpid() not in pids  # worker processes ran them, not this one


def test_planner_raised_exit_and_interrupt_are_that_runs_errors(tmp_path):
    result = suite(tmp_path, ["exits", "interrupts", "constant_velocity"])
    assert result.exit_code == 1, result.output
    by = {r["planner"]: r for r in lines(tmp_path)}
    assert "SystemExit" in by["exits"]["error"]
    assert "KeyboardInterrupt" in by["interrupts"]["error"]
    assert by["constant_velocity"]["outcome"] == "collision"


def test_the_timeout_cannot_be_swallowed_and_covers_reset(tmp_path):
    result = suite(tmp_path, ["swallows_timeout", "hangs_in_reset", "absurd"], "--planner-timeout", "1")
    assert result.exit_code == 1, result.output
    by = {r["planner"]: r for r in lines(tmp_path)}
    assert "took longer than 1 s in plan() at step 0" in by["swallows_timeout"]["error"]
    assert "took longer than 1 s in reset() at step 0" in by["hangs_in_reset"]["error"]
    assert "beyond the 200 m" in by["absurd"]["error"]


def test_resume_refuses_another_configuration_and_retries_errors(tmp_path):
    first = suite(tmp_path, ["raises", "constant_velocity"])
    assert first.exit_code == 1
    assert sorted(r["outcome"] for r in lines(tmp_path)) == ["collision", "error"]
    for option, value, shown in (("--seed", "1", "seed: 1 now, 0"), ("--camera-hw", "16x32", "camera_hw: [16, 32]")):
        args = ["suite", "bus_ahead", "--out", str(tmp_path), *FAULTY, "--no-video", "--resume", option, value]
        args += ["--planner", "raises", "--planner", "constant_velocity"]
        if option != "--camera-hw":
            args += ["--camera-hw", "16x28"]
        refused = runner.invoke(app, args)
        assert refused.exit_code == 2 and "configuration differs" in refused.output and shown in refused.output
    again = suite(tmp_path, ["raises", "constant_velocity"], "--resume")
    assert "retrying 1 runs" in again.output and "(1 now, 1 resumed)" in again.output
    records = lines(tmp_path)
    assert len(records) == 2 and len({r["key"] for r in records}) == 2


def test_exactly_one_of_many_simultaneous_suites_takes_the_folder(tmp_path):
    for resume, stale in ((False, False), (True, True)):
        out = tmp_path / f"run_{resume}"
        if stale:  # a suite killed earlier left its lock behind, naming a live unrelated pid
            out.mkdir()
            (out / ".occsim-suite.lock").write_text(json.dumps({"pid": 1, "host": "x", "started": "then"}))
        barrier = threading.Barrier(16)
        won, refused = [], []

        def take(resume=resume, out=out, barrier=barrier, won=won, refused=refused):
            barrier.wait()
            try:
                won.append(SuiteLock(out, resume))
            except SuiteDirError as e:
                refused.append(str(e))

        threads = [threading.Thread(target=take) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1 and len(refused) == 15
        assert all("in use by a running suite" in message for message in refused)
        won[0].release()
        assert not (out / ".occsim-suite.lock").exists()


def test_a_stale_lock_needs_resume(tmp_path):
    (tmp_path / ".occsim-suite.lock").write_text(json.dumps({"pid": 1, "host": "x", "started": "then"}))
    with pytest.raises(SuiteDirError, match="stopped before finishing.*--resume"):
        SuiteLock(tmp_path, resume=False)
    SuiteLock(tmp_path, resume=True).release()


class _DiskFull:
    """``os.write`` for one descriptor that lands half its bytes, then fails as a full disk does."""

    def __init__(self, fd: int, real=os.write):
        self.fd, self.real, self.failing = fd, real, True

    def __call__(self, fd, data):
        if fd != self.fd or not self.failing:
            return self.real(fd, data)
        self.real(fd, data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")


def _error(key: str) -> RunRecord:
    return RunRecord(key, "s", "p", "clear", 0, 0, error="boom")


def test_a_full_disk_keeps_every_line_whole(tmp_path, monkeypatch):
    import occsim.suite.store as store_module

    path = tmp_path / "results.jsonl"
    store = JsonlStore(path, RunRecord.from_json, lambda r: r.key)
    store.append(_error("a"))
    full = _DiskFull(store._fd)
    monkeypatch.setattr(store_module.os, "write", full)
    with pytest.raises(StoreWriteError, match="No space left"):
        store.append(_error("b"))
    full.failing = False  # space came back
    store.append(_error("c"))
    store.close()
    assert [json.loads(line)["key"] for line in path.read_text().splitlines()] == ["a", "c"]


def test_a_full_disk_stops_the_suite_with_a_message_and_no_lock(tmp_path, monkeypatch):
    import occsim.suite.store as store_module

    real_open = store_module.JsonlStore.__init__

    def failing_init(self, path, decode, key, retry=None):
        real_open(self, path, decode, key, retry)
        if path.name == "results.jsonl":
            monkeypatch.setattr(store_module.os, "write", _DiskFull(self._fd))

    monkeypatch.setattr(store_module.JsonlStore, "__init__", failing_init)
    result = suite(tmp_path, ["constant_velocity", "expert"])
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert not (tmp_path / ".occsim-suite.lock").exists()
    assert (tmp_path / "results.jsonl").read_text() == ""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in state


@pytest.mark.slow  # a multi-process suite
def test_killing_the_suite_leaves_no_workers_behind(tmp_path):
    cmd = [sys.executable, "-m", "occsim.cli", "suite", "--out", str(tmp_path), "--workers", "2", *TINY]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline:
        path = tmp_path / "results.jsonl"
        if path.exists() and len(path.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    workers = {r["pid"] for r in lines(tmp_path)}
    assert workers and proc.pid not in workers
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in workers)
