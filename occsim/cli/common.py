"""What every command shares: the Typer app, the consoles, exit codes and option parsing with clear errors."""

from __future__ import annotations

import dataclasses
import json
import sys
from types import SimpleNamespace

import typer
from rich.console import Console
from rich.text import Text

from occsim.types import DEFAULT_CAMERA_HW

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="OccSim: closed-loop corner-case driving simulation."
)
# Piped or logged output gets room for the summary table instead of a terminal's 80 columns.
# Markup off: messages carry user text (file names, scenario fields like `[nan, 0]`) that must print as written.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)

WEATHER_HELP = "Weather override: clear, fog, rain, snow, night or sandstorm."
# Exit codes: 0 every run recorded without an error; 1 some run ended in an error (or the disk refused a record);
# 2 bad input (nothing run); 130 interrupted with Ctrl-C.
EXIT_RUN_ERRORS, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


def hw_text(hw: tuple[int, int]) -> str:
    """``(height, width)`` as the ``HEIGHTxWIDTH`` text the size options take."""
    return "{}x{}".format(*hw)


DEFAULT_HW_TEXT = hw_text(DEFAULT_CAMERA_HW)  # --camera-hw's default


def defaults_of(config: type) -> SimpleNamespace:
    """The field defaults of a config dataclass, so a command's option defaults are the config's own."""
    values = {}
    for f in dataclasses.fields(config):
        if f.default is not dataclasses.MISSING:
            values[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            values[f.name] = f.default_factory()
    return SimpleNamespace(**values)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    """Print ``message`` as an error and return the Exit to raise (exit code 2 unless told otherwise)."""
    err.print(Text.assemble(("error:", "red"), f" {message}"), highlight=False)
    return typer.Exit(code)


def parse_hw(text: str, option: str = "--camera-hw") -> tuple[int, int]:
    """``HEIGHTxWIDTH`` as two ints within the allowed camera sizes; exit 2 with a message otherwise."""
    from occsim.types import check_camera_hw

    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise fail(f"{option} takes HEIGHTxWIDTH, e.g. {DEFAULT_HW_TEXT}; got {text!r}") from None
    try:
        return check_camera_hw((h, w))
    except ValueError as e:
        raise fail(f"{option}: {e}") from None


def load_scenario_or_exit(name_or_path: str):
    """A built-in name or YAML path as a Scenario; every problem printed and exit 2 if it does not validate."""
    from occsim.scenario import ScenarioError
    from occsim.scenarios import load_scenario

    try:
        return load_scenario(name_or_path)
    except ScenarioError as e:
        err.print(str(e), highlight=False, markup=False)
        raise typer.Exit(2) from None
    except ValueError as e:
        raise fail(str(e)) from None


def check_choices(planners: list[str], weather: str | None, renderer: str, renderer_kwargs: dict) -> None:
    """Exit 2 with a did-you-mean for an unknown planner, weather or renderer, or a bad renderer option."""
    from occsim.sensors import WEATHERS

    problems = planner_problems(planners)
    if problems:
        raise fail("; ".join(problems))
    try:
        check_renderer(renderer, renderer_kwargs)
        if weather is not None:
            WEATHERS[weather]
    except (ValueError, FileNotFoundError) as e:
        raise fail(str(e)) from None


def planner_problems(planners: list[str]) -> list[str]:
    """What is wrong with each ``name[:argument]`` planner spec: an unknown name, a missing weights file, ..."""
    from occsim.planners import PLANNERS

    problems = []
    for spec in planners:
        name, _, argument = spec.partition(":")  # "remote:http://host:port" names the remote planner
        try:
            problems += PLANNERS[name].check_argument(argument)
        except ValueError as e:
            problems.append(str(e))
    return problems


RENDERER_OPTION_HELP = "A renderer option KEY=VALUE (repeatable), e.g. steps=10, device=cuda, weights=DIR."


PERCEPTION_METER_HELP = (
    "Score every frame with the occupancy perception model: perceived_occupancy_miou, the mIoU between the world's "
    "occupancy and what the model sees in the views (OccSim's fidelity meter; ~50 ms a frame)."
)


def key_value_options(items: list[str] | None, option: str = "--renderer-option") -> dict:
    """Repeated ``OPTION KEY=VALUE`` items as a dict; values are JSON where they parse (10, 7.5), else strings."""
    options = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise fail(f"{option} must be KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def check_renderer(name: str, options: dict) -> None:
    """ValueError for an unknown renderer, an option it does not take, or a bad value (weights checked too)."""
    from occsim.sensors import RENDERERS

    RENDERERS[name].check_options(**options)


def scenario_option(items: list[str] | None) -> list:
    """Scenarios from a repeatable, comma-separated ``--scenarios`` option (default: the built-ins); exit 2 if bad."""
    from occsim.suite.tasks import collect_scenarios

    names = [name for item in items or [] for name in item.split(",") if name]
    loaded, problems = collect_scenarios(names)
    if problems:
        for line in problems:
            err.print(line, highlight=False, markup=False)
        raise typer.Exit(2)
    return loaded
