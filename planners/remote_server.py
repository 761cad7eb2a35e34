"""The server side of OccSim's remote-planner contract: standard library and numpy only.

Copy this one file next to any planner (into VAD's repository, say) and run it with that planner's own Python:

    python remote_server.py --model my_module:make_model --port 8765

``make_model()`` returns an object with ``reset(info: dict)`` and ``infer(request: dict) -> array (6, 2)``; the
server calls it once per episode (session), so episodes served at the same time never share planner state.
Endpoints (in the spirit of NeuroNCAP's model server), JSON in and out (``Content-Type: application/json``):

- ``GET /alive`` -> ``{"ok": true, "name": ..., "privileged": bool}``
- ``POST /reset`` with ``{"info": {...}}`` (and ``"session"``: the id of the client's previous episode, ended here)
  -> ``{"ok": true, "session": id}``: a new episode with its own planner
- ``POST /infer`` with ``session``, ``images`` (6, H, W, 3) uint8, ``intrinsics`` (6, 3, 3), ``cam2ego`` (6, 4, 4),
  ``ego_pose`` (x, y, yaw), ``ego`` (speed, acceleration, yaw rate, steering), ``can_bus`` (18), ``command``
  (0 right, 1 left, 2 straight), ``timestamp`` [s] and, for privileged planners, ``occupancy``, ``actors``, ``goal``
  -> ``{"trajectory": [[x, y] * 6]}`` in the ego frame (x forward, y left) [m] at 0.5 s spacing.
- ``POST /close`` with ``{"session": id}`` -> ``{"ok": true}``: frees the episode's planner.

Arrays travel as ``{"__array__": true, "dtype": ..., "shape": [...], "data": base64 of the raw bytes}``.
Errors are ``{"error": message}`` with 400 (bad request), 404 (unknown endpoint), 405 (another method), 410
(session expired or never opened), 411/413 (length missing or too large), 415 (not JSON) or 500 (the model
failed; its traceback goes to the server's stderr, never to the client). At most ``max_sessions`` episodes live
at once; one idle for ``session_ttl`` seconds, or the least recently used when a new one needs room, is dropped.
The server binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import sys
import threading
import time
import traceback
import uuid
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

MAX_BODY = 256 * 1024 * 1024  # [bytes] six full-size nuScenes images are ~26 MB raw


def encode(value):
    """JSON-ready form of nested dicts, lists and numpy arrays."""
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return {
            "__array__": True,
            "dtype": str(data.dtype),
            "shape": list(data.shape),
            "data": base64.b64encode(data.tobytes()).decode(),
        }
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def decode(value):
    """Inverse of ``encode``."""
    if isinstance(value, dict):
        if value.get("__array__"):
            raw = base64.b64decode(value["data"])
            return np.frombuffer(raw, dtype=np.dtype(value["dtype"])).reshape(value["shape"]).copy()
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


MAX_SESSIONS = 16  # live episodes (each holds its own planner)
SESSION_TTL = 600.0  # [s] an episode idle this long is dropped
READ_TIMEOUT = 60.0  # [s] a client that stops sending mid-request is dropped


class RequestError(Exception):
    """A request the server refuses: ``status`` and a message for the client."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Sessions:
    """One model per live episode, at most ``limit`` of them, least recently used dropped first."""

    def __init__(self, factory, limit: int = MAX_SESSIONS, ttl: float = SESSION_TTL, first=None):
        self.factory, self.limit, self.ttl = factory, max(1, limit), ttl
        self._spare = first  # the model built at start-up (to answer /alive) serves the first episode
        self._live: OrderedDict[str, list] = OrderedDict()  # id -> [model, last use]
        self._lock = threading.Lock()

    def open(self, previous: str | None = None) -> tuple[str, object]:
        """A new session id and its model; ends ``previous`` (the same client's last episode)."""
        with self._lock:
            self._live.pop(previous or "", None)
            self._expire()
            while len(self._live) >= self.limit:
                self._live.popitem(last=False)
            model, self._spare = self._spare, None
        model = model or self.factory()
        session = uuid.uuid4().hex
        with self._lock:
            self._live[session] = [model, time.monotonic()]
        return session, model

    def get(self, session) -> object:
        """The model of a live session; RequestError 410 otherwise."""
        with self._lock:
            self._expire()
            entry = self._live.get(session) if isinstance(session, str) else None
            if entry is None:
                raise RequestError(410, f"unknown or expired session {session!r}: POST /reset starts an episode")
            entry[1] = time.monotonic()
            self._live.move_to_end(session)
            return entry[0]

    def close(self, session) -> None:
        """Forget a session (no error if it is gone already)."""
        with self._lock:
            self._live.pop(session if isinstance(session, str) else "", None)

    def _expire(self) -> None:
        now = time.monotonic()
        for key in [k for k, (_, used) in self._live.items() if now - used > self.ttl]:
            del self._live[key]


def make_server(
    factory,
    host: str = "127.0.0.1",
    port: int = 8765,
    name: str = "planner",
    max_sessions: int = MAX_SESSIONS,
    session_ttl: float = SESSION_TTL,
) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) giving each episode a model from ``factory()``.

    Port 0 picks a free port (see ``server.server_port``).
    """
    first = factory()
    state = {
        "sessions": Sessions(factory, max_sessions, session_ttl, first),
        "lock": threading.Lock(),
        "name": name,
        "privileged": bool(getattr(first, "privileged", False)),
    }
    return _Server((host, port), type("Handler", (_PlannerHandler,), state))


class _PlannerHandler(BaseHTTPRequestHandler):
    """One request to a planner server; ``make_server`` subclasses it with the server's sessions and lock."""

    timeout = READ_TIMEOUT
    sessions: Sessions
    lock: threading.Lock  # one model call at a time: models may share a device or global state
    name: str
    privileged: bool

    def _reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def parse_request(self) -> bool:
        """http.server's parsing, refusing HTTP/0.9 (a request line without a version: no status, no headers)."""
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            self.send_error(400, "a request line is METHOD PATH HTTP/1.1")
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a bad request line, an unknown method) as JSON like every other error."""
        if self.request_version == "HTTP/0.9":  # a malformed request line: still answer with a status line
            self.request_version = "HTTP/1.0"
        if code == 501:  # a method the server has no handler for
            code, message = 405, f"method {self.command!r} is not allowed; GET /alive, POST /reset, /infer, /close"
        data = json.dumps({"error": message or self.responses.get(code, ("request refused",))[0]}).encode()
        self.close_connection = True
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200:
            self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/alive":
            self._reply(200, {"ok": True, "name": self.name, "privileged": self.privileged})
        else:
            self._reply(404, {"error": f"no endpoint GET {self.path}; try GET /alive"})

    def do_POST(self):  # noqa: N802
        try:
            self._reply(200, self._answer(self._body()))
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the client gave up or went quiet: nobody to answer
        except RequestError as e:
            self.close_connection = True
            self._reply(e.status, {"error": str(e)})
        except Exception as e:
            traceback.print_exc(file=sys.stderr)  # the details stay with the server's operator
            self._reply(500, {"error": f"{type(e).__name__}: {e}"})

    def _answer(self, body: dict) -> dict:
        """The answer of the endpoint ``self.path`` to a request body."""
        if self.path == "/reset":
            session, model = self.sessions.open(body.get("session"))
            with self.lock:
                model.reset(body.get("info", {}))
            return {"ok": True, "session": session}
        if self.path == "/infer":
            model = self.sessions.get(body.get("session"))
            with self.lock:
                trajectory = np.asarray(model.infer(body), dtype=np.float64)
            if trajectory.shape != (6, 2) or not np.all(np.isfinite(trajectory)):
                raise ValueError(f"the model returned shape {trajectory.shape}, not 6 finite (x, y)")
            return {"trajectory": trajectory.tolist()}
        if self.path == "/close":
            self.sessions.close(body.get("session"))
            return {"ok": True}
        raise RequestError(404, f"no endpoint POST {self.path}; try /reset, /infer or /close")

    def _body(self) -> dict:
        """The request's JSON object, after checking its type and length."""
        kind = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            raise RequestError(415, f"Content-Type must be application/json, got {kind or 'none'!r}")
        text = self.headers.get("Content-Length")
        if text is None:
            raise RequestError(411, "Content-Length is required")
        if not text.strip().isdigit():
            raise RequestError(400, f"Content-Length must be a non-negative integer, got {text!r}")
        length = int(text)
        if length > MAX_BODY:
            raise RequestError(413, f"request of {length} bytes is over the {MAX_BODY}-byte limit")
        raw = self.rfile.read(length)
        if len(raw) < length:
            raise RequestError(400, f"request body ended after {len(raw)} of {length} bytes")
        try:
            body = decode(json.loads(raw or b"{}"))
        except RecursionError:
            raise RequestError(400, "request JSON is nested too deeply") from None
        except (ValueError, KeyError, TypeError) as e:
            raise RequestError(400, f"request is not valid JSON of encoded arrays: {e}") from None
        if not isinstance(body, dict):
            raise RequestError(400, f"request must be a JSON object, got {type(body).__name__}")
        return body

    def log_message(self, format, *args):  # noqa: A002 - quiet: one line per step is noise
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-answer is routine (its own timeout); anything else is worth a traceback.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def main() -> None:
    """``python remote_server.py --model module:factory [--host 127.0.0.1] [--port 8765]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="module:factory returning an object with reset() and infer()")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    module, _, factory = args.model.partition(":")
    server = make_server(getattr(importlib.import_module(module), factory), args.host, args.port, name=args.model)
    print(f"serving {args.model} on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
