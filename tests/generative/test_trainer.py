import json

import numpy as np
import pytest
from occsim.scenarios import load_scenario

from occsim.generative.pipeline import OccSimSyntheOccPipeline
from occsim.generative.pixel_space import PixelSpace
from occsim.generative.trainer import SyntheOccTrainConfig, train_syntheocc
from occsim.suite.collect_render import RenderCollectConfig, collect_render


@pytest.fixture(scope="module")
def render_pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    collect_render([load_scenario("bus_ahead")], RenderCollectConfig(out, 2, (32, 56), 4, planes=4, every=8))
    return out


def test_the_small_default_trains_saves_and_loads(render_pairs, tmp_path):
    config = SyntheOccTrainConfig(render_pairs, tmp_path / "w", steps=2, batch_size=1, held_out=0.5, save_every=1)
    pipe, record = train_syntheocc(config)
    assert len(record["losses"]) == 2 and np.isfinite(record["losses"]).all()
    assert len(record["held_out_episodes"]) == 1 and record["data"]["train_episodes"] == 1
    loaded = OccSimSyntheOccPipeline.load(tmp_path / "w")
    assert isinstance(loaded.vae, PixelSpace) and loaded.vae.config.factor == 4
    assert loaded.settings["image_hw"] == [32, 56] and loaded.settings["planes"] == 4
    assert loaded.settings["cross_view_group"] == 6
    scale = json.loads((tmp_path / "w" / "vae" / "config.json").read_text())["scaling_factor"]
    assert 1.0 < scale < 20.0  # brings the folded pixels to unit variance


def test_a_base_directory_must_hold_stable_diffusion(render_pairs, tmp_path):
    with pytest.raises(FileNotFoundError, match="no vae/ folder"):
        train_syntheocc(SyntheOccTrainConfig(render_pairs, tmp_path / "w", base=tmp_path, steps=1))
