"""``occsim collect-render --nuscenes``: training pairs from logged nuScenes keyframes and their Occ3D labels.

Per keyframe with Occ3D labels: the six real camera JPEGs resized to the target size (the training target), the
semantic MPI built from the Occ3D voxels with that sample's own calibration (the condition), the nearest occupied
plane's label and depth (the reweighing of eq. 6), the occupancy window, the ego pose and the cameras. The episode
files have the same arrays as the simulator's collect-render, one file per scene, so ``train-syntheocc``,
``train-occscene`` and ``train-perception`` read them unchanged. Everything is read from local folders.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from rich.progress import track

from occsim.data.nuscenes import NuScenesError, calibration, open_nuscenes, scene_samples, yaw_of
from occsim.generative.pipelines.conditioning import occupancy_condition, plane_depths
from occsim.training.configs import NuScenesRenderConfig
from occsim.training.episodes import RENDER_ROW_KEYS, write_episode, write_render_meta
from occsim.types import CAMERA_NAMES

# Words of a nuScenes scene description that name its weather (the rest is clear daytime).
DESCRIPTION_WEATHER = (("night", "night"), ("rain", "rain"))


def description_weather(description: str) -> str:
    """OccSim's weather for a scene description ("Night, rain, ..." → night; "... rain ..." → rain; else clear)."""
    text = description.lower()
    return next((weather for word, weather in DESCRIPTION_WEATHER if word in text), "clear")


def collect_nuscenes(config: NuScenesRenderConfig) -> dict:
    """Write one episode file per scene; returns what ``meta.json`` records.

    Raises:
        NuScenesError: the dataroot, version or a named scene is missing, or no scene has Occ3D labels.
    """
    nusc = open_nuscenes(config.dataroot, config.version)
    occ3d = Path(config.occ3d) if config.occ3d else Path(config.dataroot) / "gts"
    by_name = {record["name"]: record for record in nusc.scene}
    unknown = [name for name in config.scenes if name not in by_name]
    if unknown:
        raise NuScenesError(f"scenes not in {config.version}: {', '.join(unknown)}")
    names = list(config.scenes) or [name for name in by_name if (occ3d / name).is_dir()]
    if not names:
        raise NuScenesError(f"no scene has Occ3D labels under {occ3d} (expected <scene>/<sample token>/labels.npz)")
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    depths = plane_depths(config.planes, config.max_depth)
    samples, skipped = 0, 0
    for name in track(names, description="collect-render (nuScenes)"):
        rows, rig, missing = _scene_rows(nusc, by_name[name], occ3d / name, config, depths)
        skipped += missing
        if not rows["images"]:
            continue
        weather = description_weather(by_name[name].get("description", ""))
        write_episode(
            out / f"{name}__{config.version}.npz",  # the episode-file pattern: <scene>__<source>
            **{k: np.stack(v) for k, v in rows.items()},
            weather=np.array(weather),
            depths=depths,
            intrinsics=rig.intrinsics,
            cam2ego=rig.cam2ego,
        )
        samples += len(rows["images"])
    source = f"nuScenes {config.version} at {config.dataroot}"
    return write_render_meta(
        out, config, source=source, episodes=len(names), samples=samples, keyframes_without_occ3d=skipped
    )


def _scene_rows(nusc, scene: dict, labels_dir: Path, config: NuScenesRenderConfig, depths: np.ndarray):
    """The keyframes of one scene that have Occ3D labels; returns (rows, the last sample's rig, keyframes skipped)."""
    rows: dict[str, list] = {key: [] for key in RENDER_ROW_KEYS}
    rig, skipped = None, 0
    h, w = config.image_hw
    for sample in scene_samples(nusc, scene):
        path = labels_dir / sample["token"] / "labels.npz"
        if not path.is_file():
            skipped += 1
            continue
        with np.load(path) as data:
            occupancy = data["semantics"].astype(np.uint8)
        rig = calibration(nusc, sample).resized((h, w))  # this sample's own calibration
        views = []
        for channel in CAMERA_NAMES:
            record = nusc.get("sample_data", sample["data"][channel])
            image = cv2.imread(str(Path(config.dataroot) / record["filename"]), cv2.IMREAD_COLOR)
            if image is None:
                raise NuScenesError(f"cannot read {Path(config.dataroot) / record['filename']}")
            views.append(cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), (w, h), interpolation=cv2.INTER_AREA))
        pose = nusc.get("ego_pose", nusc.get("sample_data", sample["data"]["CAM_FRONT"])["ego_pose_token"])
        rows["images"].append(np.stack(views))
        condition = occupancy_condition(occupancy, rig, config.latent_factor, depths, config.layout)
        for key in ("mpi", "nearest", "depth"):
            rows[key].append(getattr(condition, key))
        rows["occupancy"].append(occupancy)
        rows["ego_pose"].append(
            np.array([pose["translation"][0], pose["translation"][1], yaw_of(pose["rotation"])], dtype=np.float32)
        )
    return rows, rig, skipped
