"""Planners in another process: the ``remote`` client planner and serving any OccSim planner over HTTP.

The contract is in ``remote_server.py`` (standard library and numpy only, so it runs in a planner's own Python).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import urllib.parse
from typing import Any

import numpy as np

from occsim.planners.base import Planner, make_planner, register_planner
from occsim.planners.remote_server import MAX_SESSIONS, encode, make_server
from occsim.planners.vad.contract import can_bus
from occsim.types import (
    ACTOR_COLUMNS,
    MAX_ACTORS,
    LaneGeometry,
    PlannerInput,
    PrivilegedInput,
    RoadLayout,
    Trajectory,
)

DEFAULT_URL = "http://127.0.0.1:8765"


class RemotePlannerError(RuntimeError):
    """The planner server is unreachable, slow, or answered something that is not a trajectory."""


MAX_REPLY = 16 * 1024 * 1024  # [bytes] a reply is six waypoints; anything near this is not one


@register_planner("remote")
class RemotePlanner(Planner):
    """A planner served elsewhere: ``--planner remote:http://127.0.0.1:8765``.

    Every episode is a session of its own on the server, so one server can serve several suite workers at once.
    ``timeout`` bounds each whole call (connect, send, answer), however slowly the server trickles its reply.
    """

    def __init__(self, url: str = DEFAULT_URL, timeout: float = 30.0):
        self.url = url.rstrip("/")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise RemotePlannerError(f"remote planner URL must be http://HOST:PORT, got {url!r}")
        self._address = (parts.hostname, parts.port or 80)
        self.timeout = timeout
        self.session: str | None = None
        alive = self._call("GET", "/alive")
        if not isinstance(alive, dict) or alive.get("ok") is not True:
            raise RemotePlannerError(f"{self.url}/alive did not answer {{'ok': true}}: {alive!r}")
        self.remote_name = str(alive.get("name", "?"))
        self.privileged = bool(alive.get("privileged", False))

    def reset(self, info: dict[str, Any]) -> None:
        """Open a new session (ending this client's previous one) and forward the reset info."""
        payload = {k: v for k, v in info.items() if k != "road"}
        if isinstance(info.get("road"), RoadLayout):
            payload["road"] = layout_to_dict(info["road"])
        reply = self._call("POST", "/reset", {"info": encode(payload), "session": self.session})
        if not isinstance(reply, dict) or not isinstance(reply.get("session"), str):
            raise RemotePlannerError(f"{self.url}/reset did not answer a session id: {str(reply)[:200]}")
        self.session = reply["session"]

    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        """Send the inputs (the wire format of ``remote_server.py``), get six ego-frame waypoints back."""
        if self.session is None:
            raise RemotePlannerError("plan() before reset(): the server has no episode for this client")
        request = inputs.as_dict()
        request["can_bus"] = can_bus(inputs.ego_pose, inputs.ego)
        if privileged is not None:
            request.update(privileged_request(privileged))
        request = encode(request)
        request["session"] = self.session
        reply = self._call("POST", "/infer", request)
        try:
            return Trajectory(np.asarray(reply["trajectory"], dtype=np.float64))
        except (KeyError, TypeError, ValueError) as e:
            raise RemotePlannerError(
                f"{self.url}/infer answered something that is not a trajectory ({e}): {str(reply)[:200]}"
            ) from None

    def close(self) -> None:
        """End this client's session on the server (it would expire by itself, later)."""
        if self.session is not None:
            with contextlib.suppress(RemotePlannerError):
                self._call("POST", "/close", {"session": self.session})
            self.session = None

    def _call(self, method: str, path: str, body: dict | None = None) -> Any:
        """One request under a total deadline of ``timeout`` seconds and a reply cap of MAX_REPLY bytes."""
        data = None if body is None else json.dumps(body).encode()
        connection = http.client.HTTPConnection(*self._address, timeout=self.timeout)
        # The socket timeout bounds each read; this timer bounds the whole call, however slow the trickle.
        expired = threading.Event()

        def abort() -> None:
            expired.set()
            with contextlib.suppress(OSError, AttributeError):
                connection.sock.shutdown(socket.SHUT_RDWR)

        timer = threading.Timer(self.timeout, abort)
        timer.start()
        try:
            headers = {"Content-Type": "application/json"} if data is not None else {}
            connection.request(method, path, body=data, headers=headers)
            response = connection.getresponse()
            declared = response.getheader("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > MAX_REPLY:
                raise RemotePlannerError(f"{method} {self.url}{path} answered {declared} bytes, over {MAX_REPLY}")
            raw = response.read(MAX_REPLY + 1)
            if len(raw) > MAX_REPLY:
                raise RemotePlannerError(f"{method} {self.url}{path} answered over {MAX_REPLY} bytes")
        except (OSError, http.client.HTTPException) as e:
            if expired.is_set():
                raise RemotePlannerError(
                    f"{method} {self.url}{path}: no complete answer within {self.timeout:g} s (timed out)"
                ) from None
            raise RemotePlannerError(
                f"no planner server answering at {self.url} ({e}); start one with `occsim serve-planner NAME`"
            ) from None
        finally:
            timer.cancel()
            connection.close()
        if response.status >= 400:
            detail = raw[:500].decode(errors="replace")
            raise RemotePlannerError(f"{method} {self.url}{path} failed with HTTP {response.status}: {detail}")
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            raise RemotePlannerError(f"{method} {self.url}{path} answered non-JSON: {raw[:200]!r}") from None


def privileged_request(privileged: PrivilegedInput) -> dict:
    """The privileged fields in the wire format: the occupancy, the actor table as rows, the goal."""
    actors = privileged.actors
    table = np.zeros((MAX_ACTORS, len(ACTOR_COLUMNS)), dtype=np.float32)
    table[: len(actors), 0] = 1.0
    for k, name in enumerate(ACTOR_COLUMNS[1:], start=1):
        table[: len(actors), k] = getattr(actors, "cls" if name == "class" else name)
    return {"occupancy": privileged.occupancy, "actors": table, "goal": privileged.goal}


def layout_to_dict(layout: RoadLayout) -> dict:
    """A road layout as plain data for JSON."""
    lanes = [{"id": x.id, "road": x.road, "index": x.index, "points": x.points, "width": x.width} for x in layout.lanes]
    return {
        "lanes": lanes,
        "route_lane": layout.route_lane,
        "goal": list(layout.goal),
        "speed_limit": layout.speed_limit,
        "route": layout.route,
        "turns": list(layout.turns),
        "crosswalks": list(layout.crosswalks),
        "map_kind": layout.map_kind,
    }


def layout_from_dict(data: dict) -> RoadLayout:
    """Inverse of ``layout_to_dict``."""
    lanes = tuple(
        LaneGeometry(x["id"], x["road"], x["index"], np.asarray(x["points"]), x["width"]) for x in data["lanes"]
    )
    route = data.get("route")
    return RoadLayout(
        lanes,
        data["route_lane"],
        tuple(data["goal"]),
        data["speed_limit"],
        route=None if route is None else np.asarray(route),
        turns=tuple(data.get("turns", ())),
        crosswalks=tuple(np.asarray(c) for c in data.get("crosswalks", ())),
        map_kind=data.get("map_kind", ""),
    )


class PlannerModel:
    """Adapts an OccSim planner to the server's ``reset`` / ``infer`` interface."""

    def __init__(self, planner: Planner):
        self.planner = planner
        self.privileged = planner.privileged
        self.road: RoadLayout | None = None

    def reset(self, info: dict) -> None:
        """Rebuild the road layout and reset the planner."""
        if "road" in info:
            info = {**info, "road": layout_from_dict(info["road"])}
        self.road = info.get("road")
        self.planner.reset(info)

    def infer(self, request: dict) -> np.ndarray:
        """The planner's waypoints for the typed inputs rebuilt from the request."""
        inputs = PlannerInput.from_observation(request, request.get("timestamp", 0.0))
        privileged = PrivilegedInput.from_observation(request, self.road) if self.privileged else None
        return self.planner.plan(inputs, privileged).points


def serve_planner(name: str, host: str = "127.0.0.1", port: int = 8765, max_sessions: int = MAX_SESSIONS):
    """An HTTP server (call ``serve_forever``) for the registered planner ``name``: one planner per episode."""
    return make_server(lambda: PlannerModel(make_planner(name)), host, port, name=name, max_sessions=max_sessions)
