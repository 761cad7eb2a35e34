"""Versioned benchmark splits: making one, refusing an edited one, the shipped longtail, a split run by the suite."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from occsim.cli import app
from occsim.scenario import parse_scenario
from occsim.scenario.family import dump_instance
from occsim.scenarios import family_paths
from occsim.suite.splits import BenchmarkError, load_split, make_benchmark, split_tasks

runner = CliRunner()
TWO = [p for p in family_paths() if p.stem in ("cut_in", "debris")]

CHOICES_ONLY = """name: few_draws
family: {difficulty: {gap: "lead.s - ego.s"}}
map: {type: straight}
ego: {lane: 0, s: 20, speed: 10, goal_s: 160}
actors:
  - {id: lead, type: car, lane: 0, s: {choice: [50, 60, 70, 80, 90, 100]}}
"""


def _drawn(split) -> set[str]:
    return {json.dumps(instance.drawn, sort_keys=True) for _, _, instance in split.instances()}


def test_a_made_benchmark_has_disjoint_reproducible_splits_and_frozen_families(tmp_path):
    few = tmp_path / "few_draws.yaml"
    few.write_text(CHOICES_ONLY)
    folder = make_benchmark([*TWO, few], tmp_path / "a", "demo", 1, 3, 3, ["clear", "fog"], seed=5)
    again = make_benchmark([*TWO, few], tmp_path / "b", "demo", 1, 3, 3, ["clear", "fog"], seed=5)
    for split in ("test", "train"):
        assert (folder / f"{split}.yaml").read_text() == (again / f"{split}.yaml").read_text()
    test, train = load_split(str(folder), "test"), load_split(str(folder), "train")
    assert sorted(test.families) == ["cut_in", "debris", "few_draws"] and test.weathers == ("clear", "fog")
    assert test.label == "demo-v1/test" and all(len(f.seeds) == 3 for f in test.families.values())
    # six values of one choice: the splits still share none, even though the streams would repeat draws
    assert not _drawn(test) & _drawn(train) and len(_drawn(test)) == 9
    assert (folder / "families" / "debris.yaml").read_bytes() == TWO[1].read_bytes()
    with pytest.raises(BenchmarkError, match="never rewritten"):
        make_benchmark(TWO, tmp_path / "a", "demo", 1, 3, 3, ["clear"])
    with pytest.raises(BenchmarkError, match="too few distinct draws"):
        make_benchmark([few], tmp_path / "c", "demo", 1, 4, 4, ["clear"])


def test_an_edited_family_copy_is_refused_by_name(tmp_path):
    folder = make_benchmark(TWO, tmp_path, "demo", 2, 1, 1, ["clear"])
    copy = folder / "families" / "cut_in.yaml"
    copy.write_text(copy.read_text().replace("uniform: [9, 13]", "uniform: [9, 14]"))
    with pytest.raises(BenchmarkError, match=r"cut_in.yaml changed since demo v2 was made"):
        load_split(str(folder))
    with pytest.raises(BenchmarkError, match="no benchmark 'nope'; shipped: longtail"):
        load_split("nope")
    with pytest.raises(BenchmarkError, match=r"has no version 99; versions: \[1\]"):
        load_split("longtail", version=99)


def test_the_shipped_longtail_test_split_covers_the_families_and_every_instance_validates():
    split = load_split("longtail")
    assert split.label == "longtail-v1/test" and set(split.weathers) == {"clear", "fog", "rain", "night"}
    assert len(split.families) >= 12 and all(len(f.seeds) == 10 for f in split.families.values())
    train = load_split("longtail", "train")
    assert all(len(f.seeds) == 40 for f in train.families.values())
    for _, _, instance in split.instances():  # as plain YAML, through the full validator
        assert parse_scenario(dump_instance(instance)).name == instance.family
    chosen = ["cut_in", "oncoming_left_turn"]
    narrow = [replace(s, families={n: s.families[n] for n in chosen}) for s in (split, train)]
    assert not _drawn(narrow[0]) & _drawn(narrow[1])


def test_split_tasks_cross_instances_weathers_and_planners_and_refuse_unknowns():
    split = load_split("longtail")
    tasks = split_tasks(split, ["expert", "constant_velocity"], ["clear", "night"], limit=2, families=["debris"])
    assert len(tasks) == 2 * 2 * 2 and {t.weather for t in tasks} == {"clear", "night"}
    assert tasks[0].seed == split.families["debris"].seeds[0] and tasks[0].origin["benchmark"] == "longtail-v1/test"
    with pytest.raises(BenchmarkError, match="not snow"):
        split_tasks(split, ["expert"], ["snow"])
    with pytest.raises(BenchmarkError, match="did you mean 'debris'"):
        split_tasks(split, ["expert"], families=["debri"])


def test_the_suite_runs_a_benchmark_split_and_reports_per_family_and_difficulty(tmp_path):
    out = tmp_path / "bench"
    args = ["suite", "cut_in", "debris", "--benchmark", "longtail", "--runs", "2", "--weather", "clear"]
    args += ["--planner", "constant_velocity", "--renderer", "blank", "--camera-hw", "16x28", "--no-video"]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(records) == 4 and {r["family"] for r in records} == {"cut_in", "debris"}
    assert all(r["benchmark"] == "longtail-v1/test" and r["difficulty"] for r in records)
    assert "per family" in result.output and (out / "plots" / "score_by_difficulty.png").exists()
    families = (out / "families.csv").read_text().splitlines()
    assert families[0].startswith("family,planner") and len(families) == 3
    assert "Per family" in (out / "report.html").read_text()


def test_make_benchmark_command_writes_a_version_the_suite_can_load(tmp_path):
    few = tmp_path / "fams"
    few.mkdir()
    for path in TWO:
        shutil.copy(path, few / path.name)
    args = ["make-benchmark", str(few), "--name", "mine", "--version", "3", "--test", "2", "--train", "1"]
    result = runner.invoke(app, [*args, "--weather", "clear", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "mine-v3" / "test.yaml").read_text())
    assert data["weathers"] == ["clear"] and sorted(data["families"]) == ["cut_in", "debris"]
    assert load_split(str(tmp_path / "mine-v3"), "train").families["debris"].seeds
    bad = runner.invoke(app, [*args, "--weather", "hail", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "hail" in bad.output
    assert not Path(tmp_path / "x" / "mine-v3").exists()
