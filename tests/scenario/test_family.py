"""Scenario families: distributions in YAML, drawn reproducibly into concrete scenarios that validate."""

import pytest
from typer.testing import CliRunner

from occsim.cli import app
from occsim.scenario import ScenarioError, load_scenario_file, parse_scenario
from occsim.scenario.family import dump_instance, family_from_text, sample_family

FAMILY = """name: stopped_vehicle
family:
  difficulty: {ttc_s: "(lead.s - ego.s) / ego.speed"}
map: {type: straight, lanes: 2, oncoming_lanes: 1}
weather: {type: {choice: [clear, fog, night]}}
ego: {lane: 0, s: 20, speed: {uniform: [8, 14]}, command: straight, goal_s: 170}
actors:
  - {id: lead, type: {choice: [bus, truck, car], weights: [2, 1, 1]}, lane: 0, s: {normal: [60, 10], clip: [45, 80]}, speed: 0}
  - {id: beside, type: car, lane: 1, s: {expr: "lead.s + 6"}, speed: 0}
"""


def test_draws_are_reproducible_consistent_and_valid():
    family = family_from_text(FAMILY)
    a, b = sample_family(family, 6, seed=3), sample_family(family, 6, seed=3)
    assert [i.drawn for i in a] == [i.drawn for i in b]
    assert [i.drawn for i in a] != [i.drawn for i in sample_family(family, 6, seed=4)]
    for instance in a:
        lead, beside = instance.scenario.actors
        assert beside.s == pytest.approx(lead.s + 6)  # the reference follows the draw
        assert 45 <= lead.s <= 80 and 8 <= instance.scenario.ego.speed <= 14
        assert instance.difficulty["ttc_s"] == pytest.approx((lead.s - 20) / instance.scenario.ego.speed, abs=1e-3)
        assert parse_scenario(dump_instance(instance)).name == instance.scenario.name  # plain, valid YAML
    assert len({i.scenario.weather.type for i in sample_family(family, 30, seed=0)}) == 3


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            "speed: {uniform: [8, 14]}",
            "speed: {uniform: [14, 8]}",
        ),
        ("speed: {uniform: [8, 14]}", "speed: {gamma: [8, 14]}"),
        ('"lead.s + 6"', '"leed.s + 6"'),
        ('"lead.s + 6"', '"__import__(1)"'),
    ],
)
def test_bad_distributions_are_file_line_errors(change, message):
    broken = FAMILY.replace(change, message)
    with pytest.raises(ScenarioError) as raised:
        family_from_text(broken, "f.yaml")
    text = str(raised.value)
    line = next(i + 1 for i, row in enumerate(broken.splitlines()) if message in row)
    assert text.startswith(f"f.yaml:{line}:"), text
    expected = {
        "[14, 8]": "is empty",
        "gamma": "unknown distribution 'gamma'",
        "leed": "'leed.s' is not a field",
        "__import": "only",
    }
    assert any(key in message and words in text for key, words in expected.items()), text


def test_a_family_that_cannot_be_placed_is_reported_after_bounded_redraws():
    crowded = FAMILY.replace('s: {expr: "lead.s + 6"}, speed: 0', 's: {expr: "lead.s"}, lane: 0, speed: 0')
    crowded = crowded.replace("type: car, lane: 1,", "type: car,")
    with pytest.raises(ScenarioError, match="no draw of 50 passed the scenario checks"):
        family_from_text(crowded).sample(0)


def test_sample_writes_files_that_validate(tmp_path):
    path = tmp_path / "stopped.yaml"
    path.write_text(FAMILY)
    runner = CliRunner()
    result = runner.invoke(app, ["sample", str(path), "--n", "4", "--seed", "1", "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "out").glob("*.yaml"))
    assert [f.name for f in files] == [f"stopped_vehicle_00{i}.yaml" for i in range(4)]
    assert all(load_scenario_file(f).name == f.stem for f in files)
    assert "# drawn from family stopped_vehicle" in files[0].read_text()
    checked = runner.invoke(app, ["validate", str(path), *map(str, files)])
    assert checked.exit_code == 0 and "family stopped_vehicle" in checked.output
    with pytest.raises(ScenarioError, match="scenario family"):
        load_scenario_file(path)  # a family is not one scenario


def test_every_shipped_family_validates_and_draws_the_same_instances_per_seed():
    from occsim.scenario.family import load_family_file
    from occsim.scenarios import family_paths

    paths = family_paths()
    assert len(paths) >= 12
    for path in paths:
        family = load_family_file(path)
        assert family.is_family and family.name == path.stem
        first = [i.drawn for i in sample_family(family, 3, seed=0)]
        assert first == [i.drawn for i in sample_family(family, 3, seed=0)]
        assert all(i.difficulty for i in sample_family(family, 3, seed=0))  # each declares its difficulty


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("50 / 0", "division by zero"),
        ("lead.s / (ego.s - 20)", "division by zero"),
        ("1e200 * 1e200", "overflows a float"),
        ("-1e308 - 1e308", "overflows a float"),
        ("min()", "min takes at least 1"),
        ("abs(1, 2)", "abs takes 1"),
        ("(1).real", "only a field name"),
        ("1e999", "inf is not a number"),
        ("+".join(["1"] * 200_000), "an expression is at most 256"),
        ("(" * 40 + "1" + ")" * 40, "nests at most 16"),
        ("-" * 250 + "1", ""),
    ],
)
def test_expression_errors_are_file_line_errors_in_validate(tmp_path, expr, words):
    """Issue 34: an expression that divides by zero or overflows, or is huge, is a file:line error (exit 2)."""
    path = tmp_path / "f.yaml"
    path.write_text(FAMILY.replace('"lead.s + 6"', f'"{expr}"'))
    result = CliRunner().invoke(app, ["validate", str(path)])
    line = next(i + 1 for i, row in enumerate(path.read_text().splitlines()) if "beside" in row)
    if not words:  # 250 signs: within the limits, a number
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"{path}:{line}: actors[1].s: expression "), result.output
    assert words in result.output and len(result.output) < 400, result.output


def test_difficulty_measure_errors_name_the_measure():
    broken = FAMILY.replace('"(lead.s - ego.s) / ego.speed"', '"(lead.s - ego.s) / (ego.speed - ego.speed)"')
    with pytest.raises(ScenarioError, match=r"^f.yaml:3: family.difficulty.ttc_s: expression .*division by zero"):
        family_from_text(broken, "f.yaml").sample(0)


def test_sample_refuses_an_absurd_count_and_writes_whole_files_as_it_draws(tmp_path, monkeypatch):
    """Issue 34: --n 100000000 is refused at once; files appear one by one, never half written."""
    from occsim.scenario import family as family_module

    path = tmp_path / "stopped.yaml"
    path.write_text(FAMILY)
    runner = CliRunner()
    result = runner.invoke(app, ["sample", str(path), "--n", "100000000", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "--n 100,000,000 is outside 1 .. 100,000" in result.output
    assert not (tmp_path / "out").exists()
    monkeypatch.setattr(family_module.shutil, "disk_usage", lambda _: type("U", (), {"free": 10_000})())
    result = runner.invoke(app, ["sample", str(path), "--n", "1000", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "MB free; draw fewer" in result.output and not (tmp_path / "out").exists()
    monkeypatch.undo()

    seen = []
    family = family_from_text(FAMILY, str(path))
    written = family_module.write_samples(
        family,
        4,
        0,
        tmp_path / "out",
        progress=lambda k: seen.append(sorted(p.name for p in (tmp_path / "out").iterdir())),
    )
    assert [len(s) for s in seen] == [1, 2, 3, 4] and [p.name for p in written] == seen[-1]  # written as drawn

    def refuse(self, text, encoding=None):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(family_module.Path, "write_text", refuse)
    result = runner.invoke(app, ["sample", str(path), "--n", "3", "--out", str(tmp_path / "full")])
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert list((tmp_path / "full").iterdir()) == []  # no partial or temporary file left


def test_a_drawn_family_name_is_refused():
    with pytest.raises(ScenarioError, match="f.yaml:1: name: a family's name is fixed"):
        family_from_text(FAMILY.replace("name: stopped_vehicle", "name: {choice: [a, b]}"), "f.yaml")
