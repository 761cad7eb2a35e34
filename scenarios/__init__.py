"""The built-in corner-case suite (YAML files shipped as package data ``occsim.scenarios``)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from occsim.registry import did_you_mean
from occsim.scenario import Scenario, load_scenario_file


def _files() -> dict[str, Path]:
    root = resources.files(__name__)
    return {Path(str(f)).stem: Path(str(f)) for f in root.iterdir() if str(f).endswith(".yaml")}


def list_builtin() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    return sorted(_files())


def builtin_path(name: str) -> Path:
    """Path of a built-in scenario file; ValueError with a did-you-mean for unknown names."""
    files = _files()
    if name not in files:
        raise ValueError(
            f"no built-in scenario '{name}'{did_you_mean(name, list(files))}; built-in: {', '.join(sorted(files))}"
        )
    return files[name]


def load_scenario(name_or_path: str | Path, ego: str | None = None) -> Scenario:
    """A built-in scenario by name, or any scenario file by path (YAML or OpenSCENARIO .xosc).

    A variation file gives its first run; ``ego`` names an .xosc file's ego entity.
    """
    from occsim.scenario.openscenario.load import is_openscenario, load_openscenario

    path = Path(name_or_path)
    if is_openscenario(path):
        loaded = load_openscenario(path, ego)
        return loaded if isinstance(loaded, Scenario) else loaded.scenario(0, 0)[0]
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_scenario_file(path)
    return load_scenario_file(builtin_path(str(name_or_path)))


def load_scenarios(name_or_path: str | Path) -> list[Scenario]:
    """Every scenario a name or file stands for.

    An OpenSCENARIO variation file gives every parameter set (a stochastic one its test runs, drawn from seeds
    0, 1, ...); anything else one scenario.
    """
    from occsim.scenario.openscenario.load import is_openscenario, load_openscenario

    if is_openscenario(name_or_path):
        loaded = load_openscenario(name_or_path)
        if isinstance(loaded, Scenario):
            return [loaded]
        return [loaded.scenario(run, run)[0] for run in range(loaded.runs)]
    return [load_scenario(name_or_path)]


def family_paths() -> list[Path]:
    """The shipped scenario families (``scenarios/families/*.yaml``), sorted by name."""
    root = resources.files(__name__) / "families"
    return sorted(Path(str(f)) for f in root.iterdir() if str(f).endswith(".yaml"))


def benchmarks_root() -> Path:
    """The folder of the shipped benchmark versions (``scenarios/benchmarks/<name>-v<version>/``)."""
    return Path(str(resources.files(__name__) / "benchmarks"))


def load_builtin_suite() -> list[Scenario]:
    """Every built-in scenario."""
    return [load_scenario_file(p) for _, p in sorted(_files().items())]
