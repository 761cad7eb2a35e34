from dataclasses import replace

import pytest

from occsim.planners.vad import TINY
from occsim.planners.vad.checkpoint import save_folder
from occsim.planners.vad.synthetic import synthetic_state

# VAD-Tiny's layout shrunk to run in a fraction of a second: 32 channels, a 10 x 10 BEV, 160 x 96 input.
SMALL = replace(TINY, name="small", bev_h=10, bev_w=10, embed=32, ffn=64, num_query=20, map_vectors=10, scale=0.1)


@pytest.fixture(scope="session")
def small_cfg():
    return SMALL


@pytest.fixture(scope="session")
def small_state():
    return synthetic_state(SMALL, seed=0)


@pytest.fixture(scope="session")
def small_folder(tmp_path_factory, small_state):
    """A converted-layout folder (model.safetensors + config.json) with the small config's seeded weights."""
    return save_folder(SMALL, small_state, tmp_path_factory.mktemp("vad") / "small", source="synthetic")
