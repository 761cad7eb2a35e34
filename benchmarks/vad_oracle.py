"""The VAD port against the official hustvl/VAD code, run unmodified on stand-ins for mmcv/mmdet/mmdet3d.

Needs a checkout of the official VAD source (not part of OccSim; mmcv, mmdet, mmdet3d and torchvision are not
needed, ``benchmarks/vad_oracle/`` stands in for the pieces VAD's model files import):

    git clone https://github.com/hustvl/VAD && git -C VAD checkout 1688c4b1c3a9e2e7873ca9700ff8058170c0e3c8
    python benchmarks/vad_oracle.py --vad-root VAD [--variant tiny base small] [--write-fixture] [--write-keys]

For each variant it builds the official model from ``projects/configs/VAD/VAD_{tiny,base}_e2e.py`` (``small``: the
Tiny config shrunk by overrides), initialises it with VAD's own ``init_weights``, nudges it so the motion-map
selection has work to do, runs three frames (ego 5 m forward per frame, yaw 355 -> 358 -> 1 deg) through VAD's own
``forward_test``, loads the same weights into ``occsim.planners.vad.VAD`` and runs ``step`` on the same frames, as
loaded and again after ``prepare_for_inference()`` (batch norms folded, channels-last, as the planner runs it). It
prints the largest absolute difference of every output per frame and exits 1 if any exceeds 1e-4 (or if the state
dict names or shapes differ). Base at 6 x 736 x 1280 takes about a quarter of an hour on two CPU cores.

``--write-fixture`` stores the small variant's weights (float16; the ResNet-50 is regenerated from a seed) and
outputs in ``tests/fixtures/vad/`` for ``tests/planners/vad/test_oracle_fixture.py``; ``--write-keys`` writes the
official Tiny and Base state-dict table ``tests/fixtures/vad/official_keys.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MPLBACKEND", "Agg")  # VAD's head imports matplotlib.pyplot

FIXTURES = ROOT / "tests" / "fixtures" / "vad"


def key_table_json(table: dict[str, dict[str, list[int]]]) -> str:
    """{variant: {key: shape}} as JSON, one key per line (a readable diff when the table changes)."""
    blocks = []
    for variant in sorted(table):
        rows = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(table[variant].items()))
        blocks.append(f"{json.dumps(variant)}: {{\n{rows}\n }}")
    return "{\n " + ",\n ".join(blocks) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vad-root", type=Path, required=True, help="a hustvl/VAD checkout (commit 1688c4b1)")
    parser.add_argument("--variant", nargs="+", choices=("tiny", "base", "small"), default=["small", "tiny", "base"])
    parser.add_argument("--write-fixture", action="store_true", help="store the small variant in tests/fixtures/vad")
    parser.add_argument("--write-keys", action="store_true", help="write tests/fixtures/vad/official_keys.json")
    args = parser.parse_args(argv)

    import torch

    from benchmarks.vad_oracle import harness
    from benchmarks.vad_oracle.install import VAD_COMMIT, load_vad

    torch.set_grad_enabled(False)
    warnings.filterwarnings("ignore")  # mmcv-era deprecation chatter from VAD's modules
    try:
        vad = load_vad(args.vad_root)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 2
    print(f"VAD checkout {vad.root} at {vad.commit or 'an unknown commit (not a git checkout)'}")
    if vad.commit and vad.commit != VAD_COMMIT:
        print(f"warning: the port follows {VAD_COMMIT}", file=sys.stderr)

    failed = False
    if args.write_keys:
        table = harness.official_keys(vad)
        FIXTURES.mkdir(parents=True, exist_ok=True)
        (FIXTURES / "official_keys.json").write_text(key_table_json(table))
        print(f"wrote {FIXTURES / 'official_keys.json'}: " + ", ".join(f"{k} {len(v)} keys" for k, v in table.items()))

    variants = list(dict.fromkeys([*args.variant, *(["small"] if args.write_fixture else [])]))
    for name in variants:
        start = time.perf_counter()
        result = harness.compare(vad, harness.VARIANTS[name])
        print(f"\n{name}: {time.perf_counter() - start:.0f} s, map-selection paths per frame: {result.counts}")
        for line in result.mismatches:
            print(f"  state dict mismatch: {line}")
        print(f"  {'max |official - port|':20s} frames 1-3 {'':12s} (after prepare_for_inference)")
        for key, values in result.diffs.items():
            prepared = result.prepared_diffs[key]
            mark = "" if max(values + prepared) <= harness.TOLERANCE else "  <-- above 1e-4"
            print(
                f"  {key:20s} "
                + "  ".join(f"{v:.3e}" for v in values)
                + "   ("
                + "  ".join(f"{v:.3e}" for v in prepared)
                + ")"
                + mark
            )
        print(f"  {'worst':20s} {result.worst:.3e} {'ok' if result.ok else 'FAILED'}")
        failed |= not result.ok
        if name == "small" and args.write_fixture:
            paths = harness.write_fixture(result, FIXTURES, vad.commit)
            print("  wrote " + ", ".join(f"{p} ({p.stat().st_size / 1e6:.2f} MB)" for p in paths))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
