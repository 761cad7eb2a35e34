"""Stand-ins for the pieces of mmdet 2.14 and mmdet3d 0.17.1 that hustvl/VAD's model files import, and
torchvision 0.10's tensor ``rotate``.

Written from those versions' semantics (mmdet ``models/backbones/resnet.py``, ``models/necks/fpn.py``,
``models/dense_heads/detr_head.py``, ``models/utils/{transformer,positional_encoding}.py``, ``core/bbox/
transforms.py``; mmdet3d ``models/detectors/mvx_two_stage.py``; torchvision ``transforms/functional{,_tensor}.py``),
not copied. Parameter names are the originals' (``conv1``, ``bn1``, ``layer1.0.downsample.0``, ``lateral_convs.0
.conv``...), because the port's checkpoint names must match them one to one.
"""

# Mutable dict defaults are kept on purpose: mmcv/mmdet declare them so, and mmcv 1.4.0's BaseTransformerLayer
# writes the deprecated FFN arguments into its shared default ``ffn_cfgs``.
# ruff: noqa: B006

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.vad_oracle.mmcv_standins import (
    POSITIONAL_ENCODING,
    TRANSFORMER_LAYER,
    BaseModule,
    BaseTransformerLayer,
    ConvModule,
    Registry,
    build_activation_layer,
    build_conv_layer,
    build_from_cfg,
    build_norm_layer,
    build_positional_encoding,
)


class InferenceStub:
    """What a loss, assigner, sampler or box coder config builds here: VAD's head constructs them but its
    inference path only reads attributes from them (``loss_cls.use_sigmoid``, ``bbox_coder.pc_range``).
    """

    def __init__(self, type_name: str, **kwargs):
        self.type_name = type_name
        self.use_sigmoid = False
        self.__dict__.update(kwargs)

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self.type_name} is a stand-in: losses, assigners and coders do not run in the oracle")


# ----------------------------------------------------------------------------------------------------------------
# registries and builders (mmdet 2.14 keeps backbones, necks, heads and detectors in one MODELS registry)

MODELS = Registry("models")
BACKBONES = NECKS = HEADS = DETECTORS = MODELS
LOSSES = Registry("loss", fallback=InferenceStub)
BBOX_ASSIGNERS = Registry("bbox_assigner", fallback=InferenceStub)
BBOX_SAMPLERS = Registry("bbox_sampler", fallback=InferenceStub)
BBOX_CODERS = Registry("bbox_coder", fallback=InferenceStub)
MATCH_COST = Registry("Match Cost", fallback=InferenceStub)
TRANSFORMER = Registry("Transformer")


def build_backbone(cfg):
    """From MODELS."""
    return build_from_cfg(cfg, BACKBONES)


def build_neck(cfg):
    """From MODELS."""
    return build_from_cfg(cfg, NECKS)


def build_head(cfg):
    """From MODELS."""
    return build_from_cfg(cfg, HEADS)


def build_detector(cfg, train_cfg=None, test_cfg=None):
    """From MODELS, with the top-level train/test cfgs as defaults (mmdet3d's ``build_model``)."""
    return build_from_cfg(cfg, DETECTORS, dict(train_cfg=train_cfg, test_cfg=test_cfg))


def build_loss(cfg):
    """An inert stand-in unless the type is registered."""
    return build_from_cfg(cfg, LOSSES)


def build_assigner(cfg, **default_args):
    """An inert stand-in."""
    return build_from_cfg(cfg, BBOX_ASSIGNERS, default_args)


def build_sampler(cfg, **default_args):
    """An inert stand-in."""
    return build_from_cfg(cfg, BBOX_SAMPLERS, default_args)


def build_bbox_coder(cfg, **default_args):
    """An inert stand-in (keeps ``pc_range`` and the other arguments as attributes)."""
    return build_from_cfg(cfg, BBOX_CODERS, default_args)


def build_transformer(cfg, default_args=None):
    """From TRANSFORMER."""
    return build_from_cfg(cfg, TRANSFORMER, default_args)


def weighted_loss(loss_func):
    """Decorator stand-in (losses never run here)."""
    return loss_func


def multi_apply(func, *args, **kwargs):
    """Apply ``func`` over zipped inputs; a tuple of lists, one per output."""
    mapped = map((lambda *a: func(*a, **kwargs)) if kwargs else func, *args)
    return tuple(map(list, zip(*mapped, strict=False)))


def reduce_mean(tensor):
    """Single process: the tensor itself."""
    return tensor


def bbox3d2result(bboxes, scores, labels, attrs=None):
    """mmdet3d's result dict (boxes on the CPU)."""
    out = dict(boxes_3d=bboxes.to("cpu"), scores_3d=scores.cpu(), labels_3d=labels.cpu())
    if attrs is not None:
        out["attrs_3d"] = attrs.cpu()
    return out


# ----------------------------------------------------------------------------------------------------------------
# mmdet.models.utils / mmdet.core.bbox


def inverse_sigmoid(x, eps=1e-5):
    """``log(x / (1 - x))`` with x clamped to [0, 1] and numerator and denominator to at least ``eps``."""
    x = x.clamp(min=0, max=1)
    x1 = x.clamp(min=eps)
    x2 = (1 - x).clamp(min=eps)
    return torch.log(x1 / x2)


def bbox_xyxy_to_cxcywh(bbox):
    """(x1, y1, x2, y2) -> (cx, cy, w, h)."""
    x1, y1, x2, y2 = bbox.split((1, 1, 1, 1), dim=-1)
    return torch.cat([(x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1), (y2 - y1)], dim=-1)


def bbox_cxcywh_to_xyxy(bbox):
    """(cx, cy, w, h) -> (x1, y1, x2, y2)."""
    cx, cy, w, h = bbox.split((1, 1, 1, 1), dim=-1)
    return torch.cat([(cx - 0.5 * w), (cy - 0.5 * h), (cx + 0.5 * w), (cy + 0.5 * h)], dim=-1)


@POSITIONAL_ENCODING.register_module()
class LearnedPositionalEncoding(BaseModule):
    """mmdet's learned positional encoding: per cell, the column embedding then the row embedding.

    Initialised U(0, 1) (``init_cfg=dict(type='Uniform', layer='Embedding')``).
    """

    def __init__(self, num_feats, row_num_embed=50, col_num_embed=50, init_cfg=dict(type="Uniform", layer="Embedding")):
        super().__init__(init_cfg)
        self.row_embed = nn.Embedding(row_num_embed, num_feats)
        self.col_embed = nn.Embedding(col_num_embed, num_feats)
        self.num_feats = num_feats

    def forward(self, mask):
        """(bs, h, w) mask -> (bs, 2 * num_feats, h, w)."""
        h, w = mask.shape[-2:]
        x_embed = self.col_embed(torch.arange(w, device=mask.device))
        y_embed = self.row_embed(torch.arange(h, device=mask.device))
        pos = torch.cat((x_embed.unsqueeze(0).repeat(h, 1, 1), y_embed.unsqueeze(1).repeat(1, w, 1)), dim=-1)
        return pos.permute(2, 0, 1).unsqueeze(0).repeat(mask.shape[0], 1, 1, 1)


@TRANSFORMER_LAYER.register_module()
class DetrTransformerDecoderLayer(BaseTransformerLayer):
    """mmdet's DETR decoder layer: a ``BaseTransformerLayer`` given the FFN settings through the deprecated
    arguments (``act_cfg`` and ``norm_cfg`` ride along in kwargs, as in mmdet 2.14), six operations.
    """

    def __init__(
        self,
        attn_cfgs,
        feedforward_channels,
        ffn_dropout=0.0,
        operation_order=None,
        act_cfg=dict(type="ReLU", inplace=True),
        norm_cfg=dict(type="LN"),
        ffn_num_fcs=2,
        **kwargs,
    ):
        super().__init__(
            attn_cfgs=attn_cfgs,
            feedforward_channels=feedforward_channels,
            ffn_dropout=ffn_dropout,
            operation_order=operation_order,
            act_cfg=act_cfg,
            norm_cfg=norm_cfg,
            ffn_num_fcs=ffn_num_fcs,
            **kwargs,
        )
        assert len(operation_order) == 6
        assert set(operation_order) == {"self_attn", "norm", "cross_attn", "ffn"}


# ----------------------------------------------------------------------------------------------------------------
# mmdet ResNet (Bottleneck depths) and FPN


class Bottleneck(BaseModule):
    """mmdet's bottleneck; ``style='pytorch'`` puts the stride on the 3 x 3 conv. Norms are ``bn1..bn3``."""

    expansion = 4

    def __init__(
        self,
        inplanes,
        planes,
        stride=1,
        dilation=1,
        downsample=None,
        style="pytorch",
        with_cp=False,
        conv_cfg=None,
        norm_cfg=dict(type="BN"),
        dcn=None,
        plugins=None,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        assert style in ("pytorch", "caffe") and dcn is None and plugins is None
        conv1_stride, conv2_stride = (1, stride) if style == "pytorch" else (stride, 1)
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, planes, postfix=1)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, planes, postfix=2)
        self.norm3_name, norm3 = build_norm_layer(norm_cfg, planes * self.expansion, postfix=3)
        self.conv1 = build_conv_layer(conv_cfg, inplanes, planes, kernel_size=1, stride=conv1_stride, bias=False)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(
            conv_cfg,
            planes,
            planes,
            kernel_size=3,
            stride=conv2_stride,
            padding=dilation,
            dilation=dilation,
            bias=False,
        )
        self.add_module(self.norm2_name, norm2)
        self.conv3 = build_conv_layer(conv_cfg, planes, planes * self.expansion, kernel_size=1, bias=False)
        self.add_module(self.norm3_name, norm3)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    @property
    def norm1(self):
        return getattr(self, self.norm1_name)

    @property
    def norm2(self):
        return getattr(self, self.norm2_name)

    @property
    def norm3(self):
        return getattr(self, self.norm3_name)

    def forward(self, x):
        """The residual block."""
        identity = x
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.relu(self.norm2(self.conv2(out)))
        out = self.norm3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


@BACKBONES.register_module()
class ResNet(BaseModule):
    """mmdet's ResNet (50/101/152): stem conv1/bn1/relu/maxpool, ``layer1..4``; returns the ``out_indices`` stages.

    Without pretrained weights its init_cfg is Kaiming for convs and 1 for norms, and (``zero_init_residual``) each
    block's last norm is zeroed. ``norm_eval`` keeps batch norm in eval mode; ``frozen_stages`` freezes the stem and
    the first stages.
    """

    arch_settings = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}

    def __init__(
        self,
        depth,
        in_channels=3,
        stem_channels=None,
        base_channels=64,
        num_stages=4,
        strides=(1, 2, 2, 2),
        dilations=(1, 1, 1, 1),
        out_indices=(0, 1, 2, 3),
        style="pytorch",
        deep_stem=False,
        avg_down=False,
        frozen_stages=-1,
        conv_cfg=None,
        norm_cfg=dict(type="BN", requires_grad=True),
        norm_eval=True,
        dcn=None,
        stage_with_dcn=(False, False, False, False),
        plugins=None,
        with_cp=False,
        zero_init_residual=True,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(init_cfg)
        assert not deep_stem and not avg_down and dcn is None and plugins is None and pretrained is None
        block_init_cfg = None
        if init_cfg is None:
            self.init_cfg = [
                dict(type="Kaiming", layer="Conv2d"),
                dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"]),
            ]
            if zero_init_residual:
                block_init_cfg = dict(type="Constant", val=0, override=dict(name="norm3"))
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        stem_channels = base_channels if stem_channels is None else stem_channels
        self.conv1 = build_conv_layer(
            conv_cfg, in_channels, stem_channels, kernel_size=7, stride=2, padding=3, bias=False
        )
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, stem_channels, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        inplanes = stem_channels
        self.res_layers = []
        for i, num_blocks in enumerate(self.arch_settings[depth][:num_stages]):
            planes = base_channels * 2**i
            stride, dilation = strides[i], dilations[i]
            downsample = None
            if stride != 1 or inplanes != planes * Bottleneck.expansion:
                downsample = nn.Sequential(
                    build_conv_layer(
                        conv_cfg, inplanes, planes * Bottleneck.expansion, kernel_size=1, stride=stride, bias=False
                    ),
                    build_norm_layer(norm_cfg, planes * Bottleneck.expansion)[1],
                )
            blocks = [
                Bottleneck(
                    inplanes,
                    planes,
                    stride,
                    dilation,
                    downsample,
                    style,
                    with_cp,
                    conv_cfg,
                    norm_cfg,
                    init_cfg=block_init_cfg,
                )
            ]
            inplanes = planes * Bottleneck.expansion
            blocks += [
                Bottleneck(
                    inplanes, planes, 1, dilation, None, style, with_cp, conv_cfg, norm_cfg, init_cfg=block_init_cfg
                )
                for _ in range(1, num_blocks)
            ]
            name = f"layer{i + 1}"
            self.add_module(name, nn.Sequential(*blocks))
            self.res_layers.append(name)
        self._freeze_stages()

    @property
    def norm1(self):
        return getattr(self, self.norm1_name)

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            self.norm1.eval()
            for m in (self.conv1, self.norm1):
                for param in m.parameters():
                    param.requires_grad = False
        for i in range(1, self.frozen_stages + 1):
            m = getattr(self, f"layer{i}")
            m.eval()
            for param in m.parameters():
                param.requires_grad = False

    def forward(self, x):
        """Stem, then the stages; the ``out_indices`` outputs as a tuple."""
        x = self.maxpool(self.relu(self.norm1(self.conv1(x))))
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode=True):
        """Keep frozen stages and (``norm_eval``) every batch norm in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self


@NECKS.register_module()
class FPN(BaseModule):
    """mmdet's FPN: 1 x 1 laterals, nearest top-down merge (in place), 3 x 3 output convs, then extra stride-2 convs.

    With ``add_extra_convs='on_output'`` the first extra conv takes the last output as is; ``relu_before_extra_convs``
    puts a ReLU before the second and later ones only.
    """

    def __init__(
        self,
        in_channels,
        out_channels,
        num_outs,
        start_level=0,
        end_level=-1,
        add_extra_convs=False,
        relu_before_extra_convs=False,
        no_norm_on_lateral=False,
        conv_cfg=None,
        norm_cfg=None,
        act_cfg=None,
        upsample_cfg=dict(mode="nearest"),
        init_cfg=dict(type="Xavier", layer="Conv2d", distribution="uniform"),
    ):
        super().__init__(init_cfg)
        assert isinstance(in_channels, list)
        self.in_channels = in_channels
        self.num_ins = len(in_channels)
        self.num_outs = num_outs
        self.relu_before_extra_convs = relu_before_extra_convs
        self.upsample_cfg = dict(upsample_cfg)
        if end_level == -1:
            self.backbone_end_level = self.num_ins
            assert num_outs >= self.num_ins - start_level
        else:
            self.backbone_end_level = end_level
            assert num_outs == end_level - start_level
        self.start_level = start_level
        if add_extra_convs is True:
            add_extra_convs = "on_input"
        assert add_extra_convs in (False, "on_input", "on_lateral", "on_output")
        self.add_extra_convs = add_extra_convs
        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for i in range(start_level, self.backbone_end_level):
            self.lateral_convs.append(
                ConvModule(
                    in_channels[i],
                    out_channels,
                    1,
                    conv_cfg=conv_cfg,
                    norm_cfg=None if no_norm_on_lateral else norm_cfg,
                    act_cfg=act_cfg,
                    inplace=False,
                )
            )
            self.fpn_convs.append(
                ConvModule(
                    out_channels,
                    out_channels,
                    3,
                    padding=1,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg,
                    inplace=False,
                )
            )
        extra_levels = num_outs - self.backbone_end_level + start_level
        if add_extra_convs and extra_levels >= 1:
            for i in range(extra_levels):
                channels = (
                    in_channels[self.backbone_end_level - 1]
                    if i == 0 and add_extra_convs == "on_input"
                    else out_channels
                )
                self.fpn_convs.append(
                    ConvModule(
                        channels,
                        out_channels,
                        3,
                        stride=2,
                        padding=1,
                        conv_cfg=conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg,
                        inplace=False,
                    )
                )

    def forward(self, inputs):
        """Feature maps of the backbone -> ``num_outs`` maps."""
        assert len(inputs) == len(self.in_channels)
        laterals = [conv(inputs[i + self.start_level]) for i, conv in enumerate(self.lateral_convs)]
        used = len(laterals)
        for i in range(used - 1, 0, -1):
            if "scale_factor" in self.upsample_cfg:
                laterals[i - 1] += F.interpolate(laterals[i], **self.upsample_cfg)
            else:
                laterals[i - 1] += F.interpolate(laterals[i], size=laterals[i - 1].shape[2:], **self.upsample_cfg)
        outs = [self.fpn_convs[i](laterals[i]) for i in range(used)]
        if self.num_outs > len(outs):
            if not self.add_extra_convs:
                for _ in range(self.num_outs - used):
                    outs.append(F.max_pool2d(outs[-1], 1, stride=2))
            else:
                source = {
                    "on_input": lambda: inputs[self.backbone_end_level - 1],
                    "on_lateral": lambda: laterals[-1],
                    "on_output": lambda: outs[-1],
                }[self.add_extra_convs]()
                outs.append(self.fpn_convs[used](source))
                for i in range(used + 1, self.num_outs):
                    outs.append(self.fpn_convs[i](F.relu(outs[-1]) if self.relu_before_extra_convs else outs[-1]))
        return tuple(outs)


# ----------------------------------------------------------------------------------------------------------------
# detectors and heads


class BaseDetector(BaseModule):
    """mmdet's detector base: only the ``with_*`` properties VAD's inference path reads."""

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg)
        self.fp16_enabled = False

    @property
    def with_neck(self):
        return getattr(self, "neck", None) is not None


class Base3DDetector(BaseDetector):
    """mmdet3d's 3-D detector base (nothing VAD's test path uses beyond ``BaseDetector``)."""


@DETECTORS.register_module()
class MVXTwoStageDetector(Base3DDetector):
    """mmdet3d 0.17.1's multi-modality detector, image branch only: the head is built first (given
    ``train_cfg.pts``/``test_cfg.pts``), then the image backbone and neck; ``pretrained={'img': ...}`` would become
    the backbone's ``Pretrained`` init_cfg (the oracle sets ``pretrained=None`` as VAD's ``tools/test.py`` does).
    """

    def __init__(
        self,
        pts_voxel_layer=None,
        pts_voxel_encoder=None,
        pts_middle_encoder=None,
        pts_fusion_layer=None,
        img_backbone=None,
        pts_backbone=None,
        img_neck=None,
        pts_neck=None,
        pts_bbox_head=None,
        img_roi_head=None,
        img_rpn_head=None,
        train_cfg=None,
        test_cfg=None,
        pretrained=None,
        init_cfg=None,
    ):
        super().__init__(init_cfg=init_cfg)
        assert not (
            pts_voxel_layer
            or pts_voxel_encoder
            or pts_middle_encoder
            or pts_fusion_layer
            or pts_backbone
            or pts_neck
            or img_roi_head
            or img_rpn_head
        ), "the oracle covers VAD's camera-only detector"
        if pts_bbox_head:
            pts_bbox_head.update(train_cfg=train_cfg.pts if train_cfg else None)
            pts_bbox_head.update(test_cfg=test_cfg.pts if test_cfg else None)
            self.pts_bbox_head = build_head(pts_bbox_head)
        if img_backbone:
            self.img_backbone = build_backbone(img_backbone)
        if img_neck is not None:
            self.img_neck = build_neck(img_neck)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        img_pretrained = pretrained.get("img") if isinstance(pretrained, dict) else None
        if self.with_img_backbone and img_pretrained is not None:
            self.img_backbone.init_cfg = dict(type="Pretrained", checkpoint=img_pretrained)

    @property
    def with_img_backbone(self):
        return getattr(self, "img_backbone", None) is not None

    @property
    def with_img_neck(self):
        return getattr(self, "img_neck", None) is not None

    @property
    def with_pts_bbox(self):
        return getattr(self, "pts_bbox_head", None) is not None


class DETRHead(BaseModule):
    """mmdet 2.14's DETR head, constructor only: losses (stand-ins), positional encoding, transformer, then the
    subclass's ``_init_layers``; ``init_weights`` initialises the transformer.
    """

    _version = 2

    def __init__(
        self,
        num_classes,
        in_channels,
        num_query=100,
        num_reg_fcs=2,
        transformer=None,
        sync_cls_avg_factor=False,
        positional_encoding=dict(type="SinePositionalEncoding", num_feats=128, normalize=True),
        loss_cls=dict(type="CrossEntropyLoss", bg_cls_weight=0.1, use_sigmoid=False, loss_weight=1.0, class_weight=1.0),
        loss_bbox=dict(type="L1Loss", loss_weight=5.0),
        loss_iou=dict(type="GIoULoss", loss_weight=2.0),
        train_cfg=None,
        test_cfg=dict(max_per_img=100),
        init_cfg=None,
        **kwargs,
    ):
        super().__init__(init_cfg)
        self.bg_cls_weight = 0
        self.sync_cls_avg_factor = sync_cls_avg_factor
        if train_cfg:
            self.assigner = build_assigner(train_cfg["assigner"])
            self.sampler = build_sampler(dict(type="PseudoSampler"), context=self)
        self.num_query = num_query
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.num_reg_fcs = num_reg_fcs
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        self.fp16_enabled = False
        self.loss_cls = build_loss(loss_cls)
        self.loss_bbox = build_loss(loss_bbox)
        self.loss_iou = build_loss(loss_iou)
        self.cls_out_channels = num_classes if self.loss_cls.use_sigmoid else num_classes + 1
        self.act_cfg = transformer.get("act_cfg", dict(type="ReLU", inplace=True))
        self.activate = build_activation_layer(self.act_cfg)
        self.positional_encoding = build_positional_encoding(positional_encoding)
        self.transformer = build_transformer(transformer)
        self.embed_dims = self.transformer.embed_dims
        assert positional_encoding["num_feats"] * 2 == self.embed_dims
        self._init_layers()

    def _init_layers(self):
        raise NotImplementedError("VAD's head defines its own layers")

    def init_weights(self):
        """The transformer's own initialisation."""
        self.transformer.init_weights()


# ----------------------------------------------------------------------------------------------------------------
# torchvision 0.10


def rotate(img, angle, interpolation="nearest", expand=False, center=None, fill=None, resample=None):
    """torchvision 0.10's ``transforms.functional.rotate`` for a tensor, nearest, no expand, no fill.

    Counter-clockwise by ``angle`` degrees about ``center`` (pixel coordinates, origin at the top-left corner): the
    inverse affine matrix is built in float64 in torchvision's operation order (``_get_inverse_affine_matrix`` with
    -angle), then cast to the image dtype; the sampling grid is the output pixel centres in a frame centred on the
    image, normalised by half the size, and ``grid_sample`` (nearest, zeros, ``align_corners=False``) reads it.
    """
    if not isinstance(angle, (int, float)):
        raise TypeError("Argument angle should be int or float")
    if expand or fill is not None or interpolation != "nearest":
        raise NotImplementedError("the oracle only needs VAD's call: nearest (the default), no expand, no fill")
    h, w = img.shape[-2], img.shape[-1]
    center_f = [0.0, 0.0]
    if center is not None:
        center_f = [1.0 * (c - s * 0.5) for c, s in zip(center, [w, h], strict=True)]
    # _get_inverse_affine_matrix(center_f, -angle, translate=[0, 0], scale=1, shear=[0, 0])
    rot = math.radians(-angle)
    sx = sy = 0.0
    cx, cy = center_f
    tx, ty = 0.0, 0.0
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    matrix = [x / 1.0 for x in (d, -b, 0.0, -c, a, 0.0)]
    matrix[2] += matrix[0] * (-cx - tx) + matrix[1] * (-cy - ty)
    matrix[5] += matrix[3] * (-cx - tx) + matrix[4] * (-cy - ty)
    matrix[2] += cx
    matrix[5] += cy
    dtype = img.dtype if torch.is_floating_point(img) else torch.float32
    theta = torch.tensor(matrix, dtype=dtype, device=img.device).reshape(1, 2, 3)
    # _gen_affine_grid(theta, w, h, ow=w, oh=h)
    base = torch.empty(1, h, w, 3, dtype=theta.dtype, device=theta.device)
    base[..., 0].copy_(torch.linspace(-w * 0.5 + 0.5, w * 0.5 + 0.5 - 1, steps=w, device=theta.device))
    base[..., 1].copy_(torch.linspace(-h * 0.5 + 0.5, h * 0.5 + 0.5 - 1, steps=h, device=theta.device).unsqueeze_(-1))
    base[..., 2].fill_(1)
    rescaled = theta.transpose(1, 2) / torch.tensor([0.5 * w, 0.5 * h], dtype=theta.dtype, device=theta.device)
    grid = base.view(1, h * w, 3).bmm(rescaled).view(1, h, w, 2)
    # _apply_grid_transform: NCHW in the grid's dtype, same grid for the whole batch
    squeeze = img.ndim < 4
    x = img.unsqueeze(0) if squeeze else img
    out_dtype = x.dtype
    if x.dtype != grid.dtype:
        x = x.to(grid.dtype)
    if x.shape[0] > 1:
        grid = grid.expand(x.shape[0], h, w, 2)
    out = F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    if squeeze:
        out = out.squeeze(0)
    if out.dtype != out_dtype:
        out = torch.round(out).to(out_dtype) if not out_dtype.is_floating_point else out.to(out_dtype)
    return out


def make_grid(*args, **kwargs):
    """torchvision.utils.make_grid: only imported by VAD's visualisation helper, never called at inference."""
    raise RuntimeError("make_grid is not part of the oracle")
