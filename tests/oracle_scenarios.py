"""The scenarios OccSim's storyboard is checked on against esmini, the reference OpenSCENARIO player.

Each is written here (no third-party file), run by esmini once with ``benchmarks/esmini_oracle.py`` (which needs an
esmini build), and its recorded trajectories are kept in ``tests/fixtures/esmini/``; ``tests/world/storyboard/
test_oracle.py`` replays the same files with the ego scripted and compares every entity at every 0.1 s.
"""

from __future__ import annotations

import math
from pathlib import Path

from tests import openscenario_files as F

CAR = F.vehicle("car")


def curved_xodr() -> str:
    """A road of line, spiral, arc, spiral and line (2 lanes each way), the lanes narrowing and shifting on the way."""
    k = 1.0 / 60.0
    pieces = [("line", 0.0, 60.0, ""), ("spiral", 60.0, 40.0, f'curvStart="0" curvEnd="{k}"')]
    pieces += [("arc", 100.0, 50.0, f'curvature="{k}"'), ("spiral", 150.0, 40.0, f'curvStart="{k}" curvEnd="0"')]
    pieces += [("line", 190.0, 110.0, "")]
    x, y, h = 0.0, 0.0, 0.0
    records = []
    from occsim.world.opendrive.planview import Geometry

    for kind, s, length, attrs in pieces:
        records.append(
            f'<geometry s="{s}" x="{x!r}" y="{y!r}" hdg="{h!r}" length="{length}"><{kind} {attrs}/></geometry>'
        )
        params = {"line": (), "arc": (k,), "spiral": (0.0, k) if 'curvStart="0"' in attrs else (k, 0.0)}[kind]
        ex, ey, eh = Geometry(s, x, y, h, length, kind, params).evaluate([length])
        x, y, h = float(ex[0]), float(ey[0]), float(eh[0])
    sections = (
        f'<laneOffset s="0" a="0" b="0" c="0" d="0"/><laneOffset s="200" a="0" b="0.01" c="0" d="0"/>'
        f'<laneSection s="0">{F.lanes(2, 2)}</laneSection>'
        f'<laneSection s="220">{F.lanes(2, 2, width=3.2)}</laneSection>'
    )
    road = F.road("0", "".join(records), 300.0, "")
    return F.opendrive(road.replace('<lanes><laneSection s="0"></laneSection></lanes>', f"<lanes>{sections}</lanes>"))


def _scenario(entities: dict, init: dict, stories: str = "", until: float = 12.0, **kw) -> str:
    stop = F.trigger(F.sim_time(until), kind="StopTrigger")
    return F.xosc(entities, init, stories, stop=stop, **kw)


def _change(lane: int | str, shape: str, dimension: str, value: float, relative: str | None = None) -> str:
    target = (
        f'<RelativeTargetLane entityRef="{relative}" value="{lane}"/>'
        if relative
        else f'<AbsoluteTargetLane value="{lane}"/>'
    )
    return (
        f'<PrivateAction><LateralAction><LaneChangeAction><LaneChangeActionDynamics dynamicsShape="{shape}" '
        f'dynamicsDimension="{dimension}" value="{value}"/><LaneChangeTarget>{target}</LaneChangeTarget>'
        "</LaneChangeAction></LateralAction></PrivateAction>"
    )


def _at(t: float) -> str:
    return F.trigger(F.sim_time(t, "greaterOrEqual"))


def speed_shapes() -> str:
    init = {f"Car{i}": [F.teleport(F.lane_position("0", -1 - (i % 2), 10.0 + 30 * i)), F.speed(8.0)] for i in range(4)}
    stories = "".join(
        F.story(f"Car{i}", F.event(f"e{i}", F.speed(target, shape, dim, value), _at(1.0 + i)), name=f"s{i}")
        for i, (target, shape, dim, value) in enumerate(
            [
                (15.0, "linear", "time", 3.0),
                (2.0, "cubic", "time", 4.0),
                (14.0, "sinusoidal", "distance", 30.0),
                (0.0, "linear", "rate", 2.0),
            ]
        )
    )
    return _scenario({f"Car{i}": CAR for i in range(4)}, init, stories)


def lane_changes() -> str:
    init = {"A": [F.teleport(F.lane_position("0", -1, 20.0)), F.speed(12.0)]}
    init["B"] = [F.teleport(F.lane_position("0", -2, 60.0)), F.speed(9.0)]
    stories = F.story("A", F.event("left", _change(-2, "sinusoidal", "time", 3.0), _at(1.0)), name="a")
    stories += F.story(
        "B",
        F.event("right", _change(1, "cubic", "distance", 40.0, relative="B"), _at(2.0)),
        F.event("back", _change(-1, "linear", "time", 2.0), _at(7.0)),
        name="b",
    )
    return _scenario({"A": CAR, "B": CAR}, init, stories)


def lane_offsets() -> str:
    offset = (
        '<PrivateAction><LateralAction><LaneOffsetAction continuous="false"><LaneOffsetActionDynamics '
        'dynamicsShape="{shape}" maxLateralAcc="{acc}"/><LaneOffsetTarget>{target}</LaneOffsetTarget>'
        "</LaneOffsetAction></LateralAction></PrivateAction>"
    )
    init = {"A": [F.teleport(F.lane_position("0", -1, 20.0)), F.speed(10.0)]}
    init["B"] = [F.teleport(F.lane_position("0", -2, 30.0)), F.speed(10.0)]
    absolute = offset.format(shape="sinusoidal", acc=0.8, target='<AbsoluteTargetLaneOffset value="0.9"/>')
    relative = offset.format(shape="cubic", acc=1.5, target='<RelativeTargetLaneOffset entityRef="A" value="-2.0"/>')
    stories = F.story("A", F.event("drift", absolute, _at(1.0)), name="a")
    stories += F.story("B", F.event("drift", relative, _at(2.0)), name="b")
    return _scenario({"A": CAR, "B": CAR}, init, stories, until=10.0)


def curve_following() -> str:
    init = {
        "Inner": [F.teleport(F.lane_position("0", 1, 280.0)), F.speed(12.0)],
        "Outer": [F.teleport(F.lane_position("0", -2, 5.0, 0.4)), F.speed(14.0)],
        "Slow": [F.teleport(F.lane_position("0", -1, 40.0)), F.speed(6.0)],
    }
    stories = F.story("Slow", F.event("go", F.speed(16.0, "linear", "time", 6.0), _at(2.0)), name="slow")
    return _scenario({"Inner": CAR, "Outer": CAR, "Slow": CAR}, init, stories, until=16.0)


def junction_routes() -> str:
    def route(*waypoints: tuple[str, int, float]) -> str:
        points = "".join(
            f'<Waypoint routeStrategy="shortest">{F.lane_position(r, lane, s)}</Waypoint>' for r, lane, s in waypoints
        )
        return (
            '<PrivateAction><RoutingAction><AssignRouteAction><Route name="r" closed="false">'
            f"{points}</Route></AssignRouteAction></RoutingAction></PrivateAction>"
        )

    init = {
        "Left": [F.teleport(F.lane_position("0", 1, 60.0)), F.speed(8.0), route(("0", 1, 60.0), ("3", -1, 40.0))],
        "Right": [F.teleport(F.lane_position("2", 1, 50.0)), F.speed(7.0), route(("2", 1, 50.0), ("3", -1, 30.0))],
        "Straight": [F.teleport(F.lane_position("1", 1, 70.0)), F.speed(9.0)],
    }
    return _scenario({"Left": CAR, "Right": CAR, "Straight": CAR}, init, until=14.0)


def relative_positions() -> str:
    init = {"Ref": [F.teleport(F.lane_position("0", -1, 80.0)), F.speed(6.0)]}
    positions = {
        "ByLane": '<RelativeLanePosition entityRef="Ref" dLane="-1" ds="15" offset="0.3"/>',
        "ByLaneDs": '<RelativeLanePosition entityRef="Ref" dLane="2" dsLane="-20" offset="0"/>',
        "ByRoad": '<RelativeRoadPosition entityRef="Ref" ds="-25" dt="-3.5"/>',
        "ByObject": '<RelativeObjectPosition entityRef="Ref" dx="35" dy="3.5"/>',
        "ByWorld": '<RelativeWorldPosition entityRef="Ref" dx="50" dy="-3.5"/>',
        "Road": '<RoadPosition roadId="0" s="140" t="1.75"/>',
        "World": '<WorldPosition x="170" y="-5.25" h="0"/>',
    }
    for i, (name, where) in enumerate(positions.items()):
        init[name] = [F.teleport(f"<Position>{where}</Position>"), F.speed(4.0 + i)]
    return _scenario({n: CAR for n in init}, init, until=8.0)


def trajectories() -> str:
    polyline = (
        '<PrivateAction><RoutingAction><FollowTrajectoryAction><TrajectoryRef><Trajectory name="p" closed="false">'
        "<Shape><Polyline>"
        '<Vertex time="0"><Position><WorldPosition x="20" y="-1.75"/></Position></Vertex>'
        '<Vertex time="4"><Position><WorldPosition x="60" y="-1.75"/></Position></Vertex>'
        '<Vertex time="7"><Position><WorldPosition x="85" y="-5.25"/></Position></Vertex>'
        '<Vertex time="10"><Position><WorldPosition x="110" y="-5.25"/></Position></Vertex>'
        '</Polyline></Shape></Trajectory></TrajectoryRef><TimeReference><Timing domainAbsoluteRelative="absolute" '
        'scale="1" offset="0"/></TimeReference><TrajectoryFollowingMode followingMode="position"/>'
        "</FollowTrajectoryAction></RoutingAction></PrivateAction>"
    )
    clothoid = (
        '<PrivateAction><RoutingAction><FollowTrajectoryAction><TrajectoryRef><Trajectory name="c" closed="false">'
        '<Shape><Clothoid curvature="0.0" curvaturePrime="0.0004" length="60"><Position>'
        f'<WorldPosition x="141" y="1.75" h="{math.pi!r}"/></Position></Clothoid></Shape></Trajectory></TrajectoryRef>'
        '<TimeReference><None/></TimeReference><TrajectoryFollowingMode followingMode="follow"/>'
        "</FollowTrajectoryAction></RoutingAction></PrivateAction>"
    )
    init = {
        "Timed": [F.teleport(F.lane_position("0", -1, 20.0)), F.speed(10.0)],
        "Spiral": [F.teleport(F.lane_position("0", 1, 150.0)), F.speed(9.0)],
    }
    stories = F.story("Timed", F.event("p", polyline, _at(0.0)), name="timed")
    stories += F.story("Spiral", F.event("c", clothoid, _at(1.0)), name="spiral")
    return _scenario({"Timed": CAR, "Spiral": CAR}, init, stories, until=9.5)


def triggers() -> str:
    cars = ["Lead", "Follow", "Side", "Edge"]
    init = {
        "Lead": [F.teleport(F.lane_position("0", -1, 100.0)), F.speed(6.0)],
        "Follow": [F.teleport(F.lane_position("0", -1, 20.0)), F.speed(12.0)],
        "Side": [F.teleport(F.lane_position("0", -2, 10.0)), F.speed(10.0)],
        "Edge": [F.teleport(F.lane_position("0", 1, 250.0)), F.speed(8.0)],
    }
    headway = F.entity_condition(
        "Follow", '<TimeHeadwayCondition entityRef="Lead" value="2.5" freespace="true" rule="lessThan"/>'
    )
    ttc = F.entity_condition(
        "Side",
        '<TimeToCollisionCondition value="3" freespace="false" rule="lessThan"><TimeToCollisionConditionTarget>'
        '<Position><WorldPosition x="120" y="-5.25"/></Position></TimeToCollisionConditionTarget></TimeToCollisionCondition>',
        delay=0.5,
    )
    travelled = F.entity_condition("Edge", '<TraveledDistanceCondition value="30"/>', edge="rising")
    reach = F.entity_condition(
        "Lead",
        '<ReachPositionCondition tolerance="2"><Position><WorldPosition x="130" y="-1.75"/></Position></ReachPositionCondition>',
    )
    stories = F.story("Follow", F.event("brake", F.speed(5.0, "linear", "rate", 3.0), F.trigger(headway)), name="f")
    stories += F.story("Side", F.event("brake", F.speed(2.0, "sinusoidal", "time", 2.0), F.trigger(ttc)), name="s")
    stories += F.story("Edge", F.event("go", F.speed(14.0, "linear", "time", 2.0), F.trigger(travelled)), name="e")
    stories += F.story("Lead", F.event("stop", F.speed(0.0, "linear", "rate", 2.0), F.trigger(reach)), name="l")
    return _scenario({c: CAR for c in cars}, init, stories, until=14.0)


def longitudinal_distance() -> str:
    keep = (
        '<PrivateAction><LongitudinalAction><LongitudinalDistanceAction entityRef="Lead" distance="15" '
        'freespace="true" continuous="true" displacement="trailingReferencedEntity"/></LongitudinalAction></PrivateAction>'
    )
    init = {
        "Lead": [F.teleport(F.lane_position("0", -1, 60.0)), F.speed(10.0)],
        "Follower": [F.teleport(F.lane_position("0", -1, 20.0)), F.speed(10.0)],
    }
    stories = F.story("Follower", F.event("keep", keep, _at(1.0)), name="follow")
    stories += F.story("Lead", F.event("slow", F.speed(4.0, "cubic", "time", 4.0), _at(3.0)), name="lead")
    return _scenario({"Lead": CAR, "Follower": CAR}, init, stories, until=10.0)


def events_and_states() -> str:
    init = {"A": [F.teleport(F.lane_position("0", -1, 20.0)), F.speed(10.0)]}
    first = F.event("slow", F.speed(4.0, "linear", "time", 2.0), _at(1.0))
    override = F.event("fast", F.speed(14.0, "linear", "time", 2.0), _at(2.0), priority="override")
    skipped = F.event("skipped", F.speed(1.0), _at(2.5), priority="skip")
    after = (
        '<Condition name="done" delay="0.3" conditionEdge="none"><ByValueCondition><StoryboardElementStateCondition '
        'storyboardElementType="event" storyboardElementRef="fast" state="endTransition"/></ByValueCondition></Condition>'
    )
    repeat = F.event("pulse", F.speed(8.0, "linear", "time", 1.0), F.trigger(after), priority="parallel")
    return _scenario({"A": CAR}, init, F.story("A", first, override, skipped, repeat), until=10.0)


def parameters_and_catalogs() -> str:
    parameters = (
        '<ParameterDeclaration name="Speed_kph" parameterType="double" value="54"/>'
        '<ParameterDeclaration name="_Speed" parameterType="double" value="${$Speed_kph / 3.6}"/>'
        '<ParameterDeclaration name="Gap" parameterType="double" value="${2 * 12.5}"/>'
        '<ParameterDeclaration name="Lane" parameterType="int" value="-2"/>'
    )
    init = {
        "A": [F.teleport(F.lane_position("0", "$Lane", "${30 - 10}")), F.speed("$_Speed")],
        "B": [
            F.teleport('<Position><RelativeLanePosition entityRef="A" dLane="1" ds="$Gap"/></Position>'),
            F.speed("${$_Speed * 0.5}"),
        ],
    }
    stories = F.story(
        "B", F.event("merge", _change("${$Lane + 1}", "sinusoidal", "time", "${1 + 2}"), _at(1.5)), name="b"
    )
    return _scenario(
        {"A": CAR, "B": F.vehicle("long", "truck", length=8.0, width=2.5, centre_x=3.0)},
        init,
        stories,
        parameters=parameters,
    )


def speed_profile() -> str:
    profile = (
        '<PrivateAction><LongitudinalAction><SpeedProfileAction followingMode="position">'
        '<SpeedProfileEntry speed="12" time="2"/><SpeedProfileEntry speed="6" time="3"/>'
        '<SpeedProfileEntry speed="10" time="2"/></SpeedProfileAction></LongitudinalAction></PrivateAction>'
    )
    init = {"A": [F.teleport(F.lane_position("0", -1, 20.0)), F.speed(8.0)]}
    return _scenario({"A": CAR}, init, F.story("A", F.event("profile", profile, _at(1.0))), until=10.0)


def lateral_distances() -> str:
    """Three cars keep lateral distances to a lead that changes lanes: in road coordinates (at once, at a capped
    sideways speed, by the spring within an acceleration) and in entity coordinates (steering onto the line).
    """
    keep = (
        '<PrivateAction><LateralAction><LateralDistanceAction entityRef="Lead" coordinateSystem="{cs}" '
        'distance="{d}" freespace="{free}" continuous="{cont}" displacement="{side}">{limits}'
        "</LateralDistanceAction></LateralAction></PrivateAction>"
    )
    turned = '<Position><LanePosition roadId="0" laneId="-2" s="30"><Orientation type="relative" h="0.5"/></LanePosition></Position>'
    init = {
        "Lead": [F.teleport(F.lane_position("0", -1, 60.0)), F.speed(8.0)],
        "Rigid": [F.teleport(F.lane_position("0", -2, 40.0)), F.speed(8.0)],
        "Capped": [F.teleport(F.lane_position("0", -2, 50.0)), F.speed(8.0)],
        "Spring": [F.teleport(F.lane_position("0", -2, 75.0)), F.speed(8.0)],
        "Steer": [F.teleport(turned), F.speed(9.0)],
    }
    actions = {  # name -> (action, start time)
        "Rigid": (
            keep.format(cs="road", d=3.0, free="false", cont="true", side="leftToReferencedEntity", limits=""),
            0.5,
        ),
        "Capped": (
            keep.format(
                cs="road",
                d=0.5,
                free="true",
                cont="true",
                side="rightToReferencedEntity",
                limits='<DynamicConstraints maxSpeed="1.5"/>',
            ),
            1.0,
        ),
        "Spring": (
            keep.format(
                cs="road",
                d=1.0,
                free="true",
                cont="false",
                side="rightToReferencedEntity",
                limits='<DynamicConstraints maxSpeed="3" maxAcceleration="2"/>',
            ),
            1.5,
        ),
        "Steer": (
            keep.format(
                cs="entity",
                d=6.0,
                free="false",
                cont="true",
                side="rightToReferencedEntity",
                limits='<DynamicConstraints maxAcceleration="4"/>',
            ),
            0.0,
        ),
    }
    stories = F.story("Lead", F.event("change", _change(-2, "sinusoidal", "time", 3.0), _at(3.0)), name="lead")
    for name, (action, start) in actions.items():
        stories += F.story(name, F.event("keep", action, _at(start)), name=name.lower())
    return _scenario({name: CAR for name in init}, init, stories, until=10.0)


SCENARIOS = {  # name -> (xosc text, xodr text)
    "speed_shapes": (speed_shapes, F.straight_xodr),
    "lane_changes": (lane_changes, F.straight_xodr),
    "lane_offsets": (lane_offsets, F.straight_xodr),
    "curve_following": (curve_following, curved_xodr),
    "junction_routes": (junction_routes, F.junction_xodr),
    "relative_positions": (relative_positions, F.straight_xodr),
    "trajectories": (trajectories, F.straight_xodr),
    "triggers": (triggers, F.straight_xodr),
    "longitudinal_distance": (longitudinal_distance, F.straight_xodr),
    "events_and_states": (events_and_states, F.straight_xodr),
    "parameters_and_catalogs": (parameters_and_catalogs, F.straight_xodr),
    "speed_profile": (speed_profile, F.straight_xodr),
    "lateral_distances": (lateral_distances, F.straight_xodr),
}


def write_all(folder: Path) -> dict[str, Path]:
    """Write every oracle scenario (and its road) into ``folder``; name -> .xosc path."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, (scenario, road) in SCENARIOS.items():
        text = scenario().replace('filepath="road.xodr"', f'filepath="{name}.xodr"')
        F.write(folder, f"{name}.xodr", road())
        paths[name] = F.write(folder, f"{name}.xosc", text)
    return paths


def replay(xosc: Path, until: float = 60.0) -> dict[tuple[float, str], tuple[float, float, float, float]]:
    """Every entity's (x, y, heading, speed) at every 0.1 s of OccSim's run of ``xosc`` with the ego scripted, keyed
    by (time rounded to 0.1 s, name), as esmini records them: the first row after Init, the last one before the
    stop trigger ends the run."""
    from occsim.scenario.openscenario.document import format_value, read_document, resolve
    from occsim.scenario.openscenario.load import road_network_of
    from occsim.world.opendrive.network import RoadNetwork
    from occsim.world.storyboard.runtime import Runtime

    document = read_document(xosc)
    resolved = resolve(document)
    values = {k: format_value(v) for k, v in resolved.parameters.items()}
    runtime = Runtime(
        resolved.root, RoadNetwork.load(road_network_of(resolved.root, xosc)), values, ego_mode="scripted"
    )
    runtime.begin()
    rows = {}
    while True:
        for entity in runtime.active():
            rows[(round(runtime.time, 1), entity.name)] = (entity.x, entity.y, entity.h, entity.speed)
        if runtime.time >= until - 1e-9:
            return rows
        runtime.step(0.1)
        if runtime.finished:
            return rows
