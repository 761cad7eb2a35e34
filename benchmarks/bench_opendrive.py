"""OpenDRIVE worlds: how long a map takes to load and build, and env steps per second on it against a procedural map.

Every figure comes from one run on this machine:
- build: parse and evaluate an X-intersection like Euro NCAP's (four 250 m arms, a driving lane and a 5.5 m verge
  each way, a junction of 12 connecting roads; written here, or ``--xodr`` a file of your own), its road map
  (lanes, drivable area), its static world (ground, marks, scenery), and the whole world of a scenario on it
  (storyboard at t = 0 included); each the median of ``--repeats`` fresh builds (nothing cached);
- steps per second: the env (raster, 6 x 256 x 448, constant-velocity plan, two other cars) on that map and on
  the procedural intersection of the same extent (arms of 250 m), alternating, median of ``--repeats``;
- how fast an XML bomb and an external entity are refused.

Run: python benchmarks/bench_opendrive.py [--xodr PATH] [--repeats N]   → benchmarks/results/opendrive.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gymnasium as gym  # noqa: E402

import occsim  # noqa: E402,F401 - registers the ids
from occsim.scenario import load_scenario_file  # noqa: E402
from occsim.scenario.openscenario.load import load_xosc  # noqa: E402
from occsim.types import Trajectory  # noqa: E402
from occsim.world.opendrive.network import RoadNetwork  # noqa: E402
from occsim.world.opendrive.roads import road_map  # noqa: E402
from occsim.world.opendrive.scenery import static_world  # noqa: E402
from occsim.world.xmlsafe import XmlError, parse_xml  # noqa: E402
from tests import openscenario_files as F  # noqa: E402

RESULTS = Path(__file__).parent / "results"
HW = (256, 448)
STEPS = 30
PLAN = Trajectory.constant_velocity(8.0).points.astype(np.float32)


def median_seconds(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def build_times(xodr: Path, folder: Path, repeats: int) -> dict:
    """Seconds to parse, map, scenery and build a world on ``xodr`` (every step from nothing)."""
    network = RoadNetwork.load(xodr)
    roads = road_map(network)
    xosc = F.write(folder, "bench.xosc", _scenario(xodr))

    def whole() -> None:
        from occsim.scenario.build import build_world
        from occsim.scenario.opendrive_world import _load, _static
        from occsim.scenario.openscenario.load import _document, _network

        for cache in (_load, _static, _document, _network):
            cache.cache_clear()
        build_world(load_xosc(xosc))

    return {
        "parse_and_evaluate_s": median_seconds(lambda: RoadNetwork.load(xodr), repeats),
        "road_map_s": median_seconds(lambda: road_map(network), repeats),
        "static_world_s": median_seconds(lambda: static_world(network, roads, np.random.default_rng(0)), repeats),
        "scenario_world_s": median_seconds(whole, repeats),
        "roads": len(network.roads),
    }


def _scenario(xodr: Path) -> str:
    cars = {"Ego": F.vehicle("ego"), "A": F.vehicle("a"), "B": F.vehicle("b")}
    init = {
        "Ego": [F.teleport(F.lane_position("0", 1, 200.0)), F.speed(8.0)],
        "A": [F.teleport(F.lane_position("0", 1, 150.0)), F.speed(8.0)],
        "B": [F.teleport(F.lane_position("2", 1, 150.0)), F.speed(8.0)],
    }
    return F.xosc(cars, init, road_file=str(xodr.resolve()), stop=F.trigger(F.sim_time(500.0), kind="StopTrigger"))


PROCEDURAL = """
name: bench_procedural_intersection
map: {type: intersection, length: 523, lanes: 1, oncoming_lanes: 1}
ego: {lane: 0, s: 60, speed: 8, goal_s: 500}
duration: 500
actors:
  - {id: a, type: car, lane: 0, s: 110, speed: 8}
  - {id: b, type: car, road: 1, lane: -1, s: 110, speed: 8}
"""


def steps_per_second(scenario, repeats: int) -> list[float]:
    env = gym.make("OccSim-v0", scenario=scenario, camera_hw=HW)
    env.reset(seed=0)
    for _ in range(3):  # warm: kernels compiled, caches filled
        env.step(PLAN)
    rates = []
    for _ in range(repeats):
        env.reset(seed=0)
        start = time.perf_counter()
        for _ in range(STEPS):
            env.step(PLAN)
        rates.append(STEPS / (time.perf_counter() - start))
    return rates


def refusal_ms() -> dict:
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">'.encode() for i in range(8))
        + b"]><OpenDRIVE>&i;</OpenDRIVE>"
    )
    external = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><OpenSCENARIO>&e;</OpenSCENARIO>'
    )
    out = {}
    for name, data in (("xml_bomb", bomb), ("external_entity", external)):
        start = time.perf_counter()
        try:
            parse_xml(data, name)
        except XmlError:
            pass
        out[f"{name}_refused_ms"] = round((time.perf_counter() - start) * 1e3, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--xodr", type=Path, action="append", default=[], help="also time this OpenDRIVE file")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours = F.write(folder, "x_intersection.xodr", F.junction_xodr(arm=250.0, radius=11.5, border=5.5))
        builds = {"x_intersection (written here)": build_times(ours, folder, args.repeats)}
        for path in args.xodr:
            builds[path.name] = build_times(path, folder, args.repeats)
        opendrive_scenario = load_xosc(F.write(folder, "steps.xosc", _scenario(ours)))
        procedural = load_scenario_file(F.write(folder, "procedural.yaml", PROCEDURAL))
        rates = {"opendrive": [], "procedural": []}
        for _ in range(args.repeats):  # alternate, so drifts in machine load hit both alike
            rates["opendrive"] += steps_per_second(opendrive_scenario, 1)
            rates["procedural"] += steps_per_second(procedural, 1)
    result = {
        "machine": platform.machine(),
        "cpu_count": __import__("os").cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "build": builds,
        "camera_hw": list(HW),
        "steps_per_s": {k: round(float(np.median(v)), 2) for k, v in rates.items()},
        "opendrive_over_procedural": round(float(np.median(rates["opendrive"]) / np.median(rates["procedural"])), 3),
        **refusal_ms(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "opendrive.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
