"""collect-render --nuscenes: real camera images paired with MPIs from Occ3D labels, in the simulator's format."""

import json

import cv2
import numpy as np
import pytest
from pyquaternion import Quaternion
from typer.testing import CliRunner

from occsim.cli import app
from occsim.data.nuscenes import open_nuscenes, scene_samples
from occsim.training.episodes import RenderPairs, episode_files, read_episodes
from occsim.types import CAMERA_NAMES, OCC3D_GRID

HW, FACTOR = (48, 80), 8


@pytest.fixture(scope="module")
def collected(mini_root, tmp_path_factory):
    out = tmp_path_factory.mktemp("pairs")
    args = ["collect-render", "--nuscenes", str(mini_root), "--version", "v1.0-mini", "--image-hw", "48x80"]
    result = CliRunner().invoke(app, [*args, "--latent-factor", "8", "--layout", "official", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_the_stored_views_are_the_datasets_jpegs(mini_root, collected):
    meta = json.loads((collected / "meta.json").read_text())
    assert meta["layout"] == "official" and meta["planes"] == 256 and meta["samples"] > 0
    nusc = open_nuscenes(mini_root, "v1.0-mini")
    scene = next(s for s in nusc.scene if s["name"] == "scene-0061")
    sample = scene_samples(nusc, scene)[2]
    with np.load(collected / "scene-0061__v1.0-mini.npz") as data:
        stored = data["images"][2]
    for cam, channel in enumerate(CAMERA_NAMES):
        jpeg = cv2.imread(str(mini_root / nusc.get("sample_data", sample["data"][channel])["filename"]))
        expected = cv2.resize(cv2.cvtColor(jpeg, cv2.COLOR_BGR2RGB), HW[::-1], interpolation=cv2.INTER_AREA)
        assert np.array_equal(stored[cam], expected), channel


def test_the_nearest_labels_are_the_occ3d_voxels_seen_through_the_devkits_calibration(mini_root, collected):
    nusc = open_nuscenes(mini_root, "v1.0-mini")
    scene = next(s for s in nusc.scene if s["name"] == "scene-0103")
    samples = scene_samples(nusc, scene)
    with np.load(collected / "scene-0103__v1.0-mini.npz") as data:
        nearest, depth, occupancy = data["nearest"], data["depth"], data["occupancy"]
    checked = 0
    for k in (0, len(samples) // 2):
        labels = np.load(mini_root / "gts" / "scene-0103" / samples[k]["token"] / "labels.npz")["semantics"]
        assert np.array_equal(occupancy[k], labels)
        for cam, channel in enumerate(CAMERA_NAMES):
            record = nusc.get("sample_data", samples[k]["data"][channel])
            calib = nusc.get("calibrated_sensor", record["calibrated_sensor_token"])
            k_latent = np.array(calib["camera_intrinsic"]) * np.array(
                [[HW[1] / FACTOR / record["width"]], [HW[0] / FACTOR / record["height"]], [1.0]]
            )
            rotation, translation = Quaternion(calib["rotation"]).rotation_matrix, np.array(calib["translation"])
            for v, u in zip(*np.nonzero(nearest[k, cam]), strict=True):
                # the release samples whole-pixel rays: (u, v) at depth d through K^-1, then camera → ego
                ray = np.linalg.inv(k_latent) @ np.array([u, v, 1.0]) * depth[k, cam, v, u]
                point = rotation @ ray + translation
                index = tuple(np.floor((point - np.array(OCC3D_GRID.lower)) / OCC3D_GRID.voxel_size).astype(int))
                assert labels[index] == nearest[k, cam, v, u]
                checked += 1
    assert checked > 50  # objects and road were seen


def test_the_training_readers_take_it_unchanged(collected):
    pairs = RenderPairs(collected)
    assert pairs.images.shape[1:] == (6, *HW, 3) and pairs.mpi.shape[1:] == (6, 256, HW[0] // 8, HW[1] // 8)
    arrays = read_episodes(episode_files(collected), ("images", "ego_pose"), coarse=(4, 4, 2))
    assert len(arrays["labels"]) == len(arrays["images"]) == len(pairs)


def test_a_missing_scene_is_a_clear_error(mini_root, tmp_path):
    args = ["collect-render", "--nuscenes", str(mini_root), "--version", "v1.0-mini", "--scenes", "scene-9999"]
    result = CliRunner().invoke(app, [*args, "--latent-factor", "8", "--image-hw", "48x80", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "scene-9999" in result.output
