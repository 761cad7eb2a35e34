"""Scenario families: a scenario file whose numbers and choices may be distributions, sampled into concrete scenarios.

Any value of a scenario may be written as a distribution (Scenic's idea: a scenario describes a set, and concrete
instances are drawn from it):

- ``{uniform: [a, b]}``: a number drawn uniformly from [a, b];
- ``{normal: [mean, std], clip: [lo, hi]}``: Gaussian, clipped (``clip`` optional);
- ``{choice: [v1, v2, ...], weights: [w1, w2, ...]}``: one of the values (``weights`` optional, any positive);
- ``{expr: "bus.s + 5"}``: arithmetic (+ - * /, parentheses, ``min``, ``max``, ``abs``) over numbers and other
  fields, named ``ego.<field>``, ``map.<field>``, ``weather.<field>`` or ``<actor id>.<field>``; a referenced field
  that is itself drawn is used as drawn, so relative placements stay consistent. Expressions are bounded in
  length and depth before parsing (``occsim.scenario.expressions``); a division by zero or a result that is not a
  finite number is a ``file:line`` error like any other.

A top-level ``family:`` block names the family's difficulty measures, each an ``expr`` over the drawn scenario, e.g.
``family: {difficulty: {ttc_s: "(bus.s - ego.s) / ego.speed"}}``; they are reported per run. Mistakes (an empty
range, an unknown kind, a reference to a missing field, a cycle) are ``file:line`` errors. A draw that the scenario
checks refuse (overlapping actors, an actor off the road) is drawn again, up to ``MAX_REDRAWS`` times, then reported.
"""

from __future__ import annotations

import copy
import itertools
import math
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from occsim.scenario.distributions import KINDS, Draw, find_draws
from occsim.scenario.expressions import (
    ExpressionError,
    evaluate_parsed,
    expression_names,
    is_number,
    parse_expression,
    shown,
)
from occsim.scenario.loader import parse_tree, problem_from_error, read_scenario_text, validate_data
from occsim.scenario.problems import Path_, Problem, ScenarioError, field_name, line_of
from occsim.scenario.schema import Scenario

# pydantic names union members in error locations (float, int, ...): not keys of the file
_UNION_TAGS = {"float", "int", "str", "bool", "list", "list[float]"}
MAX_REDRAWS = 50  # draws of one instance before the family is reported as unsatisfiable
MAX_MAGNITUDE = 1e6  # a distribution's numbers (ranges, means, weights); a scenario's values are far smaller


@dataclass(frozen=True)
class Instance:
    """One concrete scenario drawn from a family."""

    scenario: Scenario
    data: dict[str, Any]  # the concrete scenario as plain data (what ``occsim sample`` writes)
    drawn: dict[str, Any]  # field name → drawn value
    difficulty: dict[str, float]  # the family's difficulty measures for this instance
    family: str


class Family:
    """A parsed family file: check it once, then draw instances reproducibly from seeds."""

    def __init__(self, data: dict[str, Any], source: str, lines: dict[Path_, int]):
        self.source, self.lines = source, lines
        self.meta = data.get("family") or {}
        self.base = {k: v for k, v in data.items() if k != "family"}
        self.name = str(self.base.get("name", "family"))
        self.draws = find_draws(self.base)
        self.order: list[Draw] = []  # the draws in dependency order, set once the file checks out
        problems = self._check()
        if problems:
            raise ScenarioError(problems)

    @property
    def is_family(self) -> bool:
        """Whether the file describes more than one scenario (it holds distributions or a family block)."""
        return bool(self.draws) or bool(self.meta)

    def _problem(self, path: Path_, message: str) -> Problem:
        return Problem(self.source, line_of(self.lines, path), field_name(path), message)

    def _check(self) -> list[Problem]:
        problems = []
        if not isinstance(self.meta, dict) or set(self.meta) - {"difficulty"}:
            problems.append(self._problem(("family",), "family takes one key, difficulty: {name: expression}"))
        elif not isinstance(self.meta.get("difficulty") or {}, dict):
            problems.append(self._problem(("family", "difficulty"), "difficulty takes {name: expression, ...}"))
        if any(d.path[:1] == ("name",) for d in self.draws):
            problems.append(self._problem(("name",), "a family's name is fixed: its instances are <name>_<i>"))
        for draw in self.draws:
            problems += self._check_draw(draw)
        for name, text in self._difficulty().items():
            problems += self._check_expr(("family", "difficulty", name), text)
        if problems:
            return problems
        try:  # every reference resolves and no two draws depend on each other
            self.order = self._order()
        except ValueError as e:
            return [self._problem(e.args[1], e.args[0])]
        drawn = {self._field_of(d.path) for d in self.draws}
        for name, text in self._difficulty().items():
            for field in expression_names(parse_expression(text)):
                if field not in drawn and self._lookup(self.base, field) is None:
                    path = ("family", "difficulty", name)
                    problems.append(self._problem(path, f"'{field}' is not a field of this scenario"))
        return problems or (self._check_schema() if self.draws else [])

    def _difficulty(self) -> dict[str, str]:
        measures = self.meta.get("difficulty") if isinstance(self.meta, dict) else None
        return measures if isinstance(measures, dict) else {}

    def _check_schema(self) -> list[Problem]:
        """The schema's problems with one draw: a mapping left where a value belongs is an unknown distribution."""
        data = copy.deepcopy(self.base)
        rng = np.random.default_rng(0)
        for draw in self.order:
            try:
                _set(data, draw.path, self._draw(draw, data, rng))
            except ExpressionError as e:
                return [self._problem(draw.path, str(e))]
        try:
            Scenario.model_validate(data)
        except ValidationError as e:
            problems = []
            for err in e.errors():
                if isinstance(err.get("input"), dict) and err["type"] not in ("extra_forbidden", "missing"):
                    kind = ", ".join(map(str, err["input"]))
                    message = f"unknown distribution '{kind}'; a distribution is one of {', '.join(KINDS)}"
                    path = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
                    problems.append(self._problem(path, message))
                else:
                    problems.append(problem_from_error(err, self.source, self.lines))
            return problems
        return []

    def _check_draw(self, draw: Draw) -> list[Problem]:
        spec, path = draw.spec, draw.path
        extra = set(spec) - {draw.kind} - KINDS[draw.kind]
        if len([k for k in spec if k in KINDS]) > 1 or extra:
            allowed = ", ".join(sorted({draw.kind} | KINDS[draw.kind]))
            return [
                self._problem(
                    path, f"a {draw.kind} distribution takes {allowed}, got {', '.join(sorted(map(str, spec)))}"
                )
            ]
        args = spec[draw.kind]
        if draw.kind == "expr":
            return self._check_expr(path, args)
        if draw.kind in ("uniform", "normal"):
            if not (isinstance(args, list) and len(args) == 2 and all(_is_bounded(a) for a in args)):
                bound = f"{MAX_MAGNITUDE:,.0f}"
                return [self._problem(path, f"{draw.kind} takes two numbers within ±{bound}, got {shown(args)}")]
            if draw.kind == "uniform" and not args[0] < args[1]:
                return [self._problem(path, f"uniform range [{args[0]}, {args[1]}] is empty")]
            if draw.kind == "normal" and not args[1] > 0:
                return [self._problem(path, f"normal std must be positive, got {args[1]}")]
            clip = spec.get("clip")
            if clip is not None and not (
                isinstance(clip, list) and len(clip) == 2 and all(_is_bounded(c) for c in clip) and clip[0] < clip[1]
            ):
                return [self._problem(path, f"clip must be [lo, hi], two numbers with lo < hi, got {shown(clip)}")]
            return []
        if not isinstance(args, list) or not args:
            return [self._problem(path, f"choice takes a non-empty list of values, got {args!r}")]
        weights = spec.get("weights")
        if weights is not None and (
            not isinstance(weights, list)
            or len(weights) != len(args)
            or not all(_is_bounded(w) and w >= 0 for w in weights)
            or not sum(weights) > 0
        ):
            message = f"weights must be {len(args)} non-negative numbers, not all 0: {shown(weights)}"
            return [self._problem(path, message)]
        return []

    def _check_expr(self, path: Path_, text: Any) -> list[Problem]:
        if not isinstance(text, str):
            return [self._problem(path, f"an expression is text, got {shown(text)}")]
        try:
            parse_expression(text)
        except ValueError as e:
            return [self._problem(path, f"expression {shown(text)}: {e}")]
        return []

    def _order(self) -> list[Draw]:
        """Draws in dependency order (an expr after the fields it reads); ValueError(message, path) otherwise."""
        by_field = {self._field_of(d.path): d for d in self.draws}
        needs = {}
        for draw in self.draws:
            names = expression_names(parse_expression(draw.spec["expr"])) if draw.kind == "expr" else set()
            for name in names:
                if name not in by_field and self._lookup(self.base, name) is None:
                    raise ValueError(f"'{name}' is not a field of this scenario", draw.path)
            needs[id(draw)] = {id(by_field[n]) for n in names if n in by_field}
        ordered, placed = [], set()
        while len(ordered) < len(self.draws):
            ready = [d for d in self.draws if id(d) not in placed and needs[id(d)] <= placed]
            if not ready:
                stuck = next(d for d in self.draws if id(d) not in placed)
                raise ValueError("expressions refer to each other in a cycle", stuck.path)
            for draw in ready:
                ordered.append(draw)
                placed.add(id(draw))
        return ordered

    def _field_of(self, path: Path_) -> str:
        """The reference name of a field: ego.s, map.length, weather.visibility, <actor id>.s."""
        if path[:1] == ("actors",) and len(path) >= 3:
            actor = self.base["actors"][path[1]]  # any shape until the schema checks it: a mapping names its id
            name = actor.get("id", path[1]) if isinstance(actor, dict) else path[1]
            return f"{name}." + ".".join(str(p) for p in path[2:])
        return ".".join(str(p) for p in path)

    def _lookup(self, data: dict, name: str) -> Any:
        head, _, rest = name.partition(".")
        if head in ("ego", "map", "weather"):
            node: Any = data.get(head)
        else:
            actors = data.get("actors")
            actors = actors if isinstance(actors, list) else []  # a misshapen list is the schema's problem
            node = next((a for a in actors if isinstance(a, dict) and a.get("id") == head), None)
        for part in rest.split(".") if rest else []:
            if isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                node = node.get(part) if isinstance(node, dict) else None
        return node

    def sample(self, seed: int) -> Instance:
        """A concrete instance; the same seed gives the same instance.

        Raises:
            ScenarioError: no draw out of MAX_REDRAWS passed the scenario checks (their last problems listed).
        """
        rng = np.random.default_rng(seed)
        last: list[Problem] = []
        for _ in range(MAX_REDRAWS):
            data, drawn = copy.deepcopy(self.base), {}
            for draw in self.order:
                try:
                    value = self._draw(draw, data, rng)
                except ExpressionError as e:
                    raise ScenarioError([self._problem(draw.path, str(e))]) from None
                _set(data, draw.path, value)
                drawn[self._field_of(draw.path)] = value
            try:
                scenario = validate_data(data, self.source, self.lines)
            except ScenarioError as e:
                last = e.problems
                continue
            difficulty = {}
            for name, text in self._difficulty().items():
                try:
                    difficulty[name] = round(
                        evaluate_parsed(parse_expression(text), lambda n, d=data: self._lookup(d, n)), 4
                    )
                except ExpressionError as e:
                    path = ("family", "difficulty", name)
                    raise ScenarioError([self._problem(path, f"expression {shown(text)}: {e}")]) from None
            return Instance(scenario, data, drawn, difficulty, self.name)
        note = Problem(self.source, None, "", f"no draw of {MAX_REDRAWS} passed the scenario checks; the last one's:")
        raise ScenarioError([note, *last])

    def _draw(self, draw: Draw, data: dict, rng: np.random.Generator) -> Any:
        spec, args = draw.spec, draw.spec[draw.kind]
        if draw.kind == "uniform":
            return round(float(rng.uniform(args[0], args[1])), 3)
        if draw.kind == "normal":
            value = float(rng.normal(args[0], args[1]))
            lo, hi = spec.get("clip", [-math.inf, math.inf])
            return round(min(max(value, lo), hi), 3)
        if draw.kind == "choice":
            weights = np.asarray(spec.get("weights") or [1.0] * len(args), dtype=np.float64)
            return copy.deepcopy(args[int(rng.choice(len(args), p=weights / weights.sum()))])
        try:
            return round(evaluate_parsed(parse_expression(args), lambda name: self._lookup(data, name)), 3)
        except ExpressionError as e:
            raise ExpressionError(f"expression {shown(args)}: {e}") from None


def family_from_text(text: str, source: str = "<string>") -> Family:
    """Parse a family file (the same safe loader and limits as any scenario)."""
    data, lines = parse_tree(text, source)
    return Family(data, source, lines)


def load_family_file(path: str | Path) -> Family:
    """Read a family file; ScenarioError (file:line problems) if it is unreadable or wrong."""
    return family_from_text(read_scenario_text(path), str(path))


def load_scenario_or_family(path: str | Path):
    """A scenario file as its ``Scenario``, a family file as a ``Family``, a sweep as a ``Sweep``: read once.

    A sweep is a YAML OpenSCENARIO scenario whose ``openscenario.distribution`` varies its parameters.

    Raises:
        ScenarioError: every problem of the file, with its line.
    """
    family = load_family_file(path)
    if family.is_family:
        return family
    scenario = validate_data(family.base, family.source, family.lines)
    if scenario.openscenario is not None and scenario.openscenario.distribution is not None:
        from occsim.scenario.openscenario.load import sweep_of

        return sweep_of(scenario, family.source)
    return scenario


def instance_seed(seed: int, index: int) -> int:
    """The seed of instance ``index`` drawn with ``seed``: independent streams, reproducible."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def sample_family(family: Family, n: int, seed: int) -> list[Instance]:
    """``n`` instances, the i-th drawn from ``instance_seed(seed, i)`` and named ``<family>_<i>``."""
    return list(iter_family(family, n, seed))


def iter_family(family: Family, n: int, seed: int, start: int = 0) -> Iterator[Instance]:
    """Instances ``start`` .. ``n - 1`` of ``sample_family``, drawn one at a time as they are asked for."""
    for i in range(start, n):
        instance = family.sample(instance_seed(seed, i))
        name = f"{family.name}_{i:03d}"
        data = {**instance.data, "name": name}
        yield Instance(
            instance.scenario.model_copy(update={"name": name}),
            data,
            instance.drawn,
            instance.difficulty,
            family.name,
        )


MAX_SAMPLES = 100_000  # instances one ``occsim sample`` writes (a benchmark split holds hundreds)
DISK_MARGIN = 1.5  # free space asked for, as a multiple of the estimated size of all the files


def write_samples(
    family: Family,
    n: int,
    seed: int,
    out_dir: str | Path,
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    """Draw ``n`` instances and write each as ``<out_dir>/<name>.yaml`` as soon as it is drawn.

    A file is written to a hidden temporary name and renamed into place, so an interrupted run leaves whole files
    only. Before writing, the size of all ``n`` files is estimated from the first and checked against the free
    space of ``out_dir``'s disk.

    Args:
        family: the checked family.
        n: instances to draw, 1 .. ``MAX_SAMPLES``.
        seed: instance i is drawn from ``instance_seed(seed, i)``.
        out_dir: folder for the files (made if missing).
        progress: called with the number of files written after each one.

    Returns:
        The files written, in order.

    Raises:
        ValueError: ``n`` outside 1 .. MAX_SAMPLES, or the files would not fit on the disk (nothing written).
        ScenarioError: a draw failed the scenario checks (the files before it are written, whole).
        OSError: the disk refused a file (no partial file is left).
    """
    if not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"n={n:,} is outside 1 .. {MAX_SAMPLES:,} instances per run; sample in batches")
    out_dir = Path(out_dir)
    draws = iter_family(family, n, seed)
    first = next(draws)
    estimate = int(len(dump_instance(first).encode()) * n * DISK_MARGIN)
    existing = next(p for p in (out_dir, *out_dir.absolute().parents) if p.exists())
    free = shutil.disk_usage(existing).free
    if estimate > free:
        raise ValueError(
            f"{n:,} instances need about {estimate / 1e6:,.1f} MB (with a {DISK_MARGIN}x margin) but "
            f"{existing} has {free / 1e6:,.1f} MB free; draw fewer"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for instance in itertools.chain([first], draws):
        written.append(write_atomic(out_dir / f"{instance.scenario.name}.yaml", dump_instance(instance)))
        if progress is not None:
            progress(len(written))
    return written


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename: whole or absent."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def dump_instance(instance: Instance) -> str:
    """The instance as plain scenario YAML that ``occsim validate`` accepts, with where it came from on top."""
    header = [f"# drawn from family {instance.family}"]
    header += [f"#   {name}: {value}" for name, value in instance.drawn.items()]
    header += [f"# difficulty {name}: {value}" for name, value in instance.difficulty.items()]
    return "\n".join(header) + "\n" + yaml.safe_dump(instance.data, sort_keys=False, default_flow_style=None)


def _is_bounded(value: Any) -> bool:
    """A number within ±MAX_MAGNITUDE: a draw's arithmetic on it cannot overflow."""
    return is_number(value) and abs(value) <= MAX_MAGNITUDE


def _set(data: Any, path: Path_, value: Any) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value
