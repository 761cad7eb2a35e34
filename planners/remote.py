"""Planners in another process: the ``remote`` client planner and serving any OccSim planner over HTTP.

The contract is in ``remote_server.py`` (standard library and numpy only, so it runs in a planner's own Python).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import numpy as np
from occsim.planners.base import Planner, make_planner, register_planner
from occsim.planners.remote_server import encode, make_server
from occsim.planners.vad_contract import can_bus

from occsim.types import LaneGeometry, RoadLayout, Trajectory

DEFAULT_URL = "http://127.0.0.1:8765"
PRIVILEGED_KEYS = ("occupancy", "actors", "goal")


class RemotePlannerError(RuntimeError):
    """The planner server is unreachable, slow, or answered something that is not a trajectory."""


@register_planner("remote")
class RemotePlanner(Planner):
    """A planner served elsewhere: ``--planner remote:http://127.0.0.1:8765``."""

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.timeout = timeout
        alive = self._call("GET", "/alive")
        if not isinstance(alive, dict) or alive.get("ok") is not True:
            raise RemotePlannerError(f"{self.url}/alive did not answer {{'ok': true}}: {alive!r}")
        self.remote_name = str(alive.get("name", "?"))
        self.privileged = bool(alive.get("privileged", False))
        self._t = 0.0

    def reset(self, info: dict[str, Any]) -> None:
        """Forward the reset info (the road layout for privileged planners)."""
        payload = {k: v for k, v in info.items() if k != "road"}
        if isinstance(info.get("road"), RoadLayout):
            payload["road"] = layout_to_dict(info["road"])
        self._call("POST", "/reset", {"info": encode(payload)})
        self._t = 0.0

    def plan(self, observation: dict[str, Any]) -> Trajectory:
        """Send the observation, get six ego-frame waypoints back."""
        request = {k: observation[k] for k in ("images", "intrinsics", "cam2ego", "ego", "ego_pose", "command")}
        request["can_bus"] = can_bus(observation["ego_pose"], observation["ego"])
        request["timestamp"] = self._t
        request.update({k: observation[k] for k in PRIVILEGED_KEYS if k in observation})
        reply = self._call("POST", "/infer", encode(request))
        self._t += 0.5
        try:
            return Trajectory(np.asarray(reply["trajectory"], dtype=np.float64))
        except (KeyError, TypeError, ValueError) as e:
            raise RemotePlannerError(
                f"{self.url}/infer answered something that is not a trajectory ({e}): {str(reply)[:200]}"
            ) from None

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as e:
            detail = e.read()[:500].decode(errors="replace")
            raise RemotePlannerError(f"{method} {self.url}{path} failed with HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise RemotePlannerError(
                f"no planner server answering at {self.url} ({reason}); start one with `occsim serve-planner NAME`"
            ) from None
        try:
            return json.loads(raw)
        except json.JSONDecodeError:
            raise RemotePlannerError(f"{method} {self.url}{path} answered non-JSON: {raw[:200]!r}") from None


def layout_to_dict(layout: RoadLayout) -> dict:
    """A road layout as plain data for JSON."""
    lanes = [{"id": x.id, "road": x.road, "index": x.index, "points": x.points, "width": x.width} for x in layout.lanes]
    return {
        "lanes": lanes,
        "route_lane": layout.route_lane,
        "goal": list(layout.goal),
        "speed_limit": layout.speed_limit,
    }


def layout_from_dict(data: dict) -> RoadLayout:
    """Inverse of ``layout_to_dict``."""
    lanes = tuple(
        LaneGeometry(x["id"], x["road"], x["index"], np.asarray(x["points"]), x["width"]) for x in data["lanes"]
    )
    return RoadLayout(lanes, data["route_lane"], tuple(data["goal"]), data["speed_limit"])


class PlannerModel:
    """Adapts an OccSim planner to the server's ``reset`` / ``infer`` interface."""

    def __init__(self, planner: Planner):
        self.planner = planner
        self.privileged = planner.privileged

    def reset(self, info: dict) -> None:
        """Rebuild the road layout and reset the planner."""
        if "road" in info:
            info = {**info, "road": layout_from_dict(info["road"])}
        self.planner.reset(info)

    def infer(self, request: dict) -> np.ndarray:
        """The planner's waypoints for an observation rebuilt from the request."""
        observation = dict(request)
        observation["command"] = int(request["command"])
        return self.planner.plan(observation).points


def serve_planner(name: str, host: str = "127.0.0.1", port: int = 8765):
    """An HTTP server (call ``serve_forever``) for the registered planner ``name``."""
    return make_server(PlannerModel(make_planner(name)), host, port, name=name)
