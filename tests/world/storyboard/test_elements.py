"""The storyboard's state machine: priorities, repeated events, stop triggers, element-state conditions."""

import pytest

from tests import openscenario_files as F
from tests.world.storyboard.conftest import run_until

CAR = F.vehicle("car")
START = [F.teleport(F.lane_position("0", -1, 10.0)), F.speed(10.0)]


def _speed_ramp(target, seconds):
    return F.speed(target, "linear", "time", seconds)


def _run(storyboard, *events, until=6.0, stop=""):
    rt = storyboard(F.xosc({"Ego": CAR}, {"Ego": START}, F.story("Ego", *events), stop=stop))
    run_until(rt, until)
    return rt


def test_override_ends_the_running_event_of_the_maneuver(storyboard):
    slow = F.event("slow", _speed_ramp(0.0, 10.0), F.trigger(F.sim_time(0.0, "greaterOrEqual")))
    fast = F.event("fast", F.speed(20.0), F.trigger(F.sim_time(1.0, "greaterOrEqual")), priority="override")
    rt = _run(storyboard, slow, fast, until=3.0)
    assert rt.entities["Ego"].speed == pytest.approx(20.0)  # the ramp down was ended by the override


def test_skip_waits_while_another_event_runs(storyboard):
    slow = F.event("slow", _speed_ramp(0.0, 2.0), F.trigger(F.sim_time(0.0, "greaterOrEqual")))
    fast = F.event("fast", F.speed(20.0), F.trigger(F.sim_time(0.5, "greaterOrEqual")), priority="skip")
    rt = _run(storyboard, slow, fast, until=1.5)
    assert rt.entities["Ego"].speed < 10.0  # skipped while the ramp runs
    run_until(rt, 3.0)
    assert rt.entities["Ego"].speed == pytest.approx(20.0)  # then started once the ramp was done


def test_maximum_execution_count_repeats_an_event(storyboard):
    add = '<GlobalAction><VariableAction variableRef="n"><ModifyAction><Rule><AddValue value="1"/></Rule></ModifyAction></VariableAction></GlobalAction>'
    repeated = F.event("count", add, F.trigger(F.sim_time(0.0, "greaterOrEqual")), priority="parallel", count=3)
    rt = storyboard(
        F.xosc(
            {"Ego": CAR},
            {"Ego": START},
            F.story("Ego", repeated),
            variables='<VariableDeclaration name="n" variableType="double" value="0"/>',
        )
    )
    run_until(rt, 2.0)
    assert float(rt.variables["n"]) == pytest.approx(3.0)


def test_storyboard_stop_trigger_ends_the_run(storyboard):
    stop = F.trigger(F.sim_time(1.0, "greaterThan"), kind="StopTrigger")
    rt = _run(storyboard, F.event("e", F.speed(12.0), F.trigger(F.sim_time(0.0, "greaterOrEqual"))), stop=stop)
    assert rt.finished and rt.time == pytest.approx(1.1)


def test_an_act_stop_trigger_stops_its_events(storyboard):
    ramp = F.event("ramp", _speed_ramp(30.0, 10.0), F.trigger(F.sim_time(0.0, "greaterOrEqual")))
    act_stop = F.trigger(F.sim_time(1.0, "greaterOrEqual"), kind="StopTrigger")
    text = F.xosc({"Ego": CAR}, {"Ego": START}, F.story("Ego", ramp, act_start=act_stop))
    rt = storyboard(text)
    run_until(rt, 1.5)
    speed = rt.entities["Ego"].speed
    assert 10.0 < speed < 10.0 + 20.0 * 1.5 / 10.0  # the ramp ran until the act stopped at 1 s
    run_until(rt, 3.0)
    assert rt.entities["Ego"].speed == pytest.approx(speed)  # and not after
    assert rt.stories[0].children[0].state == "complete"


@pytest.mark.parametrize(
    "state,fires", [("completeState", 2.1), ("endTransition", 2.1), ("startTransition", 0.1), ("runningState", 0.1)]
)
def test_storyboard_element_state_conditions(storyboard, state, fires):
    first = F.event("first", _speed_ramp(5.0, 2.0), F.trigger(F.sim_time(0.0, "greaterOrEqual")))
    watch = (
        f'<Condition name="w" delay="0" conditionEdge="none"><ByValueCondition><StoryboardElementStateCondition '
        f'storyboardElementType="event" storyboardElementRef="first" state="{state}"/></ByValueCondition></Condition>'
    )
    second = F.event(
        "second",
        '<GlobalAction><VariableAction variableRef="seen"><SetAction value="1"/></VariableAction></GlobalAction>',
        F.trigger(watch),
        priority="parallel",
    )
    text = F.xosc(
        {"Ego": CAR},
        {"Ego": START},
        F.story("Ego", first, second),
        variables='<VariableDeclaration name="seen" variableType="double" value="0"/>',
    )
    rt = storyboard(text)
    while rt.variables["seen"] == "0" and rt.time < 5.0:
        rt.step(0.1)
    assert rt.time == pytest.approx(fires, abs=0.11)


def test_a_cut_in_moves_sideways_only_once_its_trigger_fires(storyboard):
    change = (
        '<PrivateAction><LateralAction><LaneChangeAction><LaneChangeActionDynamics dynamicsShape="cubic" '
        'dynamicsDimension="time" value="2"/><LaneChangeTarget><RelativeTargetLane entityRef="Ego" value="0"/>'
        "</LaneChangeTarget></LaneChangeAction></LateralAction></PrivateAction>"
    )
    near = F.entity_condition(
        "Cutter",
        '<RelativeDistanceCondition entityRef="Ego" value="15" freespace="false" relativeDistanceType="longitudinal" rule="lessThan"/>',
    )
    text = F.xosc(
        {"Ego": CAR, "Cutter": F.vehicle("cutter")},
        {"Ego": START, "Cutter": [F.teleport(F.lane_position("0", -2, 60.0)), F.speed(5.0)]},
        F.story("Cutter", F.event("cut", change, F.trigger(near))),
    )
    rt = storyboard(text)
    lateral = []
    while rt.time < 12.0:
        gap = rt.entities["Cutter"].x - rt.entities["Ego"].x
        lateral.append((round(rt.time, 1), gap, rt.entities["Cutter"].y))
        rt.step(0.1)
    moved = [(t, g) for t, g, y in lateral if y > -5.25 + 1e-6]
    assert moved, "the cut-in never moved"
    first_time, gap_then = moved[0]
    assert all(y == pytest.approx(-5.25) for t, g, y in lateral if t < first_time)
    assert gap_then < 15.0 + 0.6  # it began once the ego was within 15 m (one step of closing speed late at most)
    assert lateral[-1][2] == pytest.approx(-1.75)  # ended in the ego's lane
