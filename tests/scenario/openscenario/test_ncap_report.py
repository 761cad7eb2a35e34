"""The report's Euro NCAP grid: tests grouped by protocol and test, speed reduction from the ego's own speed."""

import pytest

from occsim.suite.ncap import BANDS, band, grid_rows, ncap_runs
from occsim.suite.records import RunRecord


def _record(planner, ego_kph, collision, impact=0.0, ego_at_impact=None, test="CCFhol"):
    return RunRecord.from_json(
        {
            "planner": planner,
            "outcome": "collision" if collision else "stopped",
            "collision": collision,
            "impact_speed": impact,
            "initial_speed": 13.8889,
            "ego_impact_speed": ego_at_impact,
            "ncap": 0.0 if collision else 5.0,
            "openscenario": {
                "file": "x/Variations/v.xosc",
                "base": f"x/AEB_C2C_2023/NCAP_AEB_C2C_{test}_2023.xosc",
                "parameters": {"Scenario_ID": test, "Ego_speed_kph": str(ego_kph)},
            },
        }
    )


def test_a_head_on_impact_counts_the_egos_own_braking():
    """Hit at 50 km/h relative by an oncoming car after stopping from 50: all of its own speed was taken off."""
    records = [
        _record("expert", 50, True, impact=13.8889, ego_at_impact=0.0),
        _record("no_intervention", 50, True, impact=27.7778, ego_at_impact=13.8889),
        _record("expert", 40, False),
    ]
    table = grid_rows(ncap_runs(records))
    rows = table[("AEB_C2C_2023", "CCFhol")]
    stopped = next(r for r in rows if r["planner"] == "expert" and r["collision"])
    assert stopped["speed reduction [km/h]"] == pytest.approx(50.0, abs=0.1)
    assert stopped["impact [km/h]"] == pytest.approx(50.0, abs=0.1)
    assert BANDS[band(stopped)][1] == ">=75% slower"
    blind = next(r for r in rows if r["planner"] == "no_intervention")
    assert blind["speed reduction [km/h]"] == 0.0 and BANDS[band(blind)][1] == "<25%"
    assert band(next(r for r in rows if not r["collision"])) == 0


def test_records_without_the_egos_own_speed_fall_back_to_the_relative_one():
    rows = grid_rows(ncap_runs([_record("expert", 50, True, impact=5.0)]))[("AEB_C2C_2023", "CCFhol")]
    assert rows[0]["speed reduction [km/h]"] == pytest.approx(50.0 - 18.0, abs=0.1)
