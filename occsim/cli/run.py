"""``occsim validate`` and ``occsim run``: check scenario files, drive one planner through one scenario."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from occsim.cli.common import (
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
def validate(files: Annotated[list[Path], typer.Argument(help="Scenario or family YAML files.")]) -> None:
    """Check scenario files: one line per problem (file:line: field: message); exit code 2 if any.

    A family file (with distributions) is checked and five instances are drawn from it.
    """
    from occsim.scenario import ScenarioError
    from occsim.scenario.family import Family, load_scenario_or_family, sample_family

    bad = 0
    for path in files:
        try:
            scenario = load_scenario_or_family(path)
            if isinstance(scenario, Family):
                sample_family(scenario, 5, 0)  # the draws must pass the scenario checks too
                out.print(f"ok  {path}  (family {scenario.name}, {len(scenario.draws)} distributions, 5 draws)")
                continue
        except ScenarioError as e:
            bad += 1
            err.print(str(e), highlight=False, markup=False)
            continue
        out.print(f"ok  {path}  ({scenario.name}, {len(scenario.actors)} actor entries)", highlight=False)
    if bad:
        raise typer.Exit(2)


@app.command()
def sample(
    family_file: Annotated[Path, typer.Argument(help="A scenario family YAML file (with distributions).")],
    n: Annotated[int, typer.Option("--n", min=1, help="Instances to draw.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed: instance i is drawn from (seed, i).")] = 0,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the concrete scenario files.")] = Path("sampled"),
) -> None:
    """Draw concrete scenarios from a family: plain YAML files that `validate` accepts and anyone can edit."""
    from occsim.scenario import ScenarioError
    from occsim.scenario.family import dump_instance, load_family_file, sample_family

    try:
        instances = sample_family(load_family_file(family_file), n, seed)
    except ScenarioError as e:
        err.print(str(e), highlight=False, markup=False)
        raise typer.Exit(2) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    for instance in instances:
        (out_dir / f"{instance.scenario.name}.yaml").write_text(dump_instance(instance))
    out.print(f"{len(instances)} scenarios of family {instances[0].family} in {out_dir}", highlight=False)


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or YAML path.")],
    planner: Annotated[str, typer.Option(help="Registered planner.")] = "expert",
    weather: Annotated[str | None, typer.Option(help=WEATHER_HELP)] = None,
    renderer: Annotated[str, typer.Option(help="Registered renderer.")] = "raster",
    renderer_option: Annotated[list[str] | None, typer.Option(help=RENDERER_OPTION_HELP)] = None,
    seed: Annotated[int, typer.Option(help="Reset seed (jitter, weather effects).")] = 0,
    camera_hw: Annotated[str, typer.Option("--camera-hw", help="Camera image HEIGHTxWIDTH.")] = "256x448",
    video: Annotated[
        Path | None, typer.Option(help="Write a video of the six views and a bird's-eye view (mp4).")
    ] = None,
    perception_meter: Annotated[bool, typer.Option("--perception-meter", help=PERCEPTION_METER_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")] = False,
) -> None:
    """Drive one planner through one scenario and report what happened."""
    from occsim.metrics.recall import BAND_NAMES
    from occsim.suite.episode import PlannerError, run_episode

    hw = parse_hw(camera_hw)
    sc = load_scenario_or_exit(scenario)
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
    except PlannerError as e:
        raise fail(str(e)) from None
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        return
    colour = {"collision": "red", "goal": "green", "timeout": "yellow"}[result.outcome]
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
    if video is not None:
        out.print(f"  video: {video}")
