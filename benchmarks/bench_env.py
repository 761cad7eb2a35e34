"""Closed-loop speed on this machine against the issue's targets and HighwayEnv, measured in one run.

Run: python benchmarks/bench_env.py   (same as: occsim bench --json)
"""

import json

from occsim.suite.throughput import run_all

if __name__ == "__main__":
    print(json.dumps(run_all(), indent=2))
