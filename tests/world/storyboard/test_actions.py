"""Each OpenSCENARIO action kind by what it does to the entities (straight road along +x, lanes 3.5 m)."""

import math

import pytest

from tests import openscenario_files as F
from tests.world.storyboard.conftest import run_until

CAR = F.vehicle("car")


def _one(actions, stories="", **kw):
    return F.xosc({"Ego": CAR}, {"Ego": actions}, stories, **kw)


def test_teleport_and_step_speed_drive_along_the_lane(storyboard):
    rt = storyboard(_one([F.teleport(F.lane_position("0", -1, 10.0)), F.speed(10.0)]))
    ego = rt.entities["Ego"]
    assert (ego.x, ego.y, ego.speed) == pytest.approx((10.0, -1.75, 10.0))
    run_until(rt, 2.0)
    assert ego.x == pytest.approx(30.0) and ego.y == pytest.approx(-1.75)
    assert ego.odometer == pytest.approx(20.0)


def test_a_left_lane_faces_against_s(storyboard):
    rt = storyboard(_one([F.teleport(F.lane_position("0", 1, 100.0)), F.speed(5.0)]))
    run_until(rt, 1.0)
    ego = rt.entities["Ego"]
    assert ego.x == pytest.approx(95.0) and ego.y == pytest.approx(1.75) and abs(ego.h) == pytest.approx(math.pi)


@pytest.mark.parametrize(
    "shape,dimension,value,expected",
    [
        ("linear", "time", 2.0, 5.0),  # halfway through 2 s from 0 to 10 m/s
        ("linear", "rate", 2.0, 2.0),  # 2 m/s^2 for 1 s
        ("cubic", "time", 2.0, 5.0),  # symmetric: half at half time
        ("sinusoidal", "time", 2.0, 5.0),
        # over a distance: as the reference player, over the time that distance takes (2 D / (v0 + v1) = 2 s)
        ("linear", "distance", 10.0, 5.0),
    ],
)
def test_speed_transitions_follow_their_shape(storyboard, shape, dimension, value, expected):
    rt = storyboard(_one([F.teleport(F.lane_position("0", -1, 10.0)), F.speed(10.0, shape, dimension, value)]))
    run_until(rt, 1.0)
    assert rt.entities["Ego"].speed == pytest.approx(expected, abs=1e-6)


def test_acceleration_is_limited_by_performance(storyboard):
    car = F.vehicle("car").replace('maxAcceleration="10"', 'maxAcceleration="2"')
    rt = storyboard(
        F.xosc(
            {"Ego": car}, {"Ego": [F.teleport(F.lane_position("0", -1, 10.0)), F.speed(10.0, "linear", "time", 1.0)]}
        )
    )
    run_until(rt, 1.0)
    assert rt.entities["Ego"].speed == pytest.approx(2.0)


def test_lane_change_moves_sideways_over_its_duration_and_ends_straight(storyboard):
    change = (
        '<PrivateAction><LateralAction><LaneChangeAction><LaneChangeActionDynamics dynamicsShape="sinusoidal" '
        'dynamicsDimension="time" value="3"/><LaneChangeTarget><AbsoluteTargetLane value="-2"/></LaneChangeTarget>'
        "</LaneChangeAction></LateralAction></PrivateAction>"
    )
    stories = F.story("Ego", F.event("change", change, F.trigger(F.sim_time(1.0, "greaterOrEqual"))))
    rt = storyboard(_one([F.teleport(F.lane_position("0", -1, 10.0)), F.speed(10.0)], stories))
    run_until(rt, 1.0)
    assert rt.entities["Ego"].y == pytest.approx(-1.75)
    run_until(rt, 2.5)  # halfway through the change
    assert rt.entities["Ego"].y == pytest.approx(-3.5, abs=0.05) and rt.entities["Ego"].h < -0.01
    run_until(rt, 5.0)
    ego = rt.entities["Ego"]
    assert ego.y == pytest.approx(-5.25) and ego.h == pytest.approx(0.0) and ego.pos.lane == -2


def test_lane_offset_drifts_within_the_lane(storyboard):
    offset = (
        '<PrivateAction><LateralAction><LaneOffsetAction continuous="false"><LaneOffsetActionDynamics '
        'dynamicsShape="linear" maxLateralAcc="1.0"/><LaneOffsetTarget><AbsoluteTargetLaneOffset value="1.0"/>'
        "</LaneOffsetTarget></LaneOffsetAction></LateralAction></PrivateAction>"
    )
    stories = F.story("Ego", F.event("drift", offset, F.trigger(F.sim_time(0.0, "greaterOrEqual"))))
    rt = storyboard(_one([F.teleport(F.lane_position("0", -1, 10.0)), F.speed(5.0)], stories))
    run_until(rt, 5.0)
    assert rt.entities["Ego"].y == pytest.approx(-0.75) and rt.entities["Ego"].pos.lane == -1


def test_follow_trajectory_polyline_at_the_entitys_speed(storyboard):
    trajectory = (
        '<PrivateAction><RoutingAction><FollowTrajectoryAction><TrajectoryRef><Trajectory name="t" closed="false">'
        "<Shape><Polyline>"
        '<Vertex><Position><WorldPosition x="10" y="-1.75"/></Position></Vertex>'
        '<Vertex><Position><WorldPosition x="20" y="-1.75"/></Position></Vertex>'
        '<Vertex><Position><WorldPosition x="20" y="8.25"/></Position></Vertex>'
        "</Polyline></Shape></Trajectory></TrajectoryRef><TimeReference><None/></TimeReference>"
        '<TrajectoryFollowingMode followingMode="position"/></FollowTrajectoryAction></RoutingAction></PrivateAction>'
    )
    stories = F.story("Ego", F.event("follow", trajectory, F.trigger(F.sim_time(0.0, "greaterOrEqual"))))
    rt = storyboard(_one([F.teleport(F.lane_position("0", -1, 10.0)), F.speed(5.0)], stories))
    run_until(rt, 3.0)  # 15 m along: past the corner by 5 m
    ego = rt.entities["Ego"]
    assert (ego.x, ego.y) == pytest.approx((20.0, 3.25), abs=1e-6)


def test_longitudinal_distance_holds_a_gap_to_a_lead(storyboard):
    keep = (
        '<PrivateAction><LongitudinalAction><LongitudinalDistanceAction entityRef="Lead" distance="20" '
        'freespace="false" continuous="true" displacement="trailingReferencedEntity"/></LongitudinalAction></PrivateAction>'
    )
    text = F.xosc(
        {"Ego": CAR, "Lead": F.vehicle("lead")},
        {
            "Ego": [F.teleport(F.lane_position("0", -1, 10.0))],
            "Lead": [F.teleport(F.lane_position("0", -1, 60.0)), F.speed(8.0)],
        },
        F.story("Ego", F.event("keep", keep, F.trigger(F.sim_time(0.0, "greaterOrEqual")))),
    )
    rt = storyboard(text)
    run_until(rt, 3.0)
    assert rt.entities["Lead"].x - rt.entities["Ego"].x == pytest.approx(20.0, abs=1e-6)
    assert rt.entities["Ego"].speed == pytest.approx(8.0)


def test_visibility_add_and_delete(storyboard):
    hide = '<PrivateAction><VisibilityAction graphics="false" traffic="false" sensors="false"/></PrivateAction>'
    delete = '<GlobalAction><EntityAction entityRef="Other"><DeleteEntityAction/></EntityAction></GlobalAction>'
    text = F.xosc(
        {"Ego": CAR, "Other": F.vehicle("o")},
        {"Ego": [F.teleport(F.lane_position("0", -1, 10.0))], "Other": [F.teleport(F.lane_position("0", -1, 50.0))]},
        F.story(
            "Ego",
            F.event("hide", hide, F.trigger(F.sim_time(0.5, "greaterOrEqual"))),
            F.event("del", delete, F.trigger(F.sim_time(1.0, "greaterOrEqual")), priority="parallel"),
        ),
    )
    rt = storyboard(text)
    run_until(rt, 0.8)
    assert not rt.entities["Ego"].visible and rt.entities["Other"].active
    run_until(rt, 1.5)
    assert not rt.entities["Other"].active


def test_variables_and_parameters_are_set_and_modified(storyboard):
    set_var = '<GlobalAction><VariableAction variableRef="hits"><SetAction value="3"/></VariableAction></GlobalAction>'
    add_var = '<GlobalAction><VariableAction variableRef="hits"><ModifyAction><Rule><AddValue value="2"/></Rule></ModifyAction></VariableAction></GlobalAction>'
    stories = F.story(
        "Ego",
        F.event("set", set_var, F.trigger(F.sim_time(0.2, "greaterOrEqual"))),
        F.event("add", add_var, F.trigger(F.sim_time(0.5, "greaterOrEqual")), priority="parallel"),
    )
    text = _one(
        [F.teleport(F.lane_position("0", -1, 10.0))],
        stories,
        variables='<VariableDeclaration name="hits" variableType="double" value="0"/>',
    )
    rt = storyboard(text)
    run_until(rt, 1.0)
    assert float(rt.variables["hits"]) == pytest.approx(5.0)


def test_unsupported_actions_are_named_with_file_and_line(storyboard):
    from occsim.world.xmlsafe import XmlError

    swarm = "<GlobalAction><TrafficAction><TrafficSwarmAction/></TrafficAction></GlobalAction>"
    text = _one(
        [F.teleport(F.lane_position("0", -1, 10.0))], F.story("Ego", F.event("s", swarm, F.trigger(F.sim_time(0.0))))
    )
    with pytest.raises(XmlError, match=r"s.xosc:1: <TrafficAction>: is not supported"):
        storyboard(text)


def test_a_lane_that_is_not_there_is_a_file_line_error(storyboard):
    from occsim.world.xmlsafe import XmlError

    beside = '<Position><RelativeLanePosition entityRef="Ego" dLane="-3" ds="0"/></Position>'
    text = F.xosc(
        {"Ego": CAR, "B": CAR},
        {"Ego": [F.teleport(F.lane_position("0", -1, 10.0))], "B": [F.teleport(beside)]},
    )
    with pytest.raises(XmlError, match=r"s.xosc:1: <RelativeLanePosition>: road '0' has no lane -4"):
        storyboard(text)


def test_an_empty_action_does_nothing_and_says_so(storyboard):
    empty = F.event("nothing", "", F.trigger(F.sim_time(0.5)))
    rt = storyboard(_one([F.teleport(F.lane_position("0", -1, 10.0)), F.speed(10.0)], F.story("Ego", empty)))
    run_until(rt, 2.0)
    assert rt.entities["Ego"].x == pytest.approx(30.0)
    assert any("empty <Action>" in note for note in rt.notes)
