import math

import numpy as np
import pytest

from occsim.classes import CAR, DRIVEABLE_SURFACE, FREE
from occsim.metrics.occupancy import occupancy_iou


def test_occupancy_iou_by_hand():
    truth = np.array([CAR, CAR, DRIVEABLE_SURFACE, FREE])
    predicted = np.array([CAR, FREE, DRIVEABLE_SURFACE, CAR])
    figures = occupancy_iou(predicted, truth)
    assert figures["per_class"] == {CAR: pytest.approx(1 / 3), DRIVEABLE_SURFACE: 1.0}
    assert figures["miou"] == pytest.approx((1 / 3 + 1) / 2)
    assert figures["iou"] == pytest.approx(2 / 4)  # occupied: truth {0, 1, 2}, predicted {0, 2, 3}


def test_empty_grids_and_shape_mismatch():
    empty = np.full((2, 2), FREE)
    assert math.isnan(occupancy_iou(empty, empty)["miou"])
    with pytest.raises(ValueError, match="shapes differ"):
        occupancy_iou(empty, np.full((3,), FREE))
