import warnings

import pytest
from typer.testing import CliRunner

from occsim.cli import app


@pytest.fixture(scope="session")
def mini_root(tmp_path_factory):
    """The synthetic nuScenes-format dataset, written once per test session by the real command."""
    root = tmp_path_factory.mktemp("nuscenes") / "mini"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = CliRunner().invoke(app, ["make-nuscenes-mini", str(root), "--image-hw", "90x160", "--seconds", "6"])
    assert result.exit_code == 0, result.output
    return root
