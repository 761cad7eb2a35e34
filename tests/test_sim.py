import numpy as np
import pytest

from occsim.scenarios import load_scenario
from occsim.sim import Simulation
from occsim.types import Trajectory
from occsim.world.ego import Control


@pytest.fixture(scope="module")
def sim():
    return Simulation(camera_hw=(32, 56))


def test_constant_velocity_crashes_into_the_stopped_bus(sim):
    sim.reset(load_scenario("bus_ahead"), seed=0)
    for _ in range(20):
        out = sim.step(Trajectory.constant_velocity(10.0))
        if out.collision:
            break
    assert out.collision.with_id == "bus"
    assert out.collision.impact_speed == pytest.approx(10.0, abs=0.5)
    assert sim.history[-1].collided_with == "bus"
    # the step stops at the substep of contact: the ego front is at the bus rear, not past it
    bus = sim.world.actors[0]
    assert sim.world.ego.pose.x + 1.3 + 2.04 - (bus.x - 5.5) < 1.1


def test_stopping_trajectory_stops_and_times_out(sim):
    scenario = load_scenario("bus_ahead").model_copy(update={"duration": 5.0})
    sim.reset(scenario, seed=0)
    for _ in range(10):
        out = sim.step(Trajectory(np.zeros((6, 2))))
    assert out.collision is None and out.timed_out
    assert sim.world.ego.speed == 0.0
    assert len(sim.history) == 11 and sim.history[0].t == 0.0 and sim.history[-1].t == pytest.approx(5.0)
    assert len(sim.history[-1].ego_trace) == 5


def test_direct_control_and_offroad(sim):
    sim.reset(load_scenario("bus_ahead"), seed=0)
    for _ in range(8):
        out = sim.step(Control(0.0, -0.4))
        if out.offroad:
            break
    assert out.offroad


def test_same_seed_same_history(sim):
    def rollout(seed):
        sim.reset(load_scenario("cut_in"), seed=seed)
        return [sim.step(Trajectory.constant_velocity(9.0)).progress for _ in range(6)], sim.frames.rgb.copy()

    a, b = rollout(3), rollout(3)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])


def test_step_before_reset_is_an_error():
    with pytest.raises(RuntimeError, match="reset"):
        Simulation(camera_hw=(8, 8)).step(Trajectory.constant_velocity(1.0))
