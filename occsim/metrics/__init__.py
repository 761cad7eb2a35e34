"""The metrics room: collisions and driving scores as pure functions of history and scenario."""

from occsim.metrics.collision import Collision, check_collision

__all__ = ["Collision", "check_collision"]
