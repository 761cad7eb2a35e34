"""Each condition kind, and triggers (edges, delays, groups), by when the action they start happens."""

import pytest

from tests import openscenario_files as F
from tests.world.storyboard.conftest import run_until

CAR = F.vehicle("car")
START = [F.teleport(F.lane_position("0", -1, 10.0)), F.speed(10.0)]
LEAD = [F.teleport(F.lane_position("0", -1, 60.0)), F.speed(5.0)]
STOP = F.speed(0.0)


def _fired_at(storyboard, condition, lead=True, until=8.0, extra_entities=None):
    """When the Ego's 'stop' event (started by ``condition``) began: the first time its speed was 0."""
    entities = {"Ego": CAR, **({"Lead": F.vehicle("lead")} if lead else {}), **(extra_entities or {})}
    init = {"Ego": START, **({"Lead": LEAD} if lead else {})}
    rt = storyboard(F.xosc(entities, init, F.story("Ego", F.event("stop", STOP, F.trigger(condition)))))
    while rt.time < until and not rt.finished:
        rt.step(0.1)
        if rt.entities["Ego"].speed == 0.0:
            return round(rt.time, 1), rt
    return None, rt


def test_simulation_time_rules(storyboard):
    assert _fired_at(storyboard, F.sim_time(2.0, "greaterThan"))[0] == pytest.approx(2.2)  # true at 2.1, seen next step
    assert _fired_at(storyboard, F.sim_time(2.0, "greaterOrEqual"))[0] == pytest.approx(2.1)


def test_delay_postpones_a_condition(storyboard):
    assert _fired_at(storyboard, F.sim_time(1.0, "greaterOrEqual", delay=1.5))[0] == pytest.approx(2.6)


def test_rising_edge_needs_to_see_false_first(storyboard):
    assert _fired_at(storyboard, F.sim_time(0.0, "greaterOrEqual", edge="rising"))[0] is None
    assert _fired_at(storyboard, F.sim_time(1.0, "greaterOrEqual", edge="rising"))[0] == pytest.approx(1.1)


@pytest.mark.parametrize(
    "body,when",
    [
        ('<TraveledDistanceCondition value="20"/>', 2.1),
        ('<SpeedCondition value="9.5" rule="greaterThan"/>', 0.1),
        (
            '<ReachPositionCondition tolerance="1.0"><Position><WorldPosition x="40" y="-1.75"/></Position></ReachPositionCondition>',
            3.1,
        ),
        (
            '<DistanceCondition value="5" freespace="false" rule="lessThan"><Position><WorldPosition x="40" y="-1.75"/></Position></DistanceCondition>',
            2.7,
        ),
        (
            '<RelativeDistanceCondition entityRef="Lead" value="20" freespace="false" relativeDistanceType="longitudinal" rule="lessThan"/>',
            6.2,
        ),
        (
            '<RelativeDistanceCondition entityRef="Lead" value="20" freespace="true" relativeDistanceType="longitudinal" rule="lessThan"/>',
            5.3,
        ),
        ('<TimeHeadwayCondition entityRef="Lead" value="2" freespace="false" rule="lessThan"/>', 6.2),
        (
            '<TimeToCollisionCondition value="4" freespace="false" rule="lessThan"><TimeToCollisionConditionTarget><EntityRef entityRef="Lead"/></TimeToCollisionConditionTarget></TimeToCollisionCondition>',
            6.2,
        ),
        ('<RelativeSpeedCondition entityRef="Lead" value="4" rule="greaterThan"/>', 0.1),
    ],
)
def test_entity_conditions_fire_when_their_quantity_crosses(storyboard, body, when):
    """Ego at x = 10 + 10 t, Lead at 60 + 5 t; a condition true at t acts in the step from t (seen at t + 0.1)."""
    fired, _ = _fired_at(storyboard, F.entity_condition("Ego", body))
    assert fired == pytest.approx(when)


def test_collision_condition(storyboard):
    fired, rt = _fired_at(
        storyboard,
        F.entity_condition("Ego", '<CollisionCondition><EntityRef entityRef="Lead"/></CollisionCondition>'),
        until=15.0,
    )
    # Ego's front (box 1.4 + 2.25 ahead of its axle) meets Lead's rear (1.4 - 2.25 behind its axle) when the axles
    # are 4.5 m apart: 50 m closed at 5 m/s takes 9.1 s
    assert fired == pytest.approx(9.2, abs=0.11)


def test_standstill_and_end_of_road(storyboard):
    text = F.xosc(
        {"Ego": CAR},
        {"Ego": [F.teleport(F.lane_position("0", -1, 480.0)), F.speed(10.0)]},
        stop=F.trigger(F.entity_condition("Ego", '<EndOfRoadCondition duration="0.5"/>'), kind="StopTrigger"),
    )
    rt = storyboard(text)
    run_until(rt, 10.0)
    assert rt.finished and rt.time == pytest.approx(2.6, abs=0.11)
    assert rt.entities["Ego"].x == pytest.approx(500.0)


def test_parameter_and_variable_conditions(storyboard):
    set_var = '<GlobalAction><VariableAction variableRef="go"><SetAction value="true"/></VariableAction></GlobalAction>'
    stories = F.story(
        "Ego",
        F.event("set", set_var, F.trigger(F.sim_time(1.0, "greaterOrEqual"))),
        F.event(
            "stop",
            STOP,
            F.trigger(
                '<Condition name="v" delay="0" conditionEdge="none"><ByValueCondition><VariableCondition variableRef="go" rule="equalTo" value="true"/></ByValueCondition></Condition>',
                '<Condition name="p" delay="0" conditionEdge="none"><ByValueCondition><ParameterCondition parameterRef="Mode" rule="equalTo" value="fast"/></ByValueCondition></Condition>',
            ),
            priority="parallel",
        ),
    )
    text = F.xosc(
        {"Ego": CAR},
        {"Ego": START},
        stories,
        parameters='<ParameterDeclaration name="Mode" parameterType="string" value="fast"/>',
        variables='<VariableDeclaration name="go" variableType="boolean" value="false"/>',
    )
    rt = storyboard(text)
    run_until(rt, 1.5)
    assert rt.entities["Ego"].speed == 0.0
    rt2 = storyboard(text, parameters={"Mode": "slow"})
    run_until(rt2, 1.5)
    assert rt2.entities["Ego"].speed == 10.0


def test_condition_groups_or_and(storyboard):
    both = F.sim_time(1.0, "greaterOrEqual") + F.sim_time(3.0, "greaterOrEqual", name="t2")
    assert _fired_at(storyboard, both)[0] == pytest.approx(3.1)
    either = (
        "<StartTrigger><ConditionGroup>" + F.sim_time(5.0, "greaterOrEqual") + "</ConditionGroup>"
        "<ConditionGroup>" + F.sim_time(2.0, "greaterOrEqual", name="t3") + "</ConditionGroup></StartTrigger>"
    )
    rt = storyboard(F.xosc({"Ego": CAR}, {"Ego": START}, F.story("Ego", F.event("stop", STOP, either))))
    run_until(rt, 2.2)
    assert rt.entities["Ego"].speed == 0.0


def test_unknown_condition_is_named(storyboard):
    from occsim.world.xmlsafe import XmlError

    with pytest.raises(XmlError, match="condition <OffTheMapCondition> is not supported"):
        _fired_at(storyboard, F.entity_condition("Ego", '<OffTheMapCondition value="1"/>'))


def _clearance(lanes: tuple[int, int], forward: float, backward: float = 0.0, opposite: bool = False) -> str:
    return F.entity_condition(
        "Ego",
        f'<RelativeClearanceCondition distanceForward="{forward}" distanceBackward="{backward}" freeSpace="false" '
        f'oppositeLanes="{str(opposite).lower()}"><RelativeLaneRange from="{lanes[0]}" to="{lanes[1]}"/>'
        "</RelativeClearanceCondition>",
    )


@pytest.mark.parametrize(
    "lanes,opposite,when",
    [
        ((-1, -1), False, 0.1),  # lane -2, right of Ego: exists and is empty
        ((1, 1), False, None),  # lane 0 is the centre line: nothing to be clear
        ((2, 2), False, None),  # lane 1 runs the other way and is not counted
        ((2, 2), True, 0.1),
    ],
)
def test_relative_clearance_needs_an_existing_lane(storyboard, lanes, opposite, when):
    assert _fired_at(storyboard, _clearance(lanes, 30.0, opposite=opposite), until=2.0)[0] == when


def test_relative_clearance_waits_for_the_lane_ahead_to_empty(storyboard):
    """Lead starts 50 m ahead and pulls away at 5 m/s: more than 60 m ahead after 2 s."""
    entities = {"Ego": CAR, "Lead": F.vehicle("lead")}
    init = {"Ego": START, "Lead": [F.teleport(F.lane_position("0", -1, 60.0)), F.speed(15.0)]}
    rt = storyboard(F.xosc(entities, init, F.story("Ego", F.event("stop", STOP, F.trigger(_clearance((0, 0), 60.0))))))
    while rt.entities["Ego"].speed > 0.0 and rt.time < 5.0:
        rt.step(0.1)
    assert rt.time == pytest.approx(2.2, abs=0.11)


@pytest.mark.parametrize(
    "body,when",
    [
        ('<AngleCondition angleType="heading" angle="0" angleTolerance="0.01" coordinateSystem="world"/>', 0.1),
        ('<AngleCondition angleType="heading" angle="3.14159" angleTolerance="0.01"/>', None),
        ('<AngleCondition angleType="pitch" angle="0" angleTolerance="0.01"/>', 0.1),  # flat roads
        ('<RelativeAngleCondition entityRef="Lead" angleType="heading" angle="0" angleTolerance="0.01"/>', 0.1),
        ('<RelativeAngleCondition entityRef="Lead" angleType="heading" angle="1.0" angleTolerance="0.5"/>', None),
    ],
)
def test_angle_conditions(storyboard, body, when):
    assert _fired_at(storyboard, F.entity_condition("Ego", body), until=2.0)[0] == when


@pytest.mark.parametrize("angle,system", [(3.14159, "world"), (3.14159, "road"), (0.0, "lane")])
def test_angle_in_road_and_lane_coordinates(storyboard, angle, system):
    """On a left lane the car faces world heading pi, against the road's s, and along its lane."""
    body = f'<AngleCondition angleType="heading" angle="{angle}" angleTolerance="0.01" coordinateSystem="{system}"/>'
    text = F.xosc(
        {"Ego": CAR},
        {"Ego": [F.teleport(F.lane_position("0", 1, 400.0)), F.speed(10.0)]},
        F.story("Ego", F.event("stop", STOP, F.trigger(F.entity_condition("Ego", body)))),
    )
    rt = storyboard(text)
    run_until(rt, 0.3)
    assert rt.entities["Ego"].speed == 0.0
    wrong = body.replace(f'angle="{angle}"', f'angle="{1.5 - angle}"')
    rt = storyboard(text.replace(body, wrong))
    run_until(rt, 0.3)
    assert rt.entities["Ego"].speed == 10.0
