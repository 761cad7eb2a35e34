"""OccSim's storyboard against esmini, the reference OpenSCENARIO player: every entity at every 0.1 s.

Needs an esmini build (esmini is not part of OccSim; build it yourself, headless, from its source):

    python benchmarks/esmini_oracle.py --esmini /path/to/esmini/bin/esmini [--record] [--xosc DIR ...]

It writes the oracle scenarios of ``tests/oracle_scenarios.py`` to a temporary folder, runs esmini on each
(``--headless --fixed_timestep 0.1 --csv_logger``), replays the same files in OccSim with the ego scripted, and
prints the largest position difference per scenario. ``--record`` stores esmini's trajectories in
``tests/fixtures/esmini/`` (the test compares against those, so CI needs no esmini). ``--xosc DIR`` also compares
every scenario file in DIR (e.g. esmini's own resources/xosc). Without ``--esmini`` it compares OccSim against the
stored recordings.
"""

from __future__ import annotations

import argparse
import csv
import math
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.oracle_scenarios import replay, write_all  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "esmini"
TOLERANCE = 0.2  # [m]


def run_esmini(esmini: Path, xosc: Path, out: Path, limit: float = 15.0) -> Path:
    """esmini's recording (its wide CSV) of ``xosc``, headless at a fixed 0.1 s step.

    esmini has no time limit of its own: a storyboard that never stops is cut after ``limit`` wall-clock seconds
    (minutes of simulated time) and compared as far as it got.
    """
    csv_path = out / f"{xosc.stem}.esmini.csv"
    command = [str(esmini), "--headless", "--fixed_timestep", "0.1", "--osc", str(xosc), "--csv_logger", str(csv_path)]
    command += ["--disable_stdout", "--seed", "1", "--logfile_path", str(out / f"{xosc.stem}.esmini.log")]
    try:
        subprocess.run(command, check=True, timeout=limit, capture_output=True)
    except subprocess.TimeoutExpired:
        pass
    return csv_path


def read_esmini(path: Path) -> dict[tuple[float, str], tuple[float, float, float, float]]:
    """(time, entity) -> (x, y, heading, speed) from esmini's wide CSV (31 fields per entity after index, time)."""
    rows = {}
    for line in path.read_text().splitlines()[7:]:
        parts = [p.strip() for p in line.split(",")]
        t, k = round(float(parts[1]), 1), 2
        while k + 31 <= len(parts) and parts[k]:
            x, y, h, v = float(parts[k + 11]), float(parts[k + 12]), float(parts[k + 24]), float(parts[k + 2])
            rows[(t, parts[k])] = (x, y, math.atan2(math.sin(h), math.cos(h)), v)
            k += 31
    return rows


def write_fixture(rows: dict, path: Path) -> None:
    """The compact reference: time, entity, x, y, heading, speed."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["t", "entity", "x", "y", "h", "speed"])
        for (t, name), (x, y, h, v) in sorted(rows.items()):
            writer.writerow([f"{t:.1f}", name, f"{x:.4f}", f"{y:.4f}", f"{h:.5f}", f"{v:.4f}"])


def read_fixture(path: Path) -> dict[tuple[float, str], tuple[float, float, float, float]]:
    """A stored reference, as ``read_esmini`` gives it."""
    with path.open() as f:
        return {
            (float(r["t"]), r["entity"]): tuple(float(r[k]) for k in ("x", "y", "h", "speed"))
            for r in csv.DictReader(f)
        }


def compare(reference: dict, mine: dict) -> tuple[float, tuple | None, int, int]:
    """Largest position difference [m], where, rows compared, rows only in the reference."""
    worst, at = 0.0, None
    common = [k for k in reference if k in mine]
    for key in common:
        gap = math.hypot(reference[key][0] - mine[key][0], reference[key][1] - mine[key][1])
        if gap > worst:
            worst, at = gap, key
    return worst, at, len(common), len(reference) - len(common)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--esmini", type=Path, help="the esmini binary (a headless build)")
    parser.add_argument("--record", action="store_true", help="store esmini's trajectories as the test fixtures")
    parser.add_argument("--xosc", type=Path, action="append", default=[], help="also compare every .xosc in DIR")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cases = dict(write_all(folder / "oracle"))
        for extra in args.xosc:
            cases.update({f"{extra.name}/{p.stem}": p for p in sorted(extra.glob("*.xosc"))})
        print(f"{'scenario':48s} {'max [m]':>8s}  {'rows':>6s}  worst at")
        for name, xosc in cases.items():
            try:
                if args.esmini:
                    reference = read_esmini(run_esmini(args.esmini, xosc, folder))
                    if args.record and "/" not in name:
                        FIXTURES.mkdir(parents=True, exist_ok=True)
                        write_fixture(reference, FIXTURES / f"{name}.csv")
                elif (FIXTURES / f"{name}.csv").exists():
                    reference = read_fixture(FIXTURES / f"{name}.csv")
                else:
                    continue
                reference = {k: v for k, v in reference.items() if k[0] <= 60.0}  # esmini may run on for minutes
                last = max((t for t, _ in reference), default=0.0)
                worst, at, rows, missing = compare(reference, replay(xosc, until=last))
            except Exception as e:  # a scenario OccSim (or esmini) cannot run: say so and go on
                print(f"{name:48s} {'error':>8s}  {type(e).__name__}: {str(e)[:90]}")
                failed += 1
                continue
            ok = worst <= TOLERANCE and missing == 0
            failed += not ok
            print(f"{name:48s} {worst:8.3f}  {rows:6d}  {at} {'' if ok else ' <-- over ' + str(TOLERANCE)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
