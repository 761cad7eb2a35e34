import os
import warnings

import pytest
from typer.testing import CliRunner

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

SMALL_HW = (32, 56)


@pytest.fixture(scope="session")
def small_hw():
    return SMALL_HW


@pytest.fixture(scope="session")
def mini_root(tmp_path_factory):
    """The synthetic nuScenes-format dataset, written once per test session by the real command."""
    from occsim.cli import app

    root = tmp_path_factory.mktemp("nuscenes") / "mini"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = CliRunner().invoke(app, ["make-nuscenes-mini", str(root), "--image-hw", "90x160", "--seconds", "6"])
    assert result.exit_code == 0, result.output
    return root


# Hypothesis profiles (fast seeded default, long): registered before pytest's --hypothesis-profile is read.
from tests.fuzz.profiles import register_profiles  # noqa: E402

register_profiles()
