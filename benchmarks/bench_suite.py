"""Parallel efficiency of `occsim suite`: 2 worker processes and Ray with 2 CPUs against 1 worker, same suite.

Efficiency = T(1 worker on 1 CPU) / (2 * T(config)). `--workers 1` by default lets its one worker render with
every core's threads; it is timed too, so both baselines are in the same run.
Run: python benchmarks/bench_suite.py [--camera-hw 256x448]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIGS = {
    "1 worker": ["--workers", "1", "--threads-per-run", "1"],
    "1 worker, 2 threads (default)": ["--workers", "1"],
    "2 workers": ["--workers", "2"],
    "ray, 2 CPUs": ["--workers", "2", "--ray"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--camera-hw", default="256x448")
    parser.add_argument("--weather", default="clear")
    args = parser.parse_args()
    suite = ["--planner", "expert", "--planner", "constant_velocity", "--weather", args.weather, "--no-video"]
    times, runs = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, extra in CONFIGS.items():
            out = Path(tmp) / "".join(c if c.isalnum() else "_" for c in name)
            cmd = [
                sys.executable,
                "-m",
                "occsim.cli",
                "suite",
                *suite,
                "--camera-hw",
                args.camera_hw,
                "--out",
                str(out),
                *extra,
            ]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[name] = time.perf_counter() - start
            runs[name] = len((out / "results.jsonl").read_text().splitlines())
    base = times["1 worker"]
    report = {
        name: {
            "seconds": round(t, 1),
            "runs": runs[name],
            "speed-up": round(base / t, 2),
            "efficiency": round(base / (2 * t), 2),
        }
        for name, t in times.items()
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
