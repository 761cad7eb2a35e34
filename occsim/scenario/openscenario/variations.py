"""OpenSCENARIO ``ParameterValueDistribution`` files: parameter sweeps and random draws over a base scenario.

``Deterministic`` distributions expand into one parameter set per combination (the cartesian product of every
single-parameter distribution and every multi-parameter value set, in file order, the first varying slowest):
``DistributionSet`` elements, ``DistributionRange`` from the lower to the upper limit (inclusive) in steps of
``stepWidth``, and ``ValueSetDistribution`` sets. ``Stochastic`` distributions draw ``numberOfTestRuns`` sets, each
from the run's own seed (as OccSim's scenario families do): uniform, normal and log-normal (the distribution's own
mean and variance, kept in ``Range`` by redrawing), Poisson, histogram, and weighted value sets.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from occsim.scenario.openscenario.document import check_header, format_value
from occsim.world.storyboard.tree import Node
from occsim.world.xmlsafe import read_xml

MAX_SETS = 100_000  # parameter sets of one deterministic sweep
REDRAWS = 1000  # draws of a bounded normal or log-normal before its value is clipped to the range


@dataclass(frozen=True)
class Variations:
    """A parameter variation file: which scenario it varies and how."""

    path: str  # the variation file
    scenario: str  # the base scenario file it names
    node: Node  # <ParameterValueDistribution>

    @property
    def kind(self) -> str:
        """Deterministic | stochastic."""
        return "stochastic" if self.node.child("Stochastic") is not None else "deterministic"

    @property
    def runs(self) -> int:
        """How many runs the file asks for: the number of parameter sets, or numberOfTestRuns."""
        if self.kind == "stochastic":
            return self.node.need("Stochastic").integer("numberOfTestRuns")
        return len(self.parameter_sets())

    def parameter_sets(self) -> list[dict[str, str]]:
        """Every parameter set of a deterministic file, in order."""
        block = self.node.need("Deterministic")
        axes: list[list[dict[str, str]]] = []
        for distribution in block.children:
            if distribution.tag == "DeterministicSingleParameterDistribution":
                name = distribution.text("parameterName")
                axes.append([{name: v} for v in _single_values(distribution)])
            elif distribution.tag == "DeterministicMultiParameterDistribution":
                sets = distribution.need("ValueSetDistribution").all("ParameterValueSet")
                axes.append(
                    [{a.text("parameterRef"): a.text("value") for a in s.all("ParameterAssignment")} for s in sets]
                )
            else:
                raise distribution.error("is not a deterministic distribution")
        count = math.prod(len(a) for a in axes) if axes else 0
        if count > MAX_SETS:
            raise block.error(f"expands to {count:,} parameter sets, over the {MAX_SETS:,} limit")
        return [{k: v for part in combo for k, v in part.items()} for combo in itertools.product(*axes)]

    def draw(self, rng: np.random.Generator) -> dict[str, str]:
        """One parameter set of a stochastic file, drawn from ``rng`` in file order."""
        block = self.node.need("Stochastic")
        return {
            d.text("parameterName"): format_value(_draw(d.only(), rng)) for d in block.all("StochasticDistribution")
        }

    def parameters_for(self, run: int, seed: int) -> dict[str, str]:
        """The parameter set of run ``run`` (deterministic: the run-th set; stochastic: drawn from ``seed``)."""
        if self.kind == "stochastic":
            return self.draw(np.random.default_rng(seed))
        sets = self.parameter_sets()
        if not 0 <= run < len(sets):
            raise ValueError(f"{self.path} has {len(sets)} parameter sets; run {run} is not one of them")
        return sets[run]


def read_variations(path: str | Path) -> Variations:
    """Read a ParameterValueDistribution file.

    Raises:
        XmlError: not such a file, an unknown distribution, or the base scenario file is missing.
    """
    path = Path(path)
    root = Node.from_xml(read_xml(path), str(path))
    check_header(root)
    node = root.child("ParameterValueDistribution")
    if node is None:
        raise root.error("has no <ParameterValueDistribution>")
    base = (path.parent / node.need("ScenarioFile").text("filepath")).resolve()
    if not base.is_file():
        raise node.need("ScenarioFile").error(f"scenario file not found: {base}")
    if node.child("Deterministic") is None and node.child("Stochastic") is None:
        raise node.error("needs <Deterministic> or <Stochastic>")
    variations = Variations(str(path), str(base), node)
    if variations.kind == "deterministic":
        variations.parameter_sets()  # every distribution checked now, not at the first run
    else:
        for distribution in node.need("Stochastic").all("StochasticDistribution"):
            _draw(distribution.only(), np.random.default_rng(0))
    return variations


def _single_values(distribution: Node) -> list[str]:
    kind = distribution.only()
    if kind.tag == "DistributionSet":
        return [e.text("value") for e in kind.all("Element")]
    if kind.tag == "DistributionRange":
        step = kind.number("stepWidth")
        limits = kind.need("Range")
        low, high = limits.number("lowerLimit"), limits.number("upperLimit")
        if step <= 0 or high < low:
            raise kind.error(f"needs stepWidth > 0 and lowerLimit <= upperLimit, got {step}, {low}, {high}")
        count = int(math.floor((high - low) / step + 1e-9)) + 1
        if count > MAX_SETS:
            raise kind.error(f"has {count:,} values, over the {MAX_SETS:,} limit")
        return [format_value(round(low + k * step, 12)) for k in range(count)]
    raise kind.error("is not supported; use DistributionSet or DistributionRange")


def _bounds(node: Node) -> tuple[float, float]:
    limits = node.child("Range")
    if limits is None:
        return -math.inf, math.inf
    return limits.number("lowerLimit"), limits.number("upperLimit")


def _bounded(node: Node, rng: np.random.Generator, draw) -> float:
    low, high = _bounds(node)
    for _ in range(REDRAWS):
        value = float(draw())
        if low <= value <= high:
            return value
    return min(max(value, low), high)


def _draw(node: Node, rng: np.random.Generator) -> float | str:
    """One value of a stochastic distribution element."""
    if node.tag == "UniformDistribution":
        low, high = _bounds(node)
        if not (math.isfinite(low) and math.isfinite(high)) or high < low:
            raise node.error("needs a <Range> with lowerLimit <= upperLimit")
        return float(rng.uniform(low, high))
    if node.tag == "NormalDistribution":
        mean, variance = node.number("expectedValue"), node.number("variance")
        if variance < 0:
            raise node.error("variance must not be negative")
        return _bounded(node, rng, lambda: rng.normal(mean, math.sqrt(variance)))
    if node.tag == "LogNormalDistribution":
        mean, variance = node.number("expectedValue"), node.number("variance")
        if mean <= 0 or variance < 0:
            raise node.error("needs expectedValue > 0 and variance >= 0")
        sigma2 = math.log(1.0 + variance / mean**2)
        return _bounded(node, rng, lambda: rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2)))
    if node.tag == "PoissonDistribution":
        rate = node.number("expectedValue")
        if rate < 0:
            raise node.error("expectedValue must not be negative")
        return _bounded(node, rng, lambda: rng.poisson(rate))
    if node.tag == "Histogram":
        bins = node.all("Bin")
        weights = np.array([b.number("weight") for b in bins])
        if not len(bins) or (weights < 0).any() or weights.sum() <= 0:
            raise node.error("needs Bins with non-negative weights that sum above zero")
        chosen = bins[int(rng.choice(len(bins), p=weights / weights.sum()))]
        low, high = _bounds(chosen)
        return float(rng.uniform(low, high))
    if node.tag == "ProbabilityDistributionSet":
        elements = node.all("Element")
        weights = np.array([e.number("weight") for e in elements])
        if not len(elements) or (weights < 0).any() or weights.sum() <= 0:
            raise node.error("needs Elements with non-negative weights that sum above zero")
        return elements[int(rng.choice(len(elements), p=weights / weights.sum()))].text("value")
    raise node.error("is not a supported stochastic distribution")
