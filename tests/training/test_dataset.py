import numpy as np
import pytest

from occsim.classes import BUS, CAR, PEDESTRIAN
from occsim.training.episodes import RenderPairs, class_balanced_sampler, class_balanced_weights


def test_class_balanced_weights_by_hand():
    present = [{CAR}, {CAR}, {CAR, PEDESTRIAN}, set()]
    w = class_balanced_weights(present)
    raw = np.array([1 / 3, 1 / 3, 1 / 3 + 1.0, 1.0])
    assert w == pytest.approx(raw / raw.sum())
    # each class's expected share of draws: car (3 samples) and pedestrian (1 sample) end up level
    car = w[0] + w[1] + w[2] * (1 / 3) / (1 / 3 + 1)
    pedestrian = w[2] * 1 / (1 / 3 + 1)
    assert car == pytest.approx(pedestrian)


def test_render_pairs_read_a_collect_render_folder(tmp_path):
    rng = np.random.default_rng(0)
    nearest = np.full((3, 6, 2, 3), 11, np.uint8)
    nearest[0, 1, 0, 0] = BUS
    np.savez(
        tmp_path / "s__1.npz",
        images=rng.integers(0, 255, (3, 6, 16, 24, 3), dtype=np.uint8),
        mpi=np.full((3, 6, 4, 2, 3), 17, np.uint8),
        nearest=nearest,
        depth=np.full((3, 6, 2, 3), 10.0, np.float32),
        weather=np.array("fog"),
    )
    data = RenderPairs(tmp_path)
    item = data[0]
    assert len(data) == 3 and item["images"].shape == (6, 3, 16, 24)
    assert -1.0 <= float(item["images"].min()) and float(item["images"].max()) <= 1.0
    assert "fog" in item["prompt"] and item["mpi"].shape == (6, 4, 2, 3)
    assert data.classes_present() == [{BUS}, set(), set()]
    draws = list(class_balanced_sampler(data, 300, seed=0))
    assert 100 < draws.count(0) < 200  # the only bus sample gets half the draws
    with pytest.raises(FileNotFoundError, match="collect-render"):
        RenderPairs(tmp_path / "none")
