"""Put the stand-ins into ``sys.modules`` under mmcv's, mmdet's, mmdet3d's and torchvision's names, then import
hustvl/VAD's own model files, unmodified, from a checkout.

Only the files the inference model needs are imported: ``VAD/modules/{temporal_self_attention,
spatial_cross_attention,decoder,encoder}.py``, ``VAD/VAD_transformer.py``, ``VAD/VAD_head.py``, ``VAD/VAD.py`` and what
they import (``models/utils/{grid_mask,bricks,visual}.py``, ``core/bbox/util.py``, ``VAD/utils/{map_utils,
traj_lr_warmup}.py``). The packages' ``__init__.py`` files are not run (they would pull in the datasets, the training
hooks and the evaluation code); ``VAD/planner/metric_stp3.py`` (the GT planning metric, which needs scikit-image) is
replaced by an empty stand-in because the oracle skips the metric code.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import types
from pathlib import Path

from benchmarks.vad_oracle import mmcv_standins as mc
from benchmarks.vad_oracle import mmdet_standins as md
from benchmarks.vad_oracle.config import Config

VAD_COMMIT = "1688c4b1c3a9e2e7873ca9700ff8058170c0e3c8"
VAD_URL = "https://github.com/hustvl/VAD"

_BRICKS = dict(
    ATTENTION=mc.ATTENTION,
    FEEDFORWARD_NETWORK=mc.FEEDFORWARD_NETWORK,
    POSITIONAL_ENCODING=mc.POSITIONAL_ENCODING,
    TRANSFORMER_LAYER=mc.TRANSFORMER_LAYER,
    TRANSFORMER_LAYER_SEQUENCE=mc.TRANSFORMER_LAYER_SEQUENCE,
)
_TRANSFORMER = dict(
    build_positional_encoding=mc.build_positional_encoding,
    build_attention=mc.build_attention,
    build_feedforward_network=mc.build_feedforward_network,
    build_transformer_layer=mc.build_transformer_layer,
    build_transformer_layer_sequence=mc.build_transformer_layer_sequence,
    MultiheadAttention=mc.MultiheadAttention,
    FFN=mc.FFN,
    BaseTransformerLayer=mc.BaseTransformerLayer,
    TransformerLayerSequence=mc.TransformerLayerSequence,
)
_RUNNER = dict(
    force_fp32=mc.force_fp32,
    auto_fp16=mc.auto_fp16,
    BaseModule=mc.BaseModule,
    ModuleList=mc.ModuleList,
    Sequential=mc.Sequential,
)
_CNN = dict(
    Linear=mc.Linear,
    Conv2d=mc.Conv2d,
    ConvModule=mc.ConvModule,
    build_activation_layer=mc.build_activation_layer,
    build_norm_layer=mc.build_norm_layer,
    build_conv_layer=mc.build_conv_layer,
    xavier_init=mc.xavier_init,
    constant_init=mc.constant_init,
    normal_init=mc.normal_init,
    uniform_init=mc.uniform_init,
    kaiming_init=mc.kaiming_init,
    bias_init_with_prob=mc.bias_init_with_prob,
    initialize=mc.initialize,
)
_UTILS = dict(
    ConfigDict=mc.ConfigDict,
    Config=Config,
    Registry=mc.Registry,
    build_from_cfg=mc.build_from_cfg,
    deprecated_api_warning=mc.deprecated_api_warning,
    to_2tuple=mc.to_2tuple,
    TORCH_VERSION=mc.TORCH_VERSION,
    digit_version=mc.digit_version,
    ext_loader=mc.ext_loader,
)
_MODELS = dict(
    DETECTORS=md.DETECTORS,
    HEADS=md.HEADS,
    BACKBONES=md.BACKBONES,
    NECKS=md.NECKS,
    LOSSES=md.LOSSES,
    MODELS=md.MODELS,
    build_loss=md.build_loss,
    build_backbone=md.build_backbone,
    build_neck=md.build_neck,
    build_head=md.build_head,
    build_detector=md.build_detector,
    weighted_loss=md.weighted_loss,
)
_CORE = dict(
    build_assigner=md.build_assigner,
    build_sampler=md.build_sampler,
    multi_apply=md.multi_apply,
    reduce_mean=md.reduce_mean,
    bbox_xyxy_to_cxcywh=md.bbox_xyxy_to_cxcywh,
    bbox_cxcywh_to_xyxy=md.bbox_cxcywh_to_xyxy,
)
_BBOX = dict(bbox_xyxy_to_cxcywh=md.bbox_xyxy_to_cxcywh, bbox_cxcywh_to_xyxy=md.bbox_cxcywh_to_xyxy)

STANDIN_MODULES: dict[str, dict] = {
    "mmcv": dict(ConfigDict=mc.ConfigDict, Config=Config, deprecated_api_warning=mc.deprecated_api_warning),
    "mmcv.utils": _UTILS,
    "mmcv.runner": _RUNNER,
    "mmcv.runner.base_module": _RUNNER,
    "mmcv.cnn": _CNN,
    "mmcv.cnn.bricks": {**_BRICKS, **_TRANSFORMER},
    "mmcv.cnn.bricks.registry": _BRICKS,
    "mmcv.cnn.bricks.transformer": _TRANSFORMER,
    "mmcv.ops": dict(multi_scale_deformable_attn_pytorch=mc.multi_scale_deformable_attn_pytorch),
    "mmcv.ops.multi_scale_deform_attn": dict(
        multi_scale_deformable_attn_pytorch=mc.multi_scale_deformable_attn_pytorch
    ),
    "mmdet": {},
    "mmdet.models": _MODELS,
    "mmdet.models.builder": _MODELS,
    "mmdet.models.backbones": dict(ResNet=md.ResNet),
    "mmdet.models.necks": dict(FPN=md.FPN),
    "mmdet.models.dense_heads": dict(DETRHead=md.DETRHead),
    "mmdet.models.utils": dict(
        inverse_sigmoid=md.inverse_sigmoid,
        build_transformer=md.build_transformer,
        LearnedPositionalEncoding=md.LearnedPositionalEncoding,
        DetrTransformerDecoderLayer=md.DetrTransformerDecoderLayer,
    ),
    "mmdet.models.utils.transformer": dict(
        inverse_sigmoid=md.inverse_sigmoid, DetrTransformerDecoderLayer=md.DetrTransformerDecoderLayer
    ),
    "mmdet.models.utils.builder": dict(TRANSFORMER=md.TRANSFORMER, build_transformer=md.build_transformer),
    "mmdet.core": _CORE,
    "mmdet.core.bbox": _BBOX,
    "mmdet.core.bbox.transforms": _BBOX,
    "mmdet.core.bbox.match_costs": dict(build_match_cost=lambda cfg: mc.build_from_cfg(cfg, md.MATCH_COST)),
    "mmdet.core.bbox.match_costs.builder": dict(MATCH_COST=md.MATCH_COST),
    "mmdet3d": {},
    "mmdet3d.core": dict(bbox3d2result=md.bbox3d2result),
    "mmdet3d.core.bbox": {},
    "mmdet3d.core.bbox.coders": dict(build_bbox_coder=md.build_bbox_coder),
    "mmdet3d.models": dict(build_model=md.build_detector, build_detector=md.build_detector),
    "mmdet3d.models.detectors": dict(MVXTwoStageDetector=md.MVXTwoStageDetector),
    "mmdet3d.models.detectors.mvx_two_stage": dict(MVXTwoStageDetector=md.MVXTwoStageDetector),
    "torchvision": {},
    "torchvision.transforms": {},
    "torchvision.transforms.functional": dict(rotate=md.rotate),
    "torchvision.utils": dict(make_grid=md.make_grid),
}

# VAD's packages, made importable without running their __init__.py (path relative to the checkout).
_VAD_PACKAGES = (
    "projects",
    "projects.mmdet3d_plugin",
    "projects.mmdet3d_plugin.VAD",
    "projects.mmdet3d_plugin.VAD.modules",
    "projects.mmdet3d_plugin.VAD.utils",
    "projects.mmdet3d_plugin.VAD.planner",
    "projects.mmdet3d_plugin.models",
    "projects.mmdet3d_plugin.models.utils",
    "projects.mmdet3d_plugin.core",
    "projects.mmdet3d_plugin.core.bbox",
)
_VAD_FILES = (
    "VAD.modules.temporal_self_attention",
    "VAD.modules.spatial_cross_attention",
    "VAD.modules.decoder",
    "VAD.modules.encoder",
    "VAD.VAD_transformer",
    "VAD.VAD_head",
    "VAD.VAD",
)


def _module(name: str, attrs: dict, path: list[str] | None = None) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    mod.__path__ = [] if path is None else path  # every stand-in can have submodules
    sys.modules[name] = mod
    parent, _, child = name.rpartition(".")
    if parent in sys.modules:
        setattr(sys.modules[parent], child, mod)
    return mod


def install_standins() -> None:
    """Register the stand-in modules (replacing any real mmcv/mmdet/mmdet3d/torchvision in this process)."""
    for name in sorted(STANDIN_MODULES, key=lambda n: n.count(".")):
        _module(name, STANDIN_MODULES[name])


def vad_commit(vad_root: Path) -> str | None:
    """The checkout's HEAD commit, if it is a git checkout."""
    try:
        out = subprocess.run(
            ["git", "-C", str(vad_root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def load_vad(vad_root: str | Path) -> types.SimpleNamespace:
    """Install the stand-ins and import VAD's model files from ``vad_root``; returns the imported modules."""
    root = Path(vad_root).resolve()
    plugin = root / "projects" / "mmdet3d_plugin"
    needed = [plugin / (name.replace(".", "/") + ".py") for name in _VAD_FILES]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{root} is not a hustvl/VAD checkout (missing {missing[0]}). Clone {VAD_URL} and check out {VAD_COMMIT}."
        )
    install_standins()
    for name in _VAD_PACKAGES:
        _module(name, {}, [str(root / name.replace(".", "/"))])
    metric = types.ModuleType("projects.mmdet3d_plugin.VAD.planner.metric_stp3")

    class PlanningMetric:  # the GT planning metric, which the oracle never computes
        def __init__(self, *args, **kwargs):
            raise RuntimeError("VAD's planning metric is not part of the oracle")

    metric.PlanningMetric = PlanningMetric
    sys.modules[metric.__name__] = metric
    modules = {
        name.rsplit(".", 1)[-1]: importlib.import_module(f"projects.mmdet3d_plugin.{name}") for name in _VAD_FILES
    }
    return types.SimpleNamespace(root=root, commit=vad_commit(root), **modules)
