import os

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

SMALL_HW = (32, 56)


@pytest.fixture(scope="session")
def small_hw():
    return SMALL_HW
