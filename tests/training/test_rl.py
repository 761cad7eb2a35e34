"""``occsim train-rl``: a short PPO run finishes and saves, Ctrl-C saves, and the exported planner is the policy."""

import json

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO

from occsim.envs import OccSimEnv
from occsim.planners import make_planner
from occsim.planners.rl import BevPolicyNet, RlPlanner, load_rl_policy
from occsim.scenarios import load_scenario
from occsim.suite.episode import run_episode
from occsim.training.configs import RlConfig
from occsim.training.rl import EpisodeLog, read_episodes, train_rl, write_rl_card
from occsim.types import PlannerInput, PrivilegedInput

SMOKE = dict(total_steps=2000, num_envs=2, n_steps=64, batch_size=64, epochs=2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("rl")
    summary = train_rl(RlConfig(out_dir=out, **SMOKE))
    return out, summary


@pytest.mark.slow
def test_a_2000_step_ppo_run_finishes_logs_and_saves(trained):
    out, summary = trained
    assert summary["env_steps"] >= 2000 and not summary["interrupted"] and summary["episodes"] > 0
    for name in ("progress.csv", "episodes.csv", "learning_curve.png", "ppo.zip", "training.json"):
        assert (out / name).is_file(), name
    episodes = read_episodes(out / "episodes.csv")
    assert len(episodes["return"]) == summary["episodes"] and set(episodes["collision"]) <= {0.0, 1.0}
    assert (out / "weights" / "model.safetensors").stat().st_size < 20e6
    card = write_rl_card(out / "weights", out)
    assert "2,0" in card.read_text() and (out / "weights" / "learning_curve.png").is_file()


def test_the_exported_policy_is_sb3s_deterministic_policy(trained):
    out, _ = trained
    model = PPO.load(str(out / "ppo.zip"), device="cpu")  # our own file, written by the run above
    net = load_rl_policy(out / "weights")
    stacked = np.random.default_rng(0).choice([0, 255], size=(5, 64, 64, net.config.channels)).astype(np.uint8)
    expected, _ = model.predict(stacked, deterministic=True)
    with torch.no_grad():
        got = net(torch.from_numpy(stacked)).numpy()
    assert np.allclose(got, expected, atol=1e-5)


def test_the_rl_planner_drives_a_suite_episode_and_plans_as_the_env_executes(trained):
    out, _ = trained
    result = run_episode(load_scenario("bus_ahead"), f"rl:{out / 'weights'}", seed=0, camera_hw=(16, 28))
    assert result.steps > 0 and result.outcome in ("collision", "goal", "timeout")
    env = OccSimEnv("cut_in", camera_hw=(16, 28), privileged=True, action_type="route")
    obs, info = env.reset(seed=0)
    planner = RlPlanner(out / "weights")
    planner.reset(info)
    plan = planner.plan(PlannerInput.from_observation(obs, 0.0), PrivilegedInput.from_observation(obs, info["road"]))
    action = planner.net(torch.from_numpy(planner._stack[None])).detach().numpy()[0]
    env.step(action)
    assert np.allclose(env._last_plan.points, plan.points)
    with pytest.raises(ValueError, match="privileged"):
        planner.plan(PlannerInput.from_observation(obs, 0.0), None)


def test_ctrl_c_stops_and_still_saves(tmp_path, monkeypatch):
    calls = {"n": 0}
    original = EpisodeLog._on_step

    def interrupt(self):
        calls["n"] += 1
        if calls["n"] == 40:
            raise KeyboardInterrupt
        return original(self)

    monkeypatch.setattr(EpisodeLog, "_on_step", interrupt)
    summary = train_rl(RlConfig(out_dir=tmp_path, **SMOKE))
    assert summary["interrupted"] and summary["env_steps"] < 2000
    assert json.loads((tmp_path / "training.json").read_text())["interrupted"]
    assert isinstance(load_rl_policy(tmp_path / "weights"), BevPolicyNet)


def test_missing_weights_say_how_to_make_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="train-rl"):
        make_planner(f"rl:{tmp_path}")


def test_resume_goes_on_from_a_checkpoint_and_appends_the_log(trained, tmp_path):
    out, first = trained
    (tmp_path / "episodes.csv").write_bytes((out / "episodes.csv").read_bytes())
    before = len(read_episodes(tmp_path / "episodes.csv")["return"])
    config = dict(SMOKE, total_steps=500, checkpoint_steps=256)
    summary = train_rl(RlConfig(out_dir=tmp_path, resume=out / "ppo.zip", **config))
    assert summary["env_steps"] >= first["env_steps"] + 500
    assert len(read_episodes(tmp_path / "episodes.csv")["return"]) > before
    with pytest.raises(FileNotFoundError, match="resume"):
        train_rl(RlConfig(out_dir=tmp_path, resume=tmp_path / "missing.zip", **config))
