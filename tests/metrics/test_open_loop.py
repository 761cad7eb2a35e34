import numpy as np
import pytest

from occsim.metrics.open_loop import VAD_BOX_OFFSET, box_collisions, planner_metrics


def _straight(speed):
    return np.stack([speed * 0.5 * np.arange(1, 7), np.zeros(6)], axis=1)


def test_l2_is_the_mean_error_up_to_each_horizon():
    expert = _straight(10.0)
    predicted = expert.copy()
    predicted[:, 1] += np.array([0.0, 0.0, 1.0, 1.0, 4.0, 4.0])  # errors per step
    none = np.zeros((1, 6, 1, 5)), np.zeros((1, 6, 1), bool)
    m = planner_metrics(predicted[None], expert[None], *none)
    assert m["L2_1s"] == pytest.approx(0.0)
    assert m["L2_2s"] == pytest.approx(0.5)  # (0 + 0 + 1 + 1) / 4
    assert m["L2_3s"] == pytest.approx(10 / 6)
    with pytest.raises(ValueError):
        planner_metrics(predicted, expert, *none)


def test_collision_uses_vads_box_ahead_of_each_waypoint_and_skips_expert_collisions():
    fast, slow = _straight(10.0), _straight(2.0)
    boxes = np.zeros((6, 1, 5))
    valid = np.zeros((6, 1), bool)
    # a parked car (x 9.54..14.04 m) 1 m past the slow plan's last box; the fast plan's boxes at 10 m and 15 m hit it
    front_of_slow = slow[-1, 0] + VAD_BOX_OFFSET + 4.084 / 2
    boxes[:, 0] = (front_of_slow + 1.0 + 2.25, 0.0, 0.0, 4.5, 1.9)
    valid[:] = True
    assert not box_collisions(slow, boxes, valid).any()
    hits = box_collisions(fast, boxes, valid)
    assert hits.tolist() == [False, True, True, False, False, False]
    m = planner_metrics(fast[None], slow[None], boxes[None], valid[None])
    assert m["collision_1s"] == pytest.approx(0.5)
    assert m["collision_2s"] == pytest.approx(0.5)
    assert m["collision_3s"] == pytest.approx(2 / 6)
    # when the expert's own plan hits at a step, that step does not count against the planner
    m = planner_metrics(fast[None], fast[None], boxes[None], valid[None])
    assert m["collision_3s"] == 0.0
    # boxes that are not valid are not there
    assert not box_collisions(fast, boxes, np.zeros_like(valid)).any()
