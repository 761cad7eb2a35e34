"""VAD (hustvl/VAD, ICCV 2023) inference in plain PyTorch: VAD-Tiny and VAD-Base, loading the released weights."""

from occsim.planners.vad.checkpoint import CheckpointError, convert, load_model
from occsim.planners.vad.config import BASE, TINY, VADConfig
from occsim.planners.vad.model import VAD
from occsim.planners.vad.planner import VADPlanner

__all__ = ["BASE", "TINY", "VAD", "CheckpointError", "VADConfig", "VADPlanner", "convert", "load_model"]
