"""``occsim validate`` and ``occsim run``: check scenario files, drive one planner through one scenario."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from occsim.cli.common import (
    DEFAULT_HW_TEXT,
    EXIT_RUN_ERRORS,
    PERCEPTION_METER_HELP,
    RENDERER_OPTION_HELP,
    WEATHER_HELP,
    app,
    check_choices,
    err,
    fail,
    key_value_options,
    load_scenario_or_exit,
    out,
    parse_hw,
)


@app.command()
def validate(
    files: Annotated[list[Path], typer.Argument(help="Scenario or family YAML files, or OpenSCENARIO .xosc files.")],
) -> None:
    """Check scenario files: one line per problem (file:line: field: message); exit code 2 if any.

    A family file (with distributions) is checked and five instances are drawn from it; an OpenSCENARIO file is
    read, its parameters and catalogs resolved and its storyboard built (a variation file: with its first run's
    parameters), without running it.
    """
    from occsim.scenario import ScenarioError
    from occsim.scenario.family import Family, load_scenario_or_family, sample_family
    from occsim.scenario.openscenario.load import Sweep, is_openscenario, load_openscenario

    bad = 0
    for path in files:
        try:
            scenario = load_openscenario(path) if is_openscenario(path) else load_scenario_or_family(path)
            if isinstance(scenario, Sweep):
                out.print(
                    f"ok  {path}  (sweep {scenario.name} of {scenario.base}, {scenario.runs} runs)", highlight=False
                )
                continue
            if isinstance(scenario, Family):
                sample_family(scenario, 5, 0)  # the draws must pass the scenario checks too
                out.print(f"ok  {path}  (family {scenario.name}, {len(scenario.draws)} distributions, 5 draws)")
                continue
        except ScenarioError as e:
            bad += 1
            err.print(str(e), highlight=False, markup=False)
            continue
        entries = f"{len(scenario.actors)} actor entries" if scenario.openscenario is None else "OpenSCENARIO"
        out.print(f"ok  {path}  ({scenario.name}, {entries})", highlight=False)
    if bad:
        raise typer.Exit(2)


@app.command()
def sample(
    family_file: Annotated[Path, typer.Argument(help="A scenario family YAML file (with distributions).")],
    n: Annotated[int, typer.Option("--n", help="Instances to draw, 1 .. 100,000 (MAX_SAMPLES).")] = 10,
    seed: Annotated[int, typer.Option(help="Seed: instance i is drawn from (seed, i).")] = 0,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the concrete scenario files.")] = Path("sampled"),
) -> None:
    """Draw concrete scenarios from a family: plain YAML files that `validate` accepts and anyone can edit.

    Each file is written as soon as it is drawn (whole: through a temporary name), after a check that all of them
    fit on the disk.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from occsim.scenario import ScenarioError
    from occsim.scenario.family import MAX_SAMPLES, load_family_file, write_samples

    if not 1 <= n <= MAX_SAMPLES:
        raise fail(f"--n {n:,} is outside 1 .. {MAX_SAMPLES:,} instances per run; sample in batches (--seed)")
    try:
        family = load_family_file(family_file)
    except ScenarioError as e:
        err.print(str(e), highlight=False, markup=False)
        raise typer.Exit(2) from None
    columns = (TextColumn("sampling"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True, disable=n < 2) as bar:
        task = bar.add_task("sample", total=n)
        try:
            written = write_samples(family, n, seed, out_dir, progress=lambda k: bar.update(task, completed=k))
        except ScenarioError as e:
            err.print(str(e), highlight=False, markup=False)
            raise typer.Exit(2) from None
        except ValueError as e:
            raise fail(str(e)) from None
        except OSError as e:
            raise fail(f"cannot write to {out_dir}: {e}", EXIT_RUN_ERRORS) from None
    out.print(f"{len(written)} scenarios of family {family.name} in {out_dir}", highlight=False)


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name, YAML path or OpenSCENARIO .xosc path.")],
    planner: Annotated[str, typer.Option(help="Registered planner.")] = "expert",
    weather: Annotated[str | None, typer.Option(help=WEATHER_HELP)] = None,
    renderer: Annotated[str, typer.Option(help="Registered renderer.")] = "raster",
    renderer_option: Annotated[list[str] | None, typer.Option(help=RENDERER_OPTION_HELP)] = None,
    seed: Annotated[int, typer.Option(help="Reset seed (jitter, weather effects).")] = 0,
    camera_hw: Annotated[str, typer.Option("--camera-hw", help="Camera image HEIGHTxWIDTH.")] = DEFAULT_HW_TEXT,
    video: Annotated[
        Path | None, typer.Option(help="Write a video of the six views and a bird's-eye view (mp4).")
    ] = None,
    perception_meter: Annotated[bool, typer.Option("--perception-meter", help=PERCEPTION_METER_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")] = False,
    ego: Annotated[str | None, typer.Option(help="OpenSCENARIO: the entity the planner drives.")] = None,
    param: Annotated[
        list[str] | None, typer.Option(help="OpenSCENARIO: NAME=VALUE for a top-level parameter (repeatable).")
    ] = None,
    variation: Annotated[int, typer.Option(min=0, help="OpenSCENARIO variation file: which parameter set.")] = 0,
    scripted: Annotated[
        bool, typer.Option("--scripted", help="OpenSCENARIO: the ego follows the file's own actions, not the planner.")
    ] = False,
) -> None:
    """Drive one planner through one scenario and report what happened."""
    from occsim.metrics.recall import BAND_NAMES
    from occsim.scenario import ScenarioError
    from occsim.suite.episode import PlannerError, run_episode
    from occsim.world.xmlsafe import XmlError

    hw = parse_hw(camera_hw)
    sc = _openscenario_or_exit(scenario, ego, param, variation, scripted) if scenario.endswith(".xosc") else None
    sc = sc or load_scenario_or_exit(scenario)
    options = key_value_options(renderer_option)
    check_choices([planner], weather, renderer, options)
    try:
        result = run_episode(
            sc,
            planner,
            weather=weather,
            renderer=renderer,
            renderer_kwargs=options,
            seed=seed,
            camera_hw=hw,
            video=video,
            perception_meter=perception_meter,
            progress=not as_json,
        )
    except (PlannerError, ScenarioError, XmlError) as e:  # a file's problem found while building its world
        raise fail(str(e)) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        return
    colour = {"collision": "red", "goal": "green", "stopped": "cyan", "timeout": "yellow"}[result.outcome]
    out.print(
        Text.assemble(
            (result.outcome, colour), f"  {result.scenario} / {result.planner} / {result.weather} / seed {seed}"
        )
    )
    if result.collision:
        out.print(f"  hit {result.collided_with} at {result.impact_speed:.1f} m/s")
    out.print(f"  route completion {result.route_completion:.0%}, {result.steps} steps, offroad: {result.offroad}")
    if result.perceived_occupancy_miou is not None:
        out.print(f"  perceived occupancy mIoU {result.perceived_occupancy_miou:.3f} (mean over frames)")
    for name, bands in sorted((result.object_recall or {}).items()):
        found = ", ".join(f"{band} m {bands[band][0]}/{bands[band][1]}" for band in BAND_NAMES if band in bands)
        out.print(f"  {name} found by the meter (frames): {found}")
    for line in (result.storyboard or {}).get("dropped", []):
        out.print(f"  replaced by the planner: {line}", highlight=False)
    for line in (result.storyboard or {}).get("notes", []):
        out.print(f"  note: {line}", highlight=False)
    if video is not None:
        out.print(f"  video: {video}")


def _openscenario_or_exit(path: str, ego: str | None, params: list[str] | None, variation: int, scripted: bool):
    """An .xosc file as the scenario to run (a variation file's ``variation``-th run); exit 2 if it is bad."""
    from occsim.scenario import ScenarioError
    from occsim.scenario.openscenario.load import Sweep, load_openscenario, load_xosc

    overrides = dict(p.partition("=")[::2] for p in params or [])
    if any(not k or not v for k, v in overrides.items()):
        raise fail("--param takes NAME=VALUE")
    mode = "scripted" if scripted else "planner"
    try:
        loaded = load_openscenario(path, ego, mode)
        if isinstance(loaded, Sweep):
            if variation >= loaded.runs:
                raise fail(f"{path} has {loaded.runs} parameter sets; --variation {variation} is not one of them")
            scenario, origin = loaded.scenario(variation, variation)
            spec = scenario.openscenario
            if overrides:
                scenario = load_xosc(spec.file, {**spec.parameters, **overrides}, ego, mode, spec.variations)
            return scenario
        return load_xosc(path, overrides, ego, mode) if overrides else loaded
    except ScenarioError as e:
        err.print(str(e), highlight=False, markup=False)
        raise typer.Exit(2) from None


@app.command()
def convert(
    source: Annotated[Path, typer.Argument(help="An OpenSCENARIO scenario or parameter variation file (.xosc).")],
    out_file: Annotated[Path, typer.Option("--out", help="The OccSim YAML file to write.")],
    ego: Annotated[str | None, typer.Option(help="The entity the planner drives.")] = None,
) -> None:
    """Write an OpenSCENARIO file as an OccSim YAML scenario (a variation file: a sweep) to edit and run."""
    from occsim.scenario import ScenarioError
    from occsim.scenario.openscenario.convert import convert as convert_file

    try:
        convert_file(source, out_file, ego)
    except ScenarioError as e:
        err.print(str(e), highlight=False, markup=False)
        raise typer.Exit(2) from None
    out.print(f"wrote {out_file}", highlight=False)
