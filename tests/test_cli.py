import json

from typer.testing import CliRunner

from occsim.cli import app

runner = CliRunner()


def test_validate_ok_and_bad(tmp_path):
    from occsim.scenarios import builtin_path

    good = runner.invoke(app, ["validate", str(builtin_path("bus_ahead"))])
    assert good.exit_code == 0 and "ok" in good.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nmap: {type: straight}\nactors:\n  - {id: a, type: buss, s: 10}\n")
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:4: actors[0].type: 'buss' is not a class; did you mean 'bus'?" in result.output
    assert "Traceback" not in result.output


def test_run_json():
    result = runner.invoke(
        app, ["run", "bus_ahead", "--planner", "constant_velocity", "--json", "--camera-hw", "16x28"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in (
        "scenario",
        "planner",
        "weather",
        "seed",
        "collision",
        "collided_with",
        "impact_speed",
        "offroad",
        "route_completion",
        "steps",
    ):
        assert key in data
    assert data["collided_with"] == "bus" and data["weather"] == "clear"


def test_run_writes_a_video(tmp_path):
    video = tmp_path / "run.mp4"
    result = runner.invoke(
        app,
        [
            "run",
            "bus_ahead",
            "--planner",
            "constant_velocity",
            "--weather",
            "fog",
            "--video",
            str(video),
            "--camera-hw",
            "16x28",
        ],
    )
    assert result.exit_code == 0, result.output
    assert video.stat().st_size > 1000


def test_run_rejects_unknown_names():
    result = runner.invoke(app, ["run", "bus_ahead", "--planner", "expret"])
    assert result.exit_code == 2 and "did you mean 'expert'" in result.output
    result = runner.invoke(app, ["run", "bus_ahead", "--weather", "hail"])
    assert result.exit_code == 2 and "unknown weather 'hail'" in result.output
    result = runner.invoke(app, ["run", "bus_ahead", "--camera-hw", "big"])
    assert result.exit_code == 2


def test_suite_writes_results_videos_stills_and_report(tmp_path):
    result = runner.invoke(app, ["suite", "bus_ahead", "fog_bus", "--out", str(tmp_path), "--camera-hw", "16x28"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(lines) == 4
    outcomes = {(r["scenario"], r["planner"]): r["outcome"] for r in lines}
    assert outcomes[("bus_ahead", "constant_velocity")] == "collision"
    assert outcomes[("bus_ahead", "expert")] == "goal"
    assert len(list((tmp_path / "videos").glob("*.mp4"))) == 4
    assert len(list((tmp_path / "stills").glob("*.png"))) == 2  # the two constant-velocity collisions
    assert (tmp_path / "report.html").exists() and (tmp_path / "plots" / "score_by_weather.png").exists()
    again = runner.invoke(app, ["report", str(tmp_path)])
    assert again.exit_code == 0 and "report.html" in again.output


def test_bare_ray_flag_means_local():
    from occsim.cli import expand_bare_ray

    assert expand_bare_ray(["suite", "--ray"]) == ["suite", "--ray", "local"]
    assert expand_bare_ray(["suite", "--ray", "--runs", "2"]) == ["suite", "--ray", "local", "--runs", "2"]
    assert expand_bare_ray(["suite", "--ray", "10.0.0.1:6379"]) == ["suite", "--ray", "10.0.0.1:6379"]


def test_renderer_options_are_parsed_and_checked_against_the_renderer():
    bad_form = runner.invoke(app, ["run", "bus_ahead", "--renderer-option", "steps"])
    assert bad_form.exit_code == 2 and "KEY=VALUE" in bad_form.output
    unknown = runner.invoke(app, ["run", "bus_ahead", "--renderer-option", "step=3", "--renderer", "syntheocc"])
    assert unknown.exit_code == 2
    assert "renderer 'syntheocc' has no option 'step'; did you mean 'steps'?" in unknown.output
    raster = runner.invoke(app, ["suite", "bus_ahead", "--renderer-option", "steps=3", "--runs", "1"])
    assert raster.exit_code == 2 and "renderer 'raster' has no option 'steps'" in raster.output


def test_train_syntheocc_says_what_is_missing(tmp_path):
    missing = runner.invoke(app, ["train-syntheocc", str(tmp_path / "none"), "--out", str(tmp_path / "w")])
    assert missing.exit_code == 2 and "collect-render" in missing.output
    precision = runner.invoke(app, ["train-syntheocc", str(tmp_path), "--mixed-precision", "fp8"])
    assert precision.exit_code == 2 and "fp16 or bf16" in precision.output


def test_distill_and_tune_decoder_say_what_is_missing(tmp_path):
    missing = runner.invoke(app, ["distill-syntheocc", str(tmp_path / "none"), "--out", str(tmp_path / "w")])
    assert missing.exit_code == 2 and "collect-render" in missing.output
    no_vae = runner.invoke(app, ["tune-decoder", str(tmp_path), "--weights", str(tmp_path)])
    assert no_vae.exit_code == 2 and "no autoencoder (vae/)" in no_vae.output
