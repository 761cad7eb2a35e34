"""The ``rl`` planner: a PPO policy over the bird's-eye occupancy image, trained by ``occsim train-rl``.

The policy is stable-baselines3's ``CnnPolicy`` (NatureCNN and a linear action head) over the last ``stack``
bird's-eye images (``occsim.geometry.bev_layers``), stacked on the channel axis as SB3's ``VecFrameStack`` stacks
them. Its two outputs are a ``route`` action (``ROUTE_ACTION``): a speed along the route ahead and a lateral
offset from it. The weights are exported to safetensors, so loading them runs no pickle.

It is a privileged planner: it reads the occupancy window and the route, as the expert does, not the cameras.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from occsim.geometry import BEV_CELLS, BEV_EXTENT, BEV_LAYERS, along_route, bev_layers
from occsim.planners.base import Planner, from_known_keys, register_planner, weights_problems
from occsim.types import (
    ROUTE_ACTION,
    PlannerInput,
    PrivilegedInput,
    Trajectory,
)

WEIGHTS_DIR = Path(__file__).parent / "weights" / "rl"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


@dataclass(frozen=True)
class RlPolicyConfig:
    """What the policy reads; saved beside the weights."""

    cells: int = BEV_CELLS
    extent: float = BEV_EXTENT  # [m]
    stack: int = 3  # bird's-eye images stacked, newest last
    features: int = 512  # NatureCNN's feature width

    @property
    def channels(self) -> int:
        """Input channels: every layer of every stacked image."""
        return len(BEV_LAYERS) * self.stack

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RlPolicyConfig:
        """From a saved config; unknown keys are an error."""
        return from_known_keys(cls, data, "rl policy")


class BevPolicyNet(nn.Module):
    """SB3's NatureCNN and action head: (B, H, W, C) uint8 stacked images -> (B, 2) mean action in [-1, 1]."""

    def __init__(self, config: RlPolicyConfig):
        super().__init__()
        self.config = config
        self.cnn = nn.Sequential(
            nn.Conv2d(config.channels, 32, 8, 4),
            nn.ReLU(),
            nn.Conv2d(32, 64, 4, 2),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, 1),
            nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            flat = self.cnn(torch.zeros(1, config.channels, config.cells, config.cells)).shape[1]
        self.linear = nn.Sequential(nn.Linear(flat, config.features), nn.ReLU())
        self.action = nn.Linear(config.features, 2)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Deterministic action (SB3's ``predict(deterministic=True)``, clipped to the action box)."""
        x = images.permute(0, 3, 1, 2).float() / 255.0
        return self.action(self.linear(self.cnn(x))).clamp(-1.0, 1.0)


# SB3's state-dict prefixes -> this module's (the value head and the log-std are training-only).
SB3_KEYS = {"features_extractor.cnn.": "cnn.", "features_extractor.linear.": "linear.", "action_net.": "action."}


def policy_state_from_sb3(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The deterministic policy's tensors out of an SB3 ``ActorCriticCnnPolicy`` state dict."""
    out = {}
    for key, value in state.items():
        for source, target in SB3_KEYS.items():
            if key.startswith(source):
                out[target + key[len(source) :]] = value.detach().contiguous().clone()
    return out


def save_rl_policy(
    state: dict[str, torch.Tensor], config: RlPolicyConfig, directory: str | Path, extra: dict | None = None
) -> Path:
    """Write ``config.json`` (``extra`` under ``training``) and ``model.safetensors``; the state is checked first."""
    net = BevPolicyNet(config)
    net.load_state_dict(state)  # refuses a state of another shape before anything is written
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {"rl": asdict(config), "route_action": asdict(ROUTE_ACTION)}
    if extra:
        payload["training"] = extra
    (directory / CONFIG_NAME).write_text(json.dumps(payload, indent=2))
    save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(directory / WEIGHTS_NAME))
    return directory


def load_rl_policy(directory: str | Path) -> BevPolicyNet:
    """Load a policy written by ``save_rl_policy`` (safetensors only).

    Raises:
        FileNotFoundError: the folder lacks the config or the weights (train them with ``occsim train-rl``).
    """
    directory = Path(directory)
    missing = [n for n in (CONFIG_NAME, WEIGHTS_NAME) if not (directory / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"rl policy: {directory} has no {' or '.join(missing)}; train one with `occsim train-rl`"
        )
    saved = json.loads((directory / CONFIG_NAME).read_text())
    net = BevPolicyNet(RlPolicyConfig.from_dict(saved["rl"]))
    net.load_state_dict(load_file(str(directory / WEIGHTS_NAME)))
    return net.eval()


@register_planner("rl")
class RlPlanner(Planner):
    """The PPO policy; ``rl:/path/to/weights`` loads another ``train-rl`` output."""

    privileged = True

    @classmethod
    def check_argument(cls, argument: str) -> list[str]:
        """A weights folder must load whole (a suite should not start on a missing or corrupt file)."""
        return weights_problems("rl", argument, load_rl_policy)

    def __init__(self, weights: str | Path = WEIGHTS_DIR):
        self.net = load_rl_policy(weights)
        self.config = self.net.config
        self._stack: np.ndarray | None = None

    def reset(self, info: dict[str, Any]) -> None:
        """A new episode: the frame stack starts empty (zeros), as SB3's ``VecFrameStack`` after a reset."""
        self._stack = None

    @torch.inference_mode()
    def plan(self, inputs: PlannerInput, privileged: PrivilegedInput | None = None) -> Trajectory:
        """Stack this step's bird's-eye image, run the policy, and follow the route at its speed and offset."""
        if privileged is None or privileged.route is None:
            raise ValueError("the rl planner reads the occupancy window and the route: make the env privileged=True")
        cfg = self.config
        image = bev_layers(privileged.occupancy, privileged.route, cfg.cells, cfg.extent)
        if self._stack is None:
            self._stack = np.zeros((cfg.cells, cfg.cells, cfg.channels), dtype=np.uint8)
        self._stack = np.concatenate([self._stack[..., len(BEV_LAYERS) :], image], axis=-1)
        speed, offset = self.net(torch.from_numpy(self._stack[None])).numpy()[0]
        return along_route(privileged.route, ROUTE_ACTION.speed(speed), ROUTE_ACTION.offset(offset))
