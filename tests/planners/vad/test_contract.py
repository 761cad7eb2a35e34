import numpy as np
import pytest

from occsim.planners.vad.contract import (
    CAFFE_NORM,
    IMAGENET_NORM,
    LIDAR_IN_EGO,
    VAD_CAMERAS,
    VADInputBuilder,
    camera_permutation,
    command_from_future,
    command_one_hot,
    ego_lcf_feat,
    ego_to_lidar,
    history_offsets,
    lidar2img,
    lidar_to_ego,
    vad_images,
    waypoints_from_vad,
)
from occsim.types import CAMERA_NAMES, CameraRig


def test_camera_order_is_vads():
    assert VAD_CAMERAS == (
        "CAM_FRONT",
        "CAM_FRONT_RIGHT",
        "CAM_FRONT_LEFT",
        "CAM_BACK",
        "CAM_BACK_LEFT",
        "CAM_BACK_RIGHT",
    )
    # OccSim: FL, F, FR, BR, B, BL
    assert camera_permutation(CAMERA_NAMES) == [1, 2, 0, 4, 5, 3]


def test_images_are_reordered_resized_normalised_scaled_and_padded():
    views = np.stack([np.full((32, 56, 3), 10 * (i + 1), np.uint8) for i in range(6)])
    views[1, ..., 0] = 200  # front camera: red channel 200, green and blue 20
    img, img_shape, pad_shape = vad_images(views, IMAGENET_NORM)
    assert img.shape == (6, 3, 736, 1280) and img.dtype == np.float32
    assert img_shape == (720, 1280, 3) and pad_shape == (736, 1280, 3)
    # first VAD view is OccSim's front camera (index 1); RGB order, ImageNet mean/std
    assert img[0, 0, 100, 100] == pytest.approx((200 - 123.675) / 58.395, abs=1e-4)
    assert img[0, 1, 100, 100] == pytest.approx((20 - 116.28) / 57.12, abs=1e-4)
    # second is front-right (OccSim index 2, value 30), third front-left (index 0, value 10)
    assert img[1, 2, 5, 5] == pytest.approx((30 - 103.53) / 57.375, abs=1e-4)
    assert img[2, 2, 5, 5] == pytest.approx((10 - 103.53) / 57.375, abs=1e-4)
    assert np.all(img[:, :, 720:] == 0)  # padding rows
    caffe, _, _ = vad_images(views, CAFFE_NORM)
    # caffe style: BGR order, mean subtracted, unit std
    assert caffe[0, 0, 100, 100] == pytest.approx(20 - 103.530, abs=1e-4)
    assert caffe[0, 2, 100, 100] == pytest.approx(200 - 123.675, abs=1e-4)


def test_lidar2img_projects_a_point_ahead_onto_the_front_principal_point():
    rig = CameraRig.nuscenes((256, 448))
    l2i = lidar2img(rig.intrinsics, rig.cam2ego, rig.hw)
    # a point 10 m in front of the front camera, at the camera's height, in ego then LiDAR coordinates
    ego_point = np.array([1.70 + 10.0, 0.02, 1.51])
    lidar_xy = ego_to_lidar(ego_point[None, :2])[0]
    lidar_point = np.array([*lidar_xy, ego_point[2] - LIDAR_IN_EGO[2], 1.0])
    u, v, depth, _ = l2i[0] @ lidar_point
    assert depth == pytest.approx(10.0)
    # nuScenes front principal point (800, 480) at 1600 x 900, scaled by 0.8
    assert (u / depth, v / depth) == (pytest.approx(640.0), pytest.approx(384.0))
    # and the same point is behind the back camera (VAD index 3)
    assert (l2i[3] @ lidar_point)[2] < 0


def test_lidar_frame_is_x_right_y_forward():
    assert ego_to_lidar(np.array([[LIDAR_IN_EGO[0] + 5.0, 0.0]])) == pytest.approx(np.array([[0.0, 5.0]]))
    assert ego_to_lidar(np.array([[LIDAR_IN_EGO[0], 2.0]])) == pytest.approx(np.array([[-2.0, 0.0]]))
    points = np.array([[3.0, -1.0], [7.5, 2.5]])
    assert lidar_to_ego(ego_to_lidar(points)) == pytest.approx(points)


def test_command_rule_is_two_metres_of_final_lateral_offset():
    path = np.zeros((6, 2))
    path[:, 1] = np.arange(1, 7) * 5.0
    for final_x, expected in [(2.0, 0), (5.0, 0), (1.99, 2), (-1.99, 2), (-2.0, 1), (-8.0, 1)]:
        path[-1, 0] = final_x
        assert command_from_future(path) == expected
    assert command_one_hot(0) == pytest.approx([1, 0, 0])  # right
    assert command_one_hot(1) == pytest.approx([0, 1, 0])  # left
    assert command_one_hot(2) == pytest.approx([0, 0, 1])  # straight
    with pytest.raises(ValueError):
        command_one_hot(3)


def test_ego_fut_preds_are_cumsummed_in_the_lidar_frame_and_moved_to_the_rear_axle():
    preds = np.zeros((3, 6, 2))
    preds[2, :, 1] = 5.0  # straight row: 5 m forward per step
    preds[1, :, 0] = -3.0  # left row: 3 m towards LiDAR -x (the ego's left) per step
    straight = waypoints_from_vad(preds, 2)
    assert straight == pytest.approx(np.stack([5.0 * np.arange(1, 7), np.zeros(6)], axis=1))
    left = waypoints_from_vad(preds, 1)
    # the LiDAR moves to the left (heading +90 degrees), so the rear axle trails it by 0.94 m along +y
    expected = np.stack([np.full(6, LIDAR_IN_EGO[0]), 3.0 * np.arange(1, 7) - LIDAR_IN_EGO[0]], axis=1)
    assert left == pytest.approx(expected)
    with pytest.raises(ValueError):
        waypoints_from_vad(np.zeros((6, 2)), 2)


def test_ego_lcf_feat_follows_the_converter():
    pose, previous = np.array([0.0, 0.0, 0.0]), np.array([-5.0, 0.0, -0.1])
    ego = np.array([9.0, 1.5, 0.2, 0.1])  # speed, acceleration, yaw rate, steering
    feat = ego_lcf_feat(pose, ego, previous)
    v = 5.0 / 0.5
    assert feat[0] == pytest.approx(v * np.cos(np.pi / 2), abs=1e-9)
    assert feat[1] == pytest.approx(v * np.sin(np.pi / 2))
    assert feat[2:4] == pytest.approx([1.5, 0.0])  # can_bus[7:9]
    assert feat[4] == pytest.approx(0.1 / 0.5)
    assert feat[5:7] == pytest.approx([4.084, 1.85])
    assert feat[7] == pytest.approx(9.0)
    assert feat[8] == pytest.approx(2 * 0.1 * 14.0 / 2.588)
    # the heading change wraps across +-pi
    wrapped = ego_lcf_feat(np.array([0.0, 0.0, np.pi - 0.05]), ego, np.array([0.0, 0.0, -np.pi + 0.05]))
    assert wrapped[4] == pytest.approx(-0.1 / 0.5)
    first = ego_lcf_feat(pose, ego, None)
    assert first[1] == pytest.approx(9.0) and first[4] == pytest.approx(0.2)


def test_history_offsets_in_the_lidar_frame():
    poses = [np.array([-10.0, 0.0, 0.0]), np.array([-5.0, 0.0, 0.0])]
    assert history_offsets(poses, np.array([0.0, 0.0, 0.0]), 10.0) == pytest.approx(np.array([[0, 5.0], [0, 5.0]]))
    # rotated world: driving north, the offsets are still forward in the LiDAR frame
    north = [np.array([0.0, -8.0, np.pi / 2]), np.array([0.0, -4.0, np.pi / 2])]
    assert history_offsets(north, np.array([0.0, 0.0, np.pi / 2]), 8.0) == pytest.approx(np.array([[0, 4.0], [0, 4.0]]))
    # no history: straight back at the current speed
    assert history_offsets([], np.zeros(3), 8.0) == pytest.approx(np.array([[0, 4.0], [0, 4.0]]))


def test_input_builder_on_a_real_observation():
    import gymnasium as gym

    env = gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=(32, 56))
    obs, _ = env.reset(seed=0)
    builder = VADInputBuilder()
    builder.reset("scene-a")
    first = builder.build(obs)
    assert first.img.shape == (6, 3, 736, 1280)
    assert first.img_metas["scene_token"] == "scene-a" and len(first.img_metas["lidar2img"]) == 6
    assert first.img_metas["can_bus"].shape == (18,)
    assert first.ego_fut_cmd == pytest.approx(command_one_hot(obs["command"]))
    obs, *_ = env.step(np.stack([np.arange(1, 7) * 5.0, np.zeros(6)], axis=1))
    second = builder.build(obs)
    moved = float(np.hypot(*(obs["ego_pose"][:2] - builder.poses[0][:2])))
    assert second.ego_lcf_feat[1] == pytest.approx(moved / 0.5, rel=1e-3)  # yaw ~ 0: all of v in vy


def test_tiny_scale_and_padded_img_shape():
    views = np.zeros((6, 32, 56, 3), np.uint8)
    img, scaled, padded = vad_images(views, CAFFE_NORM, scale=0.4)
    assert img.shape == (6, 3, 384, 640) and scaled == (360, 640, 3) and padded == (384, 640, 3)
    rig = CameraRig.nuscenes((32, 56))
    base, tiny = (
        lidar2img(rig.intrinsics, rig.cam2ego, rig.hw),
        lidar2img(rig.intrinsics, rig.cam2ego, rig.hw, scale=0.4),
    )
    assert tiny[:, :2] == pytest.approx(base[:, :2] * 0.5)  # pixel rows scale with the image
    assert tiny[:, 2:] == pytest.approx(base[:, 2:])


def test_builder_defaults_to_caffe_input_and_the_padded_img_shape():
    import gymnasium as gym

    env = gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=(32, 56))
    obs, _ = env.reset(seed=0)
    tiny = VADInputBuilder(scale=0.4).build(obs)
    assert tiny.img.shape == (6, 3, 384, 640)
    assert tiny.img_metas["img_shape"] == [(384, 640, 3)] * 6  # what the encoder divides projected pixels by
    assert tiny.img_metas["ori_shape"] == [(900, 1600, 3)] * 6
    front = obs["images"][1].astype(np.float32)  # OccSim's front camera is VAD's first
    assert tiny.img[0, 0, 0, 0] == pytest.approx(front[0, 0, 2] - 103.530, abs=1.0)  # blue first, mean only
