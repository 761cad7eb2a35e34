"""``make-nuscenes-mini``: the expert driving two built-in scenarios, logged as a small nuScenes-format dataset."""

from __future__ import annotations

from pathlib import Path

from occsim.data.nuscenes_mini import MINI_SCENES, Keyframe, write_nuscenes_mini
from occsim.envs.occsim_env import OccSimEnv
from occsim.planners import make_planner
from occsim.rollout import rollout
from occsim.scenarios import load_scenario


def make_nuscenes_mini(out_dir: Path, image_hw: tuple[int, int], seconds: float) -> tuple[Path, list[str]]:
    """Write the synthetic dataset; returns its dataroot and the scene names."""
    scenes, rig = {}, None
    for name, source in MINI_SCENES.items():
        scenario = load_scenario(source)
        env = OccSimEnv(scenario, weather="clear", camera_hw=image_hw, privileged=True)
        frames = log_expert(env, keyframes=int(round(seconds / scenario.dt)) + 1)
        scenes[name], rig = (env.sim.world, frames), env.sim.rig
    return write_nuscenes_mini(out_dir, scenes, rig), list(scenes)


def log_expert(env: OccSimEnv, keyframes: int) -> list[Keyframe]:
    """Up to ``keyframes`` keyframes, one every env step (0.5 s), of the expert driving ``env``'s scenario."""
    frames: list[Keyframe] = []

    def act(step: int, obs: dict, plan):
        world = env.sim.world
        frames.append(Keyframe(world.t, world.ego, world.actor_states(), obs["occupancy"], obs["images"]))
        return plan

    rollout(env, make_planner("expert"), seed=0, act=act, max_steps=keyframes)
    return frames
