"""Fault injection for the planner server and its client: sessions, hostile requests, slow and huge replies."""

import http.client
import json
import socket
import threading
import time

import numpy as np
import pytest

from occsim.envs.occsim_env import OccSimEnv
from occsim.planners import make_planner
from occsim.planners.remote import RemotePlanner, RemotePlannerError, serve_planner
from occsim.planners.remote_server import make_server
from occsim.scenarios import load_scenario
from occsim.types import PlannerInput, PrivilegedInput


def _drive(env, planners, seeds, steps=200):
    """Step several episodes in lockstep, one planner each; returns every plan of every episode."""
    states = []
    for env_, planner, seed in zip(env, planners, seeds):
        obs, info = env_.reset(seed=seed)
        planner.reset(info)
        states.append([obs, False, [], info])
    for _ in range(steps):
        for env_, planner, state in zip(env, planners, states):
            obs, done, plans, info = state
            if done:
                continue
            plan = planner.plan(PlannerInput.from_observation(obs, 0.0), PrivilegedInput.from_observation(obs))
            plans.append(plan.points.copy())
            obs, _, terminated, truncated, _ = env_.step(plan)
            state[0], state[1] = obs, terminated or truncated
        if all(state[1] for state in states):
            break
    return [state[2] for state in states]


def test_two_interleaved_episodes_on_one_server_equal_two_separate_servers(in_thread):
    names = ["stalled_truck_curve", "bus_ahead"]
    envs = [OccSimEnv(load_scenario(n), camera_hw=(16, 28), privileged=True) for n in names]
    shared = in_thread(serve_planner("expert", port=0))
    together = _drive(envs, [make_planner(f"remote:{shared}"), make_planner(f"remote:{shared}")], [3, 4])
    apart_urls = [in_thread(serve_planner("expert", port=0)) for _ in names]
    apart = _drive(envs, [make_planner(f"remote:{u}") for u in apart_urls], [3, 4])
    assert len(together[0]) > 10 and len(together[1]) > 10
    for a, b in zip(together, apart):
        assert len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


class _Model:
    privileged = False

    def reset(self, info):
        pass

    def infer(self, request):
        raise RuntimeError("secret internals")


def _post(url: str, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", path)
    for key, value in headers.items():
        connection.putheader(key, value)
    connection.endheaders()
    connection.send(body)
    response = connection.getresponse()
    status, data = response.status, response.read()
    connection.close()
    return status, json.loads(data)


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"{}", {"Content-Type": "application/json", "Content-Length": "-5"}, 400, "non-negative integer"),
        (b"{}", {"Content-Type": "application/json", "Content-Length": "abc"}, 400, "non-negative integer"),
        (b"{}", {"Content-Type": "application/json", "Content-Length": str(10**12)}, 413, "over the"),
        (b"{}", {"Content-Type": "text/plain", "Content-Length": "2"}, 415, "application/json"),
        (b"{}", {"Content-Type": "application/json"}, 411, "Content-Length"),
        (
            b"[" * 100000 + b"]" * 100000,
            {"Content-Type": "application/json", "Content-Length": "200000"},
            400,
            "nested",
        ),
        (b'{"session": "nope"}', {"Content-Type": "application/json", "Content-Length": "19"}, 410, "session"),
    ],
)
def test_hostile_requests_get_clear_refusals(in_thread, body, headers, status, message):
    url = in_thread(make_server(_Model, port=0))
    got, reply = _post(url, "/infer", body, headers)
    assert got == status and message in reply["error"]


def test_a_failing_model_reports_its_error_but_never_its_traceback(in_thread, capfd):
    url = in_thread(make_server(_Model, port=0))
    body = json.dumps({"info": {}}).encode()
    _, reset = _post(url, "/reset", body, {"Content-Type": "application/json", "Content-Length": str(len(body))})
    body = json.dumps({"session": reset["session"]}).encode()
    status, reply = _post(url, "/infer", body, {"Content-Type": "application/json", "Content-Length": str(len(body))})
    assert status == 500 and reply == {"error": "RuntimeError: secret internals"}
    assert "Traceback" in capfd.readouterr().err  # logged on the server's side


def test_sessions_are_bounded_and_expire(in_thread):
    server = make_server(_Model, port=0, max_sessions=2, session_ttl=60)
    url = in_thread(server)
    clients = [RemotePlanner(url) for _ in range(3)]
    for client in clients:
        client.reset({})
    observation = {
        "images": np.zeros((6, 2, 2, 3), np.uint8),
        "intrinsics": np.eye(3)[None].repeat(6, 0),
        "cam2ego": np.eye(4)[None].repeat(6, 0),
        "ego": np.zeros(4),
        "ego_pose": np.zeros(3),
        "command": 2,
    }
    inputs = PlannerInput.from_observation(observation, 0.0)
    with pytest.raises(RemotePlannerError, match="HTTP 410.*session"):  # the least recently used was dropped
        clients[0].plan(inputs)
    with pytest.raises(RemotePlannerError, match="HTTP 500.*secret internals"):  # still live
        clients[2].plan(inputs)


def _trickling_server(reply_size: int | None = None) -> tuple[socket.socket, threading.Event]:
    """A raw server that answers one byte a second (or declares a huge reply)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            conn.recv(65536)
            if reply_size is not None:
                head = f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {reply_size}\r\n\r\n"
                conn.sendall(head.encode() + b"{" * min(reply_size, 1 << 20))
                conn.close()
                continue
            reply = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n{"ok": true, "name": "slow"}  '
            for byte in reply:
                if stop.is_set():
                    break
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.2)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return listener, stop


def test_a_trickling_server_hits_the_total_deadline():
    listener, stop = _trickling_server()
    try:
        start = time.monotonic()
        with pytest.raises(RemotePlannerError, match="within 1 s"):
            RemotePlanner(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=1.0)
        assert time.monotonic() - start < 10  # the trickle would take 20 s; the deadline ends it
    finally:
        stop.set()
        listener.close()


def test_huge_replies_are_refused():
    listener, stop = _trickling_server(reply_size=1 << 40)
    try:
        with pytest.raises(RemotePlannerError, match="over"):
            RemotePlanner(f"http://127.0.0.1:{listener.getsockname()[1]}", timeout=5.0)
    finally:
        stop.set()
        listener.close()
