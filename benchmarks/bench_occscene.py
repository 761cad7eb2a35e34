"""OccScene's cost, measured in one run: env steps against raster and SyntheOcc, and Mamba against attention.

    python benchmarks/bench_occscene.py [--env-steps 4] [--lengths 64,256,1024,4096,16384] [--device cpu]

1. Seconds per env step at 256 x 448 with the shipped models: raster, SyntheOcc (20 UniPC steps), OccScene at its CPU
   default (12 steps) and at 20 steps.
2. The alignment's sequence mixers as the sequence grows (depth planes x frames tokens per patch position): forward
   time and peak memory of the bidirectional Mamba block (mambapy sequential and parallel scans; mamba-ssm's kernel on
   a GPU where it imports) against self-attention, each in a fresh process. Memory is the peak resident set of one
   call above what the process held before it (Linux /proc; on a GPU, the CUDA allocator's peak). On a GPU the
   kernel's output is also checked against mambapy's.

Writes ``bench_occscene.json`` and ``bench_occscene.png`` in ``--out``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import time
from pathlib import Path

import numpy as np
import torch

BATCH, DIM = 8, 64  # sequences per call (patch positions) and token width, as in the shipped alignment module


def env_seconds(env_steps: int) -> dict[str, float]:
    """Mean seconds per env step after one warm-up step, for each renderer configuration (pure generation)."""
    from occsim.suite.throughput import renderer_seconds_per_step

    configs = {
        "raster": ("raster", {}),
        "syntheocc, 20 steps": ("syntheocc", {"init": "noise", "steps": 20}),
        "occscene, 12 steps (CPU default)": ("occscene", {"init": "noise"}),
        "occscene, 20 steps": ("occscene", {"init": "noise", "steps": 20}),
    }
    seconds = {}
    for name, (renderer, kwargs) in configs.items():
        seconds[name] = round(renderer_seconds_per_step(renderer, (256, 448), env_steps, kwargs), 3)
        print(f"{name}: {seconds[name]} s / env step", flush=True)
    return seconds


def _mixer_run(mixer: str, length: int, device: str, queue) -> None:
    """In a fresh process: median forward seconds of three and the peak memory the calls added [MB]."""
    from occsim.generative.models.mamba import BidirectionalMamba
    from occsim.generative.models.mda import AttentionMixer

    torch.manual_seed(0)
    backend = {"mamba (sequential scan)": "sequential", "mamba (parallel scan)": "mambapy"}.get(mixer, "auto")
    block = (AttentionMixer(DIM) if mixer == "attention" else BidirectionalMamba(DIM, state=8)).to(device).eval()
    x = torch.randn(BATCH, length, DIM, device=device)

    def call():
        with torch.no_grad():
            return block(x) if mixer == "attention" else block(x, backend=backend)

    call()  # warm-up, then the peak of one call above the memory held before it
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak resident set, to the current one
        before = _status_mb("VmRSS")
    call()
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else _status_mb("VmHWM") - before
    times = []
    for _ in range(3):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        call()
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    queue.put((float(np.median(times)), float(peak)))


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (Linux) [MB]."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def mixer_scaling(lengths: list[int], device: str) -> dict[str, dict[int, dict[str, float]]]:
    """{mixer: {length: {seconds, peak_mb}}}; a run that fails (out of memory) is recorded as missing."""
    from occsim.generative.models.mamba import kernel_available

    mixers = ["mamba (sequential scan)", "mamba (parallel scan)", "attention"]
    if device == "cuda" and kernel_available():
        mixers.insert(0, "mamba (mamba-ssm kernel)")
    context = multiprocessing.get_context("spawn")
    results: dict[str, dict[int, dict[str, float]]] = {m: {} for m in mixers}
    for length in lengths:
        for mixer in mixers:
            queue = context.Queue()
            process = context.Process(target=_mixer_run, args=(mixer, length, device, queue))
            process.start()
            process.join()
            if process.exitcode == 0:
                seconds, peak = queue.get()
                results[mixer][length] = {"seconds": round(seconds, 4), "peak_mb": round(peak, 1)}
                print(f"{mixer:26s} L={length:6d}: {seconds:.4f} s, {peak:.0f} MB", flush=True)
            else:
                print(f"{mixer:26s} L={length:6d}: failed (exit {process.exitcode})", flush=True)
    return results


def kernel_agreement() -> dict | None:
    """On a GPU with mamba-ssm: max |kernel - mambapy| on one block, and the kernel's speed-up."""
    from occsim.generative.models.mamba import BidirectionalMamba, kernel_available

    if not (torch.cuda.is_available() and kernel_available()):
        return None
    torch.manual_seed(0)
    block = BidirectionalMamba(DIM, state=8).cuda().eval()
    x = torch.randn(BATCH, 4096, DIM, device="cuda")
    timings = {}
    with torch.no_grad():
        outputs = {b: block(x, backend=b) for b in ("mamba_ssm", "mambapy")}
        for b in outputs:
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(10):
                block(x, backend=b)
            torch.cuda.synchronize()
            timings[b] = (time.perf_counter() - start) / 10
    return {
        "max_abs_difference": float((outputs["mamba_ssm"] - outputs["mambapy"]).abs().max()),
        "seconds": timings,
        "speedup": timings["mambapy"] / timings["mamba_ssm"],
    }


def plot(results: dict, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6))
    ax_time, ax_memory = fig.subplots(1, 2)
    for mixer, runs in results.items():
        lengths = sorted(runs)
        ax_time.plot(lengths, [runs[n]["seconds"] for n in lengths], marker="o", label=mixer)
        ax_memory.plot(lengths, [max(runs[n]["peak_mb"], 0.1) for n in lengths], marker="o", label=mixer)
    for ax, label in ((ax_time, "forward time [s]"), (ax_memory, "peak memory added [MB]")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("tokens per sequence (depth planes x frames)")
        ax.set_ylabel(label)
    ax_time.legend(fontsize=8)
    fig.suptitle(f"alignment mixers, {BATCH} sequences of width {DIM}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env-steps", type=int, default=4, help="timed env steps per renderer (0 skips part 1)")
    parser.add_argument("--lengths", default="64,256,1024,4096,16384", help="sequence lengths for part 2")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", type=Path, default=Path("runs/bench_occscene"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict = {"device": args.device, "threads": torch.get_num_threads()}
    if args.env_steps:
        report["env_seconds_per_step"] = env_seconds(args.env_steps)
    scaling = mixer_scaling([int(n) for n in args.lengths.split(",")], args.device)
    report["mixers"] = scaling
    lengths = sorted(set.intersection(*(set(r) for r in scaling.values())))
    if lengths:
        first, last = lengths[0], lengths[-1]
        report["growth"] = {  # how much each mixer's time and memory grew while the length grew last / first
            m: {
                "length_ratio": last / first,
                "time_ratio": round(r[last]["seconds"] / r[first]["seconds"], 1),
                "memory_ratio": round(r[last]["peak_mb"] / max(r[first]["peak_mb"], 0.1), 1),
            }
            for m, r in scaling.items()
        }
        print(json.dumps(report["growth"], indent=1))
    report["kernel_agreement"] = kernel_agreement()
    (args.out / "bench_occscene.json").write_text(json.dumps(report, indent=1))
    plot(scaling, args.out / "bench_occscene.png")
    print(f"written {args.out / 'bench_occscene.json'} and bench_occscene.png")


if __name__ == "__main__":
    main()
