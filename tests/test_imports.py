"""The house plan's import direction: a module imports only from rooms above it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# ARCHITECTURE.md's table, top to bottom: a room imports only from rooms above it.
ORDER = [
    "types",
    "world",
    "scenario",
    "sensors",
    "generative",
    "metrics",
    "data",
    "simulation",
    "envs",
    "planners",
    "suite",
    "training",
    "cli",
]
ALLOWED = {room: set(ORDER[:i]) for i, room in enumerate(ORDER)}
ALLOWED["planners"] = {"types"}  # planners see only the types room (and torch for learned ones)
ALLOWED["scenarios"] = {"types", "scenario"}  # the data files' package: loading built-in YAML
ALLOWED["root"] = {"envs", "data"}  # occsim/__init__.py registers the env ids and the nuscenes map type
ALLOWED["cli"] = None  # everything
for room in ("envs", "suite", "training"):
    ALLOWED[room] |= {"root", "scenarios"}  # `import occsim` (the version) and the built-in scenario list
DIFFUSERS_ROOMS = {"generative", "training"}


def room_of_file(path: Path) -> str:
    rel = path.relative_to(ROOT).parts
    if rel[0] == "envs":
        return "envs"
    if rel[0] == "planners":
        return "planners"
    if rel[0] == "scenarios":
        return "scenarios"
    name = rel[1]
    if name in ("types.py", "classes.py", "registry.py", "geometry.py"):
        return "types"
    if name in ("sim.py", "rollout.py"):
        return "simulation"
    if name in ("cli.py", "cli"):
        return "cli"
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
        "geometry": "types",
        "sim": "simulation",
        "rollout": "simulation",
        "cli": "cli",
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
                if room not in DIFFUSERS_ROOMS and module.split(".")[0] == "diffusers":
                    violations.append(f"{path.relative_to(ROOT)} imports diffusers outside generative and training")
    assert not violations, "\n".join(violations)


def test_packaging_maps_every_folder_under_occsim():
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert all(p == "occsim" or p.startswith("occsim.") for p in config["packages"])
    assert config["package-dir"]["occsim.envs"] == "envs"
    assert config["package-dir"]["occsim.planners"] == "planners"
    assert config["package-dir"]["occsim.scenarios"] == "scenarios"
    assert "*.yaml" in config["package-data"]["occsim.scenarios"]
