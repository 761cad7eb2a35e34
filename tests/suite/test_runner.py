import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from occsim.cli import app
from occsim.scenarios import load_scenario
from occsim.suite.runner import SuiteConfig, run_suite
from occsim.suite.tasks import expand_tasks

runner = CliRunner()
TINY = ["--camera-hw", "16x28", "--no-video"]


def lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_suite_records_every_run_with_scores_and_resume_adds_nothing(tmp_path):
    args = ["suite", "bus_ahead", "fog_bus", "--weather", "clear,night", "--runs", "2", "--out", str(tmp_path), *TINY]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    records = lines(tmp_path)
    assert len(records) == 2 * 2 * 2 * 2 and len({r["key"] for r in records}) == 16
    for r in records:
        assert {"ncap", "nc", "dac", "ttc", "ep", "comfort", "pdms", "driving_score", "versions", "wall_time"} <= set(r)
    cv = [r for r in records if r["planner"] == "constant_velocity"]
    assert all(r["collision"] and r["ncap"] == 0.0 for r in cv)
    expert = [r for r in records if r["planner"] == "expert"]
    assert all(r["ncap"] == 5.0 and r["nc"] == 1.0 for r in expert)
    assert (tmp_path / "summary.csv").read_text().startswith("planner,weather,runs")
    assert (tmp_path / "report.html").exists()
    again = runner.invoke(app, [*args, "--resume"])
    assert again.exit_code == 0 and "(0 now, 16 resumed)" in again.output
    assert len(lines(tmp_path)) == 16
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "already holds results" in refused.output


def test_bad_input_fails_before_any_run(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmap: {type: straight}\nactors:\n  - {id: a, type: buss, s: 10}\n")
    result = runner.invoke(
        app,
        [
            "suite",
            str(bad),
            "--planner",
            "expret",
            "--renderer",
            "rastr",
            "--weather",
            "hail",
            "--out",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2
    for expected in (
        "'buss' is not a class",
        "did you mean 'expert'",
        "did you mean 'raster'",
        "unknown weather 'hail'",
    ):
        assert expected in result.output
    assert "4 problem(s); nothing was run" in result.output
    assert not (tmp_path / "o").exists()


def test_faulty_planners_become_error_records(tmp_path):
    planners = ["raises", "nan", "wrong_shape", "slow", "constant_velocity"]
    args = [
        "suite",
        "bus_ahead",
        "--import",
        "tests.suite.faulty_planners",
        "--planner-timeout",
        "0.5",
        "--out",
        str(tmp_path),
    ]
    result = runner.invoke(app, [*args, *sum((["--planner", p] for p in planners), []), *TINY])
    assert result.exit_code == 1, result.output  # some runs ended in an error
    assert "4 run(s) ended in an error" in result.output
    by_planner = {r["planner"]: r for r in lines(tmp_path)}
    assert "RuntimeError('boom')" in by_planner["raises"]["error"]
    assert "invalid trajectory" in by_planner["nan"]["error"]
    assert "invalid trajectory" in by_planner["wrong_shape"]["error"]
    assert "longer than 0.5 s" in by_planner["slow"]["error"]
    assert by_planner["constant_velocity"]["outcome"] == "collision"


def _start_suite(out: Path, extra: list[str] = ()) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "occsim.cli", "suite", "--out", str(out), "--camera-hw", "16x28", "--no-video", *extra]
    # Background jobs of a non-interactive shell start with SIGINT ignored; a terminal's Ctrl-C finds it at default.
    return subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def _wait_for_lines(out: Path, n: int, proc: subprocess.Popen, timeout: float = 300.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        path = out / "results.jsonl"
        if path.exists() and len(path.read_text().splitlines()) >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("suite made no progress")


@pytest.mark.slow  # a multi-process suite
def test_killed_suite_loses_only_runs_in_flight_and_resume_completes_it(tmp_path):
    proc = _start_suite(tmp_path)
    _wait_for_lines(tmp_path, 3, proc)
    second = runner.invoke(app, ["suite", "--out", str(tmp_path), *TINY])  # the first still owns the folder
    assert second.exit_code == 2 and "in use by a running suite" in second.output
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = lines(tmp_path)
    assert 3 <= len(before) < 24
    result = runner.invoke(app, ["suite", "--out", str(tmp_path), "--resume", *TINY])
    assert result.exit_code == 0, result.output
    after = lines(tmp_path)
    keys = [r["key"] for r in after]
    assert len(after) == 24 and len(set(keys)) == 24  # built-in suite x 2 planners, none missing or doubled
    assert [r["key"] for r in after[: len(before)]] == [r["key"] for r in before]


@pytest.mark.slow  # a multi-process suite
def test_ctrl_c_finishes_cleanly(tmp_path):
    proc = _start_suite(tmp_path)
    _wait_for_lines(tmp_path, 2, proc)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not (tmp_path / ".occsim-suite.lock").exists()
    assert (tmp_path / "report.html").exists()
    records = lines(tmp_path)
    assert len(records) == len({r["key"] for r in records}) >= 2


@pytest.mark.slow  # a Ray cluster
def test_ray_backend_streams_the_same_records(tmp_path):
    pytest.importorskip("ray")
    tasks = expand_tasks([load_scenario("bus_ahead")], ["constant_velocity", "expert"], [None], 1, 0)
    config = SuiteConfig(out_dir=tmp_path, workers=2, ray_address="local", camera_hw=(16, 28), no_video=True)
    outcome = run_suite(tasks, config)
    assert outcome.ran == 2 and not outcome.interrupted
    assert {r.planner: r.outcome for r in outcome.records} == {"constant_velocity": "collision", "expert": "goal"}
    assert all(r.worker.pid != os.getpid() for r in outcome.records)  # Ray workers ran them, not this process
