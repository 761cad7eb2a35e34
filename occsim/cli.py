"""The ``occsim`` command: validate scenarios, run one, run the built-in suite, benchmark."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="OccSim: closed-loop corner-case driving simulation."
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

WEATHER_HELP = "Weather override: clear, fog, rain, snow, night or sandstorm."
DEFAULT_PLANNERS = ("expert", "constant_velocity")


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


def _camera_hw(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise _fail(f"--camera-hw takes HEIGHTxWIDTH, e.g. 256x448; got {text!r}") from None
    if h < 8 or w < 8:
        raise _fail(f"--camera-hw must be at least 8x8, got {text!r}")
    return h, w


def _load(name_or_path: str):
    from occsim.scenario import ScenarioError
    from occsim.scenarios import load_scenario

    try:
        return load_scenario(name_or_path)
    except ScenarioError as e:
        err.print(str(e), highlight=False, markup=False)
        raise typer.Exit(2) from None
    except ValueError as e:
        raise _fail(str(e)) from None


def _check_choices(planners: list[str], weather: str | None, renderer: str) -> None:
    from occsim.planners import PLANNERS
    from occsim.sensors import RENDERERS, WEATHERS

    try:
        for p in planners:
            PLANNERS[p]
        RENDERERS[renderer]
        if weather is not None:
            WEATHERS[weather]
    except ValueError as e:
        raise _fail(str(e)) from None


@app.command()
def validate(files: Annotated[list[Path], typer.Argument(help="Scenario YAML files.")]) -> None:
    """Check scenario files: one line per problem (file:line: field: message); exit code 2 if any."""
    from occsim.scenario import ScenarioError, load_scenario_file

    bad = 0
    for path in files:
        try:
            scenario = load_scenario_file(path)
        except ScenarioError as e:
            bad += 1
            err.print(str(e), highlight=False, markup=False)
            continue
        out.print(f"ok  {path}  ({scenario.name}, {len(scenario.actors)} actor entries)", highlight=False)
    if bad:
        raise typer.Exit(2)


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or YAML path.")],
    planner: Annotated[str, typer.Option(help="Registered planner.")] = "expert",
    weather: Annotated[str | None, typer.Option(help=WEATHER_HELP)] = None,
    renderer: Annotated[str, typer.Option(help="Registered renderer.")] = "raster",
    seed: Annotated[int, typer.Option(help="Reset seed (jitter, weather effects).")] = 0,
    camera_hw: Annotated[str, typer.Option("--camera-hw", help="Camera image HEIGHTxWIDTH.")] = "256x448",
    video: Annotated[
        Path | None, typer.Option(help="Write a video of the six views and a bird's-eye view (mp4).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object and nothing else on stdout.")] = False,
) -> None:
    """Drive one planner through one scenario and report what happened."""
    from occsim.suite import run_episode

    hw = _camera_hw(camera_hw)
    sc = _load(scenario)
    _check_choices([planner], weather, renderer)
    result = run_episode(sc, planner, weather=weather, renderer=renderer, seed=seed, camera_hw=hw, video=video)
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict()) + "\n")
        return
    colour = {"collision": "red", "goal": "green", "timeout": "yellow"}[result.outcome]
    out.print(
        f"[{colour}]{result.outcome}[/{colour}]  {result.scenario} / {result.planner} / {result.weather} / seed {seed}"
    )
    if result.collision:
        out.print(f"  hit {result.collided_with} at {result.impact_speed:.1f} m/s")
    out.print(f"  route completion {result.route_completion:.0%}, {result.steps} steps, offroad: {result.offroad}")
    if video is not None:
        out.print(f"  video: {video}")


@app.command()
def suite(
    scenarios: Annotated[
        list[str] | None, typer.Argument(help="Scenario names or YAML paths; default the built-in suite.")
    ] = None,
    planner: Annotated[
        list[str] | None, typer.Option(help="Planner (repeatable); default expert and constant_velocity.")
    ] = None,
    weather: Annotated[str | None, typer.Option(help=WEATHER_HELP)] = None,
    renderer: Annotated[str, typer.Option(help="Registered renderer.")] = "raster",
    seed: Annotated[int, typer.Option(help="Reset seed for every run.")] = 0,
    camera_hw: Annotated[str, typer.Option("--camera-hw", help="Camera image HEIGHTxWIDTH.")] = "256x448",
    out_dir: Annotated[
        Path, typer.Option("--out", help="Directory for results.jsonl and final-frame pictures.")
    ] = Path("runs/suite"),
) -> None:
    """Run scenarios against planners; print an outcome table and keep results.jsonl and a picture per run."""
    from occsim.scenarios import list_builtin
    from occsim.suite import run_episode

    hw = _camera_hw(camera_hw)
    planners = list(planner or DEFAULT_PLANNERS)
    _check_choices(planners, weather, renderer)
    loaded = [_load(s) for s in (scenarios or list_builtin())]
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.jsonl"
    jobs = [(sc, p) for sc in loaded for p in planners]
    results = []
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with results_path.open("w") as sink, Progress(*columns, console=err) as progress:
            task = progress.add_task("runs", total=len(jobs))
            for sc, p in jobs:
                progress.update(task, description=f"{sc.name} / {p}")
                picture = out_dir / "frames" / f"{sc.name}__{p}.png"
                try:
                    result = run_episode(sc, p, weather, renderer, seed, hw, last_frame=picture).to_dict()
                except Exception as e:  # one broken run must not lose the others
                    result = {"scenario": sc.name, "planner": p, "seed": seed, "outcome": "error", "error": repr(e)}
                sink.write(json.dumps(result) + "\n")
                sink.flush()
                results.append(result)
                progress.advance(task)
    except KeyboardInterrupt:
        err.print(f"interrupted: {len(results)} of {len(jobs)} runs kept in {results_path}")
        raise typer.Exit(130) from None
    _print_table(results, planners)
    out.print(f"results: {results_path}   pictures: {out_dir / 'frames'}")


def _print_table(results: list[dict], planners: list[str]) -> None:
    table = Table(title="outcome per scenario (impact speed, route completion)")
    table.add_column("scenario")
    for p in planners:
        table.add_column(p)
    by_scenario: dict[str, dict[str, dict]] = {}
    for r in results:
        by_scenario.setdefault(r["scenario"], {})[r["planner"]] = r
    for name, row in by_scenario.items():
        cells = []
        for p in planners:
            r = row.get(p)
            if r is None:
                cells.append("-")
            elif r["outcome"] == "error":
                cells.append(f"[magenta]error[/magenta] {r['error'][:40]}")
            elif r["outcome"] == "collision":
                cells.append(
                    f"[red]hit {r['collided_with']}[/red] {r['impact_speed']:.1f} m/s, {r['route_completion']:.0%}"
                )
            else:
                colour = "green" if r["outcome"] == "goal" else "yellow"
                cells.append(f"[{colour}]{r['outcome']}[/{colour}] {r['route_completion']:.0%}")
        table.add_row(name, *cells)
    for p in planners:
        mine = [r for r in results if r["planner"] == p and r["outcome"] != "error"]
        if mine:
            rate = sum(r["collision"] for r in mine) / len(mine)
            out.print(f"{p}: collision rate {rate:.0%} over {len(mine)} runs")
    out.print(table)


@app.command()
def bench(as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False) -> None:
    """Measure env steps/s (vs HighwayEnv in the same run), build_mpi time and peak memory on this machine."""
    from occsim.bench import TARGETS, run_all

    figures = run_all()
    if as_json:
        sys.stdout.write(json.dumps(figures) + "\n")
        return
    table = Table(title="occsim bench")
    table.add_column("figure")
    table.add_column("value")
    table.add_column("target")
    for key, value in figures.items():
        if key == "targets_met":
            continue
        target = TARGETS.get(key)
        met = figures["targets_met"].get(key)
        mark = "" if met is None else (" [green]ok[/green]" if met else " [red]missed[/red]")
        table.add_row(key, str(value), ("" if target is None else str(target)) + mark)
    out.print(table)


if __name__ == "__main__":
    app()
