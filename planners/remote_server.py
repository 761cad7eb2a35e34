"""The server side of OccSim's remote-planner contract: standard library and numpy only.

Copy this one file next to any planner (into VAD's repository, say) and run it with that planner's own Python:

    python remote_server.py --model my_module:make_model --port 8765

``make_model()`` returns an object with ``reset(info: dict)`` and ``infer(request: dict) -> array (6, 2)``.
Endpoints (in the spirit of NeuroNCAP's model server), JSON in and out:

- ``GET /alive`` -> ``{"ok": true, "name": ..., "privileged": bool}``
- ``POST /reset`` with ``{"info": {...}}`` -> ``{"ok": true}``
- ``POST /infer`` with ``images`` (6, H, W, 3) uint8, ``intrinsics`` (6, 3, 3), ``cam2ego`` (6, 4, 4), ``ego_pose``
  (x, y, yaw), ``ego`` (speed, acceleration, yaw rate, steering), ``can_bus`` (18), ``command`` (0 right, 1 left,
  2 straight), ``timestamp`` [s] and, for privileged planners, ``occupancy``, ``actors``, ``goal``
  -> ``{"trajectory": [[x, y] * 6]}`` in the ego frame (x forward, y left) [m] at 0.5 s spacing.

Arrays travel as ``{"__array__": true, "dtype": ..., "shape": [...], "data": base64 of the raw bytes}``.
The server binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import json
import sys
import threading
import traceback
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


def make_server(model, host: str = "127.0.0.1", port: int = 8765, name: str = "planner") -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) around ``model``; port 0 picks a free port (see ``server.server_port``)."""
    lock = threading.Lock()  # one request at a time reaches the model: planners keep state between steps

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):  # noqa: N802 - http.server's naming
            if self.path == "/alive":
                self._reply(200, {"ok": True, "name": name, "privileged": bool(getattr(model, "privileged", False))})
            else:
                self._reply(404, {"error": f"no endpoint GET {self.path}; try GET /alive"})

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length", 0))
            if length > MAX_BODY:
                self._reply(413, {"error": f"request of {length} bytes is over the {MAX_BODY}-byte limit"})
                return
            try:
                body = decode(json.loads(self.rfile.read(length) or b"{}"))
            except (ValueError, KeyError, TypeError) as e:
                self._reply(400, {"error": f"request is not valid JSON of encoded arrays: {e}"})
                return
            try:
                with lock:
                    if self.path == "/reset":
                        model.reset(body.get("info", {}))
                        self._reply(200, {"ok": True})
                    elif self.path == "/infer":
                        trajectory = np.asarray(model.infer(body), dtype=np.float64)
                        if trajectory.shape != (6, 2) or not np.all(np.isfinite(trajectory)):
                            raise ValueError(f"the model returned shape {trajectory.shape}, not 6 finite (x, y)")
                        self._reply(200, {"trajectory": trajectory.tolist()})
                    else:
                        self._reply(404, {"error": f"no endpoint POST {self.path}; try /reset or /infer"})
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (its timeout): nobody to answer
            except Exception as e:
                self._reply(500, {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc(limit=5)})

        def log_message(self, format, *args):  # noqa: A002 - quiet: one line per step is noise
            pass

    return _Server((host, port), Handler)


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
    model = getattr(importlib.import_module(module), factory)()
    server = make_server(model, args.host, args.port, name=args.model)
    print(f"serving {args.model} on http://{args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
