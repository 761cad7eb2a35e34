"""Euro NCAP-like AEB test files written for the tests: car-to-car rear (stationary, moving, braking) and a pedestrian
crossing from the nearside, on a straight two-lane road, in the protocols' layout (not any published file)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

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


def ccftap(folder: Path, ego_kph: float = 15.0, target_kph: float = 30.0) -> Path:
    """Turn across path: the ego, placed by its Init trajectory (no teleport), turns left at a junction; the target
    comes straight across from the opposite arm, synchronised to meet it where the paths cross (about (-4.75, 1.75)).
    """
    F.write(folder, "junction.xodr", F.junction_xodr())
    arc = [(-15.0 + 16.75 * math.sin(a), 15.0 - 16.75 * math.cos(a)) for a in np.linspace(0.0, math.pi / 2, 10)]
    points = [(-60.0, -1.75), *arc, (1.75, 60.0)]
    vertices = "".join(
        f'<Vertex><Position><WorldPosition x="{x:.4f}" y="{y:.4f}"/></Position></Vertex>' for x, y in points
    )
    path = (
        '<PrivateAction><RoutingAction><FollowTrajectoryAction><TrajectoryRef><Trajectory name="turn" closed="false">'
        f"<Shape><Polyline>{vertices}</Polyline></Shape></Trajectory></TrajectoryRef><TimeReference><None/>"
        '</TimeReference><TrajectoryFollowingMode followingMode="follow"/></FollowTrajectoryAction></RoutingAction>'
        "</PrivateAction>"
    )
    # the ego's box centre (1.4 m ahead of its axle) at the crossing, and the target's (1.4 m ahead, facing -x)
    master = '<WorldPosition x="-6.2" y="1.1"/>'
    meet = '<WorldPosition x="-3.35" y="1.75"/>'
    synchronise = (
        f'<PrivateAction><SynchronizeAction masterEntityRef="Ego"><TargetPositionMaster>{master}'
        f"</TargetPositionMaster><TargetPosition>{meet}</TargetPosition><FinalSpeed>"
        f'<AbsoluteSpeed value="{target_kph / 3.6}"/></FinalSpeed></SynchronizeAction></PrivateAction>'
    )
    text = F.xosc(
        {"Ego": F.vehicle("ego"), "Target": F.vehicle("gvt")},
        {
            "Ego": [path, F.speed(ego_kph / 3.6)],
            "Target": [F.teleport(F.lane_position("0", 1, 100.0)), F.speed(target_kph / 3.6)],
        },
        F.story("Target", F.event("sync", synchronise, F.trigger(F.sim_time(0.0, "greaterOrEqual")))),
        stop=F.trigger(F.sim_time(25.0), kind="StopTrigger"),
        road_file="junction.xodr",
    )
    return F.write(folder, f"ccftap_{ego_kph:g}_{target_kph:g}.xosc", text)
