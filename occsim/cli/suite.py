"""``occsim suite`` and ``occsim report``: scenarios x planners x weathers, and the report of a suite folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from occsim.cli.common import (
    DEFAULT_HW_TEXT,
    EXIT_BAD_INPUT,
    EXIT_INTERRUPTED,
    EXIT_RUN_ERRORS,
    PERCEPTION_METER_HELP,
    RENDERER_OPTION_HELP,
    app,
    err,
    fail,
    key_value_options,
    out,
    parse_hw,
)
from occsim.suite.request import SUITE_DEFAULTS as DEFAULTS

if TYPE_CHECKING:
    from occsim.suite.records import RunRecord
    from occsim.suite.request import SuiteResult


@app.command()
def suite(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(
            help="Scenario names, YAML or OpenSCENARIO (.xosc) files, or folders of them; default the built-in "
            "suite. With --benchmark: family names of the split (default all)."
        ),
    ] = None,
    xosc: Annotated[
        list[Path] | None,
        typer.Option(
            "--xosc",
            help="A folder of OpenSCENARIO files, searched recursively: every variation file, and every scenario "
            "file none of them varies (repeatable).",
        ),
    ] = None,
    ego: Annotated[
        str | None, typer.Option(help="The OpenSCENARIO entity the planner drives (default Ego, hero, VUT).")
    ] = None,
    planner: Annotated[
        list[str] | None,
        typer.Option(help=f"Planner (repeatable); default {' and '.join(DEFAULTS.planners)}."),
    ] = None,
    weather: Annotated[
        str, typer.Option(help="Comma-separated weathers, e.g. clear,fog,night; 'own' keeps each scenario's.")
    ] = ",".join(DEFAULTS.weathers),
    runs: Annotated[
        int | None,
        typer.Option(
            help="Jittered copies of each scenario; for a family file, instances drawn; with --benchmark, the first "
            "N instances of each family (default 1, or all of a benchmark's).",
        ),
    ] = None,
    benchmark: Annotated[
        str | None,
        typer.Option(help="Run a versioned benchmark split instead of scenarios, e.g. longtail (or its folder)."),
    ] = None,
    split: Annotated[
        str, typer.Option(help="The benchmark's split: test (run once, for the model card), train or val.")
    ] = DEFAULTS.split,
    benchmark_version: Annotated[
        int | None, typer.Option(help="The benchmark's version; default the newest shipped.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Runs in parallel (worker processes, or Ray CPUs).")] = DEFAULTS.workers,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for results.jsonl, summary.csv, report.html, media.")
    ] = DEFAULTS.out_dir,
    resume: Annotated[bool, typer.Option(help="Continue a suite in --out, skipping runs already recorded.")] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray", metavar="[ADDRESS]", help="Run on Ray: bare --ray starts Ray here; or a cluster ADDRESS."
        ),
    ] = None,
    renderer: Annotated[str, typer.Option(help="Registered renderer.")] = DEFAULTS.renderer,
    renderer_option: Annotated[list[str] | None, typer.Option(help=RENDERER_OPTION_HELP)] = None,
    camera_hw: Annotated[str, typer.Option("--camera-hw", help="Camera image HEIGHTxWIDTH.")] = DEFAULT_HW_TEXT,
    no_video: Annotated[bool, typer.Option("--no-video", help="Skip the per-run videos (faster).")] = False,
    perception_meter: Annotated[bool, typer.Option("--perception-meter", help=PERCEPTION_METER_HELP)] = False,
    planner_timeout: Annotated[
        float,
        typer.Option(
            help="Seconds one planner reset() or plan() call may take before its run is an error; 0: no limit."
        ),
    ] = DEFAULTS.planner_timeout,
    seed: Annotated[int, typer.Option(help="Base seed; every run's seed derives from it.")] = DEFAULTS.seed,
    imports: Annotated[
        list[str] | None, typer.Option("--import", help="Module that registers your planners (repeatable).")
    ] = None,
    threads_per_run: Annotated[
        int | None, typer.Option(help="numba / torch threads per run; default cores / workers.")
    ] = None,
) -> None:
    """Run scenarios x planners x weathers x jittered runs; results.jsonl, summary.csv and report.html in --out."""
    from occsim.scenario import ScenarioError
    from occsim.suite.request import SuiteInputError, make_request, run_request
    from occsim.suite.splits import BenchmarkError
    from occsim.suite.store import SuiteDirError

    try:
        request = make_request(
            scenarios=scenarios, xosc=xosc, ego=ego, planners=planner or None, weathers=weather.split(","),
            runs=runs, benchmark=benchmark, split=split, benchmark_version=benchmark_version, workers=workers,
            out_dir=out_dir, resume=resume, ray=ray, renderer=renderer,
            renderer_kwargs=key_value_options(renderer_option), camera_hw=parse_hw(camera_hw), no_video=no_video,
            perception_meter=perception_meter, planner_timeout=planner_timeout, seed=seed, imports=imports,
            threads_per_run=threads_per_run,
        )  # fmt: skip
        result = run_request(request, console=err)
    except SuiteInputError as e:
        for line in e.problems:
            err.print(line, highlight=False, markup=False)
        err.print(str(e), style="red")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (ScenarioError, BenchmarkError, SuiteDirError, RuntimeError) as e:
        raise fail(str(e)) from None
    print_tables(result.records)
    finish(result)


def finish(result: SuiteResult) -> None:
    """The closing line of a suite, and its exit code: 1 for run errors or a refused record, 130 if interrupted."""
    if result.report_error:
        raise fail(result.report_error)
    outcome = result.outcome
    out.print(
        f"{len(result.records)}/{result.planned} runs recorded ({outcome.ran} now, {outcome.skipped} resumed), "
        f"{result.errors} errors. Report: {result.page}"
    )
    if outcome.stopped:
        raise fail(outcome.stopped, code=EXIT_RUN_ERRORS)
    if outcome.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if result.errors:
        err.print(
            f"{result.errors} run(s) ended in an error (see 'error' in results.jsonl); exit code {EXIT_RUN_ERRORS}"
        )
        raise typer.Exit(EXIT_RUN_ERRORS)


@app.command("make-benchmark")
def make_benchmark_command(
    families: Annotated[list[Path], typer.Argument(help="Family YAML files or folders of them.")],
    name: Annotated[str, typer.Option(help="Benchmark name (lower case, digits, _).")],
    version: Annotated[int, typer.Option(min=1, help="Version number; an existing version is never rewritten.")],
    test: Annotated[int, typer.Option(min=1, help="Test instances per family (run once, for the model card).")] = 10,
    train: Annotated[int, typer.Option(min=0, help="Train instances per family (to train on).")] = 40,
    val_instances: Annotated[
        int,
        typer.Option(
            "--val-instances",
            "--val",
            min=0,
            help="Validation instances per family (to choose thresholds, weights and settings on); 0: no val.yaml.",
        ),
    ] = 10,
    weather: Annotated[str, typer.Option(help="Comma-separated weathers every instance runs in.")] = (
        "clear,fog,rain,night"
    ),
    seed: Annotated[int, typer.Option(help="Base seed of the instance streams.")] = 0,
    out_root: Annotated[Path, typer.Option("--out", help="Folder that gets <name>-v<version>/.")] = Path("benchmarks"),
) -> None:
    """Freeze scenario families into a versioned benchmark: family copies plus train, val and test split files.

    The splits never share an instance; a family with too few distinct draws for them all is refused.
    """
    from occsim.scenario import ScenarioError
    from occsim.sensors import WEATHERS
    from occsim.suite.splits import FOLDER, BenchmarkError, make_benchmark

    files = [p for f in families for p in (sorted(f.glob("*.yaml")) if f.is_dir() else [f])]
    weathers = [w for w in weather.split(",") if w]
    try:
        for w in weathers:
            WEATHERS[w]
        if not FOLDER.match(f"{name}-v{version}"):
            raise BenchmarkError(f"benchmark name '{name}' must be lower case letters, digits and _")
        folder = make_benchmark(files, out_root, name, version, test, train, weathers, seed, val_instances)
    except (ValueError, ScenarioError) as e:
        raise fail(str(e)) from None
    out.print(
        f"{len(files)} families, {test} test, {val_instances} val and {train} train instances each, in {folder}",
        highlight=False,
    )


def print_tables(records: list[RunRecord]) -> None:
    """The summary per planner and weather, and the per-family and recall tables where the records have them."""
    from occsim.suite.summary import family_rows, family_table, recall_rows, recall_table, summarise, summary_table

    out.print(summary_table(summarise(records)))
    if families := family_rows(records):
        out.print(family_table(families))
    if recalled := recall_rows(records):
        out.print(recall_table(recalled))


@app.command()
def report(out_dir: Annotated[Path, typer.Argument(help="A suite's --out folder.")]) -> None:
    """(Re)write summary.csv, plots and report.html for a suite folder."""
    from occsim.suite.report import load_results, write_report

    try:
        records = load_results(out_dir)
    except FileNotFoundError as e:
        raise fail(str(e)) from None
    print_tables(records)
    out.print(f"Report: {write_report(out_dir)}")
