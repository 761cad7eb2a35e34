import numpy as np
import pytest

from occsim.classes import CAR, FREE
from occsim.training.probe import layout_agreement, train_probe


def test_layout_agreement_by_hand():
    truth = np.array([[CAR, CAR, FREE, FREE]])
    predicted = np.array([[CAR, FREE, FREE, FREE]])
    figures = layout_agreement(predicted, truth)
    assert figures["pixel_accuracy"] == pytest.approx(0.75)
    assert figures["miou"] == pytest.approx((1 / 2 + 2 / 3) / 2)  # car: 1 of 2; free: 2 of 3


def test_the_probe_learns_colours_to_labels():
    rng = np.random.default_rng(0)
    labels = rng.choice([CAR, FREE], size=(64, 4, 4)).astype(np.uint8)
    images = np.where(np.kron(labels == CAR, np.ones((4, 4)))[..., None], [200, 30, 30], [30, 30, 200])
    images = (images + rng.integers(0, 20, images.shape)).astype(np.uint8)
    probe, losses = train_probe(images, labels, factor=4, steps=60, batch=16)
    assert losses[-1] < losses[0]
    assert layout_agreement(probe.labels(images), labels)["pixel_accuracy"] > 0.95
