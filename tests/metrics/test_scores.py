import numpy as np
import pytest

from occsim.classes import CAR, TRAFFIC_CONE
from occsim.metrics.scores import (
    comfortable,
    drivable_area_compliance,
    ego_progress,
    ncap_score,
    no_collision,
    pdms,
    run_scores,
    time_to_collision_ok,
)
from occsim.types import ActorState, EgoState, HistoryStep, Pose2D, ReferenceRun, Trajectory


def ego(x=0.0, v=10.0, a=0.0, yaw_rate=0.0):
    return EgoState(Pose2D(x, 0.0, 0.0), v, a, yaw_rate)


def step(t=0.5, e=None, actors=(), plan=None, hit=None, cls=None, impact=0.0, offroad=False, progress=0.0, trace=None):
    e = e or ego()
    return HistoryStep(t, e, tuple(actors), plan, tuple(trace or (e,)), hit, cls, impact, offroad, progress, 100.0)


def car(x, y=0.0, v=0.0, cls=CAR, size=(4.6, 1.9, 1.7), name="c"):
    return ActorState(name, cls, Pose2D(x, y, 0.0), v, size, velocity=(v, 0.0))


def test_ncap_hand_cases():
    assert ncap_score(None, 10.0) == 5.0
    assert ncap_score(5.0, 10.0) == pytest.approx(2.0)  # 4 * (1 - 5 / 10)
    assert ncap_score(2.5, 10.0) == pytest.approx(3.0)
    assert ncap_score(12.0, 10.0) == 0.0
    assert ncap_score(3.0, 0.0) == 0.0


def test_pdms_hand_cases():
    assert pdms(1, 1, 1, 1, 1) == 1.0
    assert pdms(1, 1, 1, 0.5, 1) == pytest.approx(9.5 / 12)  # (5 + 2.5 + 2) / 12
    assert pdms(0.5, 1, 0, 1, 0) == pytest.approx(0.5 * 5 / 12)
    assert pdms(0, 1, 1, 1, 1) == 0.0
    assert pdms(1, 0, 1, 1, 1) == 0.0


def test_no_collision_fault_rules():
    assert no_collision(step()) == 1.0
    assert no_collision(step(actors=[car(5.0)], hit="c", cls="car")) == 0.0
    assert (
        no_collision(step(actors=[car(5.0, cls=TRAFFIC_CONE, size=(0.4, 0.4, 0.8))], hit="c", cls="traffic_cone"))
        == 0.5
    )
    assert no_collision(step(hit="static:manmade", cls="manmade")) == 0.5
    assert no_collision(step(e=ego(v=0.0), actors=[car(5.0)], hit="c", cls="car")) == 1.0  # stopped
    assert no_collision(step(actors=[car(-3.5, v=15.0)], hit="c", cls="car")) == 1.0  # rear-ended


def test_drivable_area_compliance():
    assert drivable_area_compliance(step()) == 1.0
    assert drivable_area_compliance(step(offroad=True)) == 0.0


def test_ttc_along_the_plan():
    plan = Trajectory.constant_velocity(10.0)
    before_near = step(t=0.0, e=ego(v=10.0), actors=[car(3.34 + 8.0 + 2.3)])  # rear 8 m ahead of the bumper
    before_far = step(t=0.0, e=ego(v=10.0), actors=[car(3.34 + 12.0 + 2.3)])  # rear 12 m ahead
    assert time_to_collision_ok(before_near, step(plan=plan)) == 0.0  # 10 m in 1 s closes an 8 m gap
    assert time_to_collision_ok(before_far, step(plan=plan)) == 1.0
    moving_away = step(t=0.0, e=ego(v=10.0), actors=[car(3.34 + 8.0 + 2.3, v=10.0)])
    assert time_to_collision_ok(moving_away, step(plan=plan)) == 1.0
    stopped = step(t=0.0, e=ego(v=0.0), actors=[car(3.34 + 0.5 + 2.3)])
    assert time_to_collision_ok(stopped, step(plan=plan)) == 1.0


def test_ego_progress_against_the_expert():
    history = [step(progress=0.0), step(progress=30.0)]
    assert ego_progress(history, ReferenceRun(0.0, (0.0, 40.0))) == pytest.approx(0.75)
    assert ego_progress(history, ReferenceRun(0.0, (0.0, 3.0))) == 1.0  # expert barely moved
    assert ego_progress(history, ReferenceRun(0.0, (0.0, 20.0))) == 1.0  # capped


def test_comfort_bounds():
    cruise = [ego(x=i, v=10.0) for i in range(20)]
    assert comfortable([step(trace=cruise)]) == 1.0
    braking = [ego(v=max(0.0, 10.0 - 0.8 * i)) for i in range(20)]  # -8 m/s^2, below -4.05
    assert comfortable([step(trace=braking)]) == 0.0
    gentle = [ego(v=10.0 - 0.2 * i) for i in range(20)]  # -2 m/s^2
    assert comfortable([step(trace=gentle)]) == 1.0
    swerve = [ego(v=10.0, yaw_rate=0.6 * (-1) ** (i // 5)) for i in range(20)]  # lateral accel 6 m/s^2
    assert comfortable([step(trace=swerve)]) == 0.0
    for n in range(1, 8):  # runs that end within a step or two (a crash at once) are scored, not an error
        assert comfortable([step(trace=[ego(x=i, v=10.0) for i in range(n)])]) == 1.0
    assert comfortable([step(trace=[ego(v=10.0 - 0.8 * i) for i in range(4)])]) == 0.0


def test_run_scores_of_a_crash_and_of_a_clean_run():
    start = step(t=0.0, progress=0.0)
    crash = step(actors=[car(5.0)], hit="c", cls="car", impact=6.0, progress=20.0)
    scores = run_scores([start, crash], ReferenceRun(10.0, (0.0, 40.0)))
    assert scores.ncap == pytest.approx(1.6)  # 4 * (1 - 6 / 10)
    assert scores.nc == 0.0 and scores.pdms == 0.0 and scores.driving_score == 0.0
    assert scores.route_completion == pytest.approx(0.2)
    clean = step(progress=100.0)
    scores = run_scores([start, clean], ReferenceRun(10.0, (0.0, 80.0)))
    assert scores.ncap == 5.0 and scores.pdms == 1.0 and scores.route_completion == 1.0 and scores.driving_score == 1.0
    slow = step(progress=40.0)
    scores = run_scores([start, slow], ReferenceRun(10.0, (0.0, 80.0)))
    assert scores.ep == 0.5 and scores.pdms == pytest.approx((5 + 2.5 + 2) / 12)
    assert scores.driving_score == pytest.approx(scores.pdms * 0.4)


def test_scores_of_a_real_run():
    from occsim.scenarios import load_scenario
    from occsim.sim import Simulation

    sim = Simulation(renderer="blank", camera_hw=(8, 8))
    sim.reset(load_scenario("bus_ahead"), seed=0)
    while True:
        out = sim.step(Trajectory.constant_velocity(10.0))
        if out.collision or out.timed_out:
            break
    scores = run_scores(sim.history, ReferenceRun(10.0, tuple(np.linspace(0.0, 130.0, 31))))
    assert scores.nc == 0.0 and scores.ncap == pytest.approx(4 * (1 - out.collision.impact_speed / 10.0))
    assert scores.ttc == 0.0  # the plan drove into the bus
