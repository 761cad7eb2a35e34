"""The semantic checks of a scenario with an OpenSCENARIO storyboard: it resolves and its storyboard builds."""

from __future__ import annotations

from collections.abc import Callable

from occsim.scenario.opendrive_world import load_map
from occsim.scenario.openscenario.world import build_runtime
from occsim.scenario.problems import Path_, Problem
from occsim.scenario.schema import Scenario
from occsim.world.xmlsafe import XmlError


def check_openscenario(scenario: Scenario, add: Callable[[Path_, str], None], problems: list[Problem]) -> list[Problem]:
    """Problems of the storyboard block (each error of the document names its own file and line)."""
    try:
        network, _ = load_map(scenario.map)
    except (XmlError, OSError) as e:
        add(("map", "file"), str(e) if isinstance(e, XmlError) else f"cannot read {scenario.map.file}: {e.strerror}")
        return problems
    try:
        build_runtime(scenario, network)
    except XmlError as e:
        add(("openscenario",), str(e))
    except ValueError as e:
        add(("openscenario",), str(e))
    return problems
