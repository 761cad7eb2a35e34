"""The perception meter: ``info["perceived_occupancy_miou"]`` for any renderer, and the suite's optional column."""

import numpy as np
import pytest

from occsim.envs.occsim_env import OccSimEnv
from occsim.scenarios import load_scenario
from occsim.sensors.raster import RasterRenderer
from occsim.sensors.renderer import Renderer
from occsim.sim import Simulation
from occsim.suite.episode import run_episode
from occsim.suite.records import RunRecord
from occsim.suite.summary import METER_COLUMN, columns, summarise
from occsim.types import CameraFrames, CameraRig


class GreyRenderer(Renderer):
    """Views with nothing in them: the meter must score them below the raster renderer's."""

    def render(self, world, weather, seed):
        h, w = self.rig.hw
        return CameraFrames(
            rgb=np.full((6, h, w, 3), 128, np.uint8),
            depth=np.zeros((6, h, w), np.float32),
            semantic=np.zeros((6, h, w), np.uint8),
        )


def _mean_miou(renderer: Renderer) -> float:
    sim = Simulation(renderer, perception_meter=True)
    scores = [sim.reset(load_scenario(name), seed=0).perceived_occupancy_miou for name in ("bus_ahead", "cut_in")]
    return float(np.mean(scores))


def test_meter_scores_raster_views_well_above_empty_ones():
    rig = CameraRig.nuscenes((64, 112))
    raster, grey = _mean_miou(RasterRenderer(rig)), _mean_miou(GreyRenderer(rig))
    assert 0.0 <= grey < raster <= 1.0
    assert raster > 0.3


def test_env_reports_the_meter_only_when_asked():
    env = OccSimEnv("bus_ahead", camera_hw=(64, 112), perception_meter=True)
    _, info = env.reset(seed=0)
    assert 0.0 < info["perceived_occupancy_miou"] <= 1.0
    _, _, _, _, info = env.step(np.zeros((6, 2), np.float32))
    assert 0.0 < info["perceived_occupancy_miou"] <= 1.0
    _, info = OccSimEnv("bus_ahead", camera_hw=(64, 112)).reset(seed=0)
    assert "perceived_occupancy_miou" not in info


def test_missing_meter_weights_are_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-perception"):
        Simulation(perception_meter=tmp_path)


def test_episode_mean_and_summary_column():
    scenario = load_scenario("bus_ahead").model_copy(update={"duration": 2.0})
    result = run_episode(scenario, "expert", camera_hw=(64, 112), perception_meter=True)
    assert 0.0 < result.perceived_occupancy_miou <= 1.0
    assert sum(v for _, v in result.object_recall["bus"].values()) == result.steps + 1  # seen in every frame
    plain = run_episode(scenario, "expert", camera_hw=(64, 112))
    assert plain.perceived_occupancy_miou is None and plain.object_recall is None
    metered = {**result.to_dict(), "ncap": 5.0, "pdms": 1.0, "driving_score": 1.0}
    rows = summarise([RunRecord.from_json(metered)])
    assert rows[0][METER_COLUMN] == pytest.approx(result.perceived_occupancy_miou, abs=1e-3)
    assert METER_COLUMN in columns(rows)
    assert METER_COLUMN not in columns(
        summarise([RunRecord.from_json({**plain.to_dict(), "ncap": 5.0, "pdms": 1.0, "driving_score": 1.0})])
    )
