"""The semantic checks of a scenario on an OpenDRIVE map: the file reads, lanes exist and are drivable, routes fit."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from occsim.classes import ACTOR_SIZES
from occsim.scenario.opendrive_world import ego_route, lane_pose, load_map, path_lane
from occsim.scenario.problems import Path_, Problem
from occsim.scenario.schema import Scenario
from occsim.scenario.semantics import check_overlaps, expanded_ids
from occsim.world.boxes import box_polygon
from occsim.world.ego import EGO_CENTRE_OFFSET, EGO_SIZE
from occsim.world.xmlsafe import XmlError

LANE_BEHAVIORS = ("static", "constant", "idm", "cut_in", "waypoints")  # behaviours that work on OpenDRIVE lanes


def check_opendrive(scenario: Scenario, add: Callable[[Path_, str], None], problems: list[Problem]) -> list[Problem]:
    """Problems of a scenario whose map is an OpenDRIVE file (``add`` records each with its path)."""
    try:
        network, road_map = load_map(scenario.map)
    except (XmlError, OSError) as e:
        add(("map", "file"), str(e) if isinstance(e, XmlError) else f"cannot read {scenario.map.file}: {e.strerror}")
        return problems
    boxes = []
    ego = scenario.ego
    try:
        key = network.lane_key(ego.road, ego.lane, ego.s)
    except ValueError as e:
        add(("ego", "road" if str(ego.road) not in network.roads else "lane"), str(e))
        key = None
    if key is not None:
        if not network.is_drivable(key):
            add(("ego", "lane"), f"lane {ego.lane} of road {ego.road} is a {network.lane_type(key)} lane, not drivable")
        x, y, yaw = lane_pose(network, key, ego.s, ego.offset)
        ego_box = box_polygon(
            x + EGO_CENTRE_OFFSET * np.cos(yaw), y + EGO_CENTRE_OFFSET * np.sin(yaw), yaw, *EGO_SIZE[:2]
        )
        if not road_map.drivable.contains(ego_box):
            add(("ego", "s"), f"the ego at s={ego.s}, lane {ego.lane} of road {ego.road} is off the drivable area")
        boxes.append((("ego",), "the ego", ego_box))
        try:
            ego_route(network, road_map, scenario)
        except ValueError as e:
            add(("ego", "goal_s" if "goal_s" in str(e) else "route"), str(e))
    for i, actor in enumerate(scenario.actors):
        path: Path_ = ("actors", i)
        if actor.behavior is not None and actor.behavior.type not in LANE_BEHAVIORS:
            add(
                (*path, "behavior", "type"),
                f"{actor.behavior.type} is not available on opendrive maps; use one of "
                f"{', '.join(LANE_BEHAVIORS)}, or an OpenSCENARIO storyboard",
            )
        length, width, _ = actor.size or ACTOR_SIZES[actor.type]
        for k, actor_id in enumerate(expanded_ids(actor)):
            s = actor.s + (k * actor.repeat.ds if actor.repeat else 0.0)
            offset = actor.offset + (k * actor.repeat.doffset if actor.repeat else 0.0)
            try:
                key = network.lane_key(actor.road, actor.lane, s)
                path_lane(network, road_map, key, s, actor.route, 0)
            except ValueError as e:
                add((*path, "route" if "route" in str(e) else "lane"), str(e))
                break
            behavior = actor.behavior
            if behavior is not None and behavior.type == "cut_in":
                there = network.roads[key.road].lane_centre_t(behavior.to_lane, s)[0]
                if behavior.to_lane == 0 or not np.isfinite(there):
                    add((*path, "behavior", "to_lane"), f"road {actor.road} has no lane {behavior.to_lane} at s={s:g}")
            x, y, yaw = lane_pose(network, key, s, offset)
            boxes.append((path, f"actors[{i}] '{actor_id}'", box_polygon(x, y, yaw + actor.yaw, length, width)))
    check_overlaps(boxes, add)
    return problems
