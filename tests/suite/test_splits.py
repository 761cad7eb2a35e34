"""Versioned benchmark splits: making one, refusing an edited one, the shipped longtails, a split run by the suite."""

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from occsim.cli import app
from occsim.scenario import parse_scenario
from occsim.scenario.family import dump_instance, load_family_file
from occsim.scenarios import family_paths
from occsim.suite.splits import (
    BenchmarkError,
    distinct_draws,
    load_split,
    make_benchmark,
    shipped_root,
    split_tasks,
)

runner = CliRunner()
TWO = [p for p in family_paths() if p.stem in ("cut_in", "debris")]

CHOICES_ONLY = """name: few_draws
family: {difficulty: {gap: "lead.s - ego.s"}}
map: {type: straight}
ego: {lane: 0, s: 20, speed: 10, goal_s: 160}
actors:
  - {id: lead, type: car, lane: 0, s: {choice: [50, 60, 70, 80, 90, 100]}}
"""
# 3 × 4 = 12 possible instances (the expression adds none): exactly enough for 4 test + 4 train + 4 val
TWELVE_DRAWS = """name: twelve_draws
map: {type: straight}
ego: {lane: 0, s: 20, speed: {choice: [8, 10, 12]}, goal_s: 160}
actors:
  - {id: lead, type: car, lane: 0, s: {choice: [50, 60, 70, 80]}}
  - {id: far, type: car, lane: 0, s: {expr: "lead.s + 30"}}
"""
V1_SHA256 = {  # longtail-v1's split files as shipped: the version is frozen, and adding the val stream changed neither
    "test.yaml": "add2d66ef56bff094448e0274ff61dfaa010b33f21d0fc1918b0bc0745195729",
    "train.yaml": "5e940baceb93eef13e5b69efb4555ba3231200e261171d78455322d579700aab",
}


def _drawn(split) -> set[str]:
    return {json.dumps(instance.drawn, sort_keys=True) for _, _, instance in split.instances()}


def _only(split, family: str):
    return replace(split, families={family: split.families[family]})


def test_a_made_benchmark_has_disjoint_reproducible_splits_and_frozen_families(tmp_path):
    few = tmp_path / "few_draws.yaml"
    few.write_text(CHOICES_ONLY)
    folder = make_benchmark([*TWO, few], tmp_path / "a", "demo", 1, 3, 3, ["clear", "fog"], seed=5)
    again = make_benchmark([*TWO, few], tmp_path / "b", "demo", 1, 3, 3, ["clear", "fog"], seed=5)
    for split in ("test", "train"):
        assert (folder / f"{split}.yaml").read_text() == (again / f"{split}.yaml").read_text()
    assert not (folder / "val.yaml").exists()  # the library writes val.yaml only when asked for val instances
    test, train = load_split(str(folder), "test"), load_split(str(folder), "train")
    assert sorted(test.families) == ["cut_in", "debris", "few_draws"] and test.weathers == ("clear", "fog")
    assert test.label == "demo-v1/test" and all(len(f.seeds) == 3 for f in test.families.values())
    # six values of one choice: the splits still share none, even though the streams would repeat draws
    assert not _drawn(test) & _drawn(train) and len(_drawn(test)) == 9
    assert (folder / "families" / "debris.yaml").read_bytes() == TWO[1].read_bytes()
    with pytest.raises(BenchmarkError, match="never rewritten"):
        make_benchmark(TWO, tmp_path / "a", "demo", 1, 3, 3, ["clear"])
    with pytest.raises(BenchmarkError, match=r"'few_draws' has too few distinct draws: at most 6, .* = 8 distinct"):
        make_benchmark([few], tmp_path / "c", "demo", 1, 4, 4, ["clear"])


def test_three_splits_are_disjoint_on_a_family_with_few_draws_and_too_few_is_refused_by_name(tmp_path):
    twelve = tmp_path / "twelve_draws.yaml"
    twelve.write_text(TWELVE_DRAWS)
    assert distinct_draws(load_family_file(twelve)) == 12
    folder = make_benchmark([twelve], tmp_path / "a", "demo", 1, 4, 4, ["clear"], val_instances=4)
    test, train, val = (load_split(str(folder), s) for s in ("test", "train", "val"))
    assert val.label == "demo-v1/val" and len(val.families["twelve_draws"].seeds) == 4
    drawn = [_drawn(test), _drawn(train), _drawn(val)]
    # every possible instance used once: the streams repeat draws, and no split takes one another holds
    assert [len(d) for d in drawn] == [4, 4, 4] and len(drawn[0] | drawn[1] | drawn[2]) == 12
    # the val stream comes last: the test and train seeds are those of a benchmark made without it
    without = make_benchmark([twelve], tmp_path / "b", "demo", 1, 4, 4, ["clear"])
    for split in ("test", "train"):
        assert (folder / f"{split}.yaml").read_bytes() == (without / f"{split}.yaml").read_bytes()
    asked = r"family 'twelve_draws' has too few distinct draws: at most 12, .*4 test \+ 4 train \+ 5 val = 13"
    with pytest.raises(BenchmarkError, match=asked):
        make_benchmark([twelve], tmp_path / "c", "demo", 1, 4, 4, ["clear"], val_instances=5)
    assert not (tmp_path / "c" / "demo-v1").exists()  # refused before anything is written


def test_an_edited_family_copy_is_refused_by_name(tmp_path):
    folder = make_benchmark(TWO, tmp_path, "demo", 2, 1, 1, ["clear"])
    copy = folder / "families" / "cut_in.yaml"
    copy.write_text(copy.read_text().replace("uniform: [9, 13]", "uniform: [9, 14]"))
    with pytest.raises(BenchmarkError, match=r"cut_in.yaml changed since demo v2 was made"):
        load_split(str(folder))
    with pytest.raises(BenchmarkError, match="no benchmark 'nope'; shipped: longtail"):
        load_split("nope")
    with pytest.raises(BenchmarkError, match=r"has no version 99; versions: \[1, 2\]"):
        load_split("longtail", version=99)


def test_longtail_v1_is_unchanged_and_refuses_val_and_v2_is_the_default_with_three_disjoint_splits(tmp_path):
    v1 = load_split("longtail", version=1)
    assert v1.label == "longtail-v1/test" and set(v1.weathers) == {"clear", "fog", "rain", "night"}
    assert len(v1.families) == 16 and all(len(f.seeds) == 10 for f in v1.families.values())
    folder = shipped_root() / "longtail-v1"
    assert {p.name for p in folder.glob("*.yaml")} == set(V1_SHA256)
    for name, digest in V1_SHA256.items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    with pytest.raises(BenchmarkError, match=r"benchmark longtail-v1 has no val split .*; its splits: test, train"):
        load_split("longtail", "val", version=1)
    # remade from its own family copies with its seed, v1's instances come back: the test and train streams held
    copies = [folder / "families" / f"{n}.yaml" for n in ("cut_in", "debris")]
    remade = make_benchmark(copies, tmp_path, "again", 1, 10, 40, ["clear"], val_instances=10)
    for split in ("test", "train"):
        again = load_split(str(remade), split)
        assert {n: again.families[n].seeds for n in ("cut_in", "debris")} == {
            n: load_split("longtail", split, version=1).families[n].seeds for n in ("cut_in", "debris")
        }
    splits = [load_split("longtail", s) for s in ("test", "train", "val")]
    assert [s.label for s in splits] == ["longtail-v2/test", "longtail-v2/train", "longtail-v2/val"]
    assert set(splits[0].families) == set(v1.families) and set(splits[2].weathers) == set(v1.weathers)
    assert [len(s.families["debris"].seeds) for s in splits] == [10, 40, 10]
    for name in ("cut_in", "oncoming_left_turn"):
        drawn = [_drawn(_only(s, name)) for s in splits]
        assert len(drawn[0] | drawn[1] | drawn[2]) == 60
        assert not drawn[0] & _drawn(_only(v1, name))  # v2 tests on instances v1's test split (tuned on) lacks


def test_the_shipped_longtail_test_split_covers_the_families_and_every_instance_validates():
    split = load_split("longtail")
    assert split.label == "longtail-v2/test" and set(split.weathers) == {"clear", "fog", "rain", "night"}
    assert len(split.families) >= 12 and all(len(f.seeds) == 10 for f in split.families.values())
    train = load_split("longtail", "train")
    assert all(len(f.seeds) == 40 for f in train.families.values())
    for _, _, instance in split.instances():  # as plain YAML, through the full validator
        assert parse_scenario(dump_instance(instance)).name == instance.family


def test_split_tasks_cross_instances_weathers_and_planners_and_refuse_unknowns():
    split = load_split("longtail")
    tasks = split_tasks(split, ["expert", "constant_velocity"], ["clear", "night"], limit=2, families=["debris"])
    assert len(tasks) == 2 * 2 * 2 and {t.weather for t in tasks} == {"clear", "night"}
    assert tasks[0].seed == split.families["debris"].seeds[0] and tasks[0].origin["benchmark"] == "longtail-v2/test"
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
    assert all(r["benchmark"] == "longtail-v2/test" and r["difficulty"] for r in records)
    assert "per family" in result.output and (out / "plots" / "score_by_difficulty.png").exists()
    families = (out / "families.csv").read_text().splitlines()
    assert families[0].startswith("family,planner") and len(families) == 3
    assert "Per family" in (out / "report.html").read_text()
    recorded = json.loads((out / "suite.json").read_text())
    assert recorded["benchmark_splits"] == ["longtail-v2/test"] and "for testing only" in recorded["split_note"]
    assert recorded["planners"] == {"constant_velocity": {"spec": "constant_velocity"}}  # no weights to hash


def test_the_suite_runs_the_val_split_and_refuses_val_of_a_benchmark_without_one(tmp_path):
    args = ["suite", "debris", "--benchmark", "longtail", "--split", "val", "--runs", "1", "--weather", "fog"]
    args += ["--planner", "constant_velocity", "--renderer", "blank", "--camera-hw", "16x28", "--no-video"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "val")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "val" / "results.jsonl").read_text().splitlines()[0])
    assert (
        record["benchmark"] == "longtail-v2/val"
        and record["seed"] == load_split("longtail", "val").families["debris"].seeds[0]
    )
    recorded = json.loads((tmp_path / "val" / "suite.json").read_text())
    assert recorded["benchmark_splits"] == ["longtail-v2/val"] and "split_note" not in recorded
    old = runner.invoke(app, [*args, "--benchmark-version", "1", "--out", str(tmp_path / "v1")])
    assert old.exit_code != 0 and "longtail-v1 has no val split" in old.output and "test, train" in old.output
    bad = runner.invoke(app, [*args[:4], "--split", "dev", *args[6:], "--out", str(tmp_path / "dev")])
    assert bad.exit_code != 0 and "--split" in bad.output and "'val'" in bad.output


def test_make_benchmark_command_writes_a_version_the_suite_can_load(tmp_path):
    few = tmp_path / "fams"
    few.mkdir()
    for path in TWO:
        shutil.copy(path, few / path.name)
    args = ["make-benchmark", str(few), "--name", "mine", "--version", "3", "--test", "2", "--train", "1"]
    result = runner.invoke(app, [*args, "--val-instances", "2", "--weather", "clear", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((tmp_path / "mine-v3" / "test.yaml").read_text())
    assert data["weathers"] == ["clear"] and sorted(data["families"]) == ["cut_in", "debris"]
    assert load_split(str(tmp_path / "mine-v3"), "train").families["debris"].seeds
    assert len(load_split(str(tmp_path / "mine-v3"), "val").families["debris"].seeds) == 2
    bad = runner.invoke(app, [*args, "--weather", "hail", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "hail" in bad.output
    assert not Path(tmp_path / "x" / "mine-v3").exists()
    twelve = tmp_path / "twelve_draws.yaml"
    twelve.write_text(TWELVE_DRAWS)
    args = ["make-benchmark", str(twelve), "--name", "few", "--version", "1", "--test", "4", "--train", "4"]
    refused = runner.invoke(app, [*args, "--out", str(tmp_path / "y")])  # the default 10 val instances do not fit
    assert refused.exit_code != 0 and "twelve_draws" in refused.output and "4 test + 4 train + 10 val" in refused.output


def test_a_versioned_name_picks_that_version():
    from occsim.suite.splits import benchmark_dir

    assert benchmark_dir("longtail-v1").name == "longtail-v1"
    assert benchmark_dir("longtail-v1") == benchmark_dir("longtail", 1)
    with pytest.raises(BenchmarkError, match="no version 99"):
        benchmark_dir("longtail-v99")
