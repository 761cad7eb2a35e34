import pytest

from occsim.scenario.openscenario.document import format_value, read_document, resolve
from occsim.scenario.openscenario.load import road_network_of
from occsim.world.opendrive.network import RoadNetwork
from occsim.world.storyboard.runtime import Runtime
from tests import openscenario_files as F


@pytest.fixture
def storyboard(tmp_path):
    """``storyboard(xosc_text, xodr_text=None, mode="scripted")``: a begun Runtime over a written scenario."""

    def make(text: str, xodr: str | None = None, mode: str = "scripted", parameters: dict | None = None) -> Runtime:
        F.write(tmp_path, "road.xodr", xodr or F.straight_xodr())
        path = F.write(tmp_path, "s.xosc", text)
        document = read_document(path)
        resolved = resolve(document, parameters or {})
        values = {k: format_value(v) for k, v in resolved.parameters.items()}
        runtime = Runtime(resolved.root, RoadNetwork.load(road_network_of(resolved.root, path)), values, ego_mode=mode)
        runtime.begin()
        return runtime

    return make


def run_until(runtime: Runtime, seconds: float, dt: float = 0.1) -> None:
    """Step ``runtime`` until ``seconds`` have passed or its stop trigger fires."""
    while runtime.time < seconds - 1e-9 and not runtime.finished:
        runtime.step(dt)
