"""The port's state-dict names and shapes are the official VAD-Tiny and VAD-Base ones.

``tests/fixtures/vad/official_keys.json`` is written by ``benchmarks/vad_oracle.py --write-keys`` from the official
hustvl/VAD model (built from its own config files and model code), so a released checkpoint loads one to one.
"""

import json
from pathlib import Path

import pytest
import torch

from occsim.planners.vad import BASE, TINY, VAD

TABLE = Path(__file__).resolve().parents[2] / "fixtures" / "vad" / "official_keys.json"


@pytest.mark.parametrize("cfg", [TINY, BASE], ids=lambda c: c.name)
def test_state_dict_matches_the_official_model(cfg):
    official = json.loads(TABLE.read_text())[cfg.name]
    with torch.device("meta"):  # names and shapes only: no memory, no initialisation
        port = {k: list(v.shape) for k, v in VAD(cfg).state_dict().items()}
    assert sorted(port.keys() - official.keys()) == [], "keys the official model does not have"
    assert sorted(official.keys() - port.keys()) == [], "official keys the port lacks"
    assert {k: v for k, v in port.items() if official[k] != v} == {}, "shapes that differ"
