"""The scenario room: YAML schema, loading with file:line errors, jitter, building a World."""

from occsim.scenario.build import build_world, static_world, weather_of
from occsim.scenario.loader import load_scenario_file, parse_scenario
from occsim.scenario.problems import Problem, ScenarioError
from occsim.scenario.schema import Scenario

__all__ = [
    "Problem",
    "Scenario",
    "ScenarioError",
    "build_world",
    "load_scenario_file",
    "parse_scenario",
    "static_world",
    "weather_of",
]
