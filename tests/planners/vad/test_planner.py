import gymnasium as gym
import numpy as np
import pytest
import torch

from occsim.planners import make_planner
from occsim.planners.vad import VADPlanner
from occsim.types import PlannerInput


def observations(n: int, seed: int = 0):
    env = gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=(32, 56))
    obs, _ = env.reset(seed=seed)
    frames = [PlannerInput.from_observation(obs, 0.0)]
    for k in range(1, n):
        obs, *_ = env.step(np.stack([np.arange(1, 7) * 4.0, np.zeros(6)], axis=1))
        frames.append(PlannerInput.from_observation(obs, 0.5 * k))
    return frames


def test_three_frames_give_finite_plans_and_a_new_episode_starts_over(small_folder):
    planner = make_planner(f"vad:{small_folder}")
    assert isinstance(planner, VADPlanner) and planner.model.cfg.name == "small"
    frames = observations(3)
    planner.reset({})
    first = planner.predict(frames[0])
    assert planner.model.state.prev_bev is not None
    plans = [planner.plan(frame).points for frame in frames[1:]]  # Trajectory checks shape and finiteness
    assert not np.allclose(plans[0], plans[1])  # the frames (and the carried BEV) change the plan
    # the previous BEV is used: frame 2 after frame 1 differs from frame 2 on its own
    planner.reset({})
    alone = planner.predict(frames[1])["bev_embed"]
    planner.reset({})
    planner.predict(frames[0])
    after = planner.predict(frames[1])["bev_embed"]
    assert not torch.allclose(alone, after)
    # a new episode drops it: the first frame again gives the first frame's outputs
    planner.reset({})
    again = planner.predict(frames[0])
    for key in ("bev_embed", "ego_fut_preds", "all_cls_scores"):
        assert torch.equal(first[key], again[key])


def test_the_command_picks_one_of_the_three_ego_trajectories(small_folder):
    planner = VADPlanner(str(small_folder))
    frame = observations(1)[0]
    plans = []
    for command in (0, 1, 2):
        planner.reset({})
        plans.append(planner.plan(PlannerInput(**{**frame.as_dict(), "command": command})).points)
    assert not np.allclose(plans[0], plans[1]) and not np.allclose(plans[1], plans[2])


def test_vad_without_weights_says_how_to_give_them():
    with pytest.raises(ValueError, match="vad:PATH"):
        make_planner("vad")


def test_folded_channels_last_inference_matches_the_plain_model(small_folder):
    from occsim.planners.vad import load_model
    from occsim.planners.vad.contract import VADInputBuilder

    plain, fast = load_model(small_folder).eval(), load_model(small_folder).prepare_for_inference()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    builder = VADInputBuilder(scale=plain.cfg.scale)
    for frame in observations(2):
        inputs = builder.build(frame.as_dict())
        args = (
            torch.from_numpy(inputs.img)[None],
            inputs.img_metas["can_bus"],
            np.stack(inputs.img_metas["lidar2img"]),
        )
        a, b = plain.step(*args, "s"), fast.step(*args, "s")
        for key in ("bev_embed", "all_bbox_preds", "map_all_pts_preds", "ego_fut_preds"):
            assert torch.allclose(a[key], b[key], atol=1e-4), key


@pytest.mark.slow
def test_a_suite_runs_vad_from_a_converted_folder_and_refuses_a_bad_path(tmp_path, small_folder):
    import json

    from typer.testing import CliRunner

    from occsim.cli import app

    out = tmp_path / "suite"
    args = ["suite", "bus_ahead", "--planner", f"vad:{small_folder}", "--camera-hw", "32x56", "--runs", "1"]
    result = CliRunner().invoke(app, [*args, "--no-video", "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 1 and records[0]["planner"] == f"vad:{small_folder}"
    assert records[0]["outcome"] != "error" and records[0]["steps"] > 0
    bad = CliRunner().invoke(
        app, ["suite", "bus_ahead", "--planner", f"vad:{tmp_path / 'nothing.pth'}", "--out", str(tmp_path / "b")]
    )
    assert bad.exit_code == 2 and "nothing.pth: no such checkpoint" in bad.output


def test_the_image_encoder_dtype_is_bf16_only_where_the_cpu_has_it(small_folder, monkeypatch):
    from occsim.planners.vad.planner import DTYPE_VARIABLE, encoder_dtype, native_bf16

    cpu = torch.device("cpu")
    assert encoder_dtype("auto", cpu) == (torch.bfloat16 if native_bf16(cpu) else torch.float32)
    assert encoder_dtype("float32", cpu) == torch.float32
    with pytest.raises(ValueError, match="'fp8' is not one of auto, float32"):
        encoder_dtype("fp8", cpu)
    exact = VADPlanner(str(small_folder), dtype="float32")
    assert exact.model.backbone_dtype == torch.float32
    assert next(exact.model.img_backbone.parameters()).dtype == torch.float32
    monkeypatch.setenv(DTYPE_VARIABLE, "bfloat16")
    assert VADPlanner(str(small_folder)).model.backbone_dtype == torch.bfloat16
    monkeypatch.setenv(DTYPE_VARIABLE, "fp8")
    assert any("OCCSIM_VAD_DTYPE" in p for p in VADPlanner.check_argument(str(small_folder)))
