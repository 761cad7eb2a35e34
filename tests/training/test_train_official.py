"""train-syntheocc --format official: the release's layout trained on an SD 2.1-shaped base, saved as it ships."""

import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from occsim.cli import app
from occsim.generative.pipelines.official import load_official
from occsim.generative.renderers.syntheocc import SyntheOccRenderer
from occsim.scenario import build_world
from occsim.scenarios import load_scenario
from occsim.training.configs import SyntheOccTrainConfig
from occsim.training.syntheocc import train_syntheocc
from occsim.types import CameraRig, Weather
from tests.generative.official_tiny import tiny_stock_unet, write_official_checkpoint, write_tiny_base

NEW = (".norm4.", ".attn4.", ".connector.")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("official-train")
    base = write_tiny_base(root / "base")
    tiny_stock_unet().save_pretrained(base / "unet")
    data = root / "data"
    args = ["collect-render", "--scenarios", "bus_ahead", "--episodes", "1", "--image-hw", "64x112"]
    result = CliRunner().invoke(app, [*args, "--latent-factor", "8", "--layout", "official", "--out", str(data)])
    assert result.exit_code == 0, result.output
    return root, base, data


@pytest.mark.slow
def test_training_the_official_layout_trains_only_the_new_parts_and_saves_the_release_layout(setup):
    root, base, data = setup
    config = SyntheOccTrainConfig(
        data, root / "out", base=base, steps=3, batch_size=1, held_out=0.0, format="official", save_every=2
    )
    pipe, record = train_syntheocc(config)
    saved = json.loads((root / "out" / "unet" / "config.json").read_text())
    assert saved["neighboring_view_pair"]["0"] == [5, 1] and saved["_class_name"] == "UNet2DConditionModelMultiview"
    assert not (root / "out" / "vae").exists()  # the base stays the user's: only unet/ and controlnet/ are written
    stock = tiny_stock_unet().state_dict()
    trained = load_official(root / "out", base).unet.state_dict()
    for key, value in trained.items():
        if not any(part in key for part in NEW):
            assert torch.equal(value, stock[key]), key  # the SD UNet stays frozen
    assert any(trained[k].abs().sum() > 0 for k in trained if ".connector." in k)  # the zero-init connector learned
    assert len(record["losses"]) == 3 and np.isfinite(record["losses"]).all()
    renderer = SyntheOccRenderer(CameraRig.nuscenes((64, 112)), weights=root / "out", format="official", base=base)
    world = build_world(load_scenario("bus_ahead"), seed=0)
    assert renderer.render(world, Weather("clear"), seed=0).rgb.shape == (6, 64, 112, 3)


def test_fine_tuning_starts_from_the_released_weights_with_gradient_checkpointing(setup):
    root, base, data = setup
    release = root / "release"
    unet_state, _ = write_official_checkpoint(release)
    config = SyntheOccTrainConfig(
        data,
        root / "tuned",
        base=base,
        steps=1,
        batch_size=1,
        held_out=0.0,
        format="official",
        init_from=release,
        gradient_checkpointing=True,
    )
    pipe, _ = train_syntheocc(config)
    frozen = next(k for k in unet_state if ".norm1." in k)
    assert torch.equal(pipe.unet.state_dict()[frozen], unet_state[frozen])  # the release's own, not the base's


def test_the_official_format_refuses_data_and_bases_that_do_not_fit(setup, tmp_path):
    root, base, _ = setup
    occsim_data = tmp_path / "data"
    args = ["collect-render", "--scenarios", "bus_ahead", "--episodes", "1", "--image-hw", "64x112"]
    assert CliRunner().invoke(app, [*args, "--latent-factor", "8", "--out", str(occsim_data)]).exit_code == 0
    with pytest.raises(ValueError, match="--layout official"):
        train_syntheocc(SyntheOccTrainConfig(occsim_data, tmp_path / "o", base=base, steps=1, format="official"))
    with pytest.raises(ValueError, match="--base"):
        train_syntheocc(SyntheOccTrainConfig(occsim_data, tmp_path / "o", steps=1, format="official"))
