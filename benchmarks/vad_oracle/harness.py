"""Build the official VAD from its config, run frames through its own ``forward_test``, run the port on the same
weights and frames, and compare.

The official model is built as VAD's ``tools/test.py`` builds it (``pretrained=None``, ``train_cfg=None``), initialised
by its own ``init_weights``, then nudged so that the data-dependent paths of the head run (see ``nudge``). Only
``simple_test_pts`` is replaced, on the instance, by a function that returns the head's raw outputs: the original
goes on to decode boxes and compute metrics against ground truth, which the oracle does not have.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.vad_oracle.config import Config, apply_overrides
from occsim.planners.vad import contract
from occsim.planners.vad.config import BASE, PC_RANGE, TINY, VADConfig
from occsim.planners.vad.model import VAD
from occsim.planners.vad.synthetic import synthetic_state
from occsim.types import CameraRig

TOLERANCE = 1e-4
OUTPUTS = (
    "bev_embed",
    "all_cls_scores",
    "all_bbox_preds",
    "all_traj_preds",
    "all_traj_cls_scores",
    "map_all_cls_scores",
    "map_all_pts_preds",
    "ego_fut_preds",
)
PER_LAYER = OUTPUTS[1:7]  # stacked over decoder layers: the last layer is compared (and stored)
SEED = 7
YAWS_DEG = (355.0, 358.0, 1.0)  # the yaw crosses 0 between frames 2 and 3: VAD's un-wrapped delta there is -357 deg
STEP_M = 5.0  # ego motion per frame [m]
EGO = np.array([10.0, 0.5, 0.1, 0.0])  # speed [m/s], acceleration [m/s^2], yaw rate [rad/s], steering [rad]
START_XY = (600.0, 1600.0)  # world position of the first frame [m]
SCENE_TOKEN = "oracle-scene-0"

SMALL = dataclasses.replace(
    TINY,
    name="small",
    bev_h=10,
    bev_w=10,
    encoder_layers=2,
    decoder_layers=2,
    scale=0.1,
    embed=32,
    ffn=64,
    num_query=20,
    map_vectors=6,
    map_points=5,
)
SMALL_PORT_OVERRIDES = {
    f.name: getattr(SMALL, f.name)
    for f in dataclasses.fields(VADConfig)
    if getattr(SMALL, f.name) != getattr(TINY, f.name)
}


def small_overrides(model_cfg: dict) -> dict[str, Any]:
    """The small variant as dotted-path overrides of VAD_tiny_e2e.py (all under ``model.``).

    Every ``embed_dims`` becomes 32 and every ``feedforward_channels`` 64; each transformer layer also gets an
    ``ffn_cfgs`` with ``embed_dims=32``, because mmcv's default ``ffn_cfgs`` says 256 and ``BaseTransformerLayer``
    asserts it equals the attention's width. The rest: BEV 10 x 10, 20 object queries, 6 map vectors of 5 points,
    2 encoder and 2 decoder layers, positional encoding 16 + 16.
    """
    e, f, bev = SMALL.embed, SMALL.ffn, SMALL.bev_h
    out: dict[str, Any] = {}

    def walk(node, path):
        if isinstance(node, dict):
            for key, value in node.items():
                sub = f"{path}.{key}"
                if key == "embed_dims":
                    out[sub] = e
                elif key == "feedforward_channels":
                    out[sub] = f
                elif key == "transformerlayers":
                    ffn_drop = value.get("ffn_dropout", 0.0)
                    out[f"{sub}.ffn_cfgs"] = dict(
                        type="FFN",
                        embed_dims=e,
                        feedforward_channels=f,
                        num_fcs=2,
                        ffn_drop=ffn_drop,
                        act_cfg=dict(type="ReLU", inplace=True),
                    )
                walk(value, sub)
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                walk(value, f"{path}.{i}")

    walk(model_cfg, "model")
    head = "model.pts_bbox_head"
    out.update(
        {
            "model.img_neck.out_channels": e,
            f"{head}.in_channels": e,
            f"{head}.bev_h": bev,
            f"{head}.bev_w": bev,
            f"{head}.num_query": SMALL.num_query,
            f"{head}.map_num_vec": SMALL.map_vectors,
            f"{head}.map_num_pts_per_vec": SMALL.map_points,
            f"{head}.map_num_pts_per_gt_vec": SMALL.map_points,
            f"{head}.transformer.map_num_vec": SMALL.map_vectors,
            f"{head}.transformer.map_num_pts_per_vec": SMALL.map_points,
            f"{head}.transformer.encoder.num_layers": SMALL.encoder_layers,
            f"{head}.transformer.decoder.num_layers": SMALL.decoder_layers,
            f"{head}.transformer.map_decoder.num_layers": SMALL.decoder_layers,
            f"{head}.positional_encoding.num_feats": e // 2,
            f"{head}.positional_encoding.row_num_embed": bev,
            f"{head}.positional_encoding.col_num_embed": bev,
        }
    )
    return out


@dataclass(frozen=True)
class Variant:
    """One comparison: which official config, which port config, and how the weights are made."""

    name: str
    config_file: str  # under projects/configs/VAD/
    port: VADConfig
    small: bool = False  # overrides + synthetic backbone + float16 weights (the committed fixture)


VARIANTS = {
    "tiny": Variant("tiny", "VAD_tiny_e2e.py", TINY),
    "base": Variant("base", "VAD_base_e2e.py", BASE),
    "small": Variant("small", "VAD_tiny_e2e.py", SMALL, small=True),
}


@dataclass
class Frame:
    """One frame's inputs, identical for both sides."""

    img: np.ndarray  # (1, 6, 3, H_pad, W_pad) float32
    can_bus: np.ndarray  # (18,) absolute
    lidar2img: np.ndarray  # (6, 4, 4)
    scene_token: str


def make_frames(cfg: VADConfig, seed: int = SEED) -> list[Frame]:
    """Three frames: nuScenes-like calibration, ~5 m forward per frame, yaw 355 -> 358 -> 1 deg, random images.

    Images: ``default_rng(seed).integers(0, 256, (6, h, w, 3), uint8)`` per frame (BGR, the scaled image size),
    minus the caffe mean, zero-padded to the padded size, channels first.
    """
    rig = CameraRig.nuscenes(contract.NUSCENES_HW)
    l2i = contract.lidar2img(rig.intrinsics, rig.cam2ego, rig.hw, names=tuple(rig.names), scale=cfg.scale)
    rng = np.random.default_rng(seed)
    (h, w), (ph, pw) = cfg.image_hw, cfg.pad_hw
    mean = np.array(contract.CAFFE_NORM.mean, np.float32)
    x, y = START_XY
    frames = []
    for i, yaw_deg in enumerate(YAWS_DEG):
        yaw = math.radians(yaw_deg)
        if i:
            x, y = x + STEP_M * math.cos(yaw), y + STEP_M * math.sin(yaw)
        bus = contract.can_bus(np.array([x, y, yaw]), EGO)
        pixels = rng.integers(0, 256, (6, h, w, 3), dtype=np.uint8).astype(np.float32) - mean
        img = np.zeros((6, ph, pw, 3), np.float32)
        img[:, :h, :w] = pixels
        frames.append(Frame(img.transpose(0, 3, 1, 2)[None].copy(), bus, l2i, SCENE_TOKEN))
    return frames


# ----------------------------------------------------------------------------------------------------------------
# the official model


def official_config(vad, variant: Variant) -> tuple[Config, dict[str, Any]]:
    """The variant's config as VAD's tools/test.py sees it, and the overrides applied (flat dotted paths)."""
    cfg = Config.fromfile(vad.root / "projects" / "configs" / "VAD" / variant.config_file)
    overrides: dict[str, Any] = {"model.pretrained": None, "model.train_cfg": None}  # as tools/test.py:171,213
    if variant.small:
        overrides.update(small_overrides(cfg["model"]))
    apply_overrides(cfg, overrides)
    return cfg, overrides


def build_official(vad, variant: Variant, seed: int = SEED):
    """Build (``mmdet3d.models.build_model``), patch the LaneNet width for narrow models, run ``init_weights``."""
    import mmdet3d.models

    cfg, overrides = official_config(vad, variant)
    torch.manual_seed(seed)
    model = mmdet3d.models.build_model(cfg.model, test_cfg=cfg.get("test_cfg"))
    head = model.pts_bbox_head
    if head.embed_dims != 256:
        # VAD_head.py:397 builds LaneNet(256, 128, 3) whatever the width; a 32-wide model gets the official class
        # with (embed, embed / 2, 3), which is what the port builds.
        head.lane_encoder = vad.VAD_head.LaneNet(head.embed_dims, head.embed_dims // 2, 3)
    model.init_weights()
    return model, overrides


def simple_test_pts(
    self,
    x,
    img_metas,
    gt_bboxes_3d,
    gt_labels_3d,
    prev_bev=None,
    fut_valid_flag=None,
    rescale=False,
    start=None,
    ego_his_trajs=None,
    ego_fut_trajs=None,
    ego_fut_cmd=None,
    ego_lcf_feat=None,
    gt_attr_labels=None,
):
    """VAD.py:355 without the box decoding and the GT metrics: the head's outputs as they are."""
    outs = self.pts_bbox_head(x, img_metas, prev_bev=prev_bev, ego_his_trajs=ego_his_trajs, ego_lcf_feat=ego_lcf_feat)
    return outs["bev_embed"], [outs], {}


def _metas(frame: Frame, cfg: VADConfig) -> dict:
    pad = (*cfg.pad_hw, 3)
    return dict(
        can_bus=frame.can_bus.copy(),
        lidar2img=list(frame.lidar2img),
        img_shape=[pad] * 6,
        pad_shape=[pad] * 6,
        ori_shape=[(*contract.NUSCENES_HW, 3)] * 6,
        scene_token=frame.scene_token,
    )


def _kwargs(frame: Frame, cfg: VADConfig) -> dict:
    """forward_test's arguments for one frame (the GT and ego-history ones are placeholders VAD's head ignores
    without an ego history encoder)."""
    return dict(
        img_metas=[[_metas(frame, cfg)]],
        gt_bboxes_3d=None,
        gt_labels_3d=None,
        img=[torch.from_numpy(frame.img.copy())],
        ego_his_trajs=[torch.zeros(1, 1, 2, 2)],
        ego_fut_trajs=[torch.zeros(1, 1, 6, 2)],
        ego_fut_cmd=[torch.zeros(1, 1, 1, 3)],
        ego_lcf_feat=[torch.zeros(1, 1, 1, 9)],
        gt_attr_labels=None,
    )


@torch.no_grad()
def run_official(model, frames: list[Frame], cfg: VADConfig) -> list[dict[str, torch.Tensor]]:
    """The frames through ``VAD.forward_test`` (VAD.py:256-313: prev_bev, can_bus deltas, scene reset)."""
    model.simple_test_pts = types.MethodType(simple_test_pts, model)
    model.eval()
    results = []
    for frame in frames:
        outs = model.forward_test(**_kwargs(frame, cfg))[0]["pts_bbox"]
        # clone now: the next frame rotates prev_bev (this bev_embed) in place (VAD_transformer.py:264)
        results.append({k: outs[k].detach().clone() for k in OUTPUTS})
    return results


@torch.no_grad()
def nudge(model, frames: list[Frame], cfg: VADConfig, passing: float = 0.4) -> dict[str, float]:
    """Shift the last map-class bias so that, on every frame, some map vectors score above ``map_thresh`` and some
    below.

    ``init_weights`` leaves every class bias at logit(0.01) (VAD_head.py:434-445), so no map vector would pass the
    0.5 threshold and the motion-map selection (VAD_head.py:1735-1833) would only ever see its fixed pad. A probe
    run of the frames through ``forward_test`` gives each frame's best map-class logits (the bias does not feed back
    into them, nor into the next frame); the cut maximises the smallest count of passing or failing vectors over the
    frames (ties: closest to ``passing`` overall), and the bias moves to put that cut at the threshold.
    """
    head = model.pts_bbox_head
    initial = copy.deepcopy(model.prev_frame_info)
    probe = run_official(model, frames, cfg)
    model.prev_frame_info = initial
    best = [o["map_all_cls_scores"][-1].max(-1)[0].flatten().double() for o in probe]
    values = torch.cat(best).unique()  # sorted
    cuts = (values[1:] + values[:-1]) / 2 if len(values) > 1 else values
    chosen, key = float(cuts[0]), None
    for cut in cuts.tolist():
        passed = [int((b > cut).sum()) for b in best]
        worst = min(min(p, len(b) - p) for p, b in zip(passed, best, strict=True))
        fraction = sum(passed) / sum(len(b) for b in best)
        if key is None or (worst, -abs(fraction - passing)) > key:
            chosen, key = cut, (worst, -abs(fraction - passing))
    shift = -chosen + math.log(head.map_thresh / (1 - head.map_thresh))
    head.map_cls_branches[-1][-1].bias += shift
    return {"map_cls_bias_shift": shift, "fewest_passing_or_failing": key[0]}


@torch.no_grad()
def redraw_backbone_norms(model, seed: int = SEED) -> None:
    """New batch-norm statistics and affine terms in the official backbone.

    mmdet's ResNet init zeroes every bottleneck's last norm (``zero_init_residual``): all residual branches would
    output 0 and their convolutions would go untested. The draws make each branch count.
    """
    gen = torch.Generator().manual_seed(seed)
    for m in model.img_backbone.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.weight.copy_(torch.rand(n, generator=gen) * 0.5 + 0.25)
            m.bias.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)


def backbone_keys(cfg: VADConfig) -> set[str]:
    """The port's ``img_backbone.*`` keys (built on the meta device)."""
    with torch.device("meta"):
        return {k for k in VAD(cfg).state_dict() if k.startswith("img_backbone.")}


def small_weights(model, cfg: VADConfig, seed: int = SEED) -> None:
    """The fixture's weights: the backbone from ``synthetic_state(cfg, seed)``, everything else through float16."""
    keys = backbone_keys(cfg)
    state = model.state_dict()
    synthetic = synthetic_state(cfg, seed, keys=keys)
    new = {
        k: (synthetic[k] if k in keys else v.to(torch.float16).to(v.dtype) if v.is_floating_point() else v)
        for k, v in state.items()
    }
    model.load_state_dict(new, strict=True)


# ----------------------------------------------------------------------------------------------------------------
# the port and the comparison


def key_mismatches(official: dict[str, torch.Tensor], port: dict[str, torch.Tensor]) -> list[str]:
    """Keys in one state dict only, or with different shapes."""
    out = [f"official only: {k} {tuple(v.shape)}" for k, v in official.items() if k not in port]
    out += [f"port only: {k} {tuple(v.shape)}" for k, v in port.items() if k not in official]
    out += [
        f"shape: {k} official {tuple(v.shape)} port {tuple(port[k].shape)}"
        for k, v in official.items()
        if k in port and tuple(v.shape) != tuple(port[k].shape)
    ]
    return out


@torch.no_grad()
def run_port(cfg: VADConfig, state: dict[str, torch.Tensor], frames: list[Frame], prepared: bool = False):
    """The frames through ``VAD(cfg).step`` with ``state`` loaded strictly; per frame the outputs.

    ``prepared``: after ``prepare_for_inference()`` (batch norms folded, channels-last), as the planner runs it.
    """
    model = VAD(cfg)
    model.load_state_dict(state, strict=True)
    model.eval()
    if prepared:
        model.prepare_for_inference()
    results = []
    for frame in frames:
        outs = model.step(torch.from_numpy(frame.img.copy()), frame.can_bus, frame.lidar2img, frame.scene_token)
        results.append({k: outs[k].detach().clone() for k in OUTPUTS})
    return results


def selected(outs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What is compared and stored: bev_embed and ego_fut_preds whole, the per-layer outputs' last layer."""
    return {k: (v[-1] if k in PER_LAYER else v) for k, v in outs.items()}


def max_differences(official: list[dict], port: list[dict]) -> dict[str, list[float]]:
    """Per output, per frame: max |official - port| over the compared tensors."""
    return {
        k: [float((selected(o)[k] - selected(p)[k]).abs().max()) for o, p in zip(official, port, strict=True)]
        for k in OUTPUTS
    }


def path_counts(outs: dict[str, torch.Tensor], map_thresh: float, dis_thresh: float) -> dict[str, int]:
    """How many map vectors pass ``map_thresh`` and how many (agent, selected vector) pairs lie within/beyond
    ``dis_thresh``, recomputed from a frame's outputs as ``select_and_pad_pred_map`` sees them."""
    scores = outs["map_all_cls_scores"][-1][0].sigmoid().max(-1)[0]
    keep = scores > map_thresh
    pts = outs["map_all_pts_preds"][-1][0]  # (P, pts, 2) normalised
    nearest = pts[torch.arange(pts.shape[0]), torch.sqrt(pts[..., 0] ** 2 + pts[..., 1] ** 2).argmin(-1)]
    boxes = outs["all_bbox_preds"][-1][0]
    agents = torch.stack(
        [
            (boxes[:, 0] - PC_RANGE[0]) / (PC_RANGE[3] - PC_RANGE[0]),
            (boxes[:, 1] - PC_RANGE[1]) / (PC_RANGE[4] - PC_RANGE[1]),
        ],
        -1,
    )
    dist = torch.cdist(agents, nearest[keep]) if keep.any() else agents.new_zeros((len(agents), 0))
    near = dist <= dis_thresh
    return {
        "map_vectors": int(len(keep)),
        "map_selected": int(keep.sum()),
        "pairs_within": int(near.sum()),
        "pairs_beyond": int((~near).sum()),
        "agents_with_map": int(near.any(-1).sum()),
        "agents_without_map": int((~near.any(-1)).sum()),
    }


@dataclass
class Comparison:
    """One variant's result."""

    variant: Variant
    diffs: dict[str, list[float]]
    prepared_diffs: dict[str, list[float]]  # the port after prepare_for_inference()
    mismatches: list[str]
    counts: list[dict[str, int]]
    nudges: dict[str, float]
    official: list[dict[str, torch.Tensor]] = field(repr=False)
    state: dict[str, torch.Tensor] = field(repr=False)
    frames: list[Frame] = field(repr=False)
    overrides: dict[str, Any] = field(repr=False)

    @property
    def worst(self) -> float:
        return max(max(v) for d in (self.diffs, self.prepared_diffs) for v in d.values())

    @property
    def ok(self) -> bool:
        return not self.mismatches and self.worst <= TOLERANCE


def compare(vad, variant: Variant, seed: int = SEED) -> Comparison:
    """Build, nudge, run both sides on three frames, compare."""
    cfg = variant.port
    frames = make_frames(cfg, seed)
    model, overrides = build_official(vad, variant, seed)
    if variant.small:
        small_weights(model, cfg, seed)
    else:
        redraw_backbone_norms(model, seed)
    model.eval()
    nudges = nudge(model, frames, cfg)
    if variant.small:  # the nudged bias goes through float16 too
        small_weights(model, cfg, seed)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    with torch.device("meta"):
        mismatches = key_mismatches(state, VAD(cfg).state_dict())
    official = run_official(model, frames, cfg)
    del model
    head_cfg = dict(map_thresh=cfg.map_thresh, dis_thresh=cfg.dis_thresh)
    counts = [path_counts(o, **head_cfg) for o in official]
    if mismatches:
        diffs = prepared = {k: [math.inf] * len(frames) for k in OUTPUTS}
    else:
        diffs = max_differences(official, run_port(cfg, state, frames))
        prepared = max_differences(official, run_port(cfg, state, frames, prepared=True))
    return Comparison(variant, diffs, prepared, mismatches, counts, nudges, official, state, frames, overrides)


def official_keys(vad) -> dict[str, dict[str, list[int]]]:
    """{variant: {key: shape}} of the official Tiny and Base models."""
    table = {}
    for name in ("tiny", "base"):
        model, _ = build_official(vad, VARIANTS[name])
        table[name] = {k: list(v.shape) for k, v in model.state_dict().items()}
    return table


def write_fixture(result: Comparison, directory: Path, commit: str | None) -> tuple[Path, Path]:
    """``small_oracle.safetensors`` (non-backbone weights in float16, the official outputs per frame) and
    ``small_oracle.json`` (config overrides, frames, seed, commit)."""
    import json

    from safetensors.torch import save_file

    assert result.variant.small
    cfg = result.variant.port
    keys = backbone_keys(cfg)
    tensors = {
        f"weights/{k}": v.to(torch.float16).contiguous() if v.is_floating_point() else v.contiguous()
        for k, v in result.state.items()
        if k not in keys
    }
    for i, outs in enumerate(result.official):
        for k, v in selected(outs).items():
            tensors[f"frame{i}/{k}"] = v.float().contiguous()
    directory.mkdir(parents=True, exist_ok=True)
    weights_path, meta_path = directory / "small_oracle.safetensors", directory / "small_oracle.json"
    save_file(tensors, str(weights_path))
    frames = result.frames
    meta = {
        "vad_commit": commit or "unknown",
        "vad_commit_pinned": "1688c4b1c3a9e2e7873ca9700ff8058170c0e3c8",
        "tolerance": TOLERANCE,
        "seed": SEED,
        "images": "per frame: numpy default_rng(seed).integers(0, 256, (6, h, w, 3), uint8) in order, as float32 "
        "minus the caffe BGR mean, zero-padded to the padded size, (1, 6, 3, H, W)",
        "image_checksums": [float(np.float64(f.img).sum()) for f in frames],
        "backbone": "occsim.planners.vad.synthetic.synthetic_state(config, seed, keys=img_backbone.* keys)",
        "port_config": {
            "base": "TINY",
            **{k: list(v) if isinstance(v, tuple) else v for k, v in SMALL_PORT_OVERRIDES.items()},
        },
        "official_config": "projects/configs/VAD/VAD_tiny_e2e.py",
        "official_overrides": result.overrides,
        "lane_encoder": "LaneNet(embed, embed // 2, 3) instead of VAD_head.py:397's LaneNet(256, 128, 3)",
        "nudges": result.nudges,
        "path_counts": result.counts,
        "outputs": {k: ("last decoder layer" if k in PER_LAYER else "whole") for k in OUTPUTS},
        "frames": [{"can_bus": f.can_bus.tolist(), "scene_token": f.scene_token} for f in frames],
        "lidar2img": frames[0].lidar2img.tolist(),
    }
    meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    return weights_path, meta_path
