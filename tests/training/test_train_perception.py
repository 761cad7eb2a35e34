import json

import numpy as np
import pytest

from occsim.generative.models.perception import OccupancyPerception
from occsim.scenarios import load_scenario
from occsim.training.collect_render import collect_render
from occsim.training.configs import PerceptionTrainConfig, RenderCollectConfig
from occsim.training.perception import OccupancySamples, train_perception


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    config = RenderCollectConfig(out, 2, (32, 56), 4, planes=4, every=8, weather="fog")
    collect_render([load_scenario("bus_ahead")], config)
    return out


def test_train_perception_saves_a_model_and_scores_held_out_episodes_per_weather(pairs, tmp_path):
    config = PerceptionTrainConfig(pairs, tmp_path / "p", steps=2, batch_size=2, held_out=0.5)
    model, record = train_perception(config)
    assert len(record["losses"]) == 2 and np.isfinite(record["losses"]).all()
    assert set(record["held_out"]) == {"all", "fog"}  # --weather fog: every episode in fog
    assert 0.0 <= record["held_out"]["all"]["miou"] <= 1.0
    assert json.loads((tmp_path / "p" / "metrics.json").read_text())["train_samples"] == record["train_samples"]
    loaded = OccupancyPerception.from_pretrained(tmp_path / "p", local_files_only=True)
    assert loaded.grid_shape == (50, 50, 8)


def test_old_collections_without_occupancy_are_refused(tmp_path):
    np.savez(tmp_path / "s__1.npz", images=np.zeros((1, 6, 8, 8, 3), np.uint8), weather=np.array("fog"))
    with pytest.raises(ValueError, match="no occupancy"):
        OccupancySamples.load([tmp_path / "s__1.npz"], (4, 4, 2))


def test_ctrl_c_stops_training_and_keeps_what_was_learned(pairs, tmp_path, monkeypatch):
    import occsim.training.perception as module

    real, calls = module.perception_loss, []

    def interrupted_on_the_third_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "perception_loss", interrupted_on_the_third_step)
    config = PerceptionTrainConfig(pairs, tmp_path / "p", steps=50, batch_size=2, held_out=0.5)
    _, record = train_perception(config)
    assert record["interrupted"] is True and len(record["losses"]) == 2
    assert json.loads((tmp_path / "p" / "metrics.json").read_text())["interrupted"] is True
    OccupancyPerception.from_pretrained(tmp_path / "p", local_files_only=True)  # the model was saved
