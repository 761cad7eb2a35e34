"""Scenario files that are hostile or mean something other than what they say: each a clear file:line error."""

import subprocess
import sys
import textwrap

import pytest

from occsim.scenario import ScenarioError, parse_scenario
from occsim.scenario.loader import MAX_FILE_BYTES, load_scenario_file


def problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(textwrap.dedent(text), "x.yaml")
    return [str(p) for p in info.value.problems]


def test_duplicate_keys_at_any_level_name_both_lines():
    text = """
    name: dup
    map: {type: straight}
    actors:
      - {id: bus, type: bus, s: 30}
    ego: {s: 0, speed: 10, speed: 5}
    actors:
      - {id: car, type: car, s: 60}
    """
    assert problems(text) == [
        "x.yaml:6: ego.speed: duplicate key 'speed' (first given at line 6)",
        "x.yaml:7: actors: duplicate key 'actors' (first given at line 4)",
    ]


def test_self_overlapping_roads_are_refused():
    (line,) = problems("name: c\nmap: {type: curve, radius: 15, length: 2000}\nego: {goal_s: 100}\n")
    assert line.startswith("x.yaml:2: map.radius: road 0 overlaps itself")
    tight = problems("name: c\nmap: {type: curve, radius: -16, lanes: 3, oncoming_lanes: 3, length: 60}\n")
    assert "overlaps itself" in tight[0]
    parse_scenario("name: c\nmap: {type: curve, radius: 80, length: 250}\n")  # an ordinary curve still loads


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("ego.s", "ego: {s: .nan}"),
        ("ego.goal_s", "ego: {goal_s: .inf}"),
        ("actors[0].s", "actors: [{id: a, type: car, s: .nan}]"),
        ("actors[0].offset", "actors: [{id: a, type: car, s: 20, offset: -.inf}]"),
        ("actors[0].yaw", "actors: [{id: a, type: car, s: 20, yaw: .nan}]"),
        ("actors[0].size[0]", "actors: [{id: a, type: car, s: 20, size: [.inf, 2, 2]}]"),
        ("jitter.s", "jitter: {s: .nan}"),
        (
            "actors[0].behavior.points[1][1]",
            "actors: [{id: a, type: car, s: 20, behavior: {type: waypoints, points: [[0, 20, 0], [1, .nan, 0]]}}]",
        ),
        ("map.radius", "map: {type: curve, radius: .inf}"),
    ],
)
def test_every_float_is_finite(field, text):
    base = {"map": "map: {type: straight}"}
    key = text.split(":")[0]
    doc = "name: n\n" + (base["map"] + "\n" if key != "map" else "") + text + "\n"
    found = problems(doc)
    assert any(f": {field}: Input should be a finite number" in p for p in found), found


def test_alias_bombs_recursive_aliases_and_deep_nesting_are_refused():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for level in "bcdefgh":
        previous = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 10) + "]\n"
    assert "aliases expand to over" in problems(bomb)[0]
    assert "recursive alias" in problems("a: &a [1, *a]\n")[0]
    assert "nested more than" in problems("a: " + "[" * 5000 + "]" * 5000 + "\n")[0]


def test_oversized_files_are_refused_before_reading(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text("name: big\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    with pytest.raises(ScenarioError, match="over the 1,048,576-byte limit"):
        load_scenario_file(path)


def test_thousands_of_actors_validate_within_a_bound(tmp_path):
    rows = "\n".join(
        f"  - {{id: c{i}, type: traffic_cone, lane: {i % 2}, s: {10 + (i // 2) * 1.0}, offset: 0.9, "
        f"repeat: {{count: 4, ds: 0.0, doffset: -0.6}}}}"
        for i in range(600)
    )
    path = tmp_path / "cones.yaml"
    path.write_text(
        f"name: cones\nmap: {{type: straight, length: 400}}\nego: {{s: -10, goal_s: 300}}\nactors:\n{rows}\n"
    )
    code = f"from occsim.scenario import load_scenario_file; print(len(load_scenario_file({str(path)!r}).actors))"
    # 2,400 boxes: the old pairwise check took minutes for a tenth of this; the spatial index takes seconds
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "600", out.stderr
