import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from occsim.classes import CAR, TRAFFIC_CONE
from occsim.planners.vision import VisionConfig, load_vision
from occsim.scenarios import load_scenario
from occsim.suite.splits import load_split
from occsim.training.collect import collect, perturb, split_jobs
from occsim.training.configs import CollectConfig, Perturbation, TrainConfig
from occsim.training.planner import train, warmup_fraction
from occsim.training.planner_data import (
    _future_boxes,
    jitter_views,
    load_dataset,
    split_by_episode,
    tiled_window_count,
    tiled_windows,
)

TINY = VisionConfig(input_hw=(32, 56), image_channels=8, bev_channels=8, query_channels=16, attention_layers=1)


def test_perturbations_rotate_or_stretch_the_plan():
    plan = np.stack([np.arange(1, 7) * 5.0, np.zeros(6)], axis=1)
    turned = perturb(plan, "yaw", np.pi / 2)
    assert turned == pytest.approx(np.stack([np.zeros(6), np.arange(1, 7) * 5.0], axis=1))
    assert perturb(plan, "speed", 0.5)[:, 0] == pytest.approx(np.arange(1, 7) * 2.5)
    with pytest.raises(ValueError):
        perturb(plan, "wobble", 1.0)


def test_future_boxes_are_later_steps_in_the_current_ego_frame():
    agents = np.full((4, 2, 6), -1.0, np.float32)
    agents[:, 0] = [[10 + t, 5, np.pi / 2, 4.5, 1.9, CAR] for t in range(4)]
    agents[:, 1, 5] = TRAFFIC_CONE  # not in VAD's metric classes
    ego_pose = np.array([[0, 0, np.pi / 2], [0, 1, np.pi / 2], [0, 2, np.pi / 2]], np.float32)
    boxes, valid = _future_boxes(agents, ego_pose)
    assert boxes.shape == (3, 6, 2, 5)
    # step 0, future 0 is agents[1]: world (11, 5) seen from (0, 0) heading north: 5 m ahead, 11 m to the right
    assert boxes[0, 0, 0, :3] == pytest.approx([5.0, -11.0, 0.0])
    assert valid[0, :3, 0].all() and not valid[0, 3:, 0].any()  # only 3 later steps exist
    assert not valid[..., 1].any()
    assert valid[2, 0, 0] and not valid[2, 1:].any()  # the state after the last step


def test_collect_then_train_end_to_end(tmp_path):
    data = tmp_path / "data"
    config = CollectConfig(
        out_dir=data,
        episodes_per_scenario=2,
        camera_hw=(32, 56),
        image_hw=TINY.input_hw,
        perturbation=Perturbation(probability=0.5),
    )
    meta = collect([load_scenario("bus_ahead")], config)
    files = sorted(data.glob("*.npz"))
    assert meta["episodes"] == 2 and len(files) == 2 and not meta["errors"]
    assert meta["collected_now"] == 2 and meta["seconds"] > 0
    with np.load(files[0]) as episode:
        steps = len(episode["plan"])
        assert episode["images"].shape == (steps, 6, 32, 56, 3)
        assert episode["bev"].shape == (steps, 3, 40, 40) and episode["bev"][:, 2].any()  # road is driveable
        assert episode["agents"].shape[0] == steps + 1
        assert episode["perturbed"].any()
        assert episode["plan"][0, -1, 0] > 10  # the expert drives on at the start
    assert meta["samples"] == sum(len(np.load(f)["plan"]) for f in files)
    stamps = [f.stat().st_mtime_ns for f in files]
    collect([load_scenario("bus_ahead")], config)  # resumes: nothing to redo
    assert [f.stat().st_mtime_ns for f in files] == stamps

    dataset = load_dataset(data)
    train_index, val_index = split_by_episode(dataset, 0.5, seed=0)
    assert len(train_index) and len(val_index)
    assert not set(dataset.episode[train_index]) & set(dataset.episode[val_index])

    out = tmp_path / "weights"
    summary = train(TrainConfig(data_dir=data, out_dir=out, epochs=2, batch_size=4, val_fraction=0.5), TINY)
    assert summary["samples"] == meta["samples"] and len(summary["history"]) == 2
    assert {"val_L2_1s", "val_L2_3s", "val_collision_3s"} <= set(summary["best"])
    assert summary["history"][1]["train_plan_l1"] < summary["history"][0]["train_plan_l1"]
    assert json.loads((out / "metrics.json").read_text())["best_epoch"] in (1, 2)
    assert (out / "training.png").stat().st_size > 0
    assert load_vision(out).config == TINY

    # The same weights go on as a temporal network: trained layers kept, the fusion learned over 3-frame windows,
    # and the validation predictions made in step order with the memory carried.
    temporal = tmp_path / "temporal"
    config = TrainConfig(
        data_dir=data, out_dir=temporal, epochs=1, batch_size=2, val_fraction=0.5, init_from=out, temporal=True
    )
    summary = train(replace(config, sequence=3))
    assert load_vision(temporal).config == replace(TINY, temporal=True)
    assert summary["config"]["sequence"] == 3 and np.isfinite(summary["best"]["val_L2_3s"])
    kept = load_vision(temporal).state_dict()
    assert any(k.startswith("temporal_") for k in kept)
    with pytest.raises(ValueError, match="consecutive frames"):
        train(replace(config, sequence=10_000, out_dir=tmp_path / "none"))


def test_tiled_windows_stay_inside_one_episode_never_overlap_and_move_with_the_offset():
    episodes = _Sized(np.repeat([0, 1, 2, 3], [3, 2, 7, 9]))
    seen_offsets = set()
    rng = np.random.default_rng(0)
    for _ in range(30):
        starts = tiled_windows(episodes, 3, rng)
        frames = (starts[:, None] + np.arange(3)).ravel()
        assert len(set(frames.tolist())) == len(frames)  # no frame twice in an epoch
        assert all(len(set(episodes.episode[s : s + 3].tolist())) == 1 for s in starts)  # inside one episode
        assert len(starts) >= tiled_window_count(episodes, 3) == 0 + 0 + 1 + 2  # whatever the offsets
        assert set(episodes.episode[starts].tolist()) >= {2, 3}  # an episode shorter than a window gives none
        seen_offsets.add(int(starts[episodes.episode[starts] == 3][0]) - 12)
    assert seen_offsets == {0, 1, 2}


class _Sized:
    def __init__(self, episode):
        self.episode = episode

    def __len__(self):
        return len(self.episode)


def test_training_without_data_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="occsim collect"):
        train(TrainConfig(data_dir=tmp_path, out_dir=tmp_path / "w"))


@pytest.mark.parametrize("total", [1, 2, 3, 10, 11, 20, 1000])
def test_the_learning_rate_schedule_takes_any_number_of_steps(total):
    optimiser = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, 0.1, total_steps=total, pct_start=warmup_fraction(total))
    rates = []
    for _ in range(total):
        rates.append(optimiser.param_groups[0]["lr"])
        optimiser.step()
        schedule.step()  # raised ZeroDivisionError at 10 steps with pct_start 0.1
    # Every step gets a finite rate at or under the peak, and the last is the smallest (the cycle runs down).
    assert all(0.0 < r <= 0.1 + 1e-12 for r in rates)
    assert rates[-1] == min(rates)


def test_collect_on_a_benchmark_split_with_a_learned_driver(tmp_path):
    split = load_split("longtail", "train")
    jobs = split_jobs(replace(split, families={"cut_in": split.families["cut_in"]}), episodes=2)
    assert [j.weather for j in jobs] == ["clear", "fog"] and jobs[0].seed == split.families["cut_in"].seeds[0]
    config = CollectConfig(
        out_dir=tmp_path / "dagger",
        camera_hw=(32, 56),
        image_hw=(64, 112),
        driver="vision",
        expert_share=0.0,
        background_seeds=True,
    )
    meta = collect([], config, jobs=jobs)
    assert meta["episodes"] == 2 and not meta["errors"]
    with np.load(tmp_path / "dagger" / jobs[1].file_name) as episode:
        assert episode["driven"].all() and not episode["perturbed"].any() and str(episode["weather"]) == "fog"
        learner_path = episode["ego_pose"]
        labels = episode["plan"]
    expert = collect([], replace(config, out_dir=tmp_path / "expert", driver=None, expert_share=1.0), jobs=jobs[1:])
    assert expert["episodes"] == 1
    with np.load(tmp_path / "expert" / jobs[1].file_name) as episode:
        assert not episode["driven"].any()
        # the same start, then the learner's own states (labelled by the expert) instead of the expert's
        assert np.allclose(episode["ego_pose"][0], learner_path[0])
        n = min(len(learner_path), len(episode["ego_pose"]))
        assert not np.allclose(episode["ego_pose"][:n], learner_path[:n], atol=0.05)
    assert np.isfinite(labels).all()


def test_views_jitter_within_range_and_training_goes_on_from_saved_weights_over_two_folders(tmp_path):
    images = torch.full((2, 6, 3, 4, 4), 0.5)
    jittered = jitter_views(images, np.random.default_rng(0))
    assert jittered.shape == images.shape and 0.0 <= jittered.min() and jittered.max() <= 1.0
    assert not torch.allclose(jittered[0], jittered[1]) and not torch.allclose(jittered[0, 0], jittered[0, 1])
    data = {}
    for name in ("a", "b"):
        config = CollectConfig(
            out_dir=tmp_path / name, episodes_per_scenario=1, camera_hw=(32, 56), image_hw=TINY.input_hw
        )
        collect([load_scenario("bus_ahead" if name == "a" else "cut_in")], config)
        data[name] = tmp_path / name
    first = train(
        TrainConfig(data_dir=data["a"], out_dir=tmp_path / "w1", epochs=1, batch_size=4, val_fraction=0.0), TINY
    )
    again = TrainConfig(
        data_dir=data["a"],
        out_dir=tmp_path / "w2",
        more_data=(data["b"],),
        init_from=tmp_path / "w1",
        epochs=1,
        batch_size=4,
        val_fraction=0.0,
        augment=True,
        learning_rate=0.0,
    )
    summary = train(again)
    assert summary["episodes"] == 2 and summary["samples"] > first["samples"]
    # with a zero learning rate the weights stay those it started from
    start, end = load_vision(tmp_path / "w1").state_dict(), load_vision(tmp_path / "w2").state_dict()
    assert all(torch.equal(start[k], end[k]) for k in start if "running" not in k and "num_batches" not in k)


def test_collect_command_on_a_benchmark_folder(tmp_path):
    from typer.testing import CliRunner

    from occsim.cli import app
    from occsim.scenarios import family_paths
    from occsim.suite.splits import make_benchmark

    families = [p for p in family_paths() if p.stem == "debris"]
    bench = make_benchmark(
        families, tmp_path, "one", 1, test_instances=1, train_instances=2, weathers=["clear", "night"]
    )
    args = ["collect", "--benchmark", str(bench), "--episodes", "2", "--camera-hw", "32x56", "--background-seeds"]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "data").glob("*.npz"))
    assert len(names) == 2 and names[0].endswith("__clear.npz") != names[1].endswith("__clear.npz")
    both = CliRunner().invoke(app, [*args, "--scenarios", "bus_ahead", "--out", str(tmp_path / "x")])
    assert both.exit_code != 0 and "not both" in both.output
    # --start: a later slice of each family (a DAgger round's), here the second instance alone
    later = [*args[:3], "--start", "1", "--episodes", "1", "--camera-hw", "32x56", "--out", str(tmp_path / "later")]
    result = CliRunner().invoke(app, later)
    assert result.exit_code == 0, result.output
    second = load_split(str(bench), "train").families["debris"].seeds[1]
    assert [p.name.split("__")[1] for p in (tmp_path / "later").glob("*.npz")] == [str(second)]
    past = CliRunner().invoke(app, [*args[:3], "--start", "2", "--out", str(tmp_path / "y")])
    assert past.exit_code == 2 and "2 instances per family" in past.output
    alone = CliRunner().invoke(app, ["collect", "--start", "1", "--out", str(tmp_path / "z")])
    assert alone.exit_code == 2 and "--start takes a --benchmark" in alone.output
    no_bench = CliRunner().invoke(app, ["collect", "--family", "debris", "--out", str(tmp_path / "z")])
    assert no_bench.exit_code == 2 and "--family takes a --benchmark" in no_bench.output


def test_a_lesson_on_a_few_families_of_a_split(tmp_path):
    from occsim.scenarios import family_paths
    from occsim.suite.splits import BenchmarkError, make_benchmark
    from occsim.training.collect import benchmark_jobs

    families = [p for p in family_paths() if p.stem in ("debris", "cut_in", "frontal_drift")]
    bench = make_benchmark(families, tmp_path, "three", 1, test_instances=1, train_instances=3, weathers=["clear"])
    train = load_split(str(bench), "train")
    everything = benchmark_jobs(str(bench), "train", 0, None, [])
    assert len(everything) == 9
    jobs = benchmark_jobs(str(bench), "train", 1, 2, [], families=["frontal_drift", "debris"])
    wanted = [*train.families["frontal_drift"].seeds[1:], *train.families["debris"].seeds[1:]]
    assert [j.seed for j in jobs] == wanted
    with pytest.raises(BenchmarkError, match="no family 'frontal_drfit'.*frontal_drift"):
        benchmark_jobs(str(bench), "train", 0, None, [], families=["frontal_drfit"])


def test_bev_scores_and_the_objects_weight():
    from occsim.training.planner import bev_scores

    truth = np.zeros((2, 3, 4, 4), bool)
    truth[:, 0, 1, 1] = True  # one object cell per frame
    truth[:, 2] = True  # all road
    predicted = np.zeros_like(truth)
    predicted[0, 0, 1, 1] = predicted[0, 0, 2, 2] = True  # frame 0: the object and a false one; frame 1: missed
    predicted[:, 2, :2] = True
    scores = bev_scores(predicted, truth)
    assert scores["objects_precision"] == 0.5 and scores["objects_recall"] == 0.5
    assert scores["bev_iou_objects"] == pytest.approx(1 / 3) and scores["bev_iou_driveable"] == 0.5
    assert scores["bev_iou_static"] == 1.0  # nothing to find, nothing found
    assert np.isnan(bev_scores(np.zeros_like(truth), truth)["objects_precision"])  # nothing predicted


def test_zoom_data_train_a_zoom_network_from_six_view_weights_and_mixed_data_are_refused(tmp_path):
    from occsim.training.planner import evaluate_weights

    folders = {}
    for zoom in (1.0, 2.0):
        folders[zoom] = tmp_path / f"zoom{zoom:g}"
        config = CollectConfig(
            out_dir=folders[zoom], episodes_per_scenario=1, camera_hw=(64, 112), image_hw=TINY.input_hw, zoom=zoom
        )
        collect([load_scenario("bus_ahead")], config)
    with np.load(next(folders[2.0].glob("*.npz"))) as episode, np.load(next(folders[1.0].glob("*.npz"))) as plain:
        assert episode["images"].shape[1:] == (7, 32, 56, 3) and float(episode["zoom"]) == 2.0
        assert episode["intrinsics"].shape == (7, 3, 3) and episode["cam2ego"].shape == (7, 4, 4)
        # the same rollout: the zoom view is added, the six views are untouched
        assert np.array_equal(episode["images"][:, :6], plain["images"])
    six = tmp_path / "six"
    base = TrainConfig(data_dir=folders[1.0], out_dir=six, epochs=1, batch_size=4, val_fraction=0.0)
    train(base, TINY)
    zoomed = replace(base, data_dir=folders[2.0], out_dir=tmp_path / "seven", init_from=six)
    summary = train(zoomed)
    assert summary["vision"]["zoom"] == 2.0 and load_vision(tmp_path / "seven").config.views == 7
    # six-view weights read the first six views of zoom data, so old and new compare on the same episodes
    rows = evaluate_weights([six, tmp_path / "seven"], load_dataset(folders[2.0]))
    assert all(np.isfinite(row["L2_3s"]) for row in rows)
    with pytest.raises(ValueError, match="different zoom"):
        load_dataset(folders[1.0], folders[2.0])
    with pytest.raises(ValueError, match="7 views"):
        evaluate_weights([tmp_path / "seven"], load_dataset(folders[1.0]))


def test_hidden_actors_change_only_the_pictures_of_the_frames_flagged_hidden(tmp_path):
    from occsim.scenarios import load_scenario
    from occsim.training.collect import _collect_episode

    scenario = load_scenario("cut_in")
    arrays = {
        hide: _collect_episode(scenario, 3, "clear", CollectConfig(out_dir=tmp_path, camera_hw=(32, 56), hide=hide))
        for hide in (0.0, 0.5)
    }
    plain, hidden = arrays[0.0], arrays[0.5]
    assert not plain["hidden"].any() and hidden["hidden"].any() and not hidden["hidden"].all()
    # The expert and the world do not see the hiding: the same labels, poses and BEV targets.
    for key in ("plan", "ego_pose", "bev"):
        assert np.array_equal(plain[key], hidden[key]), key
    differs = [not np.array_equal(a, b) for a, b in zip(plain["images"], hidden["images"])]
    assert not any(d for d, h in zip(differs, hidden["hidden"]) if not h)  # unflagged frames are untouched
    assert any(differs)
    with pytest.raises(ValueError, match="hide"):
        CollectConfig(out_dir=tmp_path, hide=1.5)


def test_hide_max_speed_hides_only_the_slow_actors(tmp_path):
    from types import SimpleNamespace

    from occsim.training.collect import _choose_hidden
    from occsim.types import ActorState, Pose2D

    def actor(name, x, speed, velocity):
        return ActorState(name, 1, Pose2D(x, 0.0, 0.0), speed, (4.0, 2.0, 1.5), velocity)

    actors = [
        actor("parked", 10.0, 0.0, (0.0, 0.0)),
        actor("driving", 12.0, 8.0, (8.0, 0.0)),
        actor("changing_lane", 14.0, 0.3, (0.0, 2.0)),  # slow along its heading, fast sideways
        actor("far_parked", 80.0, 0.0, (0.0, 0.0)),  # beyond HIDE_RANGE
    ]
    world = SimpleNamespace(ego=SimpleNamespace(pose=Pose2D(0.0, 0.0, 0.0)), actor_states=lambda: actors)
    env = SimpleNamespace(sim=SimpleNamespace(world=world))
    chosen = {}
    for limit in (None, 1.0):
        config = CollectConfig(out_dir=tmp_path, hide=1.0, hide_steps=1, hide_max_speed=limit)
        rng, hiding, seen = np.random.default_rng(0), SimpleNamespace(hidden=set()), set()
        for _ in range(60):
            _choose_hidden(env, hiding, {"hide_left": 0}, rng, config)
            seen |= hiding.hidden
        chosen[limit] = seen
    assert chosen[None] == {"parked", "driving", "changing_lane"}
    assert chosen[1.0] == {"parked"}
    with pytest.raises(ValueError, match="hide_max_speed"):
        CollectConfig(out_dir=tmp_path, hide_max_speed=-1.0)


def test_hidden_frames_weigh_hidden_weight_in_the_bev_loss(tmp_path):
    from occsim.planners.vision import VisionPlannerNet
    from occsim.training.planner import losses, sequence_losses

    config = CollectConfig(
        out_dir=tmp_path, episodes_per_scenario=1, camera_hw=(32, 56), image_hw=TINY.input_hw, hide=0.5
    )
    collect([load_scenario("cut_in")], config)
    dataset = load_dataset(tmp_path)
    assert dataset.hidden.any() and not dataset.hidden.all()
    index = np.array([np.flatnonzero(dataset.hidden)[0], np.flatnonzero(~dataset.hidden)[0]])
    torch.manual_seed(0)
    net = VisionPlannerNet(TINY).eval()
    bev = {w: losses(net, dataset, index, 1.0, hidden_weight=w)["bev"].item() for w in (0.0, 1.0, 3.0)}
    shown_only = 2 * bev[0.0]  # the shown frame's BEV loss alone
    hidden_only = 2 * bev[1.0] - shown_only
    assert hidden_only > 0 and shown_only > 0
    assert bev[3.0] == pytest.approx((3 * hidden_only + shown_only) / 2, rel=1e-5)
    # A window's first frame remembers nothing, so its hidden actor is in no input: it weighs 0, whatever the weight.
    temporal = VisionPlannerNet(replace(TINY, temporal=True)).eval()
    first = sequence_losses(temporal, dataset, index[:1], 1, 1.0, hidden_weight=3.0)
    assert first["bev"].item() == 0.0 and first["plan"].item() > 0
    with pytest.raises(ValueError, match="hidden-weight"):
        TrainConfig(data_dir=tmp_path, out_dir=tmp_path, hidden_weight=-1.0)
