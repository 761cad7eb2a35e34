"""OccSim's storyboard against esmini's recordings of the same scenarios: every entity within 0.2 m at every 0.1 s.

The scenarios are written by ``tests/oracle_scenarios.py``; the recordings in ``tests/fixtures/esmini`` were made
by esmini (headless, fixed 0.1 s step) with ``benchmarks/esmini_oracle.py --record``.
"""

from pathlib import Path

import pytest

from benchmarks.esmini_oracle import FIXTURES, TOLERANCE, compare, read_fixture
from tests.oracle_scenarios import SCENARIOS, replay, write_all


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("oracle"))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_entity_follows_esmini_within_tolerance(scenarios, name):
    reference = read_fixture(FIXTURES / f"{name}.csv")
    worst, at, rows, missing = compare(reference, replay(Path(scenarios[name])))
    assert missing == 0, f"{missing} of esmini's rows have no OccSim row (the run ended early or an entity is absent)"
    assert rows > 50
    assert worst <= TOLERANCE, f"{worst:.3f} m at {at}"
