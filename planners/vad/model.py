"""VAD: image encoder, head, and the temporal state of ``forward_test`` (hustvl/VAD ``VAD.py:256-313``).

The state follows the original exactly: a new ``scene_token`` drops the previous BEV; ``can_bus[:3]`` and
``can_bus[-1]`` become deltas from the previous frame (the yaw delta in degrees, not wrapped: it can be about +-360
when the yaw crosses 0, and it is fed to the CAN-bus MLP as is), or zeros on a scene's first frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from occsim.planners.vad.backbone import FPN, ResNet50
from occsim.planners.vad.config import VADConfig
from occsim.planners.vad.head import VADHead

STAGE_CHANNELS = (256, 512, 1024, 2048)


@dataclass
class TemporalState:
    """What VAD keeps between frames."""

    prev_bev: torch.Tensor | None = None
    scene_token: str | None = None
    prev_pos: np.ndarray = field(default_factory=lambda: np.zeros(3))
    prev_angle: float = 0.0


class VAD(nn.Module):
    """One VAD variant; ``step`` runs a frame as the official ``forward_test`` does, ``forward`` without state."""

    def __init__(self, cfg: VADConfig):
        super().__init__()
        self.cfg = cfg
        self.img_backbone = ResNet50(cfg.backbone_stages)
        self.img_neck = FPN(tuple(STAGE_CHANNELS[i] for i in cfg.backbone_stages), cfg.embed, cfg.levels)
        self.pts_bbox_head = VADHead(cfg)
        self.state = TemporalState()
        self.backbone_dtype = torch.float32

    def prepare_for_inference(self, dtype: torch.dtype = torch.float32) -> VAD:
        """Eval mode; batch norms folded into their convolutions; the image encoder channels-last in ``dtype``.

        The BEV encoder and the heads stay float32: their sampling locations need the precision. After folding,
        ``state_dict()`` no longer has the checkpoint's batch-norm keys; load weights before calling this.
        """
        self.eval()
        fold_batch_norms(self.img_backbone)
        self.backbone_dtype = dtype
        for module in (self.img_backbone, self.img_neck):
            module.to(dtype=dtype, memory_format=torch.channels_last)
        return self

    def image_features(self, img: torch.Tensor) -> list[torch.Tensor]:
        """(B, N, 3, H, W) network input -> per FPN level (B, N, C, h, w)."""
        b, n = img.shape[:2]
        images = img.flatten(0, 1).to(self.backbone_dtype).contiguous(memory_format=torch.channels_last)
        feats = self.img_neck(self.img_backbone(images))
        return [f.float().contiguous().view(b, n, *f.shape[1:]) for f in feats]

    def forward(self, img, can_bus, lidar2img, prev_bev=None) -> dict[str, torch.Tensor]:
        """The head's outputs for a batch with ``can_bus`` (B, 18) float64 already holding the deltas."""
        return self.pts_bbox_head(self.image_features(img), prev_bev, can_bus, lidar2img, self.cfg.pad_hw)

    def reset(self) -> None:
        """Forget the previous frame."""
        self.state = TemporalState()

    @torch.inference_mode()
    def step(self, img: torch.Tensor, can_bus: np.ndarray, lidar2img: np.ndarray, scene_token: str) -> dict:
        """One frame of one scene (batch of one), updating the temporal state.

        Args:
            img: (1, 6, 3, H_pad, W_pad) network input.
            can_bus: (18,) absolute values as VAD's dataset gives them (position, quaternion, CAN, yaw rad, yaw deg).
            lidar2img: (6, 4, 4) for the scaled images.
            scene_token: frames of one scene share it; a new one starts over.
        """
        state = self.state
        if scene_token != state.scene_token:
            state.prev_bev = None
        state.scene_token = scene_token
        bus = np.array(can_bus, dtype=np.float64)
        position, angle = bus[:3].copy(), float(bus[-1])
        if state.prev_bev is not None:
            bus[:3] -= state.prev_pos
            bus[-1] -= state.prev_angle
        else:
            bus[-1] = 0.0
            bus[:3] = 0.0
        device = img.device
        outs = self(
            img,
            torch.as_tensor(bus, dtype=torch.float64, device=device)[None],
            torch.as_tensor(np.asarray(lidar2img), dtype=torch.float32, device=device)[None],
            state.prev_bev,
        )
        state.prev_pos, state.prev_angle, state.prev_bev = position, angle, outs["bev_embed"]
        return outs


def fold_batch_norms(module: nn.Module) -> None:
    """Fold every eval-mode batch norm into the convolution before it (``convN``/``bnN`` pairs, conv-bn sequences)."""
    for parent in module.modules():
        children = dict(parent.named_children())
        pairs = [(f"conv{k}", f"bn{k}") for k in range(1, 4)]
        pairs += [(str(i), str(i + 1)) for i in range(len(children) - 1)] if isinstance(parent, nn.Sequential) else []
        for conv_name, bn_name in pairs:
            conv, bn = children.get(conv_name), children.get(bn_name)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(parent, conv_name, fuse_conv_bn_eval(conv.eval(), bn.eval()))
                setattr(parent, bn_name, nn.Identity())
