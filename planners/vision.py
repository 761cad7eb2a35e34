"""A small VAD-style camera-only planner: six views -> BEV features -> ego query -> ``ego_fut_preds``.

The network follows VAD's planning path at a scale a CPU can train: a shared CNN over the six views, a
parameter-free lift to a bird's-eye-view grid (each BEV pillar is projected into every camera with the
observation's intrinsics and cam2ego, image features are sampled there and averaged over the cameras that see it,
as in Simple-BEV), a BEV encoder with an auxiliary BEV-occupancy head, and an ego query that attends to the BEV
tokens and outputs per-command offsets ``ego_fut_preds`` (3 commands, 6 steps, 2). The command's row is picked and
cumulatively summed into waypoints, as VAD does.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from occsim.classes import BARRIER, DRIVEABLE_SURFACE, MANMADE, OTHERS, TRUCK, VEGETATION
from occsim.planners.base import Planner, from_known_keys, register_planner, weights_problems
from occsim.planners.occupancy_guard import DEFAULT_GUARD, GuardState, OccupancyGuard
from occsim.types import (
    COMMAND_STRAIGHT,
    VISION_INPUT_HW,
    WAYPOINTS,
    PlannerInput,
    Pose2D,
    PrivilegedInput,
    Trajectory,
    scale_intrinsics,
)

N_COMMANDS = 3
CAMERAS = 6  # the nuScenes rig's surround cameras
BEV_CHANNELS = ("objects", "static", "driveable")  # auxiliary BEV targets, see ``bev_targets``
WEIGHTS_DIR = Path(__file__).parent / "weights" / "vision"
MEMORY_WEIGHTS_DIR = Path(__file__).parent / "weights" / "vision-memory"  # the shipped network with a BEV memory
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
EGO_SCALE = (10.0, 3.0, 0.3, 0.3)  # typical magnitude of speed, acceleration, yaw rate, steering


@dataclass(frozen=True)
class VisionConfig:
    """Shape of the network; saved beside the weights."""

    input_hw: tuple[int, int] = VISION_INPUT_HW  # image (height, width) the backbone sees [px]
    image_channels: int = 48  # backbone output channels (stride 8)
    bev_channels: int = 64  # BEV feature channels
    bev_range: float = 40.0  # BEV grid covers x, y in [-range, range] in the ego frame [m]
    bev_cells: int = 40  # cells per side of the BEV grid
    pillar_heights: tuple[float, ...] = (0.3, 0.9, 1.5, 2.4)  # heights sampled in each BEV pillar [m]
    query_channels: int = 128  # ego query width
    attention_layers: int = 2  # ego-query cross-attention layers
    heads: int = 4
    # > 1: a further view, the forward camera's central 1/zoom of the frame at input_hw (``zoom_view``), so small
    # objects far ahead (a cone at 40 m is under a pixel at 64 x 112) cover zoom x more pixels; 1: six views only.
    zoom: float = 1.0
    # Carry the previous step's BEV features, warped into the current ego frame by the ego's own motion (its
    # localisation, as VAD's can_bus), and fuse them through a learned gate, so a car that leaves the view stays in
    # the map for a while (BEVFormer's prev_bev). False: every step on its own (the weights shipped before).
    temporal: bool = False

    @property
    def views(self) -> int:
        """Views the network sees: the six cameras, and the zoom view where ``zoom`` > 1."""
        return CAMERAS + (self.zoom > 1.0)

    def describe_views(self) -> str:
        """The views in words, for model cards."""
        return (
            f"six views and a {self.zoom:g}x zoom view of the front camera's centre" if self.zoom > 1 else "six views"
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VisionConfig:
        """From a saved config; unknown keys are an error."""
        tuples = {key: tuple(data[key]) for key in ("input_hw", "pillar_heights") if key in data}
        return from_known_keys(cls, {**data, **tuples}, "vision-planner config")


def _conv(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class VisionPlannerNet(nn.Module):
    """The network; ``forward`` takes batched observations already resized to ``config.input_hw``."""

    def __init__(self, config: VisionConfig | None = None):
        super().__init__()
        self.config = config = config or VisionConfig()
        c = config.image_channels
        self.backbone = nn.Sequential(_conv(3, 24, 2), _conv(24, 32, 2), _conv(32, 48, 1), _conv(48, c, 2), _conv(c, c))
        b = config.bev_channels
        self.lift = nn.Sequential(nn.Conv2d(c * len(config.pillar_heights), b, 1), nn.BatchNorm2d(b), nn.ReLU())
        self.bev_encoder = nn.Sequential(_conv(b, b), _conv(b, b))
        self.bev_head = nn.Conv2d(b, len(BEV_CHANNELS), 1)
        q = config.query_channels
        self.bev_down = nn.Sequential(_conv(b, 96, 2), _conv(96, q, 2))
        tokens = (config.bev_cells // 4) ** 2
        self.token_position = nn.Parameter(torch.randn(1, tokens, q) * 0.02)
        self.ego_embed = nn.Sequential(nn.Linear(len(EGO_SCALE) + N_COMMANDS, q), nn.ReLU(), nn.Linear(q, q))
        self.ego_query = nn.Parameter(torch.randn(1, 1, q) * 0.02)
        self.attention = nn.ModuleList(
            nn.MultiheadAttention(q, config.heads, batch_first=True) for _ in range(config.attention_layers)
        )
        self.feedforward = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(q), nn.Linear(q, 2 * q), nn.ReLU(), nn.Linear(2 * q, q))
            for _ in range(config.attention_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(q) for _ in range(config.attention_layers))
        self.plan_head = nn.Sequential(nn.Linear(q, q), nn.ReLU(), nn.Linear(q, N_COMMANDS * WAYPOINTS * 2))
        if config.temporal:
            # gate from the current features, the warped memory and where the memory is valid; value from the memory
            self.temporal_gate = nn.Conv2d(2 * b + 1, b, 3, padding=1)
            self.temporal_value = nn.Conv2d(b, b, 1)
        self.register_buffer("pillars", _pillar_points(config), persistent=False)
        self.register_buffer("ego_scale", torch.tensor(EGO_SCALE), persistent=False)

    def forward(
        self,
        images: torch.Tensor,  # (B, V, 3, H, W) float in [0, 1]: the six cameras (and the zoom view)
        intrinsics: torch.Tensor,  # (B, V, 3, 3) for images of input_hw [px]
        cam2ego: torch.Tensor,  # (B, V, 4, 4)
        ego: torch.Tensor,  # (B, 4) speed, acceleration, yaw rate, steering
        command: torch.Tensor,  # (B,) long, 0 right, 1 left, 2 straight
        memory: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> dict[str, torch.Tensor]:
        """``ego_fut_preds`` (B, 3, 6, 2) per-step offsets [m] and ``bev_logits`` (B, 3, cells, cells).

        A temporal network also returns ``bev_features`` (B, C, cells, cells), the memory of the next step, and takes
        ``memory``: the previous step's ``bev_features`` and the ego's motion since (``ego_motion``, (B, 3)). None
        (the first step of an episode) fuses an empty memory.
        """
        batch, views = images.shape[:2]
        features = self.backbone(images.flatten(0, 1) - 0.5)
        features = features.unflatten(0, (batch, views))
        bev = self.bev_encoder(self.lift(self._lift(features, intrinsics, cam2ego)))
        if self.config.temporal:
            bev = self._fuse(bev, memory)
        tokens = self.bev_down(bev).flatten(2).transpose(1, 2) + self.token_position
        state = torch.cat([ego / self.ego_scale, F.one_hot(command, N_COMMANDS).float()], dim=1)
        query = self.ego_query + self.ego_embed(state)[:, None]
        for attend, feedforward, norm in zip(self.attention, self.feedforward, self.norms):
            query = query + attend(norm(query), tokens, tokens, need_weights=False)[0]
            query = query + feedforward(query)
        preds = self.plan_head(query[:, 0]).view(batch, N_COMMANDS, WAYPOINTS, 2)
        out = {"ego_fut_preds": preds, "bev_logits": self.bev_head(bev)}
        if self.config.temporal:
            out["bev_features"] = bev
        return out

    def _fuse(self, bev: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
        """``bev`` plus the gated, warped memory (nothing where the memory saw no part of the current grid)."""
        if memory is None:
            warped, valid = torch.zeros_like(bev), bev.new_zeros((bev.shape[0], 1, *bev.shape[2:]))
        else:
            warped, valid = warp_bev(memory[0], memory[1], self.config.bev_range)
        gate = torch.sigmoid(self.temporal_gate(torch.cat([bev, warped, valid], dim=1)))
        return bev + gate * self.temporal_value(warped) * valid

    def _lift(self, features: torch.Tensor, intrinsics: torch.Tensor, cam2ego: torch.Tensor) -> torch.Tensor:
        """Average, over the cameras that see it, the image feature at each pillar point: (B, C * Z, cells, cells)."""
        batch, views, channels = features.shape[:3]
        h, w = self.config.input_hw
        ego2cam = torch.linalg.inv(cam2ego)
        points = self.pillars.reshape(1, 1, -1, 3)  # (1, 1, P, 3) ego frame
        cam = points @ ego2cam[..., :3, :3].transpose(-1, -2) + ego2cam[..., None, :3, 3]
        depth = cam[..., 2:3]
        pixels = cam @ intrinsics.transpose(-1, -2)
        uv = pixels[..., :2] / depth.clamp(min=1e-3)
        # grid_sample with align_corners=False: -1 and 1 are the outer edges of the first and last pixel.
        grid = torch.stack([(2 * uv[..., 0] + 1) / w - 1, (2 * uv[..., 1] + 1) / h - 1], dim=-1)
        valid = (depth[..., 0] > 0.1) & (grid.abs() <= 1).all(dim=-1)
        # Points behind a camera are moved off its image, where zero padding samples nothing.
        grid = torch.where(valid[..., None], grid, torch.full_like(grid, -2.0))
        sampled = F.grid_sample(
            features.flatten(0, 1), grid.flatten(0, 1)[:, None], mode="bilinear", align_corners=False
        )  # (B * V, C, 1, P)
        summed = sampled[:, :, 0].unflatten(0, (batch, views)).sum(dim=1)
        summed = summed / valid.float().sum(dim=1)[:, None].clamp(min=1.0)  # (B, C, P)
        cells, heights = self.config.bev_cells, len(self.config.pillar_heights)
        return summed.view(batch, channels, cells, cells, heights).permute(0, 1, 4, 2, 3).flatten(1, 2)


def ego_motion(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """(3,) the current ego pose in the previous ego frame: (dx forward [m], dy left [m], dyaw [rad]).

    Args:
        previous: (3,) world pose (x, y, yaw) of the ego at the previous step.
        current: (3,) world pose now.
    """
    dx, dy = Pose2D(*(float(v) for v in previous)).to_local(np.asarray(current[:2], dtype=np.float64))
    return np.array([dx, dy, np.angle(np.exp(1j * (float(current[2]) - float(previous[2]))))])


def warp_bev(previous: torch.Tensor, motion: torch.Tensor, bev_range: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The previous step's BEV (B, C, cells, cells) resampled into the current ego frame, and where it is valid.

    Cell [i, j] is x_i forward, y_j left (``_pillar_points``). A current cell at p sat at R(dyaw) p + (dx, dy) in
    the previous frame (``motion`` (B, 3), ``ego_motion``); cells that fall outside the previous grid are invalid.

    Returns:
        (warped (B, C, cells, cells), valid (B, 1, cells, cells) float 0 or 1).
    """
    cells = previous.shape[-1]
    size = 2 * bev_range / cells
    centres = -bev_range + (torch.arange(cells, dtype=previous.dtype, device=previous.device) + 0.5) * size
    x, y = torch.meshgrid(centres, centres, indexing="ij")  # (cells, cells) current frame [m]
    dx, dy, dyaw = (motion[:, k, None, None].to(previous.dtype) for k in range(3))
    c, s = torch.cos(dyaw), torch.sin(dyaw)
    x_prev, y_prev = c * x - s * y + dx, s * x + c * y + dy
    # grid_sample's (width, height) = (y, x), normalised so that +-1 are the outer edges of the grid
    grid = torch.stack([y_prev / bev_range, x_prev / bev_range], dim=-1)
    warped = F.grid_sample(previous, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    valid = ((x_prev.abs() < bev_range) & (y_prev.abs() < bev_range)).to(previous.dtype)[:, None]
    return warped, valid


def _pillar_points(config: VisionConfig) -> torch.Tensor:
    """(cells, cells, Z, 3) ego-frame points: cell [i, j] is x_i forward, y_j left, like the Occ3D window."""
    centres = bev_cell_centres(config)
    axes = (torch.tensor(centres, dtype=torch.float32), torch.tensor(config.pillar_heights, dtype=torch.float32))
    x, y, z = torch.meshgrid(axes[0], axes[0], axes[1], indexing="ij")
    return torch.stack([x, y, z], dim=-1)


def bev_cell_centres(config: VisionConfig) -> np.ndarray:
    """Centre coordinates [m] of the BEV cells along x (rows) and y (columns)."""
    size = 2 * config.bev_range / config.bev_cells
    return -config.bev_range + (np.arange(config.bev_cells) + 0.5) * size


def largest_near(grid: np.ndarray, centres: np.ndarray, point: np.ndarray, radius: float) -> float:
    """The largest value of a BEV ``grid`` within ``radius`` of ``point`` (ego frame [m]); 0 where no cell is."""
    xs, ys = np.meshgrid(centres, centres, indexing="ij")
    near = np.hypot(xs - point[0], ys - point[1]) <= radius
    return float(grid[near].max()) if near.any() else 0.0


def waypoints_from_preds(ego_fut_preds: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
    """VAD's decoding: the command's row of per-step offsets, cumulatively summed: (B, 6, 2) ego frame [m]."""
    rows = ego_fut_preds[torch.arange(len(command)), command]
    return rows.cumsum(dim=-2)


def resize_views(images: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Area-resize (V, h, w, 3) uint8 views to ``hw``."""
    h, w = hw
    if images.shape[1:3] == (h, w):
        return images
    return np.stack([cv2.resize(view, (w, h), interpolation=cv2.INTER_AREA) for view in images])


def zoom_view(
    images: np.ndarray, intrinsics: np.ndarray, cam2ego: np.ndarray, zoom: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The forward-most camera's central 1/``zoom`` of the frame, as a camera of its own: (view, K, cam2ego).

    The crop keeps the frame's pixels (no resampling), so a larger frame gives a sharper zoom view; its intrinsics
    are the camera's with the principal point moved by the crop's corner.
    """
    forward = int(np.argmax(np.asarray(cam2ego)[:, 0, 2]))  # optical axis most nearly along the ego's +x
    h, w = images.shape[1:3]
    crop_h, crop_w = max(1, round(h / zoom)), max(1, round(w / zoom))
    top, left = (h - crop_h) // 2, (w - crop_w) // 2
    k = np.array(intrinsics[forward], dtype=np.float64)
    k[0, 2] -= left
    k[1, 2] -= top
    return images[forward, top : top + crop_h, left : left + crop_w], k, np.asarray(cam2ego[forward])


def planner_views(
    images: np.ndarray, intrinsics: np.ndarray, cam2ego: np.ndarray, config: VisionConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the network sees of (6, h, w, 3) camera frames: (V, *input_hw, 3) views, (V, 3, 3) K, (V, 4, 4) cam2ego.

    The six frames resized to ``config.input_hw`` (intrinsics scaled to match), then the zoom view where
    ``config.zoom`` > 1. Training data are made by this function too, so the network sees the same views in both.
    """
    images = np.asarray(images)
    hw = tuple(config.input_hw)
    views = [resize_views(images, hw)]
    ks = [scale_intrinsics(intrinsics, images.shape[1:3], hw)]
    poses = [np.asarray(cam2ego)]
    if config.zoom > 1.0:
        view, k, pose = zoom_view(images, intrinsics, cam2ego, config.zoom)
        views.append(resize_views(view[None], hw))
        ks.append(scale_intrinsics(k, view.shape[:2], hw)[None])
        poses.append(pose[None])
    return np.concatenate(views), np.concatenate(ks), np.concatenate(poses)


def bev_targets(occupancy: np.ndarray, config: VisionConfig) -> np.ndarray:
    """(3, cells, cells) bool BEV targets from an Occ3D window: objects, raised static structure, driveable road.

    Args:
        occupancy: (200, 200, 16) uint8 Occ3D labels, ego frame.
        config: the network config (the BEV grid must tile the window).
    """
    nx = occupancy.shape[0]
    block = nx // config.bev_cells
    if block * config.bev_cells != nx or config.bev_range != 40.0:
        raise ValueError("the BEV grid must tile the 80 m Occ3D window exactly")
    raised = occupancy[:, :, 3:]  # 0.2 m above the ground and up
    objects = ((raised >= BARRIER) & (raised <= TRUCK)).any(axis=2)
    static = np.isin(raised, (OTHERS, MANMADE, VEGETATION)).any(axis=2)
    driveable = (occupancy == DRIVEABLE_SURFACE).any(axis=2)
    stacked = np.stack([objects, static, driveable])
    c = config.bev_cells
    return stacked.reshape(3, c, block, c, block).any(axis=(2, 4))


def observation_tensors(
    observations: list[dict[str, Any]], config: VisionConfig
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Batch OccSim observations into the network's inputs (``planner_views`` of each)."""
    views = [planner_views(obs["images"], obs["intrinsics"], obs["cam2ego"], config) for obs in observations]
    images, intrinsics, cam2ego = (np.stack(part) for part in zip(*views))
    return (
        torch.from_numpy(images).permute(0, 1, 4, 2, 3).float() / 255.0,
        torch.from_numpy(intrinsics).float(),
        torch.from_numpy(cam2ego).float(),
        torch.from_numpy(np.stack([np.asarray(o["ego"]) for o in observations])).float(),
        torch.tensor([int(o["command"]) for o in observations], dtype=torch.long),
    )


def save_vision(
    net: VisionPlannerNet,
    directory: str | Path,
    extra: dict[str, Any] | None = None,
    guard: OccupancyGuard | None = DEFAULT_GUARD,
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` (plus ``extra`` into the config's ``training`` key).

    ``guard`` is the occupancy guard the planner applies at inference (``None``: the network's plan as it is).
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"vision": asdict(net.config), "guard": asdict(guard) if guard else None}
    if extra:
        payload["training"] = extra
    (directory / CONFIG_NAME).write_text(json.dumps(payload, indent=2))
    state = {k: v.detach().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_NAME))
    return directory


def load_vision(directory: str | Path) -> VisionPlannerNet:
    """Load a network written by ``save_vision`` (safetensors only).

    Raises:
        FileNotFoundError: the directory lacks ``config.json`` or ``model.safetensors``.
    """
    directory = Path(directory)
    missing = [n for n in (CONFIG_NAME, WEIGHTS_NAME) if not (directory / n).is_file()]
    if missing:
        raise FileNotFoundError(f"vision planner weights: {directory} has no {' or '.join(missing)}")
    config = VisionConfig.from_dict(_saved_config(directory)["vision"])
    net = VisionPlannerNet(config)
    net.load_state_dict(load_file(str(directory / WEIGHTS_NAME)))
    return net.eval()


def load_guard(directory: str | Path) -> OccupancyGuard | None:
    """The occupancy guard saved beside the weights (``None`` where the config has none, as older weights)."""
    saved = _saved_config(Path(directory)).get("guard")
    return OccupancyGuard.from_dict(saved) if saved else None


def _saved_config(directory: Path) -> dict[str, Any]:
    return json.loads((directory / CONFIG_NAME).read_text())


@register_planner("vision-net")
class VisionNetPlanner(Planner):
    """The trained VAD-style network alone, no guard: ``vision-net:/path/to/weights`` loads another weights folder.

    A temporal network keeps its BEV memory and the ego pose it was made at, and forgets both on ``reset``.
    """

    @classmethod
    def check_argument(cls, argument: str) -> list[str]:
        """A weights folder must load whole (a suite should not start on a missing or corrupt file)."""
        return weights_problems(cls.name, argument, lambda path: (load_vision(path), load_guard(path)))

    def __init__(self, weights: str | Path = WEIGHTS_DIR):
        self.net = load_vision(weights)
        self.centres = bev_cell_centres(self.net.config)
        self._memory: torch.Tensor | None = None  # the last step's BEV features (temporal networks)
        self._pose: np.ndarray | None = None  # the ego's world pose at that step

    def reset(self, info: dict[str, Any]) -> None:
        """A new episode: the BEV memory is forgotten."""
        self._memory, self._pose = None, None

    @torch.inference_mode()
    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        """The network's waypoints for the input's command (cameras and, for the memory, the ego's own pose)."""
        return Trajectory(self._network(inputs)[0])

    @torch.inference_mode()
    def objects_map(self, inputs: PlannerInput) -> np.ndarray:
        """(cells, cells) the objects map's probabilities, cell [i, j] at x_i forward, y_j left; the memory moves on.

        What the network believes is where, for diagnostics and behaviour tests of its memory (``largest_near``).
        """
        _, out = self._network(inputs)
        return torch.sigmoid(out["bev_logits"][0, BEV_CHANNELS.index("objects")]).numpy()

    def objects_near(self, inputs: PlannerInput, point: np.ndarray, radius: float) -> float:
        """The objects map's largest probability within ``radius`` of ``point`` (ego frame [m]); the memory moves on."""
        return largest_near(self.objects_map(inputs), self.centres, point, radius)

    def _network(self, inputs: PlannerInput) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
        """(6, 2) waypoints and the network's outputs; the BEV memory moves on a step."""
        tensors = observation_tensors([inputs.as_dict()], self.net.config)
        memory = None
        pose = np.asarray(inputs.ego_pose, dtype=np.float64)
        if self._memory is not None:
            memory = (self._memory, torch.from_numpy(ego_motion(self._pose, pose)).float()[None])
        out = self.net(*tensors, memory=memory)
        if self.net.config.temporal:
            self._memory, self._pose = out["bev_features"], pose
        return waypoints_from_preds(out["ego_fut_preds"], tensors[-1])[0].double().numpy(), out


@register_planner("vision")
class VisionPlanner(VisionNetPlanner):
    """The network refined by the occupancy guard its weights name; ``vision:/path/to/weights`` loads another."""

    def __init__(self, weights: str | Path = WEIGHTS_DIR):
        super().__init__(weights)
        self.guard = load_guard(weights)
        self.guard_state = GuardState(self.guard, self.centres) if self.guard else None

    def reset(self, info: dict[str, Any]) -> None:
        """A new episode: the memory and the guard forget the last one's objects."""
        super().reset(info)
        if self.guard_state is not None:
            self.guard_state.reset()

    @torch.inference_mode()
    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        """Waypoints for the input's command, refined by the occupancy guard where the weights name one.

        The cameras (and the car's own pose, for the memory and the guard) only: ``privileged`` is never read.
        """
        waypoints, out = self._network(inputs)
        if self.guard_state is not None:
            maps = torch.sigmoid(out["bev_logits"][0]).double().numpy()
            objects, driveable = (maps[BEV_CHANNELS.index(name)] for name in ("objects", "driveable"))
            straight = int(inputs.command) == COMMAND_STRAIGHT
            waypoints = self.guard_state.apply(
                waypoints, objects, driveable, inputs.ego_pose, inputs.timestamp, may_swerve=straight
            )
        return Trajectory(waypoints)


@register_planner("vision-memory")
class VisionMemoryPlanner(VisionPlanner):
    """The shipped network with a BEV memory (``VisionConfig.temporal``), and the guard its weights name, if any.

    Shipped beside ``vision``, which stays the default while it scores better on the val split (MODEL_CARD.md).
    """

    def __init__(self, weights: str | Path = MEMORY_WEIGHTS_DIR):
        super().__init__(weights)
