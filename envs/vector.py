"""``OccSimVectorEnv``: N worlds stepped in one process, all N × 6 cameras ray cast in one kernel launch.

``gymnasium.make_vec("OccSim-v0", num_envs=N)`` (``vectorization_mode="vector_entry_point"``, the default for
the OccSim ids) builds it. Each world is an ``OccSimEnv`` driven through its two halves (``begin_step``, then
``end_step`` with the frame), so a world's observations, rewards and infos are byte for byte those of a single
env reset with the same seed; only the rendering is shared. No images cross a process boundary, and the kernel
has N × 6 × H rows to spread over the cores instead of 6 × H.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array, iterate

from occsim.envs.occsim_env import OccSimEnv
from occsim.sensors import make_renderer
from occsim.sensors.raster import RasterRenderer
from occsim.types import DEFAULT_CAMERA_HW, CameraRig


class OccSimVectorEnv(VectorEnv):
    """``num_envs`` OccSim worlds with one shared raster renderer.

    Args:
        num_envs: number of worlds.
        autoreset_mode: Gymnasium's ``AutoresetMode`` (or its value); default ``NEXT_STEP``, as the sync and async
            vector envs.
        copy: return copies of the batched observations (as ``SyncVectorEnv``'s ``copy``).
        device: where the ray caster runs: ``"cpu"`` (numba, every core) or ``"cuda"`` (an NVIDIA GPU, one world
            per launch on one stream; the simulation itself stays on the CPU).
        max_episode_steps: truncate a world's episode after this many steps (as Gymnasium's ``TimeLimit``); None
            ends it at the scenario's duration only.
        **kwargs: ``OccSimEnv``'s keywords, the same for every world; ``renderer`` must be ``raster`` or
            ``blank`` (no images: for policies that read the privileged observations only).
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 2}

    def __init__(
        self,
        num_envs: int = 1,
        autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP,
        copy: bool = True,
        device: str = "cpu",
        max_episode_steps: int | None = None,
        **kwargs: Any,
    ):
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        renderer = kwargs.pop("renderer", "raster")
        if renderer not in ("raster", "blank"):
            raise ValueError(
                f"the batched vector env renders with 'raster' (or 'blank': no images) only, not {renderer!r}; "
                "use gymnasium.make_vec(..., vectorization_mode='sync' or 'async') for the learned renderers"
            )
        if kwargs.pop("renderer_kwargs", None):
            raise ValueError("the batched vector env's renderers take no renderer_kwargs")
        RasterRenderer.check_options(device=device)
        self.device = device
        camera_hw = tuple(kwargs.pop("camera_hw", DEFAULT_CAMERA_HW))
        # One raster renderer for every world; "blank" (for observations without images) costs nothing anyway.
        self.renderer: RasterRenderer | None = (
            make_renderer("raster", CameraRig.nuscenes(camera_hw), device=device) if renderer == "raster" else None
        )
        self.envs = [
            OccSimEnv(renderer=self.renderer or renderer, camera_hw=camera_hw, **kwargs) for _ in range(num_envs)
        ]
        self.num_envs = num_envs
        self.max_episode_steps = max_episode_steps
        self._elapsed = np.zeros(num_envs, dtype=np.int64)
        self.copy = copy
        self.autoreset_mode = AutoresetMode(autoreset_mode)
        self.metadata = {**self.metadata, "autoreset_mode": self.autoreset_mode}
        self.render_mode = self.envs[0].render_mode
        self.single_observation_space = self.envs[0].observation_space
        self.single_action_space = self.envs[0].action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._observations = create_empty_array(self.single_observation_space, num_envs, fn=np.zeros)
        self._env_obs: list[Any] = [None] * num_envs
        self._rewards = np.zeros(num_envs, dtype=np.float64)
        self._terminations = np.zeros(num_envs, dtype=np.bool_)
        self._truncations = np.zeros(num_envs, dtype=np.bool_)
        self._autoreset_envs = np.zeros(num_envs, dtype=np.bool_)

    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        """Reset every world (or those in ``options["reset_mask"]``); an int seed gives world i ``seed + i``."""
        seeds = _seeds(seed, self.num_envs)
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if mask is None:
            mask = np.ones(self.num_envs, dtype=np.bool_)
        elif not isinstance(mask, np.ndarray) or mask.dtype != np.bool_ or mask.shape != (self.num_envs,):
            raise ValueError(f"options['reset_mask'] must be a bool array of shape ({self.num_envs},)")
        chosen = [i for i in range(self.num_envs) if mask[i]]
        for i in chosen:
            self.envs[i].begin_reset(seed=seeds[i], options=options or None)
        infos: dict[str, Any] = {}
        for i, outcome in zip(chosen, self._observe(chosen)):
            self._env_obs[i], info = self.envs[i].end_reset(outcome)
            self._terminations[i] = self._truncations[i] = self._autoreset_envs[i] = False
            self._elapsed[i] = 0
            infos = self._add_info(infos, info, i)
        return self._batched(), infos

    def step(self, actions):
        """Step every world with its action; worlds that ended last step are reset instead (``NEXT_STEP``)."""
        actions = list(iterate(self.action_space, actions))
        resets: list[int] = []
        steps: list[int] = []
        for i in range(self.num_envs):
            if self._autoreset_envs[i] and self.autoreset_mode == AutoresetMode.NEXT_STEP:
                self.envs[i].begin_reset()
                resets.append(i)
            else:
                if self._autoreset_envs[i] and self.autoreset_mode == AutoresetMode.DISABLED:  # reset with a mask
                    raise RuntimeError(f"world {i} has ended: reset it (options['reset_mask']) before stepping")
                self.envs[i].begin_step(actions[i])
                steps.append(i)
        observed = dict(zip(resets + steps, self._observe(resets + steps)))
        infos: dict[str, Any] = {}
        restart = []  # SAME_STEP: worlds that ended now and start again in this step
        for i, outcome in sorted(observed.items()):
            env = self.envs[i]
            if i in resets:
                self._env_obs[i], info = env.end_reset(outcome)
                self._rewards[i], self._terminations[i], self._truncations[i] = 0.0, False, False
                self._elapsed[i] = 0
                infos = self._add_info(infos, info, i)
                continue
            obs, reward, terminated, truncated, info = env.end_step(outcome)
            self._elapsed[i] += 1
            if self.max_episode_steps is not None and self._elapsed[i] >= self.max_episode_steps:
                truncated = not terminated
            self._env_obs[i], self._rewards[i] = obs, reward
            self._terminations[i], self._truncations[i] = terminated, truncated
            if self.autoreset_mode == AutoresetMode.SAME_STEP and (terminated or truncated):
                infos = self._add_info(infos, {"final_obs": obs, "final_info": info}, i)
                env.begin_reset()
                restart.append(i)
            else:
                infos = self._add_info(infos, info, i)
        for i, outcome in zip(restart, self._observe(restart)):
            self._env_obs[i], info = self.envs[i].end_reset(outcome)
            self._elapsed[i] = 0
            infos = self._add_info(infos, info, i)
        self._autoreset_envs = np.logical_or(self._terminations, self._truncations)
        return (
            self._batched(),
            np.copy(self._rewards),
            np.copy(self._terminations),
            np.copy(self._truncations),
            infos,
        )

    def render(self) -> tuple[np.ndarray | None, ...] | None:
        """Each world's ``rgb_array`` picture (the six views beside a bird's-eye view)."""
        if self.render_mode is None:
            return None
        return tuple(env.render() for env in self.envs)

    def close_extras(self, **kwargs: Any) -> None:
        """Close every world."""
        for env in self.envs:
            env.close()

    def _observe(self, indices: list[int]):
        """The outcomes of worlds ``indices`` after their ``begin_*`` half, their frames from one kernel launch."""
        if not indices:
            return []
        sims = [self.envs[i].sim for i in indices]
        if self.renderer is None:
            return [sim.observe() for sim in sims]
        for i, sim in zip(indices, sims):
            if sim.world.rig is not None:
                raise ValueError(
                    f"world {i} ({sim.scenario.name}) brings its own camera rig; the batched env renders the "
                    "default rig only: use vectorization_mode='sync' or 'async' for logged scenes"
                )
        frames = self.renderer.render_batch(
            [s.world for s in sims], [s.weather for s in sims], [s.frame_seed for s in sims]
        )
        return [sim.observe(f) for sim, f in zip(sims, frames)]

    def _batched(self):
        self._observations = concatenate(self.single_observation_space, self._env_obs, self._observations)
        return deepcopy(self._observations) if self.copy else self._observations


def _seeds(seed: int | list[int | None] | None, count: int) -> list[int | None]:
    """Per-world seeds as ``SyncVectorEnv`` draws them."""
    if seed is None:
        return [None] * count
    if isinstance(seed, int):
        return [seed + i for i in range(count)]
    if len(seed) != count:
        raise ValueError(f"{len(seed)} seeds given for {count} worlds")
    return list(seed)
