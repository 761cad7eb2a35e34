"""Training pairs for the diffusion renderers from OccSim itself: no download needed.

Each env step of an expert rollout under a random weather gives one sample: the six raster views (the target), the
semantic MPI of the occupancy window at latent resolution (the condition), the nearest surface's label and depth at
latent resolution (for the reweighing of eq. 6), the occupancy window itself and the ego pose (labels and motion for
the perception model and temporal consistency), and the weather prompt. One ``.npz`` per episode, with its cameras.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.progress import track

from occsim.envs.occsim_env import OccSimEnv
from occsim.generative.pipelines.conditioning import latent_condition, occupancy_condition, plane_depths
from occsim.planners import make_planner
from occsim.rollout import rollout
from occsim.scenario import Scenario
from occsim.sensors import WEATHERS
from occsim.suite.tasks import derive_seed
from occsim.training.configs import RenderCollectConfig
from occsim.training.episodes import RENDER_ROW_KEYS, write_episode, write_render_meta
from occsim.types import CameraRig

RENDER_BASE_SEED = 2_000_003  # keeps these seeds apart from the suite's and the planner collection's


def collect_render(scenarios: list[Scenario], config: RenderCollectConfig) -> dict:
    """Roll the expert out under random weathers and write the pairs; returns what ``meta.json`` records."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    weathers = sorted(WEATHERS)
    depths = plane_depths(config.planes, config.max_depth)
    jobs = [(s, i) for s in scenarios for i in range(config.episodes_per_scenario)]
    samples = 0
    for scenario, i in track(jobs, description="collect-render"):
        seed = derive_seed(RENDER_BASE_SEED + config.seed, scenario.name, i)
        path = out / f"{scenario.name}__{seed}.npz"
        if path.exists():
            with np.load(path) as done:
                samples += len(done["images"])
            continue
        weather = config.weather or weathers[np.random.default_rng(seed).integers(len(weathers))]
        rows, rig = _render_episode(scenario, seed, weather, config, depths)
        write_episode(
            path, **rows, weather=np.array(weather), depths=depths, intrinsics=rig.intrinsics, cam2ego=rig.cam2ego
        )
        samples += len(rows["images"])
    return write_render_meta(out, config, episodes=len(jobs), samples=samples)


def _render_episode(scenario, seed, weather, config, depths) -> tuple[dict[str, np.ndarray], CameraRig]:
    env = OccSimEnv(scenario, weather=weather, camera_hw=config.image_hw, privileged=True)
    rows: dict[str, list] = {key: [] for key in RENDER_ROW_KEYS}

    def act(step: int, obs: dict, plan):
        """Keep every ``config.every``-th observation as a sample; execute the expert's plan."""
        if step % config.every == 0:
            if config.layout == "official":  # the release's condition reads the occupancy alone
                condition = occupancy_condition(obs["occupancy"], env.sim.rig, config.latent_factor, depths, "official")
            else:
                condition = latent_condition(
                    obs["occupancy"], env.sim.frames, env.sim.rig, config.latent_factor, depths
                )
            rows["images"].append(obs["images"])
            rows["mpi"].append(condition.mpi)
            rows["nearest"].append(condition.nearest)
            rows["depth"].append(condition.depth)
            rows["occupancy"].append(obs["occupancy"])
            rows["ego_pose"].append(obs["ego_pose"])
        return plan

    rollout(env, make_planner("expert"), seed, act=act)
    return {k: np.stack(v) for k, v in rows.items()}, env.sim.rig
