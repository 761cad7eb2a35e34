"""Going on training a saved SyntheOcc model, with the object corridor favoured and object pixels weighed more."""

import numpy as np
import pytest
import torch

from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline
from occsim.scenarios import load_scenario
from occsim.training.collect_render import collect_render
from occsim.training.configs import RenderCollectConfig, SyntheOccTrainConfig
from occsim.training.episodes import RenderPairs, episode_files, near_lane
from occsim.training.syntheocc import train_syntheocc


@pytest.fixture(scope="module")
def model_and_data(tmp_path_factory):
    data = tmp_path_factory.mktemp("pairs")
    collect_render([load_scenario("bus_ahead")], RenderCollectConfig(data, 1, (32, 56), 4, planes=4, every=8))
    model = tmp_path_factory.mktemp("model")
    train_syntheocc(SyntheOccTrainConfig(data, model, steps=2, vae_steps=2, batch_size=1, held_out=0.0))
    return model, data


def test_training_goes_on_from_a_saved_model(model_and_data, tmp_path):
    model, data = model_and_data
    before = OccSimSyntheOccPipeline.load(model)
    config = SyntheOccTrainConfig(
        data,
        tmp_path / "more",
        steps=2,
        batch_size=1,
        held_out=0.0,
        init_from=model,
        foreground_gain=3.0,
        near_lane_boost=3.0,
    )
    after, record = train_syntheocc(config)
    assert record["vae_losses"] == []  # the saved autoencoder is kept, not trained again
    assert torch.equal(after.vae.decoder.conv_out.weight, before.vae.decoder.conv_out.weight)
    changed = [
        not torch.equal(a, b)
        for a, b in zip(after.controlnet.state_dict().values(), before.controlnet.state_dict().values(), strict=True)
    ]
    assert any(changed)  # it trained from the saved weights on
    assert OccSimSyntheOccPipeline.load(tmp_path / "more").settings["planes"] == 4


def test_a_model_of_another_size_is_refused(model_and_data, tmp_path):
    model, _ = model_and_data
    other = tmp_path / "other"
    collect_render([load_scenario("bus_ahead")], RenderCollectConfig(other, 1, (64, 112), 4, planes=4, every=8))
    with pytest.raises(ValueError, match="64x112"):
        train_syntheocc(SyntheOccTrainConfig(other, tmp_path / "o", steps=1, held_out=0.0, init_from=model))


def test_the_corridor_flag_reads_objects_ahead_in_the_ego_lane(model_and_data):
    _, data = model_and_data
    files = episode_files(data)
    flags = near_lane(files)
    assert flags.shape == (len(RenderPairs(data)),) and flags.dtype == bool
    assert flags.any()  # bus_ahead: the bus stands in the lane ahead
    with np.load(files[0]) as episode:
        occupancy = episode["occupancy"]
    occupancy[:, 100:, 90:110] = 17  # clear the corridor: nothing left to flag
    cleared = files[0].with_name("cleared__0.npz")
    np.savez(cleared, occupancy=occupancy)
    assert not near_lane([cleared]).any()
