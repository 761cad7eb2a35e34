import textwrap

import pytest

from occsim.scenario import ScenarioError, load_scenario_file, parse_scenario

GOOD = """
name: ok
map: {type: straight, lanes: 2, oncoming_lanes: 1, length: 200}
ego: {lane: 0, s: 10, speed: 10, goal_s: 150}
actors:
  - {id: bus, type: bus, lane: 0, s: 50}
"""

ISSUE_EXAMPLE = """
name: bus_ahead                 # [a-z0-9_]+, unique in a suite
description: A stopped bus 30 m ahead in the ego lane.
tags: [stationary]
map: {type: straight, lanes: 2, oncoming_lanes: 1, lane_width: 3.5, length: 250}
weather: {type: clear}
ego: {lane: 0, s: 0, speed: 10, command: straight, goal_s: 150}
duration: 15
dt: 0.5
actors:
  - {id: bus, type: bus, lane: 0, s: 30, speed: 0}
  - {id: cones, type: traffic_cone, lane: 1, s: 60, offset: -1.0, repeat: {count: 5, ds: 1.5, doffset: 0.5}}
  - id: cutter
    type: car
    lane: 1
    s: 12
    speed: 11
    behavior: {type: cut_in, to_lane: 0, when: {ego_distance_below: 20}, duration: 2.0}
  - {id: walker, type: pedestrian, lane: 0, s: 45, offset: 6, behavior: {type: crossing, speed: 1.4, when: {time_after: 2}}}
jitter: {s: 2.0, offset: 0.3, speed: 1.0}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(textwrap.dedent(text), "x.yaml")
    return [str(p) for p in info.value.problems]


def test_the_issue_example_is_accepted_verbatim():
    s = parse_scenario(ISSUE_EXAMPLE)
    assert s.name == "bus_ahead" and len(s.actors) == 4 and s.jitter.speed == 1.0


def test_good_file_loads(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(GOOD)
    assert load_scenario_file(path).actors[0].type == "bus"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nmap: {type: straight\n", "x.yaml:3: YAML syntax error: expected ',' or '}'"),
        ("name: x\nmap: {type: straight\n", "(while parsing a flow mapping opened at line 2)"),
        ("name: x\n  bad: indent\n", "x.yaml:2: YAML syntax error"),
        ("", "x.yaml: empty file"),
        ("- a\n- b\n", "x.yaml:1: expected a mapping at the top, got list"),
        ("name: x\nmap: {type: straight}\nfoo: 1\n", "x.yaml:3: foo: unknown key 'foo'"),
        ("name: x\nmap: {type: straight}\nduration: -1\n", "x.yaml:3: duration: Input should be greater than 0"),
        ("name: x\nmap: {type: straight}\ndt: 0\n", "x.yaml:3: dt: Input should be greater than 0"),
        ("name: x\nmap: {type: straight}\nduration: fast\n", "x.yaml:3: duration: Input should be a valid number"),
        (
            "name: x\nmap: {type: straigth}\n",
            "x.yaml:2: map.type: 'straigth' is not a map type; did you mean 'straight'?",
        ),
        (
            "name: x\nmap: {type: straight}\nactors:\n  - {id: a, type: buss, s: 10}\n",
            "x.yaml:4: actors[0].type: 'buss' is not a class; did you mean 'bus'?",
        ),
        (
            "name: x\nmap: {type: straight}\nactors:\n  - {id: a, type: car, s: 10, behavior: {type: idn}}\n",
            "x.yaml:4: actors[0].behavior.type: 'idn' is not a behaviour type; did you mean 'idm'?",
        ),
        (
            "name: x\nmap: {type: straight}\nactors:\n  - {id: a, type: car, s: 10, spead: 3}\n",
            "x.yaml:4: actors[0].spead: unknown key 'spead'; did you mean 'speed'?",
        ),
        (
            "name: x\nmap: {type: straight, lanes: 2}\nego: {lane: 2}\n",
            "x.yaml:3: ego.lane: lane 2 does not exist on road 0",
        ),
        (
            "name: x\nmap: {type: straight}\nactors:\n  - {id: a, type: car, lane: -3, s: 10}\n",
            "x.yaml:4: actors[0].lane: lane -3 does not exist",
        ),
        (
            "name: x\nmap: {type: straight}\nego: {s: 0, offset: -3.0}\n",
            "x.yaml:3: ego.s: the ego at s=0.0, lane 0 is off the road",
        ),
        (
            "name: x\nmap: {type: straight}\nactors:\n  - {id: a, type: car, s: 40}\n  - {id: a, type: car, s: 60}\n",
            "x.yaml:5: actors[1].id: duplicate id 'a'",
        ),
        (
            "name: x\nmap: {type: straight}\nactors:\n  - {id: a, type: car, s: 40}\n  - {id: b, type: car, s: 42}\n",
            "x.yaml:5: actors[1]: actors[1] 'b' overlaps actors[0] 'a' at t = 0",
        ),
        ("name: x\nmap: {type: straight}\nactors:\n  - {id: a, type: car, s: 2}\n", "overlaps the ego at t = 0"),
    ],
)
def test_each_mistake_gets_one_clear_message_with_file_and_line(text, expected):
    found = problems(text)
    assert any(expected in p for p in found), found


def test_yaml_tags_are_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    text = f"name: !!python/object/apply:os.system ['touch {marker}']\nmap: {{type: straight}}\n"
    assert "YAML syntax error" in problems(text)[0]
    assert not marker.exists()


def test_several_problems_are_all_reported():
    found = problems("name: Bad\nmap: {type: straight}\nduration: 0\nfoo: 1\n")
    assert len(found) == 3
