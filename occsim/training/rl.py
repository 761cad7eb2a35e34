"""``occsim train-rl``: PPO (stable-baselines3) on the bird's-eye occupancy observation, in the batched vector env.

The env: ``OccSimVectorEnv`` with privileged observations, no camera images (the ``blank`` renderer: the policy
reads the occupancy window), the ``route`` action (a speed along the route and a lateral offset) and the env's
documented reward. SB3 steps it through ``SB3VectorEnv``, which turns Gymnasium's same-step autoreset into SB3's
``terminal_observation`` convention; ``VecFrameStack`` stacks the last images on the channel axis.

Outputs in ``--out``: ``progress.csv`` (SB3's losses per update), ``episodes.csv`` (one row per finished episode),
``learning_curve.png``, ``ppo.zip`` (SB3's own checkpoint, to resume from) and ``weights/`` (the deterministic
policy in safetensors: planner ``rl:<out>/weights``).
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from gymnasium.vector import AutoresetMode  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.callbacks import BaseCallback  # noqa: E402
from stable_baselines3.common.logger import configure  # noqa: E402
from stable_baselines3.common.vec_env import VecEnv, VecFrameStack, VecMonitor  # noqa: E402

from occsim.envs.bev import bev_space  # noqa: E402
from occsim.envs.vector import OccSimVectorEnv  # noqa: E402
from occsim.geometry import bev_layers  # noqa: E402
from occsim.planners.rl import RlPolicyConfig, policy_state_from_sb3, save_rl_policy  # noqa: E402
from occsim.scenario import Scenario  # noqa: E402
from occsim.scenarios import load_builtin_suite  # noqa: E402
from occsim.suite.splits import load_split  # noqa: E402
from occsim.training.configs import RlConfig

SCENARIO_SETS = ("builtin", "longtail-train", "both")
EPISODE_COLUMNS = ("env_steps", "episode", "return", "length", "collision", "route_completion", "scenario")


def training_scenarios(choice: str) -> list[Scenario]:
    """The scenarios PPO draws from: the built-in suite, the long-tail benchmark's train split, or both.

    Raises:
        ValueError: an unknown choice.
    """
    if choice not in SCENARIO_SETS:
        raise ValueError(f"scenarios must be one of {', '.join(SCENARIO_SETS)}, got {choice!r}")
    chosen: list[Scenario] = []
    if choice in ("builtin", "both"):
        chosen += load_builtin_suite()
    if choice in ("longtail-train", "both"):
        chosen += [instance.scenario for _, _, instance in load_split("longtail", "train").instances()]
    return chosen


class SB3VectorEnv(VecEnv):
    """A Gymnasium vector env (same-step autoreset) as an SB3 ``VecEnv`` whose observation is the bird's-eye image."""

    def __init__(self, env: OccSimVectorEnv, policy: RlPolicyConfig):
        if env.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError("SB3VectorEnv needs a vector env with AutoresetMode.SAME_STEP")
        self.env, self.policy = env, policy
        super().__init__(env.num_envs, bev_space(policy.cells), env.single_action_space)
        self._actions: np.ndarray | None = None

    def _image(self, observation: dict) -> np.ndarray:
        return bev_layers(observation["occupancy"], observation["route"], self.policy.cells, self.policy.extent)

    def _images(self, observations: dict) -> np.ndarray:
        return np.stack([self._image({k: v[i] for k, v in observations.items()}) for i in range(self.num_envs)])

    def reset(self) -> np.ndarray:
        """Reset every world with the seeds ``seed()`` set (SB3's convention), else unseeded."""
        observations, _ = self.env.reset(seed=list(self._seeds))
        self._reset_seeds()
        return self._images(observations)

    def step_async(self, actions: np.ndarray) -> None:
        """Remember the actions for ``step_wait``."""
        self._actions = np.asarray(actions, dtype=np.float32)

    def step_wait(self):
        """Step every world; a finished one is already reset, its last image in ``terminal_observation``."""
        observations, rewards, terminated, truncated, info = self.env.step(self._actions)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = []
        for i in range(self.num_envs):
            entry = {
                "TimeLimit.truncated": bool(truncated[i] and not terminated[i]),
                "scenario": info.get("scenario", [None] * self.num_envs)[i],
            }
            if dones[i]:
                final = info["final_info"]
                entry["terminal_observation"] = self._image(info["final_obs"][i])
                entry["collision"] = bool(final["collision"][i])
                entry["route_completion"] = float(final["route_completion"][i])
                entry["scenario"] = final["scenario"][i]
            infos.append(entry)
        return self._images(observations), rewards.astype(np.float32), dones, infos

    def close(self) -> None:
        """Close the worlds."""
        self.env.close()

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        """An attribute of each world's env."""
        return [getattr(self.env.envs[i], attr_name) for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        """Set an attribute on each world's env."""
        for i in self._get_indices(indices):
            setattr(self.env.envs[i], attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list[Any]:
        """Call a method of each world's env."""
        return [getattr(self.env.envs[i], method_name)(*args, **kwargs) for i in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        """The worlds' envs are never wrapped."""
        return [False for _ in self._get_indices(indices)]


class EpisodeLog(BaseCallback):
    """Appends every finished episode to ``episodes.csv`` and saves a checkpoint every ``checkpoint_steps``."""

    def __init__(self, path: Path, save: Callable[[], None], checkpoint_steps: int):
        super().__init__()
        self.path, self.save, self.checkpoint_steps = path, save, checkpoint_steps
        self._next_checkpoint = checkpoint_steps
        self.episodes = 0
        self.collisions: list[bool] = []
        self._file = None
        self._writer = None

    def _on_training_start(self) -> None:
        fresh = not self.path.is_file() or self.path.stat().st_size == 0
        self._file = self.path.open("a", newline="", buffering=1)  # line by line: watchable, nothing lost
        self._writer = csv.writer(self._file)
        if fresh:
            self._writer.writerow(EPISODE_COLUMNS)
        self._next_checkpoint = self.num_timesteps + self.checkpoint_steps

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if not done or "episode" not in info:
                continue
            self.episodes += 1
            self.collisions.append(bool(info.get("collision")))
            self._writer.writerow(
                (
                    self.num_timesteps,
                    self.episodes,
                    round(float(info["episode"]["r"]), 4),
                    int(info["episode"]["l"]),
                    int(bool(info.get("collision"))),
                    round(float(info.get("route_completion", 0.0)), 4),
                    info.get("scenario"),
                )
            )
        recent = self.collisions[-100:]
        if recent:
            self.logger.record("rollout/collision_rate_100", float(np.mean(recent)))
        if self.num_timesteps >= self._next_checkpoint:
            self.save()
            self._next_checkpoint += self.checkpoint_steps
        return True

    def _on_training_end(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def make_training_env(config: RlConfig) -> VecEnv:
    """The batched worlds as SB3 sees them: bird's-eye images, frame-stacked, with episode statistics."""
    worlds = OccSimVectorEnv(
        num_envs=config.num_envs,
        autoreset_mode=AutoresetMode.SAME_STEP,
        scenario=training_scenarios(config.scenarios),
        weather=config.weather,
        renderer="blank",
        camera_hw=(8, 8),
        privileged=True,
        action_type="route",
        reward=config.reward or None,
    )
    policy = RlPolicyConfig(stack=config.stack)
    venv = VecMonitor(SB3VectorEnv(worlds, policy))
    venv = VecFrameStack(venv, n_stack=config.stack, channels_order="last")
    venv.seed(config.seed)
    return venv


def train_rl(config: RlConfig) -> dict[str, Any]:
    """Train PPO; Ctrl-C stops early and still saves. Returns the summary also written to ``training.json``."""
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if config.resume is None and (out / "episodes.csv").exists():
        (out / "episodes.csv").unlink()  # a fresh run starts a fresh log; a resumed one appends
    venv = make_training_env(config)
    hyper = dict(
        n_steps=config.n_steps,
        batch_size=config.batch_size,
        n_epochs=config.epochs,
        learning_rate=config.learning_rate,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        ent_coef=config.ent_coef,
    )
    if config.resume is not None:
        if not Path(config.resume).is_file():
            raise FileNotFoundError(f"--resume: no such checkpoint {config.resume}")
        model = PPO.load(str(config.resume), env=venv, device="cpu", **hyper)
    else:
        model = PPO("CnnPolicy", venv, seed=config.seed, device="cpu", verbose=0, **hyper)
    model.set_logger(configure(str(out), ["csv"]))
    start, before = time.perf_counter(), model.num_timesteps
    policy = RlPolicyConfig(stack=config.stack)

    def save(interrupted: bool = False) -> dict[str, Any]:
        seconds = time.perf_counter() - start
        summary = {
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()},
            "env_steps": int(model.num_timesteps),
            "episodes": log.episodes,
            "seconds": round(seconds, 1),
            "steps_per_s": round((model.num_timesteps - before) / max(seconds, 1e-9), 1),
            "interrupted": interrupted,
        }
        model.save(str(out / "ppo.zip"))
        save_rl_policy(policy_state_from_sb3(model.policy.state_dict()), policy, out / "weights", summary)
        (out / "training.json").write_text(json.dumps(summary, indent=2) + "\n")
        return summary

    log = EpisodeLog(out / "episodes.csv", save, config.checkpoint_steps)
    interrupted = False
    try:
        model.learn(
            total_timesteps=config.total_steps,
            callback=log,
            progress_bar=True,
            reset_num_timesteps=config.resume is None,
        )
    except KeyboardInterrupt:
        interrupted = True
    finally:
        log._on_training_end()
        venv.close()
    summary = save(interrupted)
    plot_learning_curve(out / "episodes.csv", out / "learning_curve.png")
    return summary


def read_episodes(path: Path) -> dict[str, np.ndarray]:
    """``episodes.csv`` as columns (empty arrays if no episode finished)."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    return {c: np.array([r[c] for r in rows], dtype=object if c == "scenario" else float) for c in EPISODE_COLUMNS}


def plot_learning_curve(episodes_csv: Path, path: Path, window: int = 50) -> Path:
    """Return, collision rate and route completion against env steps, each a moving mean over ``window`` episodes."""
    data = read_episodes(episodes_csv)
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    steps = data["env_steps"]
    for ax, (column, label) in zip(
        axes, (("return", "episode return"), ("collision", "collision rate"), ("route_completion", "route completion"))
    ):
        values = data[column]
        if len(values):
            ax.plot(steps, values, ".", alpha=0.15, color="grey", markersize=3)
            width = max(1, min(window, len(values)))
            smooth = np.convolve(values, np.ones(width) / width, mode="valid")
            ax.plot(steps[width - 1 :], smooth, color="tab:blue", label=f"mean of {width} episodes")
            ax.legend(fontsize=8)
        ax.set_xlabel("env steps")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x / 1000:g}k" if x else "0"))
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.suptitle("PPO on the bird's-eye occupancy observation")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_rl_card(weights: Path, training: Path | None = None, suite: Path | None = None) -> Path:
    """``MODEL_CARD.md`` (and ``learning_curve.png``) in ``weights``: training run, size, suite table per planner."""
    from occsim.suite.report import load_results
    from occsim.suite.summary import summarise

    weights = Path(weights)
    size_mb = (weights / "model.safetensors").stat().st_size / 1e6
    lines = [
        "# `rl`: PPO on the bird's-eye occupancy observation",
        "",
        "stable-baselines3 PPO, `CnnPolicy` (NatureCNN and a linear action head) over the last bird's-eye images "
        "(`occsim.geometry.bev_layers`: road, route, vehicles, vulnerable road users, cones and barriers, static "
        "structure; 64 × 64 cells of 1.2 m), stacked on the channel axis. Its action is a speed along the route "
        'ahead and a lateral offset from it (`action_type="route"`). A privileged planner: it reads the occupancy '
        "window and the route, not the cameras.",
        "",
        f"Weights: {size_mb:.2f} MB of safetensors.",
    ]
    if training is not None:
        summary = json.loads((Path(training) / "training.json").read_text())
        cfg = summary["config"]
        lines += [
            "",
            "## Training",
            "",
            f"- Command: `occsim train-rl --out {cfg['out_dir']} --scenarios {cfg['scenarios']} "
            f"--steps {cfg['total_steps']} --envs {cfg['num_envs']} --seed {cfg['seed']}"
            + (f" --resume {cfg['resume']}`" if cfg.get("resume") else "`")
            + (
                " (resumed: the env steps count from the first run's start, the episodes and minutes are this run's)"
                if cfg.get("resume")
                else ""
            ),
            f"- Data: {SCENARIO_SETS.get(cfg['scenarios'], cfg['scenarios'])}, one drawn per episode with the "
            "scenario's own weather.",
            f"- {summary['env_steps']:,} env steps in all, {summary['episodes']:,} episodes, "
            f"{summary['seconds'] / 60:.1f} min on this machine "
            f"({summary['steps_per_s']} steps/s including the PPO updates)"
            + (" — stopped early with Ctrl-C" if summary["interrupted"] else ""),
            f"- PPO: {cfg['num_envs']} worlds × {cfg['n_steps']} steps per update, batch {cfg['batch_size']}, "
            f"{cfg['epochs']} epochs, learning rate {cfg['learning_rate']}, γ {cfg['gamma']}, "
            f"entropy {cfg['ent_coef']}, {cfg['stack']} stacked images; reward weights "
            f"{cfg['reward'] or 'the env defaults'}",
            "",
            "![learning curve](learning_curve.png)",
        ]
        curve = Path(training) / "learning_curve.png"
        if curve.is_file() and curve.resolve() != (weights / "learning_curve.png").resolve():
            (weights / "learning_curve.png").write_bytes(curve.read_bytes())
    if suite is not None:
        records = load_results(Path(suite))
        rows = summarise(records)
        splits = sorted({r.origin.benchmark or "the built-in suite" for r in records})
        held_out = all(split.endswith("/test") for split in splits)
        lines += [
            "",
            f"## Suite on {', '.join(splits)} (`{Path(suite).name}`)",
            "",
            "Held out: the policy never trained on these instances."
            if held_out
            else "Not held out where training used these scenarios (`--scenarios builtin` or `both`): "
            "this measures learning, not generalisation.",
            "",
            "| planner | weather | runs | NCAP | collision rate | route completion | PDMS |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            lines.append(
                f"| {row['planner']} | {row['weather']} | {row['runs']} | {row['ncap']:.2f} | "
                f"{row['collision_rate']:.2f} | {row['route_completion']:.2f} | {row['pdms']:.2f} |"
            )
    lines += ["", "## Limits", "", RL_LIMITS]
    path = weights / "MODEL_CARD.md"
    path.write_text("\n".join(lines) + "\n")
    return path


SCENARIO_SETS = {  # what ``train-rl --scenarios`` trains on, in words for the card
    "builtin": "the 12 built-in scenarios",
    "longtail-train": "the long-tail benchmark's train split (longtail-v1: 16 families × 40 instances)",
    "both": "the 12 built-in scenarios and the long-tail benchmark's train split (longtail-v1: 16 families × 40 "
    "instances), never its test split",
}
RL_LIMITS = (
    "A privileged policy: it reads the occupancy window and the route from the simulator, so it measures what a "
    "planner could do with perfect perception, not a camera-based planner. It has seen only OccSim's procedural "
    "roads and scenario families; new families (rather than new instances of the trained ones) are untested. Its "
    "speed is capped at 15 m/s by the route action, and it plans along the route with a lateral offset of at most "
    "one lane, so it cannot choose another route."
)
