"""Routes through an OpenDRIVE network: the roads a route's waypoints lead through, and where along them it is."""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from occsim.world.opendrive.network import RoadNetwork
from occsim.world.storyboard.positions import resolve_position
from occsim.world.storyboard.tree import Node

if TYPE_CHECKING:
    from occsim.world.storyboard.runtime import Runtime


@dataclass
class RoutePlan:
    """A route through roads: each (road, where it is entered, where it is left)."""

    pieces: list[tuple[str, float, float]]

    @property
    def roads(self) -> list[str]:
        """The roads in order."""
        return [road for road, _, _ in self.pieces]

    def at(self, distance: float) -> tuple[str, float, int]:
        """(road, station, +1/-1 travel along s) ``distance`` metres along the route."""
        for road, a, b in self.pieces:
            if distance <= abs(b - a):
                return road, a + math.copysign(distance, b - a), 1 if b >= a else -1
            distance -= abs(b - a)
        road, a, b = self.pieces[-1]
        return road, b, 1 if b >= a else -1


def route_of(rt: Runtime, node: Node) -> RoutePlan:
    """The plan of the ``<Route>`` in ``node`` (an AssignRouteAction, a RouteRef or a Route)."""
    route = node if node.tag == "Route" else next((n for n in node.walk() if n.tag == "Route"), None)
    if route is None:
        raise node.error("has no <Route>")
    network = rt.network
    if network is None:
        raise route.error("needs a road network")
    places = [resolve_position(rt, w.need("Position")) for w in route.all("Waypoint")]
    if len(places) < 2 or any(p.pos is None for p in places):
        raise route.error("needs two or more waypoints on roads")
    pieces: list[tuple[str, float, float]] = []
    for a, b in zip(places, places[1:]):
        roads = road_path(network, a.pos.road, b.pos.road)
        for i, road in enumerate(roads):
            start = a.pos.s if i == 0 else _entry_s(network, roads[i - 1], road)
            end = b.pos.s if i == len(roads) - 1 else _exit_s(network, road, roads[i + 1])
            if pieces and pieces[-1][0] == road:
                pieces[-1] = (road, pieces[-1][1], end)
            else:
                pieces.append((road, start, end))
    return RoutePlan(pieces)


def _entry_s(network: RoadNetwork, previous: str, road: str) -> float:
    record = network.roads[road].record
    if record.predecessor is not None and _leads(network, record.predecessor, previous):
        return 0.0
    return network.roads[road].length


def _exit_s(network: RoadNetwork, road: str, following: str) -> float:
    record = network.roads[road].record
    if record.successor is not None and _leads(network, record.successor, following):
        return network.roads[road].length
    return 0.0


def _leads(network: RoadNetwork, link, road: str) -> bool:
    if link.element_type == "road":
        return link.element_id == road
    junction = network.junctions.get(link.element_id)
    return junction is not None and any(road in (c.incoming, c.connecting) for c in junction.connections)


def _road_links(network: RoadNetwork, road: str) -> list[str]:
    record = network.roads[road].record
    found = []
    for link in (record.predecessor, record.successor):
        if link is None:
            continue
        if link.element_type == "road":
            found.append(link.element_id)
        elif link.element_id in network.junctions:
            for c in network.junctions[link.element_id].connections:
                found += [c.connecting] if c.incoming == road else [c.incoming] if c.connecting == road else []
    return [r for r in found if r in network.roads]


def road_path(network: RoadNetwork, start: str, goal: str) -> list[str]:
    """The shortest chain of linked roads from ``start`` to ``goal`` (by road length)."""
    best = {start: 0.0}
    previous: dict[str, str] = {}
    queue = [(0.0, start)]
    while queue:
        cost, road = heapq.heappop(queue)
        if road == goal:
            break
        for following in _road_links(network, road):
            total = cost + network.roads[following].length
            if total < best.get(following, math.inf):
                best[following], previous[following] = total, road
                heapq.heappush(queue, (total, following))
    if goal not in best:
        raise ValueError(f"no road path from road '{start}' to road '{goal}'")
    path = [goal]
    while path[-1] != start:
        path.append(previous[path[-1]])
    return path[::-1]
