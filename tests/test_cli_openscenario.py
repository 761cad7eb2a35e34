"""The occsim command on OpenSCENARIO files: validate, run, convert, suite (with its per-test grid in the report)."""

import json

from typer.testing import CliRunner

from occsim.cli import app
from tests import ncap_files as N
from tests.scenario.openscenario.test_closed_loop import _variation

runner = CliRunner()


def test_validate_names_the_file_line_of_a_problem(tmp_path):
    good = N.ccr(tmp_path, 50.0)
    result = runner.invoke(app, ["validate", str(good), str(_variation(tmp_path))])
    assert (
        result.exit_code == 0
        and "OpenSCENARIO" in result.output
        and "sweep" in result.output
        and "3 runs" in result.output
    )
    bad = tmp_path / "bad.xosc"
    bad.write_text(good.read_text().replace('laneId="-1" s="50.0"', 'laneId="-1" s="$Where"'))
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 2 and "bad.xosc:1: <LanePosition>: s='$Where': no parameter 'Where'" in result.output
    assert "Traceback" not in result.output


def test_run_an_xosc_with_parameters_and_a_variation(tmp_path):
    sweep = _variation(tmp_path)
    result = runner.invoke(
        app, ["run", str(sweep), "--variation", "2", "--planner", "constant_velocity", "--json", "--camera-hw", "16x28"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["collision"] and abs(record["initial_speed"] - 40 / 3.6) < 1e-6
    result = runner.invoke(
        app,
        ["run", str(tmp_path / "base.xosc"), "--param", "Ego_kph=20", "--planner", "expert", "--camera-hw", "16x28"],
    )
    assert result.exit_code == 0 and "stopped" in result.output
    assert runner.invoke(app, ["run", str(sweep), "--variation", "9"]).exit_code != 0


def test_convert_writes_a_yaml_that_validates(tmp_path):
    out = tmp_path / "out" / "ccrs.yaml"
    result = runner.invoke(app, ["convert", str(N.ccr(tmp_path, 50.0)), "--out", str(out)])
    assert result.exit_code == 0 and out.exists()
    assert "openscenario:" in out.read_text()
    assert runner.invoke(app, ["validate", str(out)]).exit_code == 0


def test_suite_over_a_folder_runs_the_sweep_not_its_base_and_draws_the_grid(tmp_path):
    folder = tmp_path / "ncap"
    folder.mkdir()
    _variation(folder)
    (folder / "ccrs_30.xosc").unlink()  # not varied by the sweep: it would run too
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        [
            "suite",
            "--xosc",
            str(folder),
            "--planner",
            "constant_velocity",
            "--no-video",
            "--camera-hw",
            "16x28",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 3
    assert {r["openscenario"]["parameters"]["Ego_kph"] for r in records} == {"20", "30", "40"}
    page = (out / "report.html").read_text()
    assert "OpenSCENARIO tests" in page and "Ego_kph" in page
    assert list((out / "plots").glob("ncap_*_base_constant_velocity.png"))
