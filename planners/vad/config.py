"""The two released VAD variants: what differs between VAD-Tiny and VAD-Base at inference.

Values from hustvl/VAD ``projects/configs/VAD/VAD_{tiny,base}_e2e.py`` (the ``*_stage_2.py`` configs the released
checkpoints belong to are the same at inference).
"""

from __future__ import annotations

from dataclasses import dataclass

PC_RANGE = (-15.0, -30.0, -2.0, 15.0, 30.0, 2.0)  # LiDAR frame [m]: x0, y0, z0, x1, y1, z1
# The released checkpoints were trained with caffe-style input: BGR channel order, mean subtracted, no scaling
# (docs/train_eval.md; hustvl/VAD issues #9, #18); the configs' later ImageNet normalisation is not what they need.
CAFFE_MEAN_BGR = (103.530, 116.280, 123.675)
NUSCENES_HW = (900, 1600)  # the image size VAD's pipeline starts from [px]


@dataclass(frozen=True)
class VADConfig:
    """One variant's inference settings."""

    name: str
    bev_h: int  # BEV rows (y, 60 m)
    bev_w: int  # BEV columns (x, 30 m)
    encoder_layers: int
    decoder_layers: int  # detection and map decoders each
    levels: int  # FPN outputs the spatial cross-attention samples
    backbone_stages: tuple[int, ...]  # ResNet stages (0-based) fed to the FPN
    scale: float  # test-time image scale from 1600 x 900
    embed: int = 256
    ffn: int = 512
    heads: int = 8
    num_query: int = 300
    num_classes: int = 10
    map_classes: int = 3
    map_vectors: int = 100
    map_points: int = 20
    fut_ts: int = 6
    fut_mode: int = 6
    ego_fut_mode: int = 3
    z_anchors: int = 4
    tsa_points: int = 4
    sca_points: int = 8
    decoder_points: int = 4
    rotate_center: tuple[int, int] = (100, 100)  # the default, for both variants (a corner of Tiny's grid)
    map_thresh: float = 0.5  # motion-map: map vectors whose best class score passes this
    dis_thresh: float = 0.2  # motion-map: within this normalised distance of an agent
    can_bus_dims: int = 18

    @property
    def pad_hw(self) -> tuple[int, int]:
        """The padded network input (height, width): the scaled nuScenes image up to a multiple of 32."""
        h, w = int(NUSCENES_HW[0] * self.scale), int(NUSCENES_HW[1] * self.scale)
        return -(-h // 32) * 32, -(-w // 32) * 32

    @property
    def image_hw(self) -> tuple[int, int]:
        """The scaled image (height, width) before padding."""
        return int(NUSCENES_HW[0] * self.scale), int(NUSCENES_HW[1] * self.scale)


TINY = VADConfig("tiny", 100, 100, 3, 3, 1, (3,), 0.4)
BASE = VADConfig("base", 200, 200, 6, 6, 4, (1, 2, 3), 0.8)
VARIANTS = {"tiny": TINY, "base": BASE}
