import json
import os
import subprocess
import sys

import pytest

from occsim.scenarios import load_scenario
from occsim.suite.records import RunRecord
from occsim.suite.store import JsonlStore, SuiteDirError, SuiteLock
from occsim.suite.tasks import collect_scenarios, derive_seed, expand_tasks


def test_seeds_are_derived_deterministically_and_shared_across_planners_and_weathers():
    assert derive_seed(0, "bus_ahead", 1) == derive_seed(0, "bus_ahead", 1)
    assert len({derive_seed(0, "bus_ahead", r) for r in range(20)}) == 20
    assert derive_seed(0, "bus_ahead", 0) != derive_seed(1, "bus_ahead", 0)
    s = load_scenario("bus_ahead")
    tasks = expand_tasks([s], ["expert", "constant_velocity"], ["clear", "fog"], 3, base_seed=7)
    assert len(tasks) == 12 and len({t.key for t in tasks}) == 12
    by_run = {}
    for t in tasks:
        by_run.setdefault(t.run, set()).add(t.seed)
    assert all(len(seeds) == 1 for seeds in by_run.values())


def test_collect_scenarios_lists_every_problem(tmp_path):
    (tmp_path / "bad1.yaml").write_text("name: x\nmap: {type: straigth}\n")
    (tmp_path / "bad2.yaml").write_text("name: y\nmap: {type: straight}\nduration: 0\n")
    (tmp_path / "dup.yaml").write_text("name: bus_ahead\nmap: {type: straight}\n")
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    scenarios, problems = collect_scenarios([str(tmp_path), "bus_ahead", "no_such_scenario", str(empty)])
    text = "\n".join(problems)
    assert "bad1.yaml:2" in text and "bad2.yaml:3" in text and "no built-in scenario 'no_such_scenario'" in text
    assert "holds no .yaml" in text and "also used by" in text
    assert [s.name for s in scenarios] == ["bus_ahead"]


def _error(key: str) -> RunRecord:
    return RunRecord(key, "s", "p", "clear", 0, 0, error="boom")


def test_store_drops_a_torn_last_line_and_never_duplicates(tmp_path):
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps({"key": "a", "v": 1}) + "\n" + '{"key": "b", "v"')
    store = JsonlStore(path, RunRecord.from_json, lambda r: r.key)
    assert "a" in store and "b" not in store
    assert store.append(_error("b")) and not store.append(_error("a"))
    store.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["key"] for r in lines] == ["a", "b"]


def test_lock_refuses_a_live_owner_and_a_stale_one_without_resume(tmp_path):
    lock = SuiteLock(tmp_path, resume=False)
    with pytest.raises(SuiteDirError, match="in use by a running suite"):
        SuiteLock(tmp_path, resume=True)
    lock.release()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (tmp_path / ".occsim-suite.lock").write_text(json.dumps({"pid": int(dead.stdout), "host": "x"}))
    with pytest.raises(SuiteDirError, match="add --resume"):
        SuiteLock(tmp_path, resume=False)
    SuiteLock(tmp_path, resume=True).release()
    (tmp_path / "results.jsonl").write_text('{"key": "a"}\n')
    with pytest.raises(SuiteDirError, match="already holds results"):
        SuiteLock(tmp_path, resume=False)
    assert os.path.exists(tmp_path / "results.jsonl")


def test_step_bars_show_only_runs_whose_steps_are_slow():
    from rich.progress import Progress

    from occsim.scenarios import load_scenario
    from occsim.suite.runner import StepBars
    from occsim.suite.tasks import expand_tasks

    slow, fast = expand_tasks([load_scenario("bus_ahead")], ["expert", "constant_velocity"], [None], 1, 0)
    progress = Progress()
    bars = StepBars(progress)
    bars.show([(slow, 2, 30, 5.0), (fast, 10, 30, 1.0), ("bus_ahead|7", 0, 30, 0.2)])
    shown = {t.description: t.completed for t in progress.tasks}
    assert shown == {"  bus_ahead / expert / own / r0": 2}
    bars.show([(fast, 12, 30, 1.2)])  # the slow run finished: its bar goes
    assert not progress.tasks


FAMILY = """name: stopped_lead
family: {difficulty: {ttc_s: "(lead.s - ego.s) / ego.speed"}}
map: {type: straight, lanes: 2, oncoming_lanes: 1}
ego: {lane: 0, s: 20, speed: {uniform: [8, 12]}, command: straight, goal_s: 120}
duration: 3
actors:
  - {id: lead, type: bus, lane: 0, s: {uniform: [40, 70]}, speed: 0}
"""


def test_a_family_in_a_suite_draws_one_instance_per_run_and_records_the_draws(tmp_path):
    import json

    from typer.testing import CliRunner

    from occsim.cli import app
    from occsim.suite.tasks import collect_scenarios, expand_tasks

    path = tmp_path / "stopped_lead.yaml"
    path.write_text(FAMILY)
    loaded, problems = collect_scenarios([str(path)], families=True)
    assert not problems
    tasks = expand_tasks(loaded, ["constant_velocity", "expert"], [None], 3, base_seed=7)
    again = expand_tasks(loaded, ["constant_velocity", "expert"], [None], 3, base_seed=7)
    assert [t.origin for t in tasks] == [t.origin for t in again]  # reproducible from the suite seed
    by_run = {t.run: t.scenario.actors[0].s for t in tasks}
    assert len(set(by_run.values())) == 3  # a new instance per run...
    assert tasks[0].scenario == tasks[1].scenario  # ...that every planner meets
    _, refused = collect_scenarios([str(path)])
    assert refused and "scenario family" in refused[0]

    out = tmp_path / "suite"
    args = ["suite", str(path), "--runs", "2", "--planner", "constant_velocity", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--renderer", "blank", "--no-video", "--workers", "1"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 2 and all(r["family"] == "stopped_lead" for r in records)
    assert all(set(r["drawn"]) == {"ego.speed", "lead.s"} and "ttc_s" in r["difficulty"] for r in records)


RUN_LINE = (
    '{"key": "k__expert__fog__r0", "scenario": "k", "planner": "expert", "weather": "fog", "run": 0, "seed": 7, '
    '"family": "cut_in", "drawn": {"gap": 12.0}, "difficulty": {"ttc": 2.5}, "benchmark": "longtail-v1/test", '
    '"renderer": "raster", "renderer_kwargs": {}, "versions": {"occsim": "0.1.0"}, "pid": 12, "outcome": "collision", '
    '"collision": true, "collided_with": "car_1", "impact_speed": 3.5, "initial_speed": 10.0, "ego_impact_speed": 4.0, '
    '"offroad": false, "route_completion": 0.4, "steps": 12, "wall_time": 1.5, "perceived_occupancy_miou": null, '
    '"object_recall": null, "storyboard": null, "ncap": 2.1, "nc": 0.0, "dac": 1.0, "ttc": 0.0, "ep": 0.9, '
    '"comfort": 1.0, "pdms": 0.0, "driving_score": 0.0, "video": "videos/k.mp4", "still": "stills/k.png"}'
)
ERROR_LINE = (
    '{"key": "k__slow__own__r0", "scenario": "k", "planner": "slow", "weather": "clear", "run": 0, "seed": 7, '
    '"renderer": "raster", "renderer_kwargs": {}, "versions": {"occsim": "0.1.0"}, "pid": 12, "outcome": "error", '
    '"error": "PlannerError: boom", "traceback": "Traceback ..."}'
)
CRASH_LINE = (
    '{"key": "k__segv__own__r0", "scenario": "k", "planner": "segv", "weather": "clear", "run": 0, "seed": 7, '
    '"outcome": "error", "error": "worker died (killed by SIGSEGV)"}'
)
REFERENCE_LINES = (
    '{"scenario": "k", "seed": 7, "impact_speed": 9.5, "expert_progress": [0.0, 1.25]}',
    '{"scenario": "k", "seed": 8, "error": "RuntimeError()", "traceback": "Traceback ..."}',
    '{"scenario": "k", "seed": 9, "error": "reference rollouts: worker died (exit code 7)"}',
)


def test_records_read_and_write_their_json_lines_unchanged():
    from occsim.suite.records import ReferenceKey, ReferenceRecord

    for line in (RUN_LINE, ERROR_LINE, CRASH_LINE):
        record = RunRecord.from_json(json.loads(line))
        assert json.dumps(record.to_json()) == line
    run, error, crash = (RunRecord.from_json(json.loads(x)) for x in (RUN_LINE, ERROR_LINE, CRASH_LINE))
    assert run.outcome == "collision" and run.episode.impact_speed == 3.5 and run.scores.ncap == 2.1
    assert run.origin.family == "cut_in" and run.worker.pid == 12 and not run.failed
    assert error.failed and error.outcome == "error" and error.scores is None and error.worker.renderer == "raster"
    assert crash.failed and crash.worker is None
    for line in REFERENCE_LINES:
        assert json.dumps(ReferenceRecord.from_json(json.loads(line)).to_json()) == line
    reference = ReferenceRecord.from_json(json.loads(REFERENCE_LINES[0]))
    assert reference.key == ReferenceKey("k", 7) and reference.reference.expert_progress == (0.0, 1.25)


def test_a_resumed_store_keeps_old_lines_as_written_and_retries_errors(tmp_path):
    path = tmp_path / "results.jsonl"
    old_style = json.dumps({"key": "old", "scenario": "s", "planner": "p", "weather": "clear", "run": 0, "seed": 1,
                            "outcome": "goal", "collision": False, "ncap": 5.0, "pdms": 1.0})  # fmt: skip
    path.write_text("\n".join([old_style, ERROR_LINE, RUN_LINE]) + "\n")
    store = JsonlStore(path, RunRecord.from_json, lambda r: r.key, retry=lambda r: r.failed)
    store.close()
    assert store.retried == 1 and list(store.records) == ["old", "k__expert__fog__r0"]
    assert path.read_text() == f"{old_style}\n{RUN_LINE}\n"
    assert store.records["old"].scores.ncap == 5.0 and store.records["old"].episode.initial_speed is None
