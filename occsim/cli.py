"""The ``occsim`` command: validate scenarios, run one, run the built-in suite, benchmark."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from occsim.suite.watchdog import DEFAULT_PLANNER_TIMEOUT

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="OccSim: closed-loop corner-case driving simulation."
)
# Piped or logged output gets room for the summary table instead of a terminal's 80 columns.
# Markup off: messages carry user text (file names, scenario fields like `[nan, 0]`) that must print as written.
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 160, markup=False)
err = Console(stderr=True, soft_wrap=True, markup=False)

WEATHER_HELP = "Weather override: clear, fog, rain, snow, night or sandstorm."
DEFAULT_PLANNERS = ("expert", "constant_velocity")
# Exit codes: 0 every run recorded without an error; 1 some run ended in an error (or the disk refused a record);
# 2 bad input (nothing run); 130 interrupted with Ctrl-C.
EXIT_RUN_ERRORS, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 1, 2, 130


def _fail(message: str, code: int = EXIT_BAD_INPUT) -> typer.Exit:
    err.print(Text.assemble(("error:", "red"), f" {message}"), highlight=False)
    return typer.Exit(code)


def _camera_hw(text: str, option: str = "--camera-hw") -> tuple[int, int]:
    from occsim.types import check_camera_hw

    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise _fail(f"{option} takes HEIGHTxWIDTH, e.g. 256x448; got {text!r}") from None
    try:
        return check_camera_hw((h, w))
    except ValueError as e:
        raise _fail(f"{option}: {e}") from None


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


def _check_choices(planners: list[str], weather: str | None, renderer: str, renderer_kwargs: dict) -> None:
    from occsim.planners import PLANNERS
    from occsim.sensors import WEATHERS

    try:
        for p in planners:
            PLANNERS[p.partition(":")[0]]  # "remote:http://host:port" names the remote planner
        _check_renderer(renderer, renderer_kwargs)
        if weather is not None:
            WEATHERS[weather]
    except (ValueError, FileNotFoundError) as e:
        raise _fail(str(e)) from None


RENDERER_OPTION_HELP = "A renderer option KEY=VALUE (repeatable), e.g. steps=10, device=cuda, weights=DIR."
PERCEPTION_METER_HELP = (
    "Score every frame with the occupancy perception model: perceived_occupancy_miou, the mIoU between the world's "
    "occupancy and what the model sees in the views (OccSim's fidelity meter; ~50 ms a frame)."
)


def _renderer_options(items: list[str] | None) -> dict:
    """``--renderer-option KEY=VALUE`` items as a dict; values are JSON where they parse (10, 7.5), else strings."""
    options = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"--renderer-option must be KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def _check_renderer(name: str, options: dict) -> None:
    """ValueError for an unknown renderer, an option it does not take, or a bad value (weights checked too)."""
    from occsim.sim import RENDERERS  # the simulation declares the learned renderers

    RENDERERS[name].check_options(**options)


def _scenario_option(items: list[str] | None) -> list:
    """Scenarios from a repeatable, comma-separated ``--scenarios`` option (default: the built-ins); exit 2 if bad."""
    from occsim.suite.tasks import collect_scenarios

    names = [name for item in items or [] for name in item.split(",") if name]
    loaded, problems = collect_scenarios(names)
    if problems:
        for line in problems:
            err.print(line, highlight=False, markup=False)
        raise typer.Exit(2)
    return loaded


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
    from occsim.suite.episode import PlannerError, run_episode

    hw = _camera_hw(camera_hw)
    sc = _load(scenario)
    options = _renderer_options(renderer_option)
    _check_choices([planner], weather, renderer, options)
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
        )
    except PlannerError as e:
        raise _fail(str(e)) from None
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
    if video is not None:
        out.print(f"  video: {video}")


@app.command()
def suite(
    scenarios: Annotated[
        list[str] | None,
        typer.Argument(help="Scenario names, YAML files or folders of them; default the built-in suite."),
    ] = None,
    planner: Annotated[
        list[str] | None, typer.Option(help="Planner (repeatable); default expert and constant_velocity.")
    ] = None,
    weather: Annotated[
        str | None, typer.Option(help="Comma-separated weathers, e.g. clear,fog,night; 'own' keeps each scenario's.")
    ] = None,
    runs: Annotated[int, typer.Option(min=1, help="Jittered copies of each scenario.")] = 1,
    workers: Annotated[int, typer.Option(min=1, help="Runs in parallel (worker processes, or Ray CPUs).")] = 1,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for results.jsonl, summary.csv, report.html, media.")
    ] = Path("runs/suite"),
    resume: Annotated[bool, typer.Option(help="Continue a suite in --out, skipping runs already recorded.")] = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray", metavar="[ADDRESS]", help="Run on Ray: bare --ray starts Ray here; or a cluster ADDRESS."
        ),
    ] = None,
    renderer: Annotated[str, typer.Option(help="Registered renderer.")] = "raster",
    renderer_option: Annotated[list[str] | None, typer.Option(help=RENDERER_OPTION_HELP)] = None,
    camera_hw: Annotated[str, typer.Option("--camera-hw", help="Camera image HEIGHTxWIDTH.")] = "256x448",
    no_video: Annotated[bool, typer.Option("--no-video", help="Skip the per-run videos (faster).")] = False,
    perception_meter: Annotated[bool, typer.Option("--perception-meter", help=PERCEPTION_METER_HELP)] = False,
    planner_timeout: Annotated[
        float,
        typer.Option(
            min=0.0, help="Seconds one planner reset() or plan() call may take before its run is an error; 0: no limit."
        ),
    ] = DEFAULT_PLANNER_TIMEOUT,
    seed: Annotated[int, typer.Option(help="Base seed; every run's seed derives from it.")] = 0,
    imports: Annotated[
        list[str] | None, typer.Option("--import", help="Module that registers your planners (repeatable).")
    ] = None,
    threads_per_run: Annotated[
        int | None, typer.Option(min=1, help="numba / torch threads per run; default cores / workers.")
    ] = None,
) -> None:
    """Run scenarios x planners x weathers x jittered runs; results.jsonl, summary.csv and report.html in --out."""
    from occsim.planners import PLANNERS
    from occsim.sensors import WEATHERS
    from occsim.suite.jobs import import_plugins
    from occsim.suite.report import write_report
    from occsim.suite.runner import SuiteConfig, run_suite
    from occsim.suite.store import SuiteDirError
    from occsim.suite.summary import summarise
    from occsim.suite.tasks import collect_scenarios, expand_tasks

    problems: list[str] = []
    try:
        import_plugins(list(imports or []))
    except Exception as e:
        problems.append(f"--import: {type(e).__name__}: {e}")
    hw = _camera_hw(camera_hw)
    loaded, scenario_problems = collect_scenarios(list(scenarios or []))
    problems += scenario_problems
    planners = list(planner or DEFAULT_PLANNERS)
    weathers: list[str | None] = [None if w in ("own", "") else w for w in (weather or "own").split(",")]
    renderer_kwargs = _renderer_options(renderer_option)
    checks = [(p.partition(":")[0], PLANNERS) for p in planners] + [(w, WEATHERS) for w in weathers if w]
    for name, registry in checks:
        try:
            registry[name]
        except ValueError as e:
            problems.append(str(e))
    try:
        _check_renderer(renderer, renderer_kwargs)
    except (ValueError, FileNotFoundError) as e:
        problems.append(str(e))
    if problems:
        for line in problems:
            err.print(line, highlight=False, markup=False)
        err.print(f"{len(problems)} problem(s); nothing was run", style="red")
        raise typer.Exit(2)
    tasks = expand_tasks(loaded, planners, weathers, runs, seed)
    config = SuiteConfig(
        out_dir=out_dir,
        workers=workers,
        ray_address=ray,
        renderer=renderer,
        renderer_kwargs=renderer_kwargs,
        camera_hw=hw,
        perception_meter=perception_meter,
        no_video=no_video,
        planner_timeout=planner_timeout or None,
        resume=resume,
        imports=list(imports or []),
        threads_per_run=threads_per_run,
        seed=seed,
    )
    try:
        outcome = run_suite(tasks, config, console=err)
    except (SuiteDirError, RuntimeError) as e:
        raise _fail(str(e)) from None
    keys = {t.key for t in tasks}
    records = [r for r in outcome.records if r.get("key") in keys]
    _print_summary(summarise(records))
    try:
        page = write_report(out_dir)
    except OSError as e:
        raise _fail(
            f"the results are kept in {out_dir / 'results.jsonl'}, but the report could not be written: {e}"
        ) from None
    errors = sum(r.get("outcome") == "error" for r in records)
    out.print(
        f"{len(records)}/{len(tasks)} runs recorded ({outcome.ran} now, {outcome.skipped} resumed), {errors} errors. "
        f"Report: {page}"
    )
    if outcome.stopped:
        raise _fail(outcome.stopped, code=EXIT_RUN_ERRORS)
    if outcome.interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if errors:
        err.print(f"{errors} run(s) ended in an error (see 'error' in results.jsonl); exit code {EXIT_RUN_ERRORS}")
        raise typer.Exit(EXIT_RUN_ERRORS)


@app.command()
def report(out_dir: Annotated[Path, typer.Argument(help="A suite's --out folder.")]) -> None:
    """(Re)write summary.csv, plots and report.html for a suite folder."""
    from occsim.suite.report import load_results, write_report
    from occsim.suite.summary import summarise

    try:
        records = load_results(out_dir)
    except FileNotFoundError as e:
        raise _fail(str(e)) from None
    _print_summary(summarise(records))
    out.print(f"Report: {write_report(out_dir)}")


def _print_summary(rows: list[dict]) -> None:
    from occsim.suite.summary import columns

    short = {
        "collision_rate": "coll.",
        "route_completion": "route",
        "driving_score": "DS",
        "ncap": "NCAP",
        "pdms": "PDMS",
        "perceived_miou": "perc. mIoU",
    }
    table = Table(title="per planner and weather (means; coll. = collision rate, DS = driving score)")
    shown = columns(rows)
    for c in shown:
        table.add_column(short.get(c, c), no_wrap=True)
    for row in rows:
        cells = (row.get(c, "") for c in shown)
        table.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in cells))
    out.print(table)


@app.command()
def collect(
    scenarios: Annotated[
        list[str] | None,
        typer.Option("--scenarios", help="Scenario names, YAML files or folders (repeatable); default the built-ins."),
    ] = None,
    planner: Annotated[str, typer.Option(help="The labelling planner (privileged).")] = "expert",
    weather: Annotated[str, typer.Option(help=WEATHER_HELP + " 'own' keeps each scenario's.")] = "clear",
    episodes: Annotated[int, typer.Option(min=1, help="Jittered episodes per scenario.")] = 20,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the episode .npz files and meta.json.")] = Path(
        "data"
    ),
    workers: Annotated[int, typer.Option(min=1, help="Episodes in parallel (processes).")] = 1,
    camera_hw: Annotated[str, typer.Option("--camera-hw", help="Rendered HEIGHTxWIDTH.")] = "128x224",
    image_hw: Annotated[str, typer.Option("--image-hw", help="Stored HEIGHTxWIDTH (the network's input).")] = "64x112",
    perturb: Annotated[float, typer.Option(min=0.0, max=1.0, help="Chance per step of a perturbation.")] = 0.1,
) -> None:
    """Imitation data for `occsim train-planner`: expert rollouts with DAgger-style perturbations."""
    from occsim.suite.collect import CollectConfig, Perturbation
    from occsim.suite.collect import collect as run_collect

    if planner != "expert":
        raise _fail(f"--planner: only the privileged 'expert' labels data, got {planner!r}")
    _check_choices([planner], None if weather == "own" else weather, "raster", {})
    loaded = _scenario_option(scenarios)
    config = CollectConfig(
        out_dir=out_dir,
        weather=None if weather == "own" else weather,
        episodes_per_scenario=episodes,
        camera_hw=_camera_hw(camera_hw),
        image_hw=_camera_hw(image_hw, "--image-hw"),
        workers=workers,
        perturbation=Perturbation(probability=perturb),
    )
    meta = run_collect(loaded, config, console=err)
    out.print(
        f"{meta['episodes']} episodes, {meta['samples']} samples in {out_dir} ({len(meta['errors'])} failed episodes)"
    )


@app.command("train-planner")
def train_planner(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the weights, metrics and model card.")] = Path(
        "weights/vision"
    ),
    epochs: Annotated[int, typer.Option(min=1)] = 6,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 2e-3,
    val_fraction: Annotated[float, typer.Option(min=0.0, max=0.9, help="Fraction of episodes held out.")] = 0.15,
    seed: Annotated[int, typer.Option()] = 0,
    threads: Annotated[int | None, typer.Option(min=1, help="torch threads; default all cores.")] = None,
) -> None:
    """Train the vision planner on collected data; report VAD's L2 and collision rate at 1/2/3 s."""
    from occsim.suite.train_planner import TrainConfig, train, write_model_card

    config = TrainConfig(
        data_dir=data_dir,
        out_dir=out_dir,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        val_fraction=val_fraction,
        seed=seed,
        threads=threads,
    )
    try:
        summary = train(config)
    except (FileNotFoundError, ValueError) as e:
        raise _fail(str(e)) from None
    card = write_model_card(out_dir, summary)
    best = summary["best"]
    table = Table(title=f"validation, best epoch {summary['best_epoch']} ({summary['val_samples']} samples)")
    for column in ("", "1 s", "2 s", "3 s"):
        table.add_column(column)
    table.add_row("L2 [m]", *(f"{best.get(f'val_L2_{h}s', float('nan')):.3f}" for h in (1, 2, 3)))
    table.add_row("collision [%]", *(f"{100 * best.get(f'val_collision_{h}s', float('nan')):.2f}" for h in (1, 2, 3)))
    out.print(table)
    out.print(f"{summary['samples']} samples, {summary['seconds']:.0f} s; weights and {card.name} in {out_dir}")


@app.command("make-nuscenes-mini")
def make_nuscenes_mini(
    out_dir: Annotated[Path, typer.Argument(help="Dataroot to create.")],
    image_hw: Annotated[str, typer.Option("--image-hw", help="Camera image HEIGHTxWIDTH.")] = "225x400",
    seconds: Annotated[float, typer.Option(min=1.0, help="Logged seconds per scene (keyframes at 2 Hz).")] = 15.0,
) -> None:
    """Write a small synthetic dataset in the real nuScenes layout (v1.0-mini), logged from OccSim worlds."""
    from occsim.data.nuscenes_mini import MINI_SCENES, write_nuscenes_mini
    from occsim.envs.occsim_env import OccSimEnv
    from occsim.planners import make_planner
    from occsim.scenarios import load_scenario

    hw = _camera_hw(image_hw, "--image-hw")
    scenes, rig = {}, None
    for name, source in MINI_SCENES.items():
        env = OccSimEnv(load_scenario(source), weather="clear", camera_hw=hw, privileged=True)
        frames = _log_expert(env, make_planner("expert"), seconds)
        scenes[name], rig = (env.sim.world, frames), env.sim.rig
    root = write_nuscenes_mini(out_dir, scenes, rig)
    out.print(f"wrote {len(scenes)} synthetic scenes ({', '.join(scenes)}) in the nuScenes layout to {root}")


def _log_expert(env, expert, seconds: float) -> list:
    """Keyframes every env step (0.5 s) of the expert driving ``env``'s scenario."""
    from occsim.data.nuscenes_mini import Keyframe

    obs, info = env.reset(seed=0)
    expert.reset(info)
    frames = []
    for _ in range(int(round(seconds / env.sim.scenario.dt)) + 1):
        world = env.sim.world
        frames.append(Keyframe(world.t, world.ego, world.actor_states(), obs["occupancy"], obs["images"]))
        obs, _, terminated, truncated, _ = env.step(expert.plan(obs))
        if terminated or truncated:
            break
    return frames


@app.command("collect-render")
def collect_render(
    scenarios: Annotated[
        list[str] | None,
        typer.Option("--scenarios", help="Scenario names, YAML files or folders (repeatable); default the built-ins."),
    ] = None,
    episodes: Annotated[int, typer.Option(min=1, help="Episodes per scenario, each under a random weather.")] = 4,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the episode .npz files.")] = Path("data/render"),
    image_hw: Annotated[
        str, typer.Option("--image-hw", help="Target views HEIGHTxWIDTH (multiples of the latent factor).")
    ] = "64x112",
    latent_factor: Annotated[
        int, typer.Option(min=1, help="Image pixels per latent pixel: 4 for the small default, 8 for Stable Diffusion.")
    ] = 4,
    planes: Annotated[int, typer.Option(min=1, help="MPI depth planes.")] = 32,
    weather: Annotated[
        str | None, typer.Option(help="One weather for every episode; default a random one each.")
    ] = None,
    seed: Annotated[
        int, typer.Option(help="Seed offset: another value gives other jitters (for evaluation sets).")
    ] = 0,
) -> None:
    """Training pairs for the diffusion renderers: raster views, latent-resolution MPIs, occupancy, prompts."""
    from occsim.suite.collect_render import RenderCollectConfig
    from occsim.suite.collect_render import collect_render as run

    hw = _camera_hw(image_hw, "--image-hw")
    if hw[0] % latent_factor or hw[1] % latent_factor:
        raise _fail(f"--image-hw must be multiples of --latent-factor {latent_factor}, got {image_hw!r}")
    _check_choices([], weather, "raster", {})
    loaded = _scenario_option(scenarios)
    config = RenderCollectConfig(out_dir, episodes, hw, latent_factor, planes, weather=weather, seed=seed)
    meta = run(loaded, config)
    out.print(f"{meta['episodes']} episodes, {meta['samples']} samples in {out_dir}")


@app.command("train-syntheocc")
def train_syntheocc(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect-render`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the pipeline, metrics and model card.")] = Path(
        "weights/syntheocc"
    ),
    base: Annotated[
        Path | None,
        typer.Option(help="Local Stable Diffusion directory (vae/, unet/, ...); default the small model built here."),
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps of the diffusion stage.")] = 4000,
    vae_steps: Annotated[int, typer.Option(min=1, help="Small default: steps of its autoencoder stage.")] = 600,
    pixel_space: Annotated[
        bool, typer.Option(help="Small default: lossless 4x4 pixel folding instead of a trained autoencoder.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="Six-view samples per step and process.")] = 4,
    learning_rate: Annotated[
        float | None, typer.Option(min=0.0, help="Default 3e-4 (small model) or 1e-5 (with --base).")
    ] = None,
    mixed_precision: Annotated[str, typer.Option(help="no, fp16 or bf16 (accelerate's).")] = "no",
    held_out: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of episodes held out.")] = 0.1,
    eval_samples: Annotated[int, typer.Option(min=1, help="Held-out samples generated for the model card.")] = 24,
    save_every: Annotated[int, typer.Option(min=1, help="Steps between checkpoints.")] = 1000,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train the SyntheOcc renderer (also under `accelerate launch`), then measure it and write its model card."""
    from occsim.generative.card import document
    from occsim.generative.trainer import SyntheOccTrainConfig
    from occsim.generative.trainer import train_syntheocc as run

    if mixed_precision not in ("no", "fp16", "bf16"):
        raise _fail(f"--mixed-precision must be no, fp16 or bf16, got {mixed_precision!r}")
    config = SyntheOccTrainConfig(
        data_dir=data_dir,
        out_dir=out_dir,
        base=base,
        steps=steps,
        vae_steps=vae_steps,
        pixel_space=pixel_space,
        batch_size=batch_size,
        learning_rate=learning_rate,
        mixed_precision=mixed_precision,
        held_out=held_out,
        save_every=save_every,
        seed=seed,
    )
    try:
        pipe, record = run(config)
    except (FileNotFoundError, ValueError) as e:
        raise _fail(str(e)) from None
    if not record["held_out_episodes"]:
        out.print(f"trained in {record['train_seconds']:.0f} s; no held-out episodes, so no evaluation")
        return
    result = document(pipe, record, data_dir, out_dir, samples=eval_samples, seed=seed)
    table = Table(title=f"layout agreement on {result['evaluation']['samples']} held-out samples (segmentation probe)")
    for column in ("views", "pixel accuracy", "mIoU"):
        table.add_column(column)
    for name in ("raster", "syntheocc", "empty_mpi", "shuffled_mpi"):
        figures = result["evaluation"][name]
        table.add_row(name, f"{figures['pixel_accuracy']:.3f}", f"{figures['miou']:.3f}")
    out.print(table)
    out.print(f"trained in {record['train_seconds']:.0f} s; model card: {out_dir / 'MODEL_CARD.md'}")


@app.command("train-perception")
def train_perception(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect-render`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the model and metrics.json.")] = Path(
        "weights/perception"
    ),
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps.")] = 3000,
    batch_size: Annotated[int, typer.Option(min=1, help="Six-view samples per step.")] = 8,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 1e-3,
    held_out: Annotated[float, typer.Option(min=0.0, max=0.5, help="Share of episodes held out.")] = 0.1,
    evaluate: Annotated[
        list[Path] | None, typer.Option(help="Another collect-render folder to score on (repeatable).")
    ] = None,
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train the camera-based occupancy perception model; report its mIoU on held-out episodes per weather."""
    from occsim.generative.dataset import episode_files
    from occsim.suite.train_perception import OccupancySamples, PerceptionTrainConfig, score, write_card
    from occsim.suite.train_perception import train_perception as run

    config = PerceptionTrainConfig(data_dir, out_dir, steps, batch_size, learning_rate, held_out, seed)
    try:
        model, record = run(config)
        extra = {
            str(f): score(model, OccupancySamples.load(episode_files(f), model.config.coarse)) for f in evaluate or []
        }
    except (FileNotFoundError, ValueError) as e:
        raise _fail(str(e)) from None
    if extra:
        record["evaluation"] = extra
        (out_dir / "metrics.json").write_text(json.dumps(record, indent=1))
    write_card(out_dir, record)
    table = Table(title="occupancy perception (coarse 1.6 x 1.6 x 0.8 m cells)")
    for column in ("set", "weather", "samples", "mIoU", "IoU"):
        table.add_column(column)
    for name, figures in [("held-out", record["held_out"]), *extra.items()]:
        for weather, f in figures.items():
            table.add_row(name, weather, str(f["samples"]), f"{f['miou']:.3f}", f"{f['iou']:.3f}")
    out.print(table)
    out.print(f"trained in {record['train_seconds']:.0f} s; model and metrics in {out_dir}")


@app.command("train-occscene")
def train_occscene(
    data_dir: Annotated[Path, typer.Argument(help="A folder written by `occsim collect-render`.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the pipeline, metrics and model card.")] = Path(
        "weights/occscene"
    ),
    steps: Annotated[int, typer.Option(min=1, help="Optimiser steps, both stages.")] = 400,
    stage_two: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the steps in stage II (f_delta trains too).")
    ] = 0.5,
    batch_size: Annotated[int, typer.Option(min=1, help="Consecutive-frame pairs per step.")] = 2,
    mixer: Annotated[str, typer.Option(help="The alignment's sequence mixer: mamba or attention.")] = "mamba",
    camera_encoding: Annotated[
        bool, typer.Option("--camera-encoding/--no-camera-encoding", help="The camera parameter encoder (eq. 3).")
    ] = True,
    joint: Annotated[
        bool, typer.Option("--joint/--no-joint", help="Condition on f_delta's perceived occupancy (Algorithm 2).")
    ] = True,
    context_dropout: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of steps without context.")] = 0.2,
    syntheocc: Annotated[
        Path | None, typer.Option(help="The SyntheOcc model to start from; default the shipped small one.")
    ] = None,
    perception: Annotated[
        Path | None, typer.Option(help="f_delta's starting weights; default the shipped perception model.")
    ] = None,
    evaluate: Annotated[
        list[Path] | None, typer.Option(help="Another collect-render folder to score on (repeatable).")
    ] = None,
    clips: Annotated[int, typer.Option(min=1, help="Clips scored per set for the model card.")] = 4,
    length: Annotated[int, typer.Option(min=2, help="Frames per clip.")] = 3,
    device: Annotated[str, typer.Option(help="torch device.")] = "cpu",
    seed: Annotated[int, typer.Option()] = 0,
) -> None:
    """Train the OccScene renderer (two stages, joint perception-generation), then measure it and write its card."""
    from occsim.generative.dataset import episode_files, split_episodes
    from occsim.suite.train_occscene import FrameSamples, OccSceneTrainConfig, document
    from occsim.suite.train_occscene import train_occscene as run

    if mixer not in ("mamba", "attention"):
        raise _fail(f"--mixer must be mamba or attention, got {mixer!r}")
    config = OccSceneTrainConfig(
        data_dir,
        out_dir,
        syntheocc=syntheocc,
        perception=perception,
        steps=steps,
        stage_two=stage_two,
        batch_size=batch_size,
        context_dropout=context_dropout,
        joint=joint,
        mixer=mixer,
        camera_encoding=camera_encoding,
        device=device,
        seed=seed,
    )
    try:
        run(config)
        _, held = split_episodes(episode_files(data_dir), config.held_out, seed)
        sets = [("held-out episodes", FrameSamples.load(held))] if held else []
        sets += [(str(folder), FrameSamples.load(episode_files(folder))) for folder in evaluate or []]
        if sets:
            record = document(out_dir, sets, clips, length)
    except (FileNotFoundError, ValueError) as e:
        raise _fail(str(e)) from None
    if sets:
        table = Table(title="OccScene on held-out clips (perceived mIoU; reprojection error [0-255]; s / frame)")
        for column in ("set", "views", "mIoU", "reproj.", "s/frame"):
            table.add_column(column)
        for name, per in record["evaluation"]["sets"].items():
            for which, r in per.items():
                table.add_row(
                    name,
                    which,
                    f"{r['perceived_miou']:.3f}",
                    f"{r['reprojection']:.2f}",
                    f"{r['seconds_per_frame']:.2f}",
                )
        out.print(table)
    out.print(f"model, metrics and model card in {out_dir}")


@app.command("serve-planner")
def serve_planner(
    name: Annotated[str, typer.Argument(help="Registered planner to serve.")],
    host: Annotated[str, typer.Option(help="Address to bind; loopback unless you mean otherwise.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8765,
) -> None:
    """Serve a planner over HTTP for `--planner remote:http://HOST:PORT` (contract: planners/remote_server.py)."""
    from occsim.planners.remote import serve_planner as make

    try:
        server = make(name, host, port)
    except ValueError as e:
        raise _fail(str(e)) from None
    except OSError as e:
        raise _fail(f"cannot listen on {host}:{port}: {e}") from None
    err.print(f"serving planner '{name}' on http://{host}:{server.server_port} (Ctrl-C stops)", highlight=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


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
        mark = ("", "") if met is None else (" ok", "green") if met else (" missed", "red")
        table.add_row(key, str(value), Text.assemble("" if target is None else str(target), mark))
    out.print(table)


def main() -> None:
    """Entry point of the ``occsim`` command."""
    app(args=expand_bare_ray(sys.argv[1:]))


def expand_bare_ray(args: list[str]) -> list[str]:
    """``--ray`` with no address (last, or before another option) means ``--ray local``."""
    out = []
    for i, arg in enumerate(args):
        out.append(arg)
        if arg == "--ray" and (i + 1 == len(args) or args[i + 1].startswith("-")):
            out.append("local")
    return out


if __name__ == "__main__":
    main()
