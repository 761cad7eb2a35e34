"""Parameter variation files: deterministic sweeps in order, stochastic draws from the run's seed."""

import numpy as np
import pytest

from occsim.scenario.openscenario.variations import read_variations
from occsim.world.xmlsafe import XmlError
from tests import openscenario_files as F

HEADER = '<?xml version="1.0"?><OpenSCENARIO><FileHeader revMajor="1" revMinor="2" date="2026-01-01T00:00:00" description="v" author="t"/>'


def _variations(tmp_path, body):
    F.write(tmp_path, "road.xodr", F.straight_xodr())
    F.write(
        tmp_path,
        "base.xosc",
        F.xosc(
            {"Ego": F.vehicle("e")},
            {"Ego": [F.teleport(F.lane_position("0", -1, 10))]},
            parameters='<ParameterDeclaration name="A" parameterType="double" value="1"/>'
            '<ParameterDeclaration name="B" parameterType="string" value="x"/>'
            '<ParameterDeclaration name="C" parameterType="double" value="0"/>',
        ),
    )
    text = f'{HEADER}<ParameterValueDistribution><ScenarioFile filepath="base.xosc"/>{body}</ParameterValueDistribution></OpenSCENARIO>'
    return read_variations(F.write(tmp_path, "v.xosc", text))


def test_deterministic_sets_are_the_product_in_file_order(tmp_path):
    body = (
        "<Deterministic>"
        '<DeterministicSingleParameterDistribution parameterName="A"><DistributionRange stepWidth="0.5"><Range lowerLimit="1" upperLimit="2"/></DistributionRange></DeterministicSingleParameterDistribution>'
        '<DeterministicSingleParameterDistribution parameterName="B"><DistributionSet><Element value="p"/><Element value="q"/></DistributionSet></DeterministicSingleParameterDistribution>'
        '<DeterministicMultiParameterDistribution><ValueSetDistribution><ParameterValueSet><ParameterAssignment parameterRef="C" value="7"/></ParameterValueSet></ValueSetDistribution></DeterministicMultiParameterDistribution>'
        "</Deterministic>"
    )
    v = _variations(tmp_path, body)
    sets = v.parameter_sets()
    assert v.kind == "deterministic" and v.runs == 6
    assert [(s["A"], s["B"]) for s in sets] == [
        ("1", "p"),
        ("1", "q"),
        ("1.5", "p"),
        ("1.5", "q"),
        ("2", "p"),
        ("2", "q"),
    ]
    assert all(s["C"] == "7" for s in sets)
    assert v.parameters_for(3, seed=99) == sets[3]


def test_stochastic_draws_are_reproducible_per_seed_and_within_range(tmp_path):
    body = (
        '<Stochastic numberOfTestRuns="20" randomSeed="1">'
        '<StochasticDistribution parameterName="A"><UniformDistribution><Range lowerLimit="5" upperLimit="6"/></UniformDistribution></StochasticDistribution>'
        '<StochasticDistribution parameterName="C"><NormalDistribution expectedValue="0" variance="4"><Range lowerLimit="-1" upperLimit="1"/></NormalDistribution></StochasticDistribution>'
        '<StochasticDistribution parameterName="B"><ProbabilityDistributionSet><Element value="p" weight="1"/><Element value="q" weight="3"/></ProbabilityDistributionSet></StochasticDistribution>'
        "</Stochastic>"
    )
    v = _variations(tmp_path, body)
    assert v.kind == "stochastic" and v.runs == 20
    draws = [v.parameters_for(run, seed) for run, seed in enumerate(range(200))]
    assert v.parameters_for(0, 5) == v.parameters_for(7, 5)  # the seed decides
    a = np.array([float(d["A"]) for d in draws])
    c = np.array([float(d["C"]) for d in draws])
    assert 5 <= a.min() and a.max() <= 6 and -1 <= c.min() and c.max() <= 1
    share_q = np.mean([d["B"] == "q" for d in draws])
    assert 0.6 < share_q < 0.9


def test_bad_distributions_are_errors(tmp_path):
    with pytest.raises(XmlError, match="needs stepWidth > 0"):
        _variations(
            tmp_path,
            '<Deterministic><DeterministicSingleParameterDistribution parameterName="A"><DistributionRange stepWidth="0"><Range lowerLimit="1" upperLimit="2"/></DistributionRange></DeterministicSingleParameterDistribution></Deterministic>',
        )
    with pytest.raises(XmlError, match="over the"):
        _variations(
            tmp_path,
            '<Deterministic><DeterministicSingleParameterDistribution parameterName="A"><DistributionRange stepWidth="1e-6"><Range lowerLimit="0" upperLimit="1000"/></DistributionRange></DeterministicSingleParameterDistribution></Deterministic>',
        )
