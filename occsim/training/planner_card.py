"""The shipped vision planner's model card: how it was made (DAgger rounds), what it scores and what it sees.

``write_planner_card`` reads what the README's commands leave behind (``dagger.json``, the final training's
``metrics.json``, suite folders on the benchmark's test split, held-out episodes scored with ``evaluate_weights``)
and writes ``MODEL_CARD.md`` with ``bev.png``: the BEV occupancy head's output beside the truth on held-out frames.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from occsim.planners.vision import BEV_CHANNELS, WEIGHTS_NAME, VisionConfig, load_guard, load_vision
from occsim.suite.records import RunRecord
from occsim.suite.report import load_results
from occsim.suite.summary import family_rows, summarise
from occsim.training.guard_choice import difference_text
from occsim.training.planner import evaluate_weights
from occsim.training.planner_data import PlannerDataset, batch_inputs, load_dataset
from occsim.types import CAMERA_NAMES, DEFAULT_CAMERA_HW

CLEAR = "clear"


@dataclass(frozen=True)
class CardInputs:
    """Where the card's figures come from."""

    weights: Path  # the shipped weights folder (the card and bev.png are written here)
    training: Path  # the final training's --out folder (metrics.json), or the weights folder itself
    dagger: Path | None = None  # an ``occsim dagger`` folder (dagger.json)
    guard_choice: Path | None = None  # an ``occsim choose-guard`` folder (guard_choice.json)
    # Suite folders; their runs are pooled and tabled by what was run (a benchmark split, OpenSCENARIO files or
    # scenarios) and by renderer, so this model and the one it replaces on the same split share one table.
    suites: tuple[Path, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)  # planner spec -> its name in the tables
    baseline: Path | None = None  # the weights it replaces, scored open loop beside it
    open_loop_data: Path | None = None  # held-out episodes for the open-loop table and bev.png
    plan_ms: float | None = None  # mean plan() time at 6 x 256 x 448 on this machine


def parse_labels(items: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``SPEC=NAME`` items as spec -> name.

    The name follows the last ``=``: a spec may hold one (``choose-guard``'s candidates are ``threshold=0.8,...``).

    Raises:
        ValueError: an item without a spec or a name.
    """
    labels = {}
    for item in items:
        spec, _, name = item.rpartition("=")
        if not spec or not name:
            raise ValueError(f"{item!r}: expected SPEC=NAME, e.g. vision:runs/old=previous weights")
        labels[spec] = name
    return labels


def plan_milliseconds(
    weights: Path, camera_hw: tuple[int, int] = DEFAULT_CAMERA_HW, calls: int = 30, seed: int = 0
) -> float:
    """Mean wall time [ms] of ``VisionPlanner.plan`` on random views of ``camera_hw`` (after 3 warm-up calls)."""
    import time

    from occsim.planners.vision import VisionPlanner
    from occsim.types import CameraRig, PlannerInput

    planner = VisionPlanner(weights)
    rig = CameraRig.nuscenes(camera_hw)
    rng = np.random.default_rng(seed)
    inputs = PlannerInput(
        images=rng.integers(0, 256, (6, *camera_hw, 3), dtype=np.uint8),
        intrinsics=rig.intrinsics,
        cam2ego=rig.cam2ego,
        ego=np.array([8.0, 0.0, 0.0, 0.0], np.float32),
        ego_pose=np.zeros(3, np.float32),
        command=2,
        timestamp=0.0,
    )
    for _ in range(3):
        planner.plan(inputs)
    start = time.perf_counter()
    for _ in range(calls):
        planner.plan(inputs)
    return 1000 * (time.perf_counter() - start) / calls


def weather_rows(records: list[RunRecord]) -> list[dict]:
    """``summarise``'s rows plus each weather's NCAP drop against the same planner's clear weather."""
    rows = summarise(records)
    clear = {r["planner"]: r["ncap"] for r in rows if r["weather"] == CLEAR}
    for row in rows:
        row["ncap_drop"] = round(clear[row["planner"]] - row["ncap"], 3) if row["planner"] in clear else None
        # A negative drop: the planner scored better in this weather than in clear.
    return rows


def bev_picture(weights: Path, dataset: PlannerDataset, path: Path, frames: int = 4, seed: int = 0) -> Path:
    """``frames`` held-out frames with an object within 30 m ahead: front view, truth and predicted BEV maps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    net = load_vision(weights)
    objects = dataset.bev[:, BEV_CHANNELS.index("objects")]
    cells = objects.shape[-1]
    ahead = objects[:, cells // 2 : cells // 2 + 15, cells // 2 - 2 : cells // 2 + 2].any(axis=(1, 2))
    candidates = np.flatnonzero(ahead) if ahead.any() else np.arange(len(dataset))
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(candidates, min(frames, len(candidates)), replace=False))
    with torch.inference_mode():
        predicted = torch.sigmoid(net(*batch_inputs(dataset, chosen, net.config.views))["bev_logits"]).numpy()
    front = CAMERA_NAMES.index("CAM_FRONT")
    fig, axes = plt.subplots(len(chosen), 3, figsize=(10, 3.1 * len(chosen)), squeeze=False)
    for row, (index, prediction) in enumerate(zip(chosen, predicted)):
        axes[row, 0].imshow(dataset.images[index, front])
        axes[row, 0].set_title(dataset.episodes[dataset.episode[index]].split("/")[-1], fontsize=7)
        for column, (maps, label) in enumerate(((dataset.bev[index], "truth"), (prediction, "predicted")), start=1):
            axes[row, column].imshow(_composite(maps), origin="lower", extent=(40, -40, -40, 40))
            axes[row, column].set_title(f"{label}: objects red, static green, road grey", fontsize=7)
            axes[row, column].plot([0], [0], marker="^", color="cyan")
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _composite(maps: np.ndarray) -> np.ndarray:
    """(cells, cells, 3) RGB of (3, cells, cells) probabilities, x forward up and y left to the left."""
    objects, static, road = (np.asarray(m, dtype=float) for m in maps)
    image = np.stack([0.5 * road, 0.5 * road, 0.5 * road], axis=-1)
    image[..., 1] = np.maximum(image[..., 1], static * 0.8)
    image[..., 0] = np.maximum(image[..., 0], objects)
    image[..., 1] *= 1 - objects
    image[..., 2] *= 1 - objects
    # Rows are x (forward), drawn upwards with origin="lower"; columns are y (left), flipped so left is left.
    return np.clip(image[:, ::-1], 0, 1)


def write_planner_card(inputs: CardInputs) -> Path:
    """Write ``MODEL_CARD.md`` (and ``bev.png`` where held-out data is given) into the weights folder."""
    weights = Path(inputs.weights)
    summary = json.loads((Path(inputs.training) / "metrics.json").read_text())
    guard = load_guard(weights)
    parts = [_header(summary, guard), _made(summary, inputs)]
    if inputs.guard_choice:
        parts.append(_guard_choice(_choice_file(Path(inputs.guard_choice)), inputs))
    sections = _sections(inputs)
    parts += [_closed_loop(title, records, inputs) for title, records in sections]
    if inputs.open_loop_data:
        held_out = load_dataset(inputs.open_loop_data)  # read once for the table and the picture
        rows = evaluate_weights([weights, *([inputs.baseline] if inputs.baseline else [])], held_out)
        parts.append(_open_loop(rows, inputs.open_loop_data))
        bev_picture(weights, held_out, weights / "bev.png")
        parts.append("## What the BEV head sees\n\n![BEV occupancy head beside the truth](bev.png)\n")
    if inputs.plan_ms is not None:
        size = (weights / WEIGHTS_NAME).stat().st_size / 1e6
        parts.append(
            f"## Cost\n\n{size:.1f} MB of safetensors; {inputs.plan_ms:.1f} ms per `plan()` at 6 x 256 x 448 on "
            "the CPU of the machine that wrote this card (`python benchmarks/bench_planner.py`).\n"
        )
    parts.append(_limits(summary, sections, inputs))
    path = weights / "MODEL_CARD.md"
    path.write_text("\n".join(parts))
    return path


def label_of(spec: str, inputs: CardInputs) -> str:
    """A planner's name in the tables: ``labels``' own, the bare name for this card's weights, else the spec."""
    if spec in inputs.labels:
        return inputs.labels[spec]
    name, _, argument = spec.partition(":")
    if not argument or Path(argument).resolve() == Path(inputs.weights).resolve():
        return name
    return spec


def _renderer(record: RunRecord) -> str:
    return record.worker.renderer if record.worker else "raster"


def _is_raster_test(record: RunRecord) -> bool:
    """A run on a benchmark's test split with the raster renderer (the card's main figures)."""
    return bool(record.origin.benchmark and record.origin.benchmark.endswith("/test")) and _renderer(record) == "raster"


def _section_title(record: RunRecord) -> str:
    renderer = _renderer(record)
    where = record.origin.benchmark
    if where:
        note = " (the test split, run once for this card)" if where.endswith("/test") else ""
        what = f"`{where}`{note}"
    elif record.origin.openscenario:
        what = "OpenSCENARIO corner cases nobody tuned on"
    else:
        what = "the suite's scenarios"
    return f"Closed loop on {what}, {renderer} renderer"


def _sections(inputs: CardInputs) -> list[tuple[str, list[RunRecord]]]:
    """Every suite's runs pooled, then grouped by what was run and the renderer (first seen first)."""
    groups: dict[str, list[RunRecord]] = {}
    for folder in inputs.suites:
        for record in load_results(Path(folder)):
            record = replace(record, planner=label_of(record.planner, inputs))
            groups.setdefault(_section_title(record), []).append(record)
    return list(groups.items())


def _choice_file(path: Path) -> dict:
    return json.loads((path / "guard_choice.json" if path.is_dir() else path).read_text())


def _guard_choice(choice: dict, inputs: CardInputs) -> str:
    lines = [
        f"## The guard, chosen on `{choice['split']}`",
        "",
        f"`occsim choose-guard` ran the network alone and each guard candidate on {choice['instances_per_family']} "
        f"`{choice['split']}` instances per family under {', '.join(choice['weathers'])}; the chosen one has the "
        f"best val score ({choice['objective']}). The test split was not read. The last column is the candidate's "
        "val score minus the network alone's on the same runs, ± its standard error over instances (the weathers "
        "of one instance are one cluster): a difference within about twice that error is not resolved by these runs.",
        "",
        "| candidate | runs | NCAP | collision rate | route completion | val score | vs network alone |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in choice["candidates"]:
        name = "network alone (`vision-net`)" if c["guard"] is None else f"`{c['name']}`"
        chosen = " **(chosen)**" if c["name"] == choice["chosen"] else ""
        lines.append(
            f"| {name}{chosen} | {c['runs']} | {c['ncap']:.2f} | {c['collision_rate']:.3f} | "
            f"{c['route_completion']:.2f} | {c['val_score']:.3f} | {difference_text(c)} |"
        )
    return "\n".join(lines) + "\n"


def _limits(summary: dict, sections: list[tuple[str, list[RunRecord]]], inputs: CardInputs) -> str:
    vision = VisionConfig.from_dict(summary["vision"])
    memory = (
        "It remembers through its BEV memory, warped by the car's own motion, which fades over a few frames; it "
        "has no track of each object."
        if vision.temporal
        else "Its objects map is of the present only, so the guard stops for what is already on the path."
    )
    text = f"## Limits\n\nTrained on OccSim raster renders only; it has never seen a real camera image. {memory}"
    tested = [records for _, records in sections if _is_raster_test(records[0])]
    if tested:
        rows = [r for r in family_rows(tested[0]) if r["planner"] == label_of("vision", inputs)]
        worst = sorted(rows, key=lambda r: -r["collision_rate"])[:5]
        if worst:
            text += (
                " Its weakest families on the test split (collision rate over all weathers): "
                + ", ".join(f"`{r['family']}` ({r['collision_rate']:.2f})" for r in worst)
                + "."
            )
    return text + " A learned driver's rollouts repeat exactly only with the same torch threads per worker.\n"


def _header(summary: dict, guard) -> str:
    vision = summary["vision"]
    views = VisionConfig.from_dict(vision).describe_views()
    guard_text = (
        f"At inference an occupancy guard (UniAD's use of its own occupancy prediction) sweeps the front bumper along "
        f"the plan's first {guard.horizon:g} s over the predicted objects map and stops the plan {guard.gap} m short "
        f"of the first point above {guard.threshold} within {guard.half_width:.2f} m of the path's centre "
        "(`planners/occupancy_guard.py`; "
        '`"guard": null` in `config.json` turns it off).'
        + (
            f" Where the first object within {guard.lookahead:g} m along the plan came more than "
            f"{guard.oncoming_speed:g} m/s closer between two plans (in the world frame, from the car's own pose) "
            f"while driving straight and with no junction on the predicted road, the plan is shifted sideways "
            f"({', '.join(f'{o:g}' for o in guard.swerve_offsets)} m, away from the object first) onto predicted "
            "road clear of objects: stopping does not avoid a car coming head-on."
            if guard.swerve_offsets
            else ""
        )
        + (
            f" Where the network's own plan ends at least {guard.hold_lateral:g} m to one side while its objects map "
            f"shows something (above {guard.hold_evidence}) on the straight path ahead, that line is held for "
            f"{guard.hold_time:g} s: later plans are moved across onto it while they stay on predicted road and clear."
            if guard.hold_time > 0
            else ""
        )
        if guard
        else "No occupancy guard (`guard` is null in `config.json`): the network's plan is driven as it is."
    )
    memory = (
        " It keeps its previous BEV features and warps them into the current frame by the car's own motion (its "
        "pose change, as VAD's `can_bus`), fused with the current BEV by a learned gate; the memory is forgotten "
        "at every `reset()`."
        if vision.get("temporal")
        else ""
    )
    title = "VAD-style, camera only, with a BEV memory" if vision.get("temporal") else "VAD-style, camera only"
    return f"""# OccSim vision planner ({title})

A small VAD-style network (`planners/vision.py`): a shared CNN over the {views} at
{vision["input_hw"][0]} x {vision["input_hw"][1]}, a Simple-BEV-style lift to a {vision["bev_cells"]} x
{vision["bev_cells"]} BEV grid with the observation's camera geometry, an auxiliary BEV-occupancy head
({", ".join(summary["bev_channels"])}), and an ego query that outputs `ego_fut_preds` (3 commands x 6 steps x 2),
decoded as VAD does (command row, cumulative sum).{memory} {guard_text}
"""


def _made(summary: dict, inputs: CardInputs) -> str:
    config = summary["config"]
    lines = ["## How it was made", ""]
    if inputs.dagger and (Path(inputs.dagger) / "dagger.json").exists():
        dagger = json.loads((Path(inputs.dagger) / "dagger.json").read_text())
        lines += [
            f"Closed-loop DAgger on the `{dagger['config']['benchmark']}` train split (`occsim dagger`), the network "
            f"alone driving and each round scored on the first {dagger['config'].get('eval_split', 'test')} "
            "instances of every family (raster, 6 x 256 x 448):",
            "",
            "| round | β | episodes | samples | learner drove | training [s] | val L2 1/2/3 s [m] | "
            f"{dagger['config'].get('eval_split', 'test')} NCAP / collision rate by weather |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for r in dagger["rounds"]:
            val = r["val"]
            l2 = _l2_text(val)
            scores = "; ".join(f"{s['weather']} {s['ncap']:.2f} / {s['collision_rate']:.2f}" for s in r["scores"])
            beta = "-" if r["expert_share"] is None else f"{r['expert_share']:.2f}"
            label = "start" if r["round"] < 0 else str(r["round"]) + (" (training stopped)" if r["interrupted"] else "")
            lines.append(
                f"| {label} | {beta} | {r['episodes']} | {r['samples']} | {100 * r['driven_share']:.0f} % | "
                f"{r['train_seconds']:.0f} | {l2} | {scores} |"
            )
        lines.append("")
    data = [config["data_dir"], *config.get("more_data", [])]
    lines += [
        f"Final training: `{summary['command'] or 'occsim train-planner'}`",
        f"- Data: {len(data)} collection folder(s), {summary['episodes']} episodes, {summary['samples']} samples "
        f"({summary['train_samples']} train / {summary['val_samples']} validation, split by episode).",
        f"- {config['epochs']} epochs from `{config.get('init_from')}`, batch {config['batch_size']}, AdamW lr "
        f"{config['learning_rate']}, one-cycle, colour jitter {'on' if config.get('augment') else 'off'}, objects "
        f"BCE weight {config.get('object_pos_weight', 1.0)}, hidden-frame BEV weight "
        f"{config.get('hidden_weight', 1.0)}; {summary['seconds']:.0f} s on the training machine's CPU; best epoch "
        f"{summary['best_epoch']}.",
        "",
    ]
    chain = lineage(config.get("init_from"))
    if chain:
        lines += ["The trainings it started from, oldest first (each `--init-from` the one before):", ""]
        lines += [f"{i + 1}. {step}" for i, step in enumerate(chain)]
        lines.append("")
    return "\n".join(lines)


def _l2_text(metrics: dict) -> str:
    """Held-out L2 at 1 / 2 / 3 s [m] from a training's metrics, or "-" where it has none."""
    return " / ".join(f"{metrics[f'val_L2_{h}s']:.2f}" for h in (1, 2, 3)) if "val_L2_1s" in metrics else "-"


def lineage(start: str | None, limit: int = 20) -> list[str]:
    """The trainings behind ``--init-from`` weights, oldest first: each one's command and held-out L2.

    It follows each folder's ``metrics.json`` back through its own ``init_from`` for as long as they remain; a
    folder without one ends the chain with its path.
    """
    steps: list[str] = []
    seen: set[str] = set()
    while start and str(start) not in seen and len(steps) < limit:
        seen.add(str(start))
        path = Path(start) / "metrics.json"
        if not path.exists():
            steps.append(f"`{start}` (its metrics.json is not on this machine)")
            break
        summary = json.loads(path.read_text())
        best = summary.get("best") or {}
        l2 = _l2_text(best)
        steps.append(f"`{summary.get('command') or start}` ({summary.get('samples', '?')} samples; val L2 {l2} m)")
        start = (summary.get("config") or {}).get("init_from")
    return steps[::-1]


def _closed_loop(title: str, records: list[RunRecord], inputs: CardInputs) -> str:
    rows = weather_rows(records)
    drawn = [r for r in records if r.origin.family]
    families = {r.origin.family for r in drawn}
    lines = [f"## {title}", ""]
    if drawn:
        instances = len({(r.origin.family, r.seed) for r in drawn}) / max(1, len(families))
        lines.append(f"{instances:.0f} instances of each of {len(families)} families per weather")
    else:
        scenarios = {
            r.origin.openscenario.get("file", r.scenario) if r.origin.openscenario else r.scenario for r in records
        }
        lines.append(f"{len({r.scenario for r in records})} scenarios from {len(scenarios)} file(s) per weather")
    lines[-1] += (
        ", at the suite's camera size; the drop is clear's NCAP minus the weather's (negative: better than in clear)."
    )
    lines += [
        "",
        "| planner | weather | runs | NCAP | NCAP drop vs clear | collision rate | route completion | PDMS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        drop = "-" if r["ncap_drop"] is None else f"{r['ncap_drop']:+.2f}"
        lines.append(
            f"| {r['planner']} | {r['weather']} | {r['runs']} | {r['ncap']:.2f} | {drop} | {r['collision_rate']:.3f} "
            f"| {r['route_completion']:.2f} | {r['pdms']:.2f} |"
        )
    if families:
        lines += ["", *_family_table(records, families)]
    return "\n".join(lines) + "\n"


def _family_table(records: list[RunRecord], families: set[str]) -> list[str]:
    per_family = family_rows(records)
    planners = sorted({r["planner"] for r in per_family})
    by_key = {(r["family"], r["planner"]): r for r in per_family}
    lines = [
        "Per family, all weathers (NCAP / collision rate / route completion):",
        "",
        "| family | " + " | ".join(planners) + " |",
        "|---" * (len(planners) + 1) + "|",
    ]
    for family in sorted(families):
        cells = [
            f"{row['ncap']:.2f} / {row['collision_rate']:.2f} / {row['route_completion']:.2f}"
            if (row := by_key.get((family, p)))
            else "-"
            for p in planners
        ]
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    return lines


def _open_loop(rows: list[dict], data: Path | None) -> str:
    lines = [
        f"## Open loop on held-out episodes ({rows[0]['samples']} samples{f', `{data}`' if data else ''})",
        "",
        "The network's own plans (before any guard) against the expert's, VAD's definitions.",
        "",
        "| weights | L2 1 s | L2 2 s | L2 3 s | coll. 1 s [%] | coll. 2 s [%] | coll. 3 s [%] | BEV objects IoU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        l2 = " | ".join(f"{r[f'L2_{h}s']:.3f}" for h in (1, 2, 3))
        coll = " | ".join(f"{100 * r[f'collision_{h}s']:.2f}" for h in (1, 2, 3))
        lines.append(f"| `{r['weights']}` | {l2} | {coll} | {r['bev_iou_objects']:.3f} |")
    return "\n".join(lines) + "\n"
