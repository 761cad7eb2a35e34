"""Euro NCAP-like AEB test files written for the tests: car-to-car rear (stationary, moving, braking) and a pedestrian
crossing from the nearside, on a straight two-lane road, in the protocols' layout (not any published file)."""

from __future__ import annotations

from pathlib import Path

from tests import openscenario_files as F

EGO_S = 50.0  # [m] the ego's start station
HEADWAY = 4.0  # [s] initial time gap to the target at the ego's speed


def ccr(folder: Path, ego_kph: float, target_kph: float = 0.0, brake: float = 0.0, gap: float = 12.0) -> Path:
    """CCRs (target at rest), CCRm (target slower) or CCRb (``brake`` m/s^2 from 1 s on, ``gap`` m ahead)."""
    F.write(folder, "road.xodr", F.straight_xodr(800.0, 1, 1))
    ego_v, target_v = ego_kph / 3.6, target_kph / 3.6
    ahead = gap if brake else HEADWAY * ego_v
    # target's reference point: its box rear (1.4 - 2.25 behind it) ``ahead`` beyond the ego's front (1.4 + 2.25)
    target_s = EGO_S + 3.65 + ahead + 0.85
    stories = ""
    if brake:
        braking = F.speed(0.0, "linear", "rate", brake)
        stories = F.story("GVT", F.event("brake", braking, F.trigger(F.sim_time(1.0, "greaterOrEqual"))))
    stop = F.trigger(F.entity_condition("Ego", '<StandStillCondition duration="0.5"/>'), kind="StopTrigger")
    text = F.xosc(
        {"Ego": F.vehicle("ego"), "GVT": F.vehicle("gvt")},
        {
            "Ego": [F.teleport(F.lane_position("0", -1, EGO_S)), F.speed(ego_v)],
            "GVT": [F.teleport(F.lane_position("0", -1, target_s)), F.speed(target_v)],
        },
        stories,
        stop=stop,
    )
    name = "ccrb" if brake else ("ccrm" if target_kph else "ccrs")
    return F.write(folder, f"{name}_{ego_kph:g}.xosc", text)


def cpna(folder: Path, ego_kph: float, walk_kph: float = 5.0, start_lateral: float = 4.0) -> Path:
    """A pedestrian walks in from the nearside (right) kerb, synchronised to meet the ego's front at its lane centre.

    The ego's front bumper is 3.65 m ahead of its reference point; the conflict point is at station ``conflict``.
    """
    F.write(folder, "road.xodr", F.straight_xodr(800.0, 1, 1))
    ego_v, walk_v = ego_kph / 3.6, walk_kph / 3.6
    conflict = EGO_S + 6.0 * ego_v
    synchronise = (
        '<PrivateAction><SynchronizeAction masterEntityRef="Ego">'
        f'<TargetPositionMaster><LanePosition roadId="0" laneId="-1" s="{conflict - 3.65}"/></TargetPositionMaster>'
        f'<TargetPosition><LanePosition roadId="0" laneId="-1" s="{conflict}"/></TargetPosition>'
        f'<FinalSpeed><AbsoluteSpeed value="{walk_v}"><TargetDistanceSteadyState distance="{start_lateral - 1.0}"/>'
        "</AbsoluteSpeed></FinalSpeed></SynchronizeAction></PrivateAction>"
    )
    crossing = F.event("walk", synchronise, F.trigger(F.sim_time(0.0, "greaterOrEqual")))
    stop = F.trigger(F.sim_time(15.0), kind="StopTrigger")
    walker = [
        F.teleport(
            f'<Position><LanePosition roadId="0" laneId="-1" s="{conflict}" offset="{-start_lateral}">'
            f'<Orientation type="relative" h="1.5707963267948966"/></LanePosition></Position>'
        ),
        F.speed(0.0),
        _straight_walk(conflict, start_lateral),
    ]
    text = F.xosc(
        {"Ego": F.vehicle("ego"), "VRU": F.pedestrian("adult")},
        {"Ego": [F.teleport(F.lane_position("0", -1, EGO_S)), F.speed(ego_v)], "VRU": walker},
        F.story("VRU", crossing),
        stop=stop,
    )
    return F.write(folder, f"cpna_{ego_kph:g}.xosc", text)


def _straight_walk(station: float, lateral: float) -> str:
    """The pedestrian's path: straight across the road at ``station``, from ``lateral`` m right of the lane centre."""
    start, end = -1.75 - lateral, 5.0
    return (
        '<PrivateAction><RoutingAction><FollowTrajectoryAction><TrajectoryRef><Trajectory name="cross" closed="false">'
        f'<Shape><Polyline><Vertex><Position><WorldPosition x="{station}" y="{start}"/></Position></Vertex>'
        f'<Vertex><Position><WorldPosition x="{station}" y="{end}"/></Position></Vertex></Polyline></Shape>'
        "</Trajectory></TrajectoryRef><TimeReference><None/></TimeReference>"
        '<TrajectoryFollowingMode followingMode="position"/></FollowTrajectoryAction></RoutingAction></PrivateAction>'
    )
