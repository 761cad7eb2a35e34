import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from occsim.cli import app
from occsim.generative.models.perception import class_weights
from occsim.generative.pipelines.occscene import OccScenePipeline
from occsim.scenarios import load_scenario
from occsim.training.collect_render import collect_render
from occsim.training.configs import OccSceneTrainConfig, RenderCollectConfig
from occsim.training.occscene import document, train_occscene
from occsim.training.occscene_loss import FrameSamples, joint_losses, noise_scheduler_of
from tests.generative.tiny import as_if_trained, tiny_occscene, tiny_perception_weights, tiny_renderer_weights


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    out = tmp_path_factory.mktemp("frames")
    collect_render([load_scenario("bus_ahead")], RenderCollectConfig(out, 2, (32, 56), 4, planes=4, every=4))
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return tiny_renderer_weights(folder / "syntheocc"), tiny_perception_weights(folder / "perception")


def test_pairs_never_span_two_episodes(frames):
    samples = FrameSamples.load(sorted(frames.glob("*.npz")))
    pairs = samples.pairs()
    assert len(pairs) == len(samples.images) - 2  # two episodes: their first frames have no predecessor
    assert (samples.episode[pairs] == samples.episode[pairs - 1]).all()


def test_stage_one_leaves_f_delta_alone_and_stage_two_trains_it_weighted_by_sqrt_alpha_bar(frames, tmp_path):
    pipe = as_if_trained(tiny_occscene(tmp_path))  # a trained SyntheOcc passes gradients to its condition
    samples = FrameSamples.load(sorted(frames.glob("*.npz")))
    weights = class_weights(samples.labels)
    index = samples.pairs()[:2]
    scheduler = noise_scheduler_of(pipe)
    ldm, perception = joint_losses(pipe, scheduler, samples, index, weights, 0, 10, generator=torch.Generator())
    (ldm + perception).backward()
    assert perception.item() == 0.0 and all(p.grad is None for p in pipe.perception.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in pipe.mda.parameters())
    ldm, perception = joint_losses(
        pipe, scheduler, samples, index, weights, 5, 10, train_perception=True, generator=torch.Generator()
    )
    (ldm + perception).backward()
    assert perception.item() > 0.0 and any(p.grad is not None for p in pipe.perception.parameters())


def test_training_saves_a_model_and_the_card_scores_it(frames, tiny, tmp_path):
    syntheocc, perception = tiny
    config = OccSceneTrainConfig(
        frames, tmp_path / "m", syntheocc=syntheocc, perception=perception, steps=2, batch_size=1, patch=2
    )
    _, record = train_occscene(config)
    assert record["steps_done"] == 2 and record["stage_two_from"] == 1
    assert record["losses"]["perception"][0] == 0.0 and record["losses"]["perception"][1] > 0.0
    assert OccScenePipeline.load(tmp_path / "m").joint
    samples = FrameSamples.load(sorted(frames.glob("*.npz")))
    record = document(tmp_path / "m", [("frames", samples)], clips=1, length=2, steps=1)
    scores = record["evaluation"]["sets"]["frames"]
    assert 0.0 <= scores["occscene"]["perceived_miou"] <= 1.0 and scores["occscene"]["frames"] == 2
    assert scores["raster"]["perceived_miou"] > scores["occscene"]["perceived_miou"]  # untrained: noise
    assert np.isfinite(scores["raster"]["reprojection"])
    card = (tmp_path / "m" / "MODEL_CARD.md").read_text()
    assert "perceived mIoU" in card and (tmp_path / "m" / "samples.png").is_file()
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["evaluation"]["length"] == 2


def test_cli_checks_the_mixer(frames, tmp_path):
    result = CliRunner().invoke(app, ["train-occscene", str(frames), "--out", str(tmp_path), "--mixer", "gru"])
    assert result.exit_code == 2 and "mamba or attention" in result.output
