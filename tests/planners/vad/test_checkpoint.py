import collections
import json
import os

import numpy as np
import pytest
import torch

from occsim.planners.vad import BASE, TINY, VAD, CheckpointError, convert, load_model
from occsim.planners.vad.checkpoint import check_keys, load_weights, read_pth, variant_of


class ConfigDict(dict):
    """Stands for mmcv's config object in a checkpoint's meta: a class torch's weights-only loader refuses."""


class RunsCode:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def mmcv_checkpoint(state, path, prefix="", meta_objects=True):
    meta = {"epoch": 12, "config": ConfigDict(lr=2e-4), "np": np.float64(1.5)} if meta_objects else {"epoch": 12}
    torch.save(
        {
            "meta": meta,
            "state_dict": collections.OrderedDict((prefix + k, v) for k, v in state.items()),
            "optimizer": {},
        },
        path,
    )
    return path


@pytest.mark.parametrize("prefix", ["", "module."])
@pytest.mark.parametrize("meta_objects", [False, True])
def test_an_mmcv_checkpoint_loads_with_or_without_module_and_objects_in_its_meta(
    tmp_path, small_state, prefix, meta_objects
):
    path = mmcv_checkpoint(small_state, tmp_path / "ckpt.pth", prefix, meta_objects)
    if meta_objects:  # the weights-only loader refuses it: the restricted unpickler must take over
        with pytest.raises(Exception, match="(?i)weights"):
            torch.load(path, weights_only=True)
    state = read_pth(path)
    assert sorted(state) == sorted(small_state)
    assert all(torch.equal(state[k], small_state[k]) for k in small_state)


@pytest.mark.parametrize("zip_format", [True, False])  # torch's format since 1.6, and the legacy one
def test_code_in_a_checkpoint_is_never_run(tmp_path, small_state, zip_format):
    marker = tmp_path / "ran"
    payload = RunsCode()
    payload.marker = marker
    checkpoint = {"meta": {"hook": payload}, "state_dict": small_state}
    torch.save(checkpoint, tmp_path / "evil.pth", _use_new_zipfile_serialization=zip_format)
    state = read_pth(tmp_path / "evil.pth")
    assert not marker.exists()
    assert sorted(state) == sorted(small_state)


def test_missing_unexpected_and_misshapen_keys_are_refused_by_name(small_cfg, small_state):
    model = VAD(small_cfg)
    check_keys(model, small_state)  # the seeded state fits exactly
    broken = dict(small_state)
    del broken["pts_bbox_head.ego_query.weight"]
    broken["pts_bbox_head.extra_branch.weight"] = torch.zeros(3)
    broken["img_neck.fpn_convs.0.conv.weight"] = torch.zeros(1, 2, 3, 3)
    with pytest.raises(CheckpointError) as error:
        check_keys(model, broken)
    text = str(error.value)
    assert "1 missing: pts_bbox_head.ego_query.weight" in text
    assert "1 unexpected: pts_bbox_head.extra_branch.weight" in text
    assert "img_neck.fpn_convs.0.conv.weight (1, 2, 3, 3)" in text and "misshapen" in text


def test_the_variant_is_read_from_the_bev_grid():
    assert variant_of({"pts_bbox_head.bev_embedding.weight": torch.zeros(100 * 100, 1)}) is TINY
    assert variant_of({"pts_bbox_head.bev_embedding.weight": torch.zeros(200 * 200, 1)}) is BASE
    with pytest.raises(CheckpointError, match="neither VAD-Tiny"):
        variant_of({"pts_bbox_head.bev_embedding.weight": torch.zeros(50 * 50, 1)})
    with pytest.raises(CheckpointError, match="not a VAD checkpoint"):
        variant_of({"backbone.weight": torch.zeros(1)})


def test_a_folder_round_trips_its_config_and_weights(small_cfg, small_state, small_folder):
    saved = json.loads((small_folder / "config.json").read_text())
    assert saved["variant"] == "small" and saved["image_scale"] == small_cfg.scale
    assert saved["input_hw"] == list(small_cfg.pad_hw)
    model = load_model(small_folder)
    assert model.cfg == small_cfg
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], small_state[k]) for k in small_state)
    assert not list(small_folder.glob(".*.part"))  # nothing half-written left behind


def test_broken_folders_and_files_say_what_is_wrong(tmp_path, small_folder):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_weights(tmp_path / "absent.pth")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="no model.safetensors.*convert-vad"):
        load_weights(empty)
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    (truncated / "model.safetensors").write_bytes((small_folder / "model.safetensors").read_bytes()[:5000])
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_weights(truncated)
    (tmp_path / "junk.pth").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match="junk.pth: not a readable PyTorch checkpoint"):
        load_weights(tmp_path / "junk.pth")
    config = json.loads((small_folder / "config.json").read_text())
    config["config"]["bev_depth"] = 3
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "model.safetensors").write_bytes((small_folder / "model.safetensors").read_bytes())
    (odd / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"unknown VAD config fields \['bev_depth'\]"):
        load_weights(odd)


def test_convert_a_released_layout_tiny_checkpoint(tmp_path):
    from occsim.planners.vad.synthetic import write_synthetic_checkpoint

    pth = write_synthetic_checkpoint(TINY, tmp_path / "VAD_tiny.pth", seed=3)
    folder = convert(pth, tmp_path / "vad_tiny")
    saved = json.loads((folder / "config.json").read_text())
    assert (saved["variant"], saved["image_scale"], saved["input_hw"]) == ("tiny", 0.4, [384, 640])
    cfg, state = load_weights(folder)
    assert cfg == TINY and len(state) == 746
    model = load_model(folder)
    assert sum(p.numel() for p in model.parameters()) == 39_865_999
    assert torch.equal(model.state_dict()["pts_bbox_head.ego_query.weight"], state["pts_bbox_head.ego_query.weight"])
