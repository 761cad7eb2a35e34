import numpy as np

from occsim.scenario import build_world
from occsim.scenarios import builtin_path, list_builtin, load_builtin_suite, load_scenario


def test_builtin_suite_has_the_corner_cases():
    names = list_builtin()
    assert len(names) >= 10
    for required in (
        "bus_ahead",
        "cones_closing_lane",
        "cut_in",
        "pedestrian_crossing",
        "oncoming_drift",
        "intersection_crossing",
        "queue_stopped_traffic",
        "construction_zone",
        "stalled_truck_curve",
        "parked_cars_narrowing",
    ):
        assert required in names
    assert len({s.name for s in load_builtin_suite()}) == len(names)
    assert builtin_path("bus_ahead").name == "bus_ahead.yaml"


def test_jitter_is_reproducible_and_varies_with_the_seed():
    scenario = load_scenario("bus_ahead")

    def positions(seed):
        return np.array([(a.x, a.y, a.speed) for a in build_world(scenario, seed).actors])

    assert np.array_equal(positions(3), positions(3))
    assert not np.array_equal(positions(3), positions(4))
    assert np.array_equal(positions(None), positions(None))
    delta = positions(3) - positions(None)
    assert np.all(np.abs(delta[:, 0]) <= scenario.jitter.s + 1e-9)


def test_repeat_expands_into_rows():
    world = build_world(load_scenario("cones_closing_lane"))
    ids = [a.id for a in world.actors]
    assert ids[:7] == [f"cones_{k}" for k in range(7)]
    xs = [a.x for a in world.actors[:7]]
    assert np.allclose(np.diff(xs), 2.0)


def test_no_jittered_run_starts_in_a_collision():
    from occsim.metrics.collision import check_collision

    for scenario in load_builtin_suite():
        for seed in range(3):
            world = build_world(scenario, seed)
            assert check_collision(world.ego, world.actor_states(), world.static) is None, (scenario.name, seed)
