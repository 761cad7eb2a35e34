"""Object recall: visibility from the raster geometry (occlusion included), finding in perceived occupancy, tallies."""

import dataclasses

import numpy as np
import pytest

from occsim.classes import BUS, CAR, CLASS_NAMES, FREE
from occsim.generative.models.perception import coarsen_occupancy
from occsim.metrics.recall import band_name, found_in_occupancy, merge_tallies, recall, sightings, tally, visible_actors
from occsim.scenarios import load_scenario
from occsim.sim import Simulation
from occsim.suite.records import RunRecord
from occsim.suite.summary import recall_rows


@pytest.fixture(scope="module")
def bus_world():
    sim = Simulation(camera_hw=(128, 224))
    out = sim.reset(load_scenario("bus_ahead"), seed=0)
    return sim, out.frames


def _behind(actor, metres, cls=None):
    """A copy of ``actor`` ``metres`` further along its heading (not in the world, so the frames never drew it)."""
    pose = dataclasses.replace(
        actor.pose, x=actor.pose.x + metres * np.cos(actor.pose.yaw), y=actor.pose.y + metres * np.sin(actor.pose.yaw)
    )
    return dataclasses.replace(actor, id=f"{actor.id}_behind", pose=pose, cls=actor.cls if cls is None else cls)


def test_the_bus_is_visible_and_what_stands_hidden_behind_it_is_not(bus_world):
    sim, frames = bus_world
    bus = sim.world.actor_states()[0]
    ego = sim.world.ego.pose
    seen = visible_actors([bus], ego, frames, sim.rig)
    assert [a.id for a, _ in seen] == ["bus"]
    assert 25.0 < seen[0][1] < 35.0
    # same class farther on: the bus's pixels are at the wrong depth; another class: the wrong label
    hidden = [_behind(bus, 6.0), _behind(bus, 6.0, cls=CAR)]
    assert visible_actors(hidden, ego, frames, sim.rig) == []
    # a real object beyond the range does not count
    assert visible_actors([bus], ego, frames, sim.rig, max_range=10.0) == []


def test_found_when_the_perceived_occupancy_holds_its_class_under_the_footprint(bus_world):
    sim, frames = bus_world
    bus = sim.world.actor_states()[0]
    ego = sim.world.ego.pose
    truth = coarsen_occupancy(sim.occupancy)
    assert found_in_occupancy(bus, ego, truth)
    assert not found_in_occupancy(bus, ego, np.full_like(truth, FREE))
    assert not found_in_occupancy(bus, ego, np.where(truth == BUS, CAR, truth))  # the wrong class is not a find
    assert not found_in_occupancy(_behind(bus, 200.0), ego, truth)  # outside the window
    found = sightings([bus], ego, frames, sim.rig, truth)
    assert len(found) == 1 and found[0].found and found[0].cls == BUS


def test_the_env_step_reports_sightings_with_the_meter_on():
    sim = Simulation(camera_hw=(64, 112), perception_meter=True)
    out = sim.reset(load_scenario("bus_ahead"), seed=0)
    assert [s.cls for s in out.sightings] == [BUS]
    assert Simulation(camera_hw=(64, 112)).reset(load_scenario("bus_ahead"), seed=0).sightings is None


def test_tallies_bands_and_rows():
    from occsim.metrics.recall import Sighting

    seen = [Sighting(CAR, 5.0, True), Sighting(CAR, 20.0, False), Sighting(CAR, 22.0, True), Sighting(BUS, 39.0, True)]
    seen.append(Sighting(CAR, 45.0, True))  # beyond the bands: not counted
    t = tally(seen)
    assert t == {"car": {"0-15": [1, 1], "15-30": [1, 2]}, "bus": {"30-40": [1, 1]}}
    merged = merge_tallies([t, t, None])
    assert merged["car"]["15-30"] == [2, 4] and recall(merged["car"]["15-30"]) == 0.5
    assert np.isnan(recall([0, 0]))
    assert band_name(15.0) == "15-30" and band_name(40.0) is None
    records = [{"weather": "fog", "object_recall": t}, {"weather": "fog", "object_recall": None}, {"weather": "clear"}]
    rows = recall_rows([RunRecord.from_json(r) for r in records])
    assert [(r["weather"], r["class"]) for r in rows] == [("fog", "bus"), ("fog", "car"), ("fog", "vehicles")]
    car, vehicles = rows[1], rows[2]
    assert car["15-30 m"] == 0.5 and car["15-30 m seen"] == 2 and np.isnan(car["30-40 m"])
    assert vehicles["30-40 m"] == 1.0 and vehicles["30-40 m seen"] == 1 and vehicles["0-15 m seen"] == 1
    assert set(CLASS_NAMES) | {"vehicles"} >= {r["class"] for r in rows}


def test_recall_rows_reach_the_csv_and_the_report_table(tmp_path):
    import csv

    from occsim.metrics.recall import Sighting
    from occsim.suite.report import _recall_section
    from occsim.suite.summary import write_recall_csv

    seen = tally([Sighting(CAR, 5.0, True), Sighting(CAR, 6.0, False)])
    rows = recall_rows([RunRecord.from_json({"weather": "clear", "object_recall": seen})])
    write_recall_csv(rows, tmp_path / "recall.csv")
    with (tmp_path / "recall.csv").open() as f:
        lines = list(csv.DictReader(f))
    assert [(r["class"], r["0-15 m"], r["0-15 m seen"]) for r in lines] == [
        ("car", "0.5", "2"),
        ("vehicles", "0.5", "2"),
    ]
    page = _recall_section(rows)
    assert "<td>0.50 (2)</td>" in page and "<th>30-40 m</th>" in page and _recall_section([]) == ""
