import json
import re
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from occsim.planners import make_planner
from occsim.planners.remote import RemotePlannerError
from occsim.planners.remote_server import decode, encode, make_server
from occsim.planners.vad.contract import can_bus
from occsim.scenarios import load_scenario
from occsim.suite.episode import PlannerError, run_episode
from occsim.types import PlannerInput


def test_codec_round_trip():
    value = {"a": np.arange(12, dtype=np.uint8).reshape(3, 4), "b": [np.float32(1.5), {"c": np.eye(2)}], "d": "x"}
    back = decode(encode(value))
    assert back["a"].dtype == np.uint8 and np.array_equal(back["a"], value["a"])
    assert back["b"][0] == 1.5 and np.array_equal(back["b"][1]["c"], np.eye(2)) and back["d"] == "x"


def test_the_road_layout_crosses_the_wire_with_its_route_and_crossings():
    from occsim.planners.remote import layout_from_dict, layout_to_dict
    from occsim.scenario import build_world, parse_scenario

    world = build_world(
        parse_scenario("name: w\nmap: {type: intersection}\nego: {lane: 0, s: 40, route: [left], goal_s: 160}\n")
    )
    layout = world.layout()
    back = layout_from_dict(decode(json.loads(json.dumps(encode(layout_to_dict(layout))))))
    assert back.turns == ("left",) and back.map_kind == "intersection" and len(back.crosswalks) == 4
    assert np.array_equal(back.route, layout.route) and np.array_equal(back.crosswalks[2], layout.crosswalks[2])
    # the route turns: it ends on road 1, heading +y, 60 m up it
    assert abs(layout.route[-1, 0] - 101.75) < 0.1 and layout.route[-1, 1] > 50


def test_can_bus_hand_values():
    out = can_bus(np.array([10.0, 20.0, -np.pi / 2]), np.array([5.0, 1.0, 0.1, 0.0]))
    assert out.shape == (18,)
    assert out[0:3].tolist() == [10.0, 20.0, 0.0]
    assert out[3:7] == pytest.approx([np.cos(-np.pi / 4), 0.0, 0.0, np.sin(-np.pi / 4)])
    assert out[7] == 1.0 and out[12] == 0.1 and out[13] == 5.0
    assert out[17] == pytest.approx(270.0) and out[16] == pytest.approx(1.5 * np.pi)


@pytest.fixture
def served():
    """Start `occsim serve-planner NAME --port 0` in its own process; yield its URL."""
    processes = []

    def start(name: str) -> str:
        proc = subprocess.Popen(
            [sys.executable, "-m", "occsim.cli", "serve-planner", name, "--port", "0"],
            stderr=subprocess.PIPE,
            text=True,
        )
        processes.append(proc)
        line = proc.stderr.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        assert match, line
        return f"http://127.0.0.1:{match.group(1)}"

    yield start
    for proc in processes:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("name", ["constant_velocity", "expert"])
def test_a_whole_episode_through_a_server_process_matches_in_process(served, name):
    url = served(name)
    scenario = load_scenario("bus_ahead")
    remote = run_episode(scenario, f"remote:{url}", camera_hw=(16, 28), seed=3)
    local = run_episode(scenario, name, camera_hw=(16, 28), seed=3)
    assert (remote.outcome, remote.steps, remote.collided_with) == (local.outcome, local.steps, local.collided_with)
    assert remote.route_completion == pytest.approx(local.route_completion)


def test_server_down_is_a_clear_error():
    with pytest.raises(RemotePlannerError, match="no planner server answering at http://127.0.0.1:9"):
        make_planner("remote:http://127.0.0.1:9")


class _Model:
    privileged = False

    def __init__(self, answer, delay=0.0):
        self.answer, self.delay = answer, delay

    def reset(self, info):
        pass

    def infer(self, request):
        time.sleep(self.delay)
        return self.answer


def test_garbage_and_slow_answers_end_the_run_with_an_error(in_thread):
    scenario = load_scenario("bus_ahead")
    wrong = in_thread(make_server(lambda: _Model(np.zeros((3, 2))), port=0))
    with pytest.raises(PlannerError, match="HTTP 500.*not 6 finite"):
        run_episode(scenario, f"remote:{wrong}", camera_hw=(16, 28))

    class Text(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    text = in_thread(ThreadingHTTPServer(("127.0.0.1", 0), Text))
    with pytest.raises(RemotePlannerError, match="non-JSON"):
        make_planner(f"remote:{text}")

    slow = in_thread(make_server(lambda: _Model(np.zeros((6, 2)), delay=2.0), port=0))
    planner = make_planner(f"remote:{slow}", timeout=0.5)
    planner.reset({})
    obs = {
        "images": np.zeros((6, 4, 4, 3), np.uint8),
        "intrinsics": np.eye(3)[None].repeat(6, 0),
        "cam2ego": np.eye(4)[None].repeat(6, 0),
    }
    obs.update({"ego": np.zeros(4), "ego_pose": np.zeros(3), "command": 2})
    with pytest.raises(RemotePlannerError, match="no planner server answering|timed out"):
        planner.plan(PlannerInput.from_observation(obs, 0.0))


def test_serve_planner_rejects_unknown_names():
    out = subprocess.run(
        [sys.executable, "-m", "occsim.cli", "serve-planner", "expret", "--port", "0"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "did you mean 'expert'" in out.stderr
