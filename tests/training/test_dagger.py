"""DAgger end to end on a tiny benchmark: rounds collect with the learner driving, train on all data, score held out."""

import json

import numpy as np
import pytest

from occsim.scenarios import family_paths
from occsim.suite.splits import make_benchmark
from occsim.training.configs import DaggerConfig
from occsim.training.dagger import run_dagger


@pytest.mark.slow
def test_two_dagger_rounds_then_a_rerun_that_resumes(tmp_path):
    families = [p for p in family_paths() if p.stem in ("stationary_vehicle", "cut_in")]
    bench = make_benchmark(
        families, tmp_path, "tiny", 1, test_instances=1, train_instances=2, val_instances=1, weathers=["clear"]
    )
    config = DaggerConfig(
        out_dir=tmp_path / "dagger",
        benchmark=str(bench),
        rounds=2,
        episodes_per_round=1,
        expert_share=0.5,
        epochs=1,
        fine_tune_epochs=1,
        batch_size=8,
        collect_camera_hw=(32, 56),
        eval_instances=1,
        eval_weathers=("clear",),
        eval_camera_hw=(32, 56),
        evaluate_start=False,
        workers=1,
    )
    records = run_dagger(config)
    assert [r.round for r in records] == [0, 1] and all(r.scores and r.episodes == 2 for r in records)
    # round 0 is the expert's alone; in round 1 (β = 0.5) the learner drives some steps
    assert records[0].driven_share == 0.0 and records[1].driven_share > 0.0 and records[1].expert_share == 0.5
    evaluated = (tmp_path / "dagger" / "round_1" / "eval" / "results.jsonl").read_text().splitlines()
    assert all(json.loads(line)["outcome"] != "error" for line in evaluated)
    round1 = json.loads((tmp_path / "dagger" / "round_1" / "weights" / "metrics.json").read_text())
    assert round1["config"]["init_from"].endswith("round_0/weights")
    assert round1["samples"] == records[0].samples + records[1].samples  # trained on both rounds' data
    summary = json.loads((tmp_path / "dagger" / "dagger.json").read_text())
    assert len(summary["rounds"]) == 2 and (tmp_path / "dagger" / "dagger.png").exists()
    episodes = sorted((tmp_path / "dagger").glob("round_*/data/*.npz"))
    stamps = [p.stat().st_mtime_ns for p in [*episodes, tmp_path / "dagger" / "round_1" / "weights" / "metrics.json"]]
    again = run_dagger(config)  # everything is there: nothing is collected, trained or run again
    assert [p.stat().st_mtime_ns for p in [*episodes, tmp_path / "dagger" / "round_1/weights/metrics.json"]] == stamps
    assert again[1].scores == records[1].scores
    with np.load(episodes[-1]) as episode:
        assert "driven" in episode and np.isfinite(episode["plan"]).all()

    # The model card of round 1's weights: its rounds, held-out scores beside round 0's, open-loop side by side.
    weights, previous = tmp_path / "dagger" / "round_1" / "weights", tmp_path / "dagger" / "round_0" / "weights"
    from typer.testing import CliRunner

    from occsim.cli import app

    runner = CliRunner(env={"COLUMNS": "200"})
    result = runner.invoke(
        app, ["eval-planner", str(episodes[0].parent), "--weights", str(weights), "--weights", str(previous)]
    )
    assert result.exit_code == 0, result.output
    assert "round_1/weights" in result.output and "round_0/weights" in result.output
    result = runner.invoke(
        app,
        [
            "planner-card",
            str(weights),
            "--dagger",
            str(tmp_path / "dagger"),
            "--suite",
            str(tmp_path / "dagger" / "round_1" / "eval"),
            "--suite",
            str(tmp_path / "dagger" / "round_0" / "eval"),
            "--label",
            f"vision-net:{previous}=round 0",
            "--open-loop-data",
            str(episodes[0].parent),
            "--baseline",
            str(previous),
        ],
    )
    assert result.exit_code == 0, result.output
    card = (weights / "MODEL_CARD.md").read_text()
    assert "| 0 | 1.00 |" in card and "| 1 | 0.50 |" in card  # the rounds with their β
    assert "| round 0 | clear |" in card and "| vision-net | clear |" in card and "+0.00" in card  # one table
    assert card.count("## Closed loop on `tiny-v1/val`, raster renderer") == 1
    assert "| stationary_vehicle |" in card and "| cut_in |" in card
    assert card.count("| `") == 2 and "ms per `plan()`" in card and (weights / "bev.png").stat().st_size > 0


def test_the_card_lists_the_trainings_behind_its_weights_oldest_first(tmp_path):
    from occsim.training.planner_card import lineage

    def training(name: str, init_from: str | None, samples: int) -> str:
        folder = tmp_path / name
        folder.mkdir()
        best = {f"val_L2_{h}s": h / 10 for h in (1, 2, 3)}
        summary = {"command": f"train {name}", "samples": samples, "best": best, "config": {"init_from": init_from}}
        (folder / "metrics.json").write_text(json.dumps(summary))
        return str(folder)

    first = training("first", str(tmp_path / "gone"), 10)
    second = training("second", first, 20)
    steps = lineage(training("third", second, 30))
    assert len(steps) == 4 and "gone" in steps[0] and "not on this machine" in steps[0]
    assert [s.split("`")[1] for s in steps[1:]] == ["train first", "train second", "train third"]
    assert "20 samples; val L2 0.10 / 0.20 / 0.30 m" in steps[2]
    assert lineage(None) == []
    loop = training("loop", str(tmp_path / "loop"), 5)  # a folder that names itself ends the chain
    assert len(lineage(loop)) == 1


def test_card_labels_take_the_name_after_the_last_equals_sign():
    from occsim.training.planner_card import parse_labels

    labels = parse_labels(["vision:runs/guard/candidates/threshold=0.8,horizon=1=chosen guard", "vision-net:a=old"])
    assert labels == {"vision:runs/guard/candidates/threshold=0.8,horizon=1": "chosen guard", "vision-net:a": "old"}
    for bad in ("no-name=", "=no-spec", "nothing"):
        with pytest.raises(ValueError, match="SPEC=NAME"):
            parse_labels([bad])
