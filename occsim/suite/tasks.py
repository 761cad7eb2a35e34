"""What a suite runs: scenarios x planners x weathers x jittered runs, with seeds derived from a base seed."""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from occsim.scenario import Scenario, ScenarioError, load_scenario_file
from occsim.scenario.family import Family, load_scenario_or_family
from occsim.scenario.openscenario.load import Sweep, is_openscenario, load_openscenario, openscenario_files, xosc_kind


@dataclass(frozen=True)
class Task:
    """One run of the suite."""

    scenario: Scenario
    planner: str
    weather: str | None  # None: the scenario's own
    run: int  # jittered copy index (for a family: the instance drawn)
    seed: int
    origin: dict | None = None  # a family instance's family name, drawn values and difficulty measures

    @property
    def key(self) -> str:
        """Unique, file-name-safe id of the run."""
        return run_key(self.scenario.name, self.planner, self.weather, self.run)

    @property
    def file_stem(self) -> str:
        """A file name for the run's media: the key with unsafe characters replaced, cut short with a hash."""
        return file_stem(self.key)


def run_key(scenario: str, planner: str, weather: str | None, run: int) -> str:
    """``scenario__planner__weather__rN``."""
    return f"{scenario}__{planner}__{weather or 'own'}__r{run}"


MAX_STEM = 120  # characters: well under the 255 bytes a file name may have, with room for a suffix


def file_stem(key: str) -> str:
    """``key`` as a safe file name: [A-Za-z0-9_.-] only, at most MAX_STEM characters, distinct keys distinct."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key).lstrip(".")
    if safe == key and len(key) <= MAX_STEM:
        return key
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return f"{safe[: MAX_STEM - 11]}-{digest}"


def derive_seed(base_seed: int, scenario: str, run: int) -> int:
    """The reset seed of a run: the same for every planner and weather, so they face the same jitter."""
    entropy = [base_seed, zlib.crc32(scenario.encode()), run]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] & 0x7FFFFFFF)


def expand_tasks(
    scenarios: list[Scenario | Family | Sweep],
    planners: list[str],
    weathers: list[str | None],
    runs: int,
    base_seed: int,
) -> list[Task]:
    """The cross product, scenario-major so the first results cover every planner and weather early.

    A family's run r is its instance drawn from the run's seed (every planner and weather meets the same instance);
    its records carry the family, the drawn values and the difficulty measures.

    Raises:
        ScenarioError: a family whose draw cannot be placed.
    """
    tasks = []
    for r in range(runs):
        for s in scenarios:
            if isinstance(s, Sweep):
                continue
            seed = derive_seed(base_seed, s.name, r)
            scenario, origin = s, None
            if isinstance(s, Family):
                instance = s.sample(seed)
                scenario = instance.scenario
                origin = {"family": s.name, "drawn": instance.drawn, "difficulty": instance.difficulty}
            elif s.openscenario is not None:
                spec = s.openscenario
                origin = {"openscenario": {"file": spec.file, "base": spec.file, "parameters": spec.parameters}}
            tasks += [Task(scenario, p, w, r, seed, origin) for w in weathers for p in planners]
    for s in scenarios:  # a sweep's runs are its parameter sets (or its stochastic draws): each run once
        if isinstance(s, Sweep):
            for r in range(s.runs):
                seed = derive_seed(base_seed, s.name, r)
                scenario, origin = s.scenario(r, seed)
                tasks += [Task(scenario, p, w, 0, seed, origin) for w in weathers for p in planners]
    return tasks


def collect_scenarios(
    items: list[str], families: bool = False, xosc_dirs: list[str] | None = None, ego: str | None = None
) -> tuple[list[Scenario | Family | Sweep], list[str]]:
    """Scenarios from built-in names, YAML and OpenSCENARIO files and folders of them; (scenarios, every problem).

    ``families`` lets family files (with distributions) and OpenSCENARIO variation files through as ``Family``
    and ``Sweep`` objects, for ``expand_tasks`` to draw from; otherwise they are problems. A folder gives its
    YAML files and its .xosc scenario and variation files; ``xosc_dirs`` are searched recursively for .xosc files
    (every variation file, and the scenario files no variation file there varies). ``ego`` names the ego entity
    of .xosc files.
    """
    from occsim.scenarios import builtin_path, list_builtin

    paths: list[Path] = []
    problems: list[str] = []
    for folder in xosc_dirs or []:
        found = openscenario_files(folder) if Path(folder).is_dir() else []
        if not found:
            problems.append(f"{folder}: no OpenSCENARIO scenario or variation files under it")
        paths.extend(found)
    for item in items or ([] if xosc_dirs else list_builtin()):
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
            found += [p for p in sorted(path.glob("*.xosc")) if xosc_kind(p) in ("scenario", "variations")]
            if not found:
                problems.append(f"{path}: directory holds no .yaml or .xosc scenario files")
            paths.extend(found)
        elif path.suffix in (".yaml", ".yml") or path.exists():
            paths.append(path)
        else:
            try:
                paths.append(builtin_path(item))
            except ValueError as e:
                problems.append(str(e))
    scenarios: list[Scenario | Family] = []
    names: dict[str, Path] = {}
    for path in paths:
        try:
            if is_openscenario(path):
                scenario = load_openscenario(path, ego)
                if isinstance(scenario, Sweep) and not families:
                    problems.append(f"{path}: a parameter variation file; run it with `occsim suite`")
                    continue
            else:
                scenario = load_scenario_or_family(path) if families else load_scenario_file(path)
        except ScenarioError as e:
            problems.extend(str(p) for p in e.problems)
            continue
        if scenario.name in names:
            problems.append(f"{path}: scenario name '{scenario.name}' is also used by {names[scenario.name]}")
            continue
        names[scenario.name] = path
        scenarios.append(scenario)
    return scenarios, problems
