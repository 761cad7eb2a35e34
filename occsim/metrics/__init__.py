"""The metrics room: collisions and driving scores as pure functions of history and scenario."""

from occsim.metrics.collision import Collision, check_collision
from occsim.metrics.scores import RunScores, ncap_score, pdms, run_scores, step_scores

__all__ = ["Collision", "RunScores", "check_collision", "ncap_score", "pdms", "run_scores", "step_scores"]
