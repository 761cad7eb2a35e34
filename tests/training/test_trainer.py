import json

import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL

from occsim.generative.models.pixel_space import PixelSpace
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline
from occsim.scenarios import load_scenario
from occsim.training.collect_render import collect_render
from occsim.training.configs import RenderCollectConfig, SyntheOccTrainConfig
from occsim.training.syntheocc import train_syntheocc


@pytest.fixture(scope="module")
def render_pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    collect_render([load_scenario("bus_ahead")], RenderCollectConfig(out, 2, (32, 56), 4, planes=4, every=8))
    return out


def test_the_small_default_trains_its_autoencoder_then_the_diffusion_and_saves_what_loads(render_pairs, tmp_path):
    config = SyntheOccTrainConfig(
        render_pairs, tmp_path / "w", steps=2, vae_steps=3, batch_size=1, held_out=0.5, save_every=1
    )
    pipe, record = train_syntheocc(config)
    assert len(record["losses"]) == 2 and np.isfinite(record["losses"]).all() and len(record["vae_losses"]) == 3
    assert len(record["held_out_episodes"]) == 1 and record["data"]["train_episodes"] == 1
    loaded = OccSimSyntheOccPipeline.load(tmp_path / "w")
    assert isinstance(loaded.vae, AutoencoderKL) and loaded.vae.config.latent_channels == 4
    assert loaded.settings["image_hw"] == [32, 56] and loaded.settings["planes"] == 4
    assert loaded.settings["cross_view_group"] == 6
    assert loaded.scheduler.config.prediction_type == "v_prediction"
    assert loaded.vae.config.scaling_factor != 0.18215  # measured on the data, not SD's constant
    images = loaded(*[torch.from_numpy(a) for a in _first_condition(render_pairs)], "fog", num_inference_steps=1)
    assert images.shape == (6, 32, 56, 3)


def test_pixel_space_skips_the_autoencoder_and_samples_with_thresholding(render_pairs, tmp_path):
    config = SyntheOccTrainConfig(render_pairs, tmp_path / "w", steps=1, batch_size=1, held_out=0.5, pixel_space=True)
    train_syntheocc(config)
    loaded = OccSimSyntheOccPipeline.load(tmp_path / "w")
    assert isinstance(loaded.vae, PixelSpace) and loaded.vae.config.factor == 4
    scale = json.loads((tmp_path / "w" / "vae" / "config.json").read_text())["scaling_factor"]
    assert 1.0 < scale < 20.0  # brings the folded pixels to unit variance
    assert loaded.scheduler.config.thresholding and loaded.scheduler.config.sample_max_value == scale


def _first_condition(folder):
    data = np.load(sorted(folder.glob("*.npz"))[0])
    return data["mpi"][0].astype(np.int64), data["nearest"][0].astype(np.int64)


def test_a_base_directory_must_hold_stable_diffusion(render_pairs, tmp_path):
    with pytest.raises(FileNotFoundError, match="no vae/ folder"):
        train_syntheocc(SyntheOccTrainConfig(render_pairs, tmp_path / "w", base=tmp_path, steps=1))
