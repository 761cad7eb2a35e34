"""OpenSCENARIO files as OccSim scenarios: a scenario file becomes one ``Scenario``, a variation file a ``Sweep``.

The scenario's map is the file's OpenDRIVE network, its weather the Init ``EnvironmentAction``'s (fog's visual
range, rain or snow, night when the sun is below the horizon or dimmer than dusk), and its time limit the
storyboard's simulation-time stop condition (plus its delay), or ``MAX_DURATION``. The storyboard itself is checked
now, so every unsupported element is a ``file:line`` error before anything runs.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from occsim.scenario.openscenario.document import Document, Resolved, read_document, resolve
from occsim.scenario.openscenario.variations import Variations, read_variations
from occsim.scenario.problems import Problem, ScenarioError
from occsim.scenario.schema import OpenDriveMap, OpenScenarioSpec, Scenario, WeatherSpec
from occsim.world.opendrive.model import OpenDriveWarning
from occsim.world.opendrive.network import RoadNetwork
from occsim.world.storyboard.runtime import Runtime
from occsim.world.storyboard.tree import Node
from occsim.world.xmlsafe import XmlError

MAX_DURATION = 60.0  # [s] the time limit of a storyboard that never stops by simulation time
NIGHT_LUX = 50.0  # [lx] a sun dimmer than this (civil twilight is about 3 lx) is night
FOG_VISIBILITY = 1000.0  # [m] below this visual range the weather is fog
MAX_RAIN_MM = 10.0  # [mm/h] precipitation at OccSim's full intensity


def is_openscenario(path: str | Path) -> bool:
    """Whether ``path`` names an OpenSCENARIO file (by its suffix)."""
    return Path(path).suffix.lower() == ".xosc"


def is_variation_file(path: str | Path) -> bool:
    """Whether an .xosc file is a ParameterValueDistribution (read only its first 64 KB)."""
    try:
        with open(path, "rb") as f:
            return b"ParameterValueDistribution" in f.read(1 << 16)
    except OSError:
        return False


def xosc_kind(path: str | Path) -> str:
    """Scenario | variations | catalog | other, from the first 64 KB of an .xosc file."""
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return "other"
    if b"ParameterValueDistribution" in head:
        return "variations"
    if b"<Catalog" in head and b"<Storyboard" not in head:
        return "catalog"
    return "scenario" if b"<OpenSCENARIO" in head else "other"


def openscenario_files(folder: str | Path) -> list[Path]:
    """The runnable .xosc files under ``folder`` (recursively).

    Every variation file, and every scenario file no variation file there varies (a sweep's base scenario does not
    run twice).
    """
    found = sorted(Path(folder).rglob("*.xosc"))
    kinds = {path: xosc_kind(path) for path in found}
    varied = set()
    for path, kind in kinds.items():
        if kind == "variations":
            try:
                varied.add(Path(read_variations(path).scenario).resolve())
            except XmlError:
                pass  # reported when the file itself is loaded
    return [p for p, k in kinds.items() if k == "variations" or (k == "scenario" and p.resolve() not in varied)]


def load_openscenario(path: str | Path, ego: str | None = None, mode: str = "planner") -> Scenario | Sweep:
    """An .xosc file: a variation file as a Sweep, a scenario file as a Scenario."""
    return load_sweep(path, ego, mode) if is_variation_file(path) else load_xosc(path, ego=ego, mode=mode)


def _problem(e: XmlError) -> ScenarioError:
    return ScenarioError([Problem(e.file or "<openscenario>", e.line, "", e.message)])


@lru_cache(maxsize=32)
def _document(path: str, stamp: tuple[float, int]) -> Document:
    return read_document(path)


def document_of(path: str | Path) -> Document:
    """The document of an .xosc file, read once per file version."""
    path = Path(path).resolve()
    stat = path.stat()
    return _document(str(path), (stat.st_mtime, stat.st_size))


@lru_cache(maxsize=8)
def _network(path: str, stamp: tuple[float, int]) -> RoadNetwork:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OpenDriveWarning)  # said once, when the world's map is loaded
        return RoadNetwork.load(path)


def network_of(path: str | Path) -> RoadNetwork:
    """The road network of an .xodr file, read once per file version."""
    path = Path(path).resolve()
    stat = path.stat()
    return _network(str(path), (stat.st_mtime, stat.st_size))


def slug(text: str) -> str:
    """A scenario name from a file name: lower case, [a-z0-9_] only."""
    name = re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
    return name or "openscenario"


def load_xosc(
    path: str | Path,
    parameters: dict[str, str] | None = None,
    ego: str | None = None,
    mode: str = "planner",
    variations: str | None = None,
    name: str | None = None,
) -> Scenario:
    """An OpenSCENARIO scenario file (with ``parameters`` overriding its declared values) as a Scenario.

    Raises:
        ScenarioError: the file cannot be read, names no road network, or holds something OccSim does not support
            (each with its file and line).
    """
    path = Path(path)
    try:
        document = document_of(path)
        resolved = resolve(document, parameters or {})
        road_file = road_network_of(resolved.root, path)
        if road_file is None:
            raise document.root.error("names no <RoadNetwork><LogicFile>: OccSim needs an OpenDRIVE road network")
        network = network_of(road_file)
        Runtime(resolved.root, network, _texts(resolved), ego, mode)  # every element checked now
        header = document.root.need("FileHeader")
        weather = weather_of(resolved.root)
        duration = duration_of(resolved.root)
    except XmlError as e:
        raise _problem(e) from None
    except (OSError, ValueError) as e:
        raise ScenarioError([Problem(str(path), None, "", str(e))]) from None
    spec = OpenScenarioSpec(
        file=str(path.resolve()),
        variations=variations,
        parameters=dict(parameters or {}),
        ego=ego,
        mode=mode,  # type: ignore[arg-type]
    )
    return Scenario(
        name=name or slug(path.stem),
        description=header.attrs.get("description", "")[:500],
        tags=["openscenario"],
        map=OpenDriveMap(type="opendrive", file=road_file),
        weather=weather,
        duration=duration,
        openscenario=spec,
    )


def road_network_of(root: Node, path: str | Path) -> str | None:
    """The OpenDRIVE file a resolved scenario names (its parameters applied), relative to the scenario's folder."""
    network = root.child("RoadNetwork")
    logic = network.child("LogicFile") if network is not None else None
    if logic is None:
        return None
    named = logic.text("filepath")
    road_file = (Path(path).parent / named).resolve()
    if not road_file.is_file():  # named where the scenario names it, not as an unreadable path of its own
        raise logic.error(f"filepath {named!r} is not a file (resolved to {road_file})")
    if road_file.suffix.lower() != ".xodr":  # any other file is not read as a road network
        raise logic.error(f"filepath {named!r} is not an OpenDRIVE file (.xodr)")
    return str(road_file)


def _texts(resolved: Resolved) -> dict[str, str]:
    from occsim.scenario.openscenario.document import format_value

    return {k: format_value(v) for k, v in resolved.parameters.items()}


@dataclass
class Sweep:
    """A parameter sweep: the runs a variation file asks for, each a Scenario with its own parameter set."""

    name: str
    variations: Variations
    make: Callable[[dict[str, str], str], Scenario]  # (parameters, run name) -> the run's scenario
    file: str  # the variation file (or the YAML that holds the distribution), for records
    base: str  # the scenario it varies

    @property
    def runs(self) -> int:
        """How many runs the file asks for."""
        return self.variations.runs

    def scenario(self, run: int, seed: int) -> tuple[Scenario, dict]:
        """Run ``run``'s scenario (stochastic files draw from ``seed``) and the record of where it came from."""
        parameters = self.variations.parameters_for(run, seed)
        origin = {"openscenario": {"file": self.file, "base": self.base, "parameters": parameters}}
        return self.make(parameters, f"{self.name}_{run:03d}"), origin


def load_sweep(path: str | Path, ego: str | None = None, mode: str = "planner") -> Sweep:
    """A ParameterValueDistribution file as a Sweep (its base scenario checked with the first run's parameters).

    Raises:
        ScenarioError: the variation file or its base scenario cannot be read or is not supported.
    """
    try:
        variations = read_variations(path)
    except XmlError as e:
        raise _problem(e) from None

    def make(parameters: dict[str, str], name: str) -> Scenario:
        return load_xosc(variations.scenario, parameters, ego, mode, variations=variations.path, name=name)

    sweep = Sweep(slug(Path(path).stem), variations, make, variations.path, variations.scenario)
    _check_first(sweep)
    return sweep


def sweep_of(scenario: Scenario, source: str) -> Sweep:
    """A YAML scenario whose openscenario block holds a ``distribution``, as a Sweep over its parameters.

    Raises:
        ScenarioError: the distribution is not a supported one.
    """
    spec = scenario.openscenario
    try:
        node = Node.from_data("ParameterValueDistribution", spec.distribution, source)
        variations = Variations(source, spec.file, node)
        variations.parameter_sets() if variations.kind == "deterministic" else None
    except XmlError as e:
        raise _problem(e) from None

    def make(parameters: dict[str, str], name: str) -> Scenario:
        run = spec.model_copy(update={"parameters": {**spec.parameters, **parameters}, "distribution": None})
        return scenario.model_copy(update={"name": name, "openscenario": run})

    sweep = Sweep(scenario.name, variations, make, source, spec.file)
    _check_first(sweep)
    return sweep


def _check_first(sweep: Sweep) -> None:
    if sweep.runs:
        sweep.scenario(0, 0)


def weather_of(root: Node) -> WeatherSpec:
    """OccSim's weather for the Init EnvironmentAction's environment (clear if there is none)."""
    init = root.need("Storyboard").need("Init")
    environment = next((n for n in init.walk() if n.tag == "Environment"), None)
    if environment is None:
        return WeatherSpec()
    weather = environment.child("Weather")
    fog = weather.child("Fog") if weather is not None else None
    if fog is not None and fog.number("visualRange", 1e9) < FOG_VISIBILITY:
        return WeatherSpec(type="fog", visibility=max(fog.number("visualRange"), 1.0))
    rain = weather.child("Precipitation") if weather is not None else None
    if rain is not None and rain.attrs.get("precipitationType", "dry") in ("rain", "snow"):
        if "precipitationIntensity" in rain.attrs:
            strength = rain.number("precipitationIntensity") / MAX_RAIN_MM
        else:
            strength = rain.number("intensity", 0.0)
        if strength > 0:
            kind = rain.attrs["precipitationType"]
            return WeatherSpec(type=kind, intensity=min(max(strength, 0.05), 1.0))
    if _is_night(environment, weather):
        return WeatherSpec(type="night")
    return WeatherSpec()


def _is_night(environment: Node, weather: Node | None) -> bool:
    sun = weather.child("Sun") if weather is not None else None
    if sun is not None:
        light = sun.number("illuminance", sun.number("intensity", 1e5))
        if light < NIGHT_LUX or sun.number("elevation", 1.0) < 0:
            return True
    clock = environment.child("TimeOfDay")
    match = re.search(r"T(\d\d):", clock.attrs.get("dateTime", "")) if clock is not None else None
    return match is not None and not 7 <= int(match.group(1)) < 19


def duration_of(root: Node) -> float:
    """The storyboard's time limit: its SimulationTime stop condition (greaterThan/greaterOrEqual) plus delay."""
    stop = root.need("Storyboard").child("StopTrigger")
    limits = []
    for group in stop.all("ConditionGroup") if stop is not None else []:
        conditions = group.all("Condition")
        for condition in conditions:
            kind = next((n for n in condition.walk() if n.tag == "SimulationTimeCondition"), None)
            if (
                kind is not None
                and kind.attrs.get("rule") in ("greaterThan", "greaterOrEqual")
                and len(conditions) == 1
            ):
                limits.append(kind.number("value") + condition.number("delay", 0.0) + 0.5)
    return min(max(min(limits), 0.5), 600.0) if limits else MAX_DURATION
