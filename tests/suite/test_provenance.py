"""What produced a suite's figures: the weights hash of each planner, and the test split's note, in suite.json."""

import hashlib
import json
import subprocess

import pytest
import torch
from typer.testing import CliRunner

from occsim.cli import app
from occsim.planners.vision import WEIGHTS_DIR, VisionConfig, VisionPlannerNet, save_vision
from occsim.suite.provenance import planner_record, planner_weights_path, split_note, weights_sha256

runner = CliRunner()
TINY = VisionConfig(input_hw=(32, 56), image_channels=8, bev_channels=8, query_channels=16, attention_layers=1)


def _tiny_weights(folder, seed: int = 0):
    torch.manual_seed(seed)
    return save_vision(VisionPlannerNet(TINY).eval(), folder)


def test_the_weights_hash_covers_config_and_safetensors_only_and_matches_sha256sum(tmp_path):
    folder = _tiny_weights(tmp_path / "w")
    digest = weights_sha256(folder)
    listing = "".join(
        f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}\n" for n in ("config.json", "model.safetensors")
    )
    assert digest == hashlib.sha256(listing.encode()).hexdigest()
    shell = subprocess.run(
        "LC_ALL=C ls config.json *.safetensors | xargs sha256sum | sha256sum",
        shell=True,
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.split()[0] == digest  # the recipe the module docstring gives, checkable by hand
    (folder / "MODEL_CARD.md").write_text("# a card\n")
    assert weights_sha256(folder) == digest  # a card or plot beside the weights is not the weights
    _tiny_weights(folder, seed=1)
    assert weights_sha256(folder) != digest
    with pytest.raises(FileNotFoundError, match="holds no config.json"):
        weights_sha256(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        weights_sha256(tmp_path / "nothing")


def test_planner_records_name_the_folder_a_spec_loads():
    assert planner_weights_path("vision") == WEIGHTS_DIR  # a bare name: the folder its class loads by default
    record = planner_record("vision")
    assert record["weights_sha256"] == weights_sha256(WEIGHTS_DIR) and "model.safetensors" in record["weight_files"]
    assert planner_record("expert") == {"spec": "expert"}
    assert planner_record("remote:http://localhost:8765") == {"spec": "remote:http://localhost:8765"}
    assert split_note(["longtail-v2/val"]) is None and "for testing only" in split_note(["longtail-v2/test"])


def test_a_test_split_suite_records_the_vision_weights_hash_and_a_resume_refuses_other_weights(tmp_path):
    weights = _tiny_weights(tmp_path / "weights")
    spec = f"vision:{weights}"
    out = tmp_path / "suite"
    args = ["suite", "debris", "--benchmark", "longtail", "--split", "test", "--runs", "1", "--weather", "clear"]
    args += ["--planner", spec, "--renderer", "blank", "--camera-hw", "16x28", "--no-video", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    recorded = json.loads((out / "suite.json").read_text())
    assert recorded["planners"][spec]["weights_sha256"] == weights_sha256(weights)
    assert recorded["planners"][spec]["spec"] == spec and recorded["benchmark_splits"] == ["longtail-v2/test"]
    assert recorded["split_note"].startswith("longtail-v2/test is for testing only")
    _tiny_weights(weights, seed=1)  # retrained in place: a resume would mix two networks' figures
    again = runner.invoke(app, [*args, "--resume"])
    assert again.exit_code != 0 and "weights_sha256" in again.output
