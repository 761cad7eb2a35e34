import numpy as np
import pytest
import torch

from occsim.classes import CAR, DRIVEABLE_SURFACE, FREE, MANMADE
from occsim.planners import make_planner
from occsim.planners.vision import (
    VisionConfig,
    VisionPlannerNet,
    bev_cell_centres,
    bev_targets,
    load_vision,
    observation_tensors,
    planner_views,
    save_vision,
    waypoints_from_preds,
)
from occsim.types import CameraRig, PlannerInput, scale_intrinsics

SMALL = VisionConfig(input_hw=(32, 56), image_channels=8, bev_channels=8, query_channels=16, attention_layers=1)


def _inputs(batch=2, config=SMALL):
    rig = CameraRig.nuscenes(config.input_hw)
    return (
        torch.rand(batch, 6, 3, *config.input_hw),
        torch.tensor(rig.intrinsics, dtype=torch.float32).expand(batch, -1, -1, -1),
        torch.tensor(rig.cam2ego, dtype=torch.float32).expand(batch, -1, -1, -1),
        torch.tensor([[8.0, 0.0, 0.0, 0.0]] * batch),
        torch.tensor([2, 0][:batch]),
    )


def test_outputs_have_vads_shapes():
    out = VisionPlannerNet(SMALL)(*_inputs())
    assert out["ego_fut_preds"].shape == (2, 3, 6, 2)
    assert out["bev_logits"].shape == (2, 3, SMALL.bev_cells, SMALL.bev_cells)


def test_waypoints_are_the_commands_row_cumulatively_summed():
    preds = torch.zeros(2, 3, 6, 2)
    preds[0, 2, :, 0] = 5.0  # straight: 5 m per step
    preds[1, 1, :, 1] = 1.0  # left: 1 m sideways per step
    preds[1, 2, :, 0] = 99.0  # ignored: sample 1 is told to turn left
    out = waypoints_from_preds(preds, torch.tensor([2, 1]))
    assert out[0, :, 0].tolist() == [5, 10, 15, 20, 25, 30]
    assert out[1, :, 1].tolist() == [1, 2, 3, 4, 5, 6] and out[1, :, 0].abs().sum() == 0


def test_lift_puts_image_features_where_the_camera_geometry_says():
    config = SMALL
    net = VisionPlannerNet(config)
    rig = CameraRig.nuscenes(config.input_hw)
    stride = 8
    feat_h, feat_w = config.input_hw[0] // stride, config.input_hw[1] // stride
    features = torch.zeros(1, 6, 1, feat_h, feat_w)
    # light the front camera's centre feature column
    features[0, 1, 0, :, feat_w // 2] = 1.0
    net.config = VisionConfig(**{**config.__dict__, "image_channels": 1})
    bev = net._lift(
        features,
        torch.tensor(rig.intrinsics, dtype=torch.float32)[None],
        torch.tensor(rig.cam2ego, dtype=torch.float32)[None],
    )  # (1, Z, cells, cells)
    lit = bev[0].amax(dim=0) > 0.5
    centres = bev_cell_centres(config)
    rows, cols = np.nonzero(lit.numpy())
    assert len(rows) > 3
    assert np.all(centres[rows] > 0)  # only ahead of the ego
    assert np.all(np.abs(centres[cols]) < 0.15 * centres[rows] + 2.5)  # along the front camera's optical axis
    behind = centres < -5
    assert not lit[behind].any()


def test_bev_targets_pool_the_occ3d_window():
    occupancy = np.full((200, 200, 16), FREE, np.uint8)
    occupancy[:, :, 2] = DRIVEABLE_SURFACE
    occupancy[150, 100, 4] = CAR  # x = 20.2 m, y = 0.2 m
    occupancy[0:5, 0:5, 8] = MANMADE  # the far rear-right corner cell
    targets = bev_targets(occupancy, VisionConfig())
    assert targets.shape == (3, 40, 40)
    assert np.argwhere(targets[0]).tolist() == [[30, 20]]  # 2 m cells: x 20.2 -> row 30, y 0.2 -> column 20
    assert np.argwhere(targets[1]).tolist() == [[0, 0]]
    assert targets[2].all()


def test_intrinsics_scale_with_the_image():
    rig = CameraRig.nuscenes((256, 448))
    assert scale_intrinsics(rig.intrinsics[1], (256, 448), (64, 112)) == pytest.approx(
        CameraRig.nuscenes((64, 112)).intrinsics[1]
    )


def test_save_load_round_trip_and_planner(tmp_path):
    torch.manual_seed(0)
    net = VisionPlannerNet(SMALL).eval()
    save_vision(net, tmp_path)
    loaded = load_vision(tmp_path)
    inputs = _inputs()
    with torch.no_grad():
        assert torch.equal(net(*inputs)["ego_fut_preds"], loaded(*inputs)["ego_fut_preds"])
    planner = make_planner(f"vision:{tmp_path}")
    rig = CameraRig.nuscenes((64, 112))
    inputs = PlannerInput(
        images=np.zeros((6, 64, 112, 3), np.uint8),
        intrinsics=rig.intrinsics,
        cam2ego=rig.cam2ego,
        ego=np.array([5.0, 0, 0, 0], np.float32),
        ego_pose=np.zeros(3, np.float32),
        command=2,
        timestamp=0.0,
    )
    assert planner.plan(inputs).points.shape == (6, 2)
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        load_vision(tmp_path / "nowhere")


def test_observation_tensors_resize_any_camera_size():
    rig = CameraRig.nuscenes((128, 224))
    obs = {
        "images": np.zeros((6, 128, 224, 3), np.uint8),
        "intrinsics": rig.intrinsics,
        "cam2ego": rig.cam2ego,
        "ego": np.zeros(4, np.float32),
        "command": 1,
    }
    images, intrinsics, _, _, command = observation_tensors([obs], SMALL)
    assert images.shape == (1, 6, 3, 32, 56)
    assert intrinsics[0, 1].numpy() == pytest.approx(CameraRig.nuscenes((32, 56)).intrinsics[1].astype(np.float32))
    assert command.tolist() == [1]


def _project(point: np.ndarray, intrinsics: np.ndarray, cam2ego: np.ndarray) -> np.ndarray:
    """Pixel (u, v) of an ego-frame point in a camera."""
    cam = np.linalg.inv(cam2ego) @ np.append(point, 1.0)
    uvw = intrinsics @ cam[:3]
    return uvw[:2] / uvw[2]


def test_the_zoom_view_magnifies_the_front_camera_with_consistent_intrinsics():
    hw = (128, 224)
    rig = CameraRig.nuscenes(hw)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (6, *hw, 3), dtype=np.uint8)
    config = VisionConfig(input_hw=(64, 112), zoom=2.0)
    assert config.views == 7 and VisionConfig().views == 6
    views, intrinsics, cam2ego = planner_views(frames, rig.intrinsics, rig.cam2ego, config)
    assert views.shape == (7, 64, 112, 3) and intrinsics.shape == (7, 3, 3) and cam2ego.shape == (7, 4, 4)
    front = 1  # CAM_FRONT: the forward-most camera
    # a 128 x 224 frame at zoom 2: the central 64 x 112 pixels exactly, no resampling
    assert np.array_equal(views[6], frames[front, 32:96, 56:168])
    assert np.array_equal(cam2ego[6], rig.cam2ego[front])
    assert intrinsics[6, 0, 0] == pytest.approx(2 * intrinsics[front, 0, 0])
    # a point 30 m ahead and 1 m left lands on the same frame pixel through either camera model
    point = np.array([30.0, 1.0, 0.5])
    u_frame, v_frame = _project(point, rig.intrinsics[front], rig.cam2ego[front])
    u_zoom, v_zoom = _project(point, intrinsics[6], cam2ego[6])
    assert (u_zoom + 56, v_zoom + 32) == pytest.approx((u_frame, v_frame))
    # without zoom: the six views only, as before
    six, k6, _ = planner_views(frames, rig.intrinsics, rig.cam2ego, VisionConfig(input_hw=(64, 112)))
    assert six.shape == (6, 64, 112, 3) and np.array_equal(k6, intrinsics[:6])


def test_a_zoom_network_plans_from_any_camera_size(tmp_path):
    zoomed = VisionConfig(**{**SMALL.__dict__, "zoom": 2.0})
    torch.manual_seed(0)
    save_vision(VisionPlannerNet(zoomed).eval(), tmp_path)
    assert load_vision(tmp_path).config.zoom == 2.0
    planner = make_planner(f"vision:{tmp_path}")
    plans = []
    for hw in ((32, 56), (256, 448)):
        rig = CameraRig.nuscenes(hw)
        obs = {"images": np.zeros((6, *hw, 3), np.uint8), "intrinsics": rig.intrinsics, "cam2ego": rig.cam2ego}
        images = observation_tensors([{**obs, "ego": np.zeros(4, np.float32), "command": 2}], zoomed)[0]
        assert images.shape == (1, 7, 3, 32, 56)
        ego = np.array([5.0, 0, 0, 0], np.float32)
        inputs = PlannerInput(**obs, ego=ego, ego_pose=np.zeros(3), command=2, timestamp=0.0)
        planner.reset({})
        plans.append(planner.plan(inputs).points)
    # The same blank scene through either camera size reaches the network as the same views and camera model.
    np.testing.assert_allclose(plans[0], plans[1], atol=1e-3)


def test_unknown_config_keys_are_refused():
    with pytest.raises(ValueError, match="unknown"):
        VisionConfig.from_dict({"input_hw": [64, 112], "depth": 3})
