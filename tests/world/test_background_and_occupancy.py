import numpy as np

from occsim.classes import ACTOR_SIZES, BUS, DRIVEABLE_SURFACE, FREE, MANMADE, SIDEWALK, VEGETATION
from occsim.types import GROUND_LAYER, OCC3D_GRID, ActorState, Pose2D
from occsim.world.background import build_static_world
from occsim.world.occupancy import occupancy_window
from occsim.world.roadmap import build_straight


def make_static(seed=0):
    return build_static_world(build_straight(length=120), np.random.default_rng(seed))


def test_background_is_deterministic_and_has_every_kind_of_thing():
    a, b, c = make_static(0), make_static(0), make_static(1)
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.texture, b.texture)
    assert not np.array_equal(a.labels, c.labels)
    present = set(np.unique(a.labels))
    assert {DRIVEABLE_SURFACE, SIDEWALK, MANMADE, VEGETATION, FREE} <= present
    assert len(a.lamps) > 0


def test_column_masks_and_clearance_agree_with_labels():
    st = make_static()
    raised = (st.labels[:, :, GROUND_LAYER + 1 :] != FREE).any(axis=2)
    assert np.array_equal(raised, st.columns != 0)
    assert np.all(st.clearance[st.columns != 0] == 0)
    assert np.all(st.clearance[st.columns == 0] >= 1)


def test_window_is_occ3d_shaped_and_road_under_the_ego():
    st = make_static()
    occ = occupancy_window(st, [], Pose2D(60.0, -5.25, 0.0))
    assert occ.shape == OCC3D_GRID.shape and occ.dtype == np.uint8
    assert occ[100, 100, GROUND_LAYER] == DRIVEABLE_SURFACE
    assert occ[100, 100, GROUND_LAYER + 1] == FREE


def test_actor_box_is_rasterised_at_its_pose_and_rotates_with_the_ego():
    st = make_static()
    length, width, height = ACTOR_SIZES["bus"]
    bus = ActorState("bus", BUS, Pose2D(80.0, -5.25, 0.0), 0.0, (length, width, height))
    occ = occupancy_window(st, [bus], Pose2D(60.0, -5.25, 0.0))
    i, j, k = np.nonzero(occ == BUS)
    x = -40 + (i + 0.5) * 0.4
    z = -1 + (k + 0.5) * 0.4
    assert abs(x.mean() - 20.0) < 0.3 and x.max() - x.min() <= length
    assert z.min() >= 0.0 and z.max() < height
    # facing the other way, the bus is behind
    occ = occupancy_window(st, [bus], Pose2D(60.0, -5.25, np.pi))
    i, _, _ = np.nonzero(occ == BUS)
    assert abs((-40 + (i + 0.5) * 0.4).mean() + 20.0) < 0.3


def test_voxel_grid_transforms():
    assert OCC3D_GRID.upper == (40.0, 40.0, 5.4)
    idx, inside = OCC3D_GRID.index_of(np.array([[0.1, -0.1, 0.0], [40.0, 0.0, 0.0], [-40.0, -40.0, -1.0]]))
    assert idx[0].tolist() == [100, 99, 2] and inside.tolist() == [True, False, True]
    assert OCC3D_GRID.centres(2)[GROUND_LAYER] == 0.0
