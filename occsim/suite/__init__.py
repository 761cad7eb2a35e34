"""The suite room: running scenarios against planners and recording what happened."""

from __future__ import annotations

__all__ = ["EpisodeResult", "run_episode"]


def __getattr__(name: str):
    # The episode runner pulls in the env, the renderers and torch: load it on first use, so the CLI starts fast.
    if name in __all__:
        from occsim.suite import episode

        return getattr(episode, name)
    raise AttributeError(name)
