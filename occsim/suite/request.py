"""``occsim suite`` as a library call: the options, checked in one place, and the run that writes the report.

``SuiteRequest`` holds every option with its default (the CLI's defaults are read from ``SUITE_DEFAULTS``), and
``problems`` lists everything wrong with one before anything runs. ``run_request`` turns a request into tasks,
runs them and writes the report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from rich.console import Console

from occsim.suite.watchdog import DEFAULT_PLANNER_TIMEOUT
from occsim.types import DEFAULT_CAMERA_HW

if TYPE_CHECKING:  # the runner pulls in the env and torch: the CLI reads the defaults without them
    from occsim.suite.records import RunRecord
    from occsim.suite.runner import SuiteConfig, SuiteOutcome
    from occsim.suite.tasks import Task

OWN_WEATHER = "own"  # in ``weathers``: each scenario's own weather


class SuiteRequest(BaseModel):
    """What a suite runs and how; unknown fields are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenarios: tuple[str, ...] = ()
    """Scenario names, YAML or .xosc files or folders (default the built-in suite); with ``benchmark``: families."""
    xosc: tuple[Path, ...] = ()
    """Folders searched recursively for OpenSCENARIO scenario and variation files."""
    ego: str | None = None
    """The OpenSCENARIO entity the planner drives (default Ego, hero, VUT)."""
    planners: tuple[str, ...] = ("expert", "constant_velocity")
    """Registered planner specs (``name`` or ``name:argument``)."""
    weathers: tuple[str, ...] = (OWN_WEATHER,)
    """Weathers to run each scenario in; ``own`` keeps the scenario's."""
    runs: int | None = Field(None, ge=1)
    """Jittered copies per scenario (family instances; a benchmark's first N instances); None: 1, or all."""
    benchmark: str | None = None
    """A versioned benchmark (name or folder) to run instead of scenarios."""
    split: Literal["test", "train", "val"] = "test"
    """The benchmark's split: train to train on, val to choose settings on, test to run once for the model card."""
    benchmark_version: int | None = Field(None, ge=1)
    """The benchmark's version; None: the newest shipped."""
    workers: int = Field(1, ge=1)
    """Runs in parallel (worker processes, or Ray CPUs)."""
    out_dir: Path = Path("runs/suite")
    """Folder for results.jsonl, summary.csv, report.html and media."""
    resume: bool = False
    """Continue the suite in ``out_dir``, skipping recorded runs."""
    ray: str | None = None
    """Run on Ray: ``local`` starts it here, else a cluster address; None: worker processes."""
    renderer: str = "raster"
    """Registered renderer."""
    renderer_kwargs: dict = Field(default_factory=dict)
    """The renderer's options."""
    camera_hw: tuple[int, int] = DEFAULT_CAMERA_HW
    """Camera image (height, width) [px]."""
    no_video: bool = False
    """Skip the per-run videos."""
    perception_meter: bool = False
    """Score every frame's perceived occupancy."""
    planner_timeout: float = Field(DEFAULT_PLANNER_TIMEOUT, ge=0.0)
    """Seconds one planner reset() or plan() call may take; 0: no limit."""
    seed: int = 0
    """Base seed every run's seed derives from."""
    imports: tuple[str, ...] = ()
    """Modules that register user planners or renderers."""
    threads_per_run: int | None = Field(None, ge=1)
    """numba / torch threads per run; None: cores / workers."""

    @field_validator("weathers")
    @classmethod
    def _some_weather(cls, weathers: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(w or OWN_WEATHER for w in weathers) or (OWN_WEATHER,)

    def config(self) -> SuiteConfig:
        """How the runner runs it."""
        from occsim.suite.runner import SuiteConfig

        return SuiteConfig(
            out_dir=self.out_dir,
            workers=self.workers,
            ray_address=self.ray,
            renderer=self.renderer,
            renderer_kwargs=dict(self.renderer_kwargs),
            camera_hw=self.camera_hw,
            perception_meter=self.perception_meter,
            no_video=self.no_video,
            planner_timeout=self.planner_timeout or None,
            resume=self.resume,
            imports=list(self.imports),
            threads_per_run=self.threads_per_run,
            seed=self.seed,
        )


SUITE_DEFAULTS = SuiteRequest()


class SuiteInputError(ValueError):
    """What is wrong with a request, every problem at once; nothing was run."""

    def __init__(self, problems: list[str]):
        super().__init__(f"{len(problems)} problem(s); nothing was run")
        self.problems = problems


_OPTION_NAMES = {  # the CLI's name of each field (the rest: the field's name with dashes)
    "out_dir": "out",
    "imports": "import",
    "planners": "planner",
    "weathers": "weather",
    "renderer_kwargs": "renderer-option",
    "benchmark_version": "benchmark-version",
    "camera_hw": "camera-hw",
    "no_video": "no-video",
    "perception_meter": "perception-meter",
    "planner_timeout": "planner-timeout",
    "threads_per_run": "threads-per-run",
}


def make_request(**options) -> SuiteRequest:
    """A checked request from option values (None leaves an option at its default).

    Raises:
        SuiteInputError: each option whose value is not allowed, named as ``--option``, with what is allowed.
    """
    try:
        return SuiteRequest(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as e:
        raise SuiteInputError(
            [f"--{_OPTION_NAMES.get(str(x['loc'][0]), str(x['loc'][0]))}: {x['msg']}" for x in e.errors()]
        ) from None


@dataclass(frozen=True)
class SuiteResult:
    """What ``run_request`` did: this request's records, the runner's outcome and the report."""

    records: list[RunRecord]  # the records of this request's runs (the folder may hold others)
    planned: int  # runs this request asked for
    outcome: SuiteOutcome
    page: Path | None  # report.html, None if it could not be written
    report_error: str | None = None  # why it could not

    @property
    def errors(self) -> int:
        """Runs that ended in an error."""
        return sum(r.failed for r in self.records)


def run_request(request: SuiteRequest, console: Console | None = None) -> SuiteResult:
    """Check ``request``, run its tasks into ``request.out_dir`` and write the report there.

    Raises:
        SuiteInputError: every problem with the request (unknown planner, weather, renderer, bad scenario...).
        ScenarioError, BenchmarkError: a family draw that cannot be placed; a split without a chosen weather.
        SuiteDirError: the folder is in use, or holds results that need ``resume`` or another configuration.
        RuntimeError: Ray was asked for and is not installed.
    """
    from occsim.suite.report import write_report
    from occsim.suite.runner import run_suite

    console = console or Console(stderr=True)
    tasks = _tasks(request, console)
    outcome = run_suite(tasks, request.config(), console=console)
    keys = {t.key for t in tasks}
    records = [r for r in outcome.records if r.key in keys]
    try:
        page, problem = write_report(request.out_dir), None
    except OSError as e:
        page, problem = (
            None,
            f"the results are kept in {request.out_dir / 'results.jsonl'}, but the report could not be written: {e}",
        )
    return SuiteResult(records, len(tasks), outcome, page, problem)


def _tasks(request: SuiteRequest, console: Console) -> list[Task]:
    """The request's runs; every problem with it at once as a SuiteInputError."""
    from occsim.suite.jobs import import_plugins
    from occsim.suite.splits import BenchmarkError, load_split, split_tasks
    from occsim.suite.tasks import collect_scenarios, expand_tasks

    problems: list[str] = []
    try:
        import_plugins(list(request.imports))
    except Exception as e:
        problems.append(f"--import: {type(e).__name__}: {e}")
    split, loaded = None, []
    if request.benchmark is not None:
        try:
            split = load_split(request.benchmark, request.split, request.benchmark_version)
        except BenchmarkError as e:
            problems.append(str(e))
    else:
        folders = [str(x) for x in request.xosc]
        loaded, scenario_problems = collect_scenarios(list(request.scenarios), True, folders, request.ego)
        problems += scenario_problems
    problems += _choice_problems(request)
    if problems:
        raise SuiteInputError(problems)
    weathers = [None if w == OWN_WEATHER else w for w in request.weathers]
    if split is None:
        return expand_tasks(loaded, list(request.planners), weathers, request.runs or 1, request.seed)
    chosen = [w for w in weathers if w] or None
    tasks = split_tasks(split, list(request.planners), chosen, request.runs, list(request.scenarios) or None)
    console.print(f"{split.label}: {len(tasks)} runs", highlight=False, markup=False)
    return tasks


def _choice_problems(request: SuiteRequest) -> list[str]:
    """Unknown planners (or their bad arguments), weathers and renderers, bad renderer options."""
    from occsim.planners import PLANNERS
    from occsim.sensors import RENDERERS, WEATHERS  # every renderer, built-in and learned, is declared there

    problems: list[str] = []
    for spec in request.planners:
        name, _, argument = spec.partition(":")  # "remote:http://host:port" names the remote planner
        try:
            problems += PLANNERS[name].check_argument(argument)
        except ValueError as e:
            problems.append(str(e))
    for name in (w for w in request.weathers if w != OWN_WEATHER):
        try:
            WEATHERS[name]
        except ValueError as e:
            problems.append(str(e))
    try:
        RENDERERS[request.renderer].check_options(**request.renderer_kwargs)
    except (ValueError, FileNotFoundError) as e:
        problems.append(str(e))
    return problems
