"""The suite room: running scenarios against planners and recording what happened."""

from occsim.suite.episode import EpisodeResult, run_episode

__all__ = ["EpisodeResult", "run_episode"]
