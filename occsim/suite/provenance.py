"""Which planner weights produced a suite's figures, and what its benchmark split is for: recorded in ``suite.json``.

A planner's weights are the folder (or file) its spec names (``vision:DIR``, ``vad:model.pth``), or, for a bare name,
the folder its class loads by default (the default value of its first argument, as ``vision`` and ``rl`` have).
A folder's fingerprint is ``weights_sha256``: the SHA-256 of its ``sha256sum`` listing of ``config.json`` and every
``*.safetensors`` file, in name order, so it can be checked by hand::

    cd WEIGHTS && LC_ALL=C ls config.json *.safetensors | xargs sha256sum | sha256sum
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

WEIGHT_PATTERNS = ("config.json", "*.safetensors")  # what decides a planner's behaviour; cards and plots do not
TEST_ONLY = (
    "{label} is for testing only: run it once, for the model card. Choose every threshold, weight and setting on "
    "the train or val split."
)


def weight_files(folder: Path) -> list[Path]:
    """The files of a weights folder that ``weights_sha256`` covers, in name order."""
    found = {p for pattern in WEIGHT_PATTERNS for p in folder.glob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: p.name)


def weights_sha256(path: str | Path) -> str:
    """Hex SHA-256 fingerprint of a weights folder (``config.json`` and ``*.safetensors``) or of one weights file.

    For a folder: the SHA-256 of the lines ``<file sha256>  <name>`` in name order (``sha256sum``'s output), so a
    changed, added, removed or renamed weight file changes it and a model card or plot does not.

    Raises:
        FileNotFoundError: no such path, or a folder with no weight files.
    """
    path = Path(path)
    if path.is_file():
        return _file_sha256(path)
    if not path.is_dir():
        raise FileNotFoundError(f"planner weights: {path} does not exist")
    files = weight_files(path)
    if not files:
        raise FileNotFoundError(f"planner weights: {path} holds no {' or '.join(WEIGHT_PATTERNS)}")
    listing = "".join(f"{_file_sha256(f)}  {f.name}\n" for f in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def planner_weights_path(spec: str) -> Path | None:
    """The weights folder or file planner ``spec`` (``name`` or ``name:argument``) loads; None where it has none.

    A planner this process has not registered (a plugin only the workers import) has no default folder here.
    """
    from occsim.planners import PLANNERS

    name, _, argument = spec.partition(":")
    if argument:
        path = Path(argument)
        return path if path.exists() else None  # a URL (remote) or a setting, not a file
    cls = PLANNERS.get(name)
    if cls is None:
        return None
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:2]
    default = parameters[0].default if parameters else None
    return default if isinstance(default, Path) and default.exists() else None


def planner_record(spec: str) -> dict:
    """What ``suite.json`` records of a planner: its spec and, where it loads weights, their path, files and hash."""
    path = planner_weights_path(spec)
    if path is None:
        return {"spec": spec}
    files = [path.name] if path.is_file() else [f.name for f in weight_files(path)]
    digest = weights_sha256(path) if files else None  # a folder of other things (settings): named, nothing to hash
    return {"spec": spec, "weights": str(path.resolve()), "weight_files": files, "weights_sha256": digest}


def suite_provenance(planners: list[str], labels: list[str]) -> dict:
    """The ``suite.json`` keys that say what produced a suite's figures.

    Each planner's record, the benchmark splits run (``<name>-v<N>/<split>``) and, where one is a test split, the
    line saying it is for testing only.
    """
    record: dict = {"planners": {spec: planner_record(spec) for spec in sorted(set(planners))}}
    if labels:
        record["benchmark_splits"] = sorted(set(labels))
    if note := split_note(sorted(set(labels))):
        record["split_note"] = note
    return record


def split_note(labels: list[str]) -> str | None:
    """The line ``suite.json`` carries where a suite ran a benchmark's test split (``<name>-v<N>/test``), else None."""
    tests = [label for label in labels if label.endswith("/test")]
    return TEST_ONLY.format(label=" and ".join(tests)) if tests else None


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
