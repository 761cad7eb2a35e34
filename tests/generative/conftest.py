"""Fixtures the generative tests share: a tiny SyntheOcc model saved as the renderer loads it, and a world."""

import pytest

from occsim.scenario import build_world
from occsim.scenarios import load_scenario
from tests.generative.tiny import tiny_renderer_weights


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """A tiny pixel-space SyntheOcc model for 32 x 56 views (a module may override it with its own)."""
    return tiny_renderer_weights(tmp_path_factory.mktemp("syntheocc"))


@pytest.fixture(scope="module")
def world():
    """The bus_ahead world at seed 0."""
    return build_world(load_scenario("bus_ahead"), seed=0)
