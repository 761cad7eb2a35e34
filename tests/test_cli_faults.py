"""Bad options and awkward user text at the command line: one clear message, before anything runs."""

import json
import tracemalloc

import imageio.v2 as imageio
import numpy as np
import pytest
from typer.testing import CliRunner

from occsim.cli import app
from occsim.planners import Planner, register_planner
from occsim.scenarios import load_scenario
from occsim.suite.episode import run_episode
from occsim.types import Trajectory

runner = CliRunner()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("steps=0", "steps must be a whole number from 1 to 1000, got 0"),
        ("steps=-1", "got -1"),
        ("steps=1e8", "got 100000000.0"),
        ("guidance=NaN", "guidance must be a number from 0 to 50, got nan"),
        ("dtype=float8", "dtype must be one of"),
        ("weights=/nonexistent/model", "weights directory not found: /nonexistent/model"),
    ],
)
def test_bad_renderer_options_are_refused_before_any_run(tmp_path, option, message):
    out = tmp_path / "o"
    result = runner.invoke(
        app, ["suite", "bus_ahead", "--renderer", "syntheocc", "--renderer-option", option, "--out", str(out)]
    )
    assert result.exit_code == 2 and message in result.output, result.output
    assert result.output.count(message) == 1 and not out.exists()


def test_corrupt_weights_are_reported_once(tmp_path):
    model = tmp_path / "model"
    (model / "unet").mkdir(parents=True)
    (model / "model_index.json").write_text("{}")
    (model / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\xff" * 64)
    result = runner.invoke(
        app, ["run", "bus_ahead", "--renderer", "syntheocc", "--renderer-option", f"weights={model}"]
    )
    assert result.exit_code == 2 and "is not a readable safetensors file" in result.output
    assert "Traceback" not in result.output


def test_camera_size_has_an_upper_bound():
    result = runner.invoke(app, ["run", "bus_ahead", "--camera-hw", "4000x7000"])
    assert result.exit_code == 2 and "outside 8x8 .. 1080x1920" in result.output


def test_user_text_with_brackets_prints_as_written(tmp_path):
    (tmp_path / "x[").mkdir()
    bad = tmp_path / "x[" / "x].yaml"
    bad.write_text("name: a\nmap: {type: straight}\nactors: [{id: a, type: car, s: .nan}]\n")
    result = runner.invoke(app, ["run", str(bad)])
    assert result.exit_code == 2 and "x[/x].yaml:3: actors[0].s: Input should be a finite number" in result.output
    missing = runner.invoke(app, ["run", "no[/such]_scenario"])
    assert missing.exit_code == 2 and "no[/such]_scenario" in missing.output
    size = runner.invoke(app, ["run", "bus_ahead", "--camera-hw", "[nan, 0]"])
    assert size.exit_code == 2 and "got '[nan, 0]'" in size.output


def test_long_scenario_names_get_safe_file_names(tmp_path):
    name = "s" * 300
    path = tmp_path / "long.yaml"
    path.write_text(load_scenario_text("bus_ahead").replace("name: bus_ahead", f"name: {name}"))
    result = runner.invoke(
        app,
        ["suite", str(path), "--planner", "constant_velocity", "--camera-hw", "16x28", "--out", str(tmp_path / "o")],
    )
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in (tmp_path / "o" / "results.jsonl").read_text().splitlines()]
    assert record["outcome"] == "collision" and record["scenario"] == name
    assert len(record["video"].split("/")[-1]) < 130 and (tmp_path / "o" / record["still"]).exists()


def load_scenario_text(name: str) -> str:
    from occsim.scenarios import builtin_path

    return builtin_path(name).read_text()


@register_planner("test_stands_still")
class StandsStill(Planner):
    def plan(self, inputs, privileged=None):
        return Trajectory(np.zeros((6, 2)))


def test_videos_stream_to_disk(tmp_path):
    scenario = load_scenario("bus_ahead").model_copy(update={"duration": 60.0, "dt": 0.1})
    run_episode(scenario.model_copy(update={"duration": 1.0}), "test_stands_still", camera_hw=(64, 112))  # warm up
    video = tmp_path / "long.mp4"
    tracemalloc.start()
    result = run_episode(scenario, "test_stands_still", camera_hw=(64, 112), seed=0, video=video)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    frames = imageio.mimread(str(video), memtest=False)
    assert result.steps == 600 and len(frames) == 601
    held = frames[0].nbytes * 4 * len(frames)  # every full-size frame kept until the end (the video is half size)
    assert peak < held / 3, (peak, held)


@register_planner("test_slow_steps")
class SlowSteps(Planner):
    def plan(self, inputs, privileged=None):
        import time

        time.sleep(1.1)
        return Trajectory.constant_velocity(10.0)


def test_slow_episodes_show_a_progress_bar_of_their_steps_fast_ones_do_not(capsys):
    scenario = load_scenario("bus_ahead").model_copy(update={"duration": 1.5})
    run_episode(scenario, "constant_velocity", camera_hw=(16, 28), progress=True)
    assert "step" not in capsys.readouterr().err
    run_episode(scenario, "test_slow_steps", camera_hw=(16, 28), progress=True)
    err = capsys.readouterr().err
    assert "bus_ahead / test_slow_steps" in err and "/3" in err


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("offroad", "--reward must be KEY=VALUE, got 'offroad'"),
        ("offroad=lots", "--reward offroad takes a number, got 'lots'"),
        ("offroad=true", "--reward offroad takes a number, got True"),
        ("speed=1", "unknown"),
    ],
)
def test_bad_reward_weights_are_refused_before_training(tmp_path, item, message):
    out = tmp_path / "rl"
    result = runner.invoke(app, ["train-rl", "--out", str(out), "--steps", "64", "--reward", item])
    assert result.exit_code == 2 and message in result.output, result.output
    assert not (out / "ppo.zip").exists()
