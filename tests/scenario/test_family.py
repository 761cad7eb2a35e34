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
