import numpy as np
import pytest

from occsim.classes import CAR, MANMADE
from occsim.metrics.collision import check_collision
from occsim.types import GROUND_LAYER, ActorState, EgoState, Pose2D
from occsim.world.background import build_static_world
from occsim.world.roadmap import build_straight


@pytest.fixture(scope="module")
def static():
    return build_static_world(build_straight(length=100), np.random.default_rng(0))


def car(x, y, yaw=0.0, v=(0.0, 0.0)):
    return ActorState("c", CAR, Pose2D(x, y, yaw), float(np.hypot(*v)), (4.6, 1.9, 1.7), velocity=v)


def test_footprint_against_boxes(static):
    ego = EgoState(Pose2D(10.0, -5.25, 0.0), 8.0)
    # ego front bumper at 10 + 1.3 + 2.04 = 13.34; a car whose rear is at 13.3 touches, at 13.4 does not
    assert check_collision(ego, [car(13.3 + 2.3, -5.25)], static) is not None
    assert check_collision(ego, [car(13.4 + 2.3, -5.25)], static) is None
    # side by side in the next lane: no contact
    assert check_collision(ego, [car(11.0, -1.75)], static) is None


def test_impact_speed_is_relative(static):
    ego = EgoState(Pose2D(10.0, -5.25, 0.0), 10.0)
    hit = check_collision(ego, [car(15.0, -5.25, v=(4.0, 0.0))], static)
    assert hit.impact_speed == pytest.approx(6.0) and not hit.static
    head_on = check_collision(ego, [car(15.0, -5.25, np.pi, v=(-5.0, 0.0))], static)
    assert head_on.impact_speed == pytest.approx(15.0)
    parked = check_collision(ego, [car(15.0, -5.25)], static)
    assert parked.static and parked.with_class == "car"


def test_footprint_against_raised_static_voxels(static):
    labels = static.labels
    i, j = np.nonzero(static.columns)
    k = np.argmax(labels[i, j, GROUND_LAYER + 1] == MANMADE)
    x = static.grid.lower[0] + (i[k] + 0.5) * 0.4
    y = static.grid.lower[1] + (j[k] + 0.5) * 0.4
    hit = check_collision(EgoState(Pose2D(x - 1.3, y, 0.0), 5.0), [], static)
    assert hit is not None and hit.with_id == "static:manmade" and hit.impact_speed == 5.0
    assert check_collision(EgoState(Pose2D(50.0, -5.25, 0.0), 5.0), [], static) is None
