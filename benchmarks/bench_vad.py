"""VAD in OccSim on this CPU: seconds per plan for VAD-Tiny and VAD-Base, what dominates them, and what helps.

Every figure comes from one run on this machine, with seeded (untrained) weights in the released layout: the cost
of a plan does not depend on the weights' values. Per variant and per setting, the median over ``--frames`` plans
of one OccSim observation (bus_ahead, 6 x 450 x 800, as ``occsim suite --camera-hw 450x800``) after one warm-up,
the settings taking turns plan by plan so that drift in the machine's speed hits all of them alike:

- ``plain``: the model as loaded (batch norms as layers, weights contiguous), fp32;
- ``fused``: batch norms folded into the convolutions, the image encoder channels-last, fp32 (``dtype="float32"``:
  the official arithmetic);
- ``bf16``: as ``fused`` with the ResNet and FPN in bfloat16 (the planner's default on a CPU with native bf16), and
  how far its waypoints move from fp32 ones.

Each plan is split into building VAD's inputs from the observation, the image encoder (ResNet-50 + FPN) and the
head (BEV encoder, decoders, motion and planning). FLOPs are counted with ``torch.utils.flop_counter`` (matrix
products, convolutions and attention; ``grid_sample`` is not counted). Without a GPU, the CUDA figure is an
estimate from those FLOPs, marked as one.

Run: python benchmarks/bench_vad.py [--variants tiny base] [--frames 3]   → benchmarks/results/vad.json
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import gymnasium as gym  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

import occsim  # noqa: E402,F401 - registers the ids
from occsim.planners.vad import BASE, TINY, load_model  # noqa: E402
from occsim.planners.vad.checkpoint import save_folder  # noqa: E402
from occsim.planners.vad.contract import VADInputBuilder, waypoints_from_vad  # noqa: E402
from occsim.planners.vad.synthetic import synthetic_state  # noqa: E402
from occsim.types import PlannerInput  # noqa: E402

RESULTS = Path(__file__).parent / "results"
HW = (450, 800)
# Published dense peaks, for the estimate only: H100 SXM fp32 (non-tensor) and bf16 tensor-core throughput.
H100_PEAK_TFLOPS = {"fp32": 67.0, "bf16": 989.0}
ASSUMED_EFFICIENCY = 0.3  # a typical fraction of peak for a detector at batch 1; an assumption, not a measurement


def observation() -> PlannerInput:
    env = gym.make("OccSim-v0", scenario="bus_ahead", camera_hw=HW)
    obs, _ = env.reset(seed=0)
    return PlannerInput.from_observation(obs, 0.0)


def timed_plan(model, builder: VADInputBuilder, frame: PlannerInput) -> dict[str, float]:
    """One plan, split into its three parts [s]."""
    start = time.perf_counter()
    inputs = builder.build(frame.as_dict())
    img = torch.from_numpy(inputs.img)[None]
    built = time.perf_counter()
    with torch.inference_mode():
        feats = model.image_features(img)
        encoded = time.perf_counter()
        outs = head(model, feats, inputs)
        model.state.prev_bev = outs["bev_embed"]  # the next plan uses it, as in step()
    done = time.perf_counter()
    waypoints_from_vad(outs["ego_fut_preds"][0].float().numpy(), frame.command)
    return {"inputs": built - start, "image_encoder": encoded - built, "head": done - encoded, "total": done - start}


def head(model, feats, inputs) -> dict[str, torch.Tensor]:
    """The head on the image features, with the previous BEV (can_bus deltas zero: a car standing still)."""
    can_bus = torch.zeros(1, 18, dtype=torch.float64)
    lidar2img = torch.as_tensor(np.stack(inputs.img_metas["lidar2img"]), dtype=torch.float32)[None]
    return model.pts_bbox_head(feats, model.state.prev_bev, can_bus, lidar2img, model.cfg.pad_hw)


def measure(models: dict, cfg, frame: PlannerInput, frames: int) -> dict[str, dict[str, float]]:
    """Median seconds per part for each setting, the settings taking turns frame by frame (drift hits all alike)."""
    builders = {name: VADInputBuilder(scale=cfg.scale) for name in models}
    for name, model in models.items():
        model.reset()
        timed_plan(model, builders[name], frame)  # warm-up
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in models}
    for _ in range(frames):
        for name, model in models.items():
            runs[name].append(timed_plan(model, builders[name], frame))
    return {name: {part: statistics.median(r[part] for r in rs) for part in rs[0]} for name, rs in runs.items()}


def plan_of(model, cfg, frame: PlannerInput) -> np.ndarray:
    builder = VADInputBuilder(scale=cfg.scale)
    inputs = builder.build(frame.as_dict())
    model.reset()
    img, metas = torch.from_numpy(inputs.img)[None], inputs.img_metas
    outs = model.step(img, metas["can_bus"], np.stack(metas["lidar2img"]), "compare")
    return waypoints_from_vad(outs["ego_fut_preds"][0].float().numpy(), frame.command)


def flops(model, cfg, frame: PlannerInput) -> dict[str, float]:
    builder = VADInputBuilder(scale=cfg.scale)
    inputs = builder.build(frame.as_dict())
    img = torch.from_numpy(inputs.img)[None]
    model.requires_grad_(False)  # the counter's module tracker fails on inference tensors and on no-grad views
    with FlopCounterMode(display=False) as counter:
        feats = model.image_features(img)
    image = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        head(model, feats, inputs)
    return {"image_encoder_gflop": image / 1e9, "head_gflop": counter.get_total_flops() / 1e9}


def bench_variant(cfg, frames: int, frame: PlannerInput) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = save_folder(cfg, synthetic_state(cfg, seed=0), Path(tmp) / cfg.name)
        models = {
            "plain": load_model(folder).eval(),
            "fused": load_model(folder).prepare_for_inference(),
            "bf16": load_model(folder).prepare_for_inference(torch.bfloat16),
        }
        counted = flops(load_model(folder).eval(), cfg, frame)
        settings = measure(models, cfg, frame, frames)
        reference = plan_of(models["plain"], cfg, frame)
        fused_error = float(np.abs(plan_of(models["fused"], cfg, frame) - reference).max())
        bf16_error = float(np.abs(plan_of(models["bf16"], cfg, frame) - reference).max())
    total_gflop = counted["image_encoder_gflop"] + counted["head_gflop"]
    estimate = {kind: total_gflop / (peak * 1e3 * ASSUMED_EFFICIENCY) for kind, peak in H100_PEAK_TFLOPS.items()}
    return {
        "seconds_per_plan": settings,
        "speedup_vs_plain": {k: settings["plain"]["total"] / v["total"] for k, v in settings.items()},
        "max_waypoint_change_m": {"fused": fused_error, "bf16": bf16_error},
        "flops": counted,
        "achieved_gflops_fused_fp32": total_gflop / settings["fused"]["total"],
        "h100_seconds_estimate_not_measured": estimate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", choices=("tiny", "base"), default=["tiny", "base"])
    parser.add_argument("--frames", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "vad.json")
    args = parser.parse_args()
    frame = observation()
    results = {
        "machine": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, no GPU",
        "date": time.strftime("%Y-%m-%d"),
        "camera_hw": list(HW),
        "frames": args.frames,
        "assumed_gpu_efficiency": ASSUMED_EFFICIENCY,
        "variants": {},
    }
    for name in args.variants:
        cfg = {"tiny": TINY, "base": BASE}[name]
        results["variants"][name] = bench_variant(cfg, args.frames, frame)
        r = results["variants"][name]
        print(
            f"VAD-{name}: "
            + ", ".join(f"{k} {v['total']:.2f} s" for k, v in r["seconds_per_plan"].items())
            + f"; fused: encoder {r['seconds_per_plan']['fused']['image_encoder']:.2f} s, head "
            f"{r['seconds_per_plan']['fused']['head']:.2f} s; {r['flops']['image_encoder_gflop']:.0f} + "
            f"{r['flops']['head_gflop']:.0f} GFLOP; bf16 moves waypoints {r['max_waypoint_change_m']['bf16']:.3f} m",
            flush=True,
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
