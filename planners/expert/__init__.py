"""The privileged rule-based expert (``expert``): lanes and paths, predictions, an IDM per path, the planner."""

from occsim.planners.expert.planner import ExpertPlanner
from occsim.planners.expert.settings import DEFAULT_SETTINGS, ExpertSettings

__all__ = ["DEFAULT_SETTINGS", "ExpertPlanner", "ExpertSettings"]
