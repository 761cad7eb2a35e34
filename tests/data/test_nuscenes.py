import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from occsim.classes import BARRIER, FREE, TRUCK
from occsim.cli import app
from occsim.data.nuscenes import NuScenesError, load_scene, occ3d_class
from occsim.data.nuscenes_mini import MINI_SCENES
from occsim.data.scene_world import command_at, logged_world
from occsim.scenario import build_world, parse_scenario
from occsim.suite.episode import run_episode
from occsim.types import CameraRig

runner = CliRunner()


def _scene(root, name="scene-0061"):
    return load_scene(root, "v1.0-mini", name)


def test_the_real_devkit_loads_the_synthetic_set(mini_root):
    from nuscenes.nuscenes import NuScenes

    nusc = NuScenes(version="v1.0-mini", dataroot=str(mini_root), verbose=False)
    assert sorted(s["name"] for s in nusc.scene) == sorted(MINI_SCENES)
    assert {log["token"] for log in nusc.log} <= {t for m in nusc.map for t in m["log_tokens"]}
    sample = nusc.get("sample", nusc.scene[0]["first_sample_token"])
    assert set(sample["data"]) >= {"CAM_FRONT", "CAM_BACK_LEFT", "LIDAR_TOP"}
    assert sample["anns"] and nusc.get("sample_annotation", sample["anns"][0])["category_name"].startswith("vehicle")
    image = nusc.get_sample_data_path(sample["data"]["CAM_FRONT"])
    import cv2

    assert cv2.imread(image).shape == (90, 160, 3)
    assert nusc.get("map", nusc.log[0]["map_token"])["mask"].mask().any()
    labels = np.load(mini_root / "gts" / nusc.scene[0]["name"] / sample["token"] / "labels.npz")
    assert labels["semantics"].shape == (200, 200, 16) and labels["mask_camera"].any()


def test_a_known_box_projects_where_the_intrinsics_say(mini_root):
    """The devkit's own projection (ego pose, calibrated sensor, intrinsics) agrees with OccSim's rig."""
    from nuscenes.nuscenes import NuScenes
    from nuscenes.utils.geometry_utils import view_points
    from pyquaternion import Quaternion

    nusc = NuScenes(version="v1.0-mini", dataroot=str(mini_root), verbose=False)
    scene = _scene(mini_root)
    sample = nusc.get("sample", scene.sample_tokens[0])
    camera = nusc.get("sample_data", sample["data"]["CAM_FRONT"])
    box = nusc.get_box(sample["anns"][0])
    pose = nusc.get("ego_pose", camera["ego_pose_token"])
    calibrated = nusc.get("calibrated_sensor", camera["calibrated_sensor_token"])
    box.translate(-np.array(pose["translation"]))
    box.rotate(Quaternion(pose["rotation"]).inverse)
    ego_centre = box.center.copy()
    box.translate(-np.array(calibrated["translation"]))
    box.rotate(Quaternion(calibrated["rotation"]).inverse)
    devkit = view_points(box.center[:, None], np.array(calibrated["camera_intrinsic"]), normalize=True)[:2, 0]
    rig = CameraRig.nuscenes((90, 160))
    front = rig.names.index("CAM_FRONT")
    cam = np.linalg.inv(rig.cam2ego[front]) @ np.append(ego_centre, 1.0)
    ours = (rig.intrinsics[front] @ cam[:3])[:2] / cam[2]
    assert cam[2] > 0
    assert devkit == pytest.approx(ours, abs=1e-6)
    assert scene.rig.intrinsics == pytest.approx(rig.intrinsics)
    assert scene.rig.cam2ego == pytest.approx(rig.cam2ego, abs=1e-9)


def test_scene_in_occsim_terms(mini_root):
    scene = _scene(mini_root)
    assert scene.times[:3] == pytest.approx([0.0, 0.5, 1.0])
    assert scene.ego_poses[0, :2] == pytest.approx([0.0, 0.0])  # the local frame starts at the ego
    assert scene.ego_speeds[0] > 1.0
    assert {a.cls_name for a in scene.agents} <= {"car", "pedestrian"}
    assert scene.drivable is not None and scene.drivable.contains(__import__("shapely").Point(*scene.ego_poses[2, :2]))
    assert len(scene.occ3d) == len(scene.times)
    assert not scene.notes  # the synthetic set has a map expansion and Occ3D labels
    assert scene.lanes  # lane centrelines through the devkit's map API
    # the ego drives along one of the map's lanes
    start = scene.ego_poses[0, :2]
    assert min(np.hypot(*(lane - start).T).min() for lane in scene.lanes) < 0.5


def test_without_the_map_expansion_the_mask_gives_the_drivable_area(mini_root, tmp_path):
    import shutil

    copy = tmp_path / "mini"
    shutil.copytree(mini_root, copy, ignore=shutil.ignore_patterns("expansion"))
    with pytest.warns(UserWarning, match="map expansion not found"):
        scene = load_scene(copy, "v1.0-mini", "scene-0061")
    with_map = _scene(mini_root)
    assert scene.lanes == [] and any("semantic-prior" in n for n in scene.notes)
    # the 0.1 m mask traces the same drivable area as the expansion's polygons, to within its pixels
    assert scene.drivable.symmetric_difference(with_map.drivable).area < 0.02 * with_map.drivable.area


def test_logged_world_replays_agents_and_removes_them_from_the_static_voxels(mini_root):
    scene = _scene(mini_root)
    world = logged_world(scene, start_sample=1)
    assert (world.ego.pose.x, world.ego.pose.y) == pytest.approx(tuple(scene.ego_poses[1, :2]))
    labels = world.static.labels
    assert not ((labels >= BARRIER) & (labels <= TRUCK)).any()  # objects come back as actors only
    assert (labels != FREE).any()
    agent = max(scene.agents, key=lambda a: np.ptp(a.poses[:, 0]))  # the one that moves most
    from occsim.world.ego import Control

    for _ in range(2):
        world.step(0.5, Control(0.0, 0.0))
    state = next(a for a in world.actor_states() if a.id == agent.id)
    expected = [np.interp(scene.times[1] + 1.0, agent.times, agent.poses[:, i]) for i in (0, 1)]
    assert (state.pose.x, state.pose.y) == pytest.approx(expected, abs=0.05)
    with pytest.raises(ValueError, match="start_sample"):
        logged_world(scene, start_sample=999)


def test_command_follows_vads_two_metre_rule():
    straight = np.stack([np.arange(10) * 5.0, np.zeros(10), np.zeros(10)], axis=1)
    assert command_at(straight, 0) == 2
    left = straight.copy()
    left[6, 1] = 2.0
    assert command_at(left, 0) == 1
    right = straight.copy()
    right[6, 1] = -2.5
    assert command_at(right, 0) == 0
    assert occ3d_class("vehicle.bus.bendy") == "bus" and occ3d_class("animal") is None


def _cones_yaml(root, scene="scene-0061", version="v1.0-mini"):
    return f"""name: cones_on_scene_0061
map: {{type: nuscenes, dataroot: {root}, version: {version}, scene: {scene}, start_sample: 2}}
weather: {{type: fog, visibility: 30}}
ego: {{from_log: true, command: follow}}
actors:
  - {{id: cones, type: traffic_cone, lane: 0, s: 25, repeat: {{count: 6, ds: 0, doffset: 0.6}}}}   # placed relative to the ego's lane and pose
remove: {{within: 5.0, of: cones}}   # drop logged agents that would overlap the inserted ones
"""


def test_the_issue_example_runs_a_closed_loop_episode(mini_root):
    scenario = parse_scenario(_cones_yaml(mini_root))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        world = build_world(scenario, seed=0)
        cones = [a for a in world.actor_states() if a.id.startswith("cones")]
        assert len(cones) == 6
        lane_point = world.route.lane.pose_at(25.0)
        assert (cones[0].pose.x, cones[0].pose.y) == pytest.approx(lane_point[:2], abs=0.01)
        for actor in world.actor_states():
            if not actor.id.startswith("cones"):
                assert min(np.hypot(actor.pose.x - c.pose.x, actor.pose.y - c.pose.y) for c in cones) > 5.0
        result = run_episode(scenario, "constant_velocity", camera_hw=(32, 56))
    assert result.steps > 0 and result.outcome in ("collision", "goal", "timeout")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"root": "/nowhere/nuscenes"}, "nuScenes dataroot not found: /nowhere/nuscenes"),
        ({"version": "v1.0-trainval"}, "no folder"),
        ({"scene": "scene-0062"}, "did you mean 'scene-0061'?"),
    ],
)
def test_missing_data_is_one_clear_message(mini_root, tmp_path, change, message):
    args = {"root": mini_root, **change}
    path = tmp_path / "s.yaml"
    path.write_text(_cones_yaml(**args))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    with pytest.raises(NuScenesError):
        load_scene(args["root"], args.get("version", "v1.0-mini"), args.get("scene", "scene-0061"))


def test_a_nuscenes_map_needs_the_ego_from_the_log(mini_root):
    text = _cones_yaml(mini_root).replace("from_log: true, ", "")
    with pytest.raises(Exception, match="from_log"):
        parse_scenario(text)
    assert json.loads((mini_root / "v1.0-mini" / "scene.json").read_text())[0]["nbr_samples"] > 6


def test_reactive_agents_drive_their_logged_tracks_with_idm(mini_root):
    from occsim.world.actors import IDM
    from occsim.world.ego import Control

    scene = _scene(mini_root)
    world = logged_world(scene, start_sample=0, agents="reactive")
    movers = [a for a in world.actors if isinstance(a.behavior, IDM)]
    assert movers
    start = {a.id: (a.x, a.y) for a in movers}
    for _ in range(4):
        world.step(0.5, Control(-8.0, 0.0))
    for actor in movers:
        track = next(t for t in scene.agents if t.id == actor.id).poses[:, :2]
        station, lateral = actor.lane.road.project(np.array([[actor.x, actor.y]]))
        assert abs(lateral[0] - actor.lane.lateral) < 0.05  # still on its own logged path
        assert np.hypot(actor.x - start[actor.id][0], actor.y - start[actor.id][1]) > 0.5 or len(track) < 2


def test_the_env_renders_with_the_logged_cameras(mini_root):
    from occsim.envs.occsim_env import OccSimEnv

    scenario = parse_scenario(_cones_yaml(mini_root))
    env = OccSimEnv(scenario, camera_hw=(45, 80))
    obs, _ = env.reset(seed=0)
    logged = _scene(mini_root).rig.resized((45, 80))
    assert obs["intrinsics"] == pytest.approx(logged.intrinsics.astype(np.float32))
    assert obs["cam2ego"] == pytest.approx(logged.cam2ego.astype(np.float32))
    assert obs["images"].shape == (6, 45, 80, 3) and obs["images"].std() > 5
