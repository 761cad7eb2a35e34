"""The house plan's import direction: a module imports only from rooms above it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# room -> rooms it may import from (besides itself)
ALLOWED = {
    "types": set(),
    "world": {"types"},
    "scenario": {"types", "world"},
    "sensors": {"types", "world"},
    "generative": {"types", "world", "sensors"},  # ARCHITECTURE.md: any room above; the renderer reads the World
    "metrics": {"types", "world"},
    "simulation": {"types", "world", "scenario", "sensors", "generative", "metrics"},
    "data": {"types", "world", "scenario"},
    "envs": {
        "types",
        "world",
        "scenario",
        "sensors",
        "generative",
        "metrics",
        "simulation",
        "data",
        "root",
        "scenarios",
    },
    "planners": {"types"},
    "suite": {
        "types",
        "world",
        "scenario",
        "sensors",
        "generative",
        "metrics",
        "simulation",
        "envs",
        "planners",
        "root",
        "scenarios",
    },
    "scenarios": {"types", "scenario"},
    "bench": {"types", "world", "scenario", "sensors", "metrics", "simulation", "envs", "planners", "scenarios"},
    "cli": None,  # everything
    "root": {"envs", "data"},  # occsim/__init__.py registers the env ids and the nuscenes map type
}


def room_of_file(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    if rel[0] == "envs":
        return "envs"
    if rel[0] == "planners":
        return "planners"
    if rel[0] == "scenarios":
        return "scenarios"
    name = rel[1]
    if name in ("types.py", "classes.py", "registry.py"):
        return "types"
    if name == "sim.py":
        return "simulation"
    if name == "cli.py":
        return "cli"
    if name == "bench.py":
        return "bench"
    if name == "__init__.py":
        return "root"
    return name


def room_of_module(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "occsim":
        return None
    if len(parts) == 1:
        return "root"
    head = parts[1]
    return {
        "types": "types",
        "classes": "types",
        "registry": "types",
        "sim": "simulation",
        "cli": "cli",
        "bench": "bench",
    }.get(head, head)


def test_every_import_points_up():
    files = [p for d in ("occsim", "envs", "planners", "scenarios") for p in (ROOT / d).rglob("*.py")]
    assert len(files) > 20
    violations = []
    for path in files:
        room = room_of_file(path)
        allowed = ALLOWED[room]
        if allowed is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            modules = []
            if isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules = [node.module]
            for module in modules:
                target = room_of_module(module)
                if target is not None and target != room and target not in allowed:
                    violations.append(f"{path.relative_to(ROOT)} ({room}) imports {module} ({target})")
                if room != "generative" and module.split(".")[0] == "diffusers":
                    violations.append(f"{path.relative_to(ROOT)} imports diffusers outside the generative room")
    assert not violations, "\n".join(violations)


def test_packaging_maps_every_folder_under_occsim():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p == "occsim" or p.startswith("occsim.") for p in config["packages"])
    assert config["package-dir"]["occsim.envs"] == "envs"
    assert config["package-dir"]["occsim.planners"] == "planners"
    assert config["package-dir"]["occsim.scenarios"] == "scenarios"
    assert "*.yaml" in config["package-data"]["occsim.scenarios"]
