"""Versioned benchmark splits: fixed instances of scenario families under fixed weathers.

A benchmark version is a folder ``<name>-v<version>/`` (the shipped ones under ``scenarios/benchmarks/``) that holds
a frozen copy of each family file and two split files, ``test.yaml`` and ``train.yaml``. A split lists each
family's instance seeds and the weathers; a run is (family, instance seed, weather), and the seed is also the run's
reset seed, so an entry gives the same scenario, jitter and images wherever the folder is unchanged. The split
files record each family file's SHA-256 and loading refuses a folder whose families were edited: results stay
comparable across releases, and a changed family means a new version.

``make_benchmark`` writes a version. Test and train seeds come from separate streams, and a train draw equal to a
test draw is skipped, so the splits never share an instance.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

from occsim.registry import did_you_mean
from occsim.scenario import ScenarioError
from occsim.scenario.family import Family, Instance, load_family_file
from occsim.scenario.split_file import read_split_file
from occsim.suite.tasks import Task

SPLITS = ("test", "train")
FOLDER = re.compile(r"^(?P<name>[a-z0-9_]+)-v(?P<version>\d+)$")


class BenchmarkError(ValueError):
    """A benchmark that does not exist, or a version folder that is not as it was made."""


@dataclass(frozen=True)
class SplitFamily:
    """One family of a split: the frozen family and the seeds of its instances."""

    family: Family
    sha256: str
    seeds: tuple[int, ...]


@dataclass(frozen=True)
class Split:
    """A benchmark split: families with instance seeds, crossed with weathers."""

    benchmark: str
    version: int
    split: str
    weathers: tuple[str, ...]
    families: dict[str, SplitFamily]

    @property
    def label(self) -> str:
        """``<name>-v<version>/<split>``, as results records carry it."""
        return f"{self.benchmark}-v{self.version}/{self.split}"

    def instances(self, limit: int | None = None) -> Iterator[tuple[int, int, Instance]]:
        """(index, seed, instance) of every family's first ``limit`` instances (all if None), family-major."""
        for entry in self.families.values():
            for index, seed in enumerate(entry.seeds[:limit]):
                yield index, seed, entry.family.sample(seed)


def shipped_root() -> Path:
    """The folder of the shipped benchmarks (package data ``occsim.scenarios/benchmarks``)."""
    from occsim.scenarios import benchmarks_root

    return benchmarks_root()


def benchmark_dir(name: str, version: int | None = None, root: Path | None = None) -> Path:
    """The folder of benchmark ``name`` (the newest version unless ``version``); ``name`` may also be a folder path.

    Raises:
        BenchmarkError: no such benchmark or version; the message lists what there is.
    """
    if Path(name).is_dir():
        return Path(name)
    root = root or shipped_root()
    found = {}
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        match = FOLDER.match(folder.name)
        if match and folder.is_dir():
            found.setdefault(match["name"], {})[int(match["version"])] = folder
    if name not in found:
        raise BenchmarkError(f"no benchmark '{name}'; shipped: {', '.join(sorted(found)) or 'none'}")
    versions = found[name]
    if version is None:
        return versions[max(versions)]
    if version not in versions:
        raise BenchmarkError(f"benchmark '{name}' has no version {version}; versions: {sorted(versions)}")
    return versions[version]


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_split(name: str, split: str = "test", version: int | None = None, root: Path | None = None) -> Split:
    """A split of a benchmark (see ``benchmark_dir`` for ``name`` and ``version``), its family files checked.

    Raises:
        BenchmarkError: unknown benchmark, version or split, or a family file that differs from the one the split
            was made with.
    """
    if split not in SPLITS:
        raise BenchmarkError(f"split must be one of {', '.join(SPLITS)}, not '{split}'")
    folder = benchmark_dir(name, version, root)
    path = folder / f"{split}.yaml"
    if not path.is_file():
        raise BenchmarkError(f"{folder} has no {split}.yaml")
    try:
        data = read_split_file(path)
    except ScenarioError as e:  # a tampered or truncated split file: its problems with their lines
        raise BenchmarkError(str(e)) from None
    families = {}
    for family_name, entry in data.families.items():
        family_path = folder / entry.file
        if not family_path.is_file():
            raise BenchmarkError(f"{path}: family file {family_path} is missing")
        digest = file_sha256(family_path)
        if digest != entry.sha256:
            raise BenchmarkError(
                f"{family_path} changed since {data.benchmark} v{data.version} was made (SHA-256 {digest[:12]} "
                f"instead of {entry.sha256[:12]}): restore it, or make a new version with `occsim make-benchmark`"
            )
        families[family_name] = SplitFamily(load_family_file(family_path), digest, tuple(entry.seeds))
    return Split(data.benchmark, data.version, split, tuple(data.weathers), families)


def split_tasks(
    split: Split,
    planners: list[str],
    weathers: list[str] | None = None,
    limit: int | None = None,
    families: list[str] | None = None,
) -> list[Task]:
    """The split's runs for ``planners``: every instance (the first ``limit`` per family) under every weather.

    ``weathers`` and ``families`` narrow the split (for a quick look); records carry the family, drawn values,
    difficulty and the split's label.

    Raises:
        BenchmarkError: a weather or family the split does not have.
    """
    chosen = list(weathers or split.weathers)
    unknown = [w for w in chosen if w not in split.weathers]
    if unknown:
        raise BenchmarkError(f"{split.label} has weathers {', '.join(split.weathers)}; not {', '.join(unknown)}")
    missing = [f for f in families or [] if f not in split.families]
    if missing:
        hint = did_you_mean(missing[0], list(split.families))
        raise BenchmarkError(f"{split.label} has no family '{missing[0]}'{hint}; families: {', '.join(split.families)}")
    if families:
        split = replace(split, families={f: split.families[f] for f in families})
    tasks: list[Task] = []
    for index, seed, instance in split.instances(limit):
        origin = {
            "family": instance.family,
            "drawn": instance.drawn,
            "difficulty": instance.difficulty,
            "benchmark": split.label,
        }
        tasks += [Task(instance.scenario, p, w, index, seed, origin) for w in chosen for p in planners]
    return tasks


def split_slice(split: Split, start: int, stop: int) -> Split:
    """The split with only instances ``start`` to ``stop`` − 1 of each family (DAgger's rounds take turns)."""
    return replace(split, families={n: replace(e, seeds=e.seeds[start:stop]) for n, e in split.families.items()})


def split_seed(base: int, family: str, split: str, index: int) -> int:
    """Seed of instance ``index`` of a family in a split: a stream per (base, family, split)."""
    entropy = [base, zlib.crc32(family.encode()), SPLITS.index(split), index]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] & 0x7FFFFFFF)


def make_benchmark(
    family_files: list[Path],
    out_root: Path,
    name: str,
    version: int,
    test_instances: int,
    train_instances: int,
    weathers: list[str],
    seed: int = 0,
) -> Path:
    """Write ``out_root/<name>-v<version>/``: the family files copied, test.yaml and train.yaml; returns the folder.

    Raises:
        BenchmarkError: the folder exists (a version is never rewritten) or two families share a name.
        ScenarioError: a family file that does not load.
    """
    folder = out_root / f"{name}-v{version}"
    if folder.exists():
        raise BenchmarkError(f"{folder} exists: a benchmark version is never rewritten; choose another version")
    families = {}
    for path in sorted(family_files):
        family = load_family_file(path)
        if family.name in families:
            raise BenchmarkError(f"two family files are named '{family.name}'")
        families[family.name] = (path, family)
    splits: dict[str, dict] = {s: {} for s in SPLITS}
    (folder / "families").mkdir(parents=True)
    for family_name, (path, family) in families.items():
        copy = folder / "families" / f"{family_name}.yaml"
        shutil.copyfile(path, copy)
        digest = file_sha256(copy)
        seen: set[str] = set()
        for split, count in (("test", test_instances), ("train", train_instances)):
            seeds, index = [], 0
            while len(seeds) < count:
                candidate = split_seed(seed, family_name, split, index)
                index += 1
                drawn = json.dumps(family.sample(candidate).drawn, sort_keys=True)
                if drawn in seen:  # the same draw twice (a family with few choices): never in both splits
                    if index > 100 * count:
                        raise BenchmarkError(f"family '{family_name}' has too few distinct draws for {count}")
                    continue
                seen.add(drawn)
                seeds.append(candidate)
            splits[split][family_name] = {"file": f"families/{family_name}.yaml", "sha256": digest, "seeds": seeds}
    for split, entries in splits.items():
        header = (
            f"# {name} v{version}, {split} split: written by `occsim make-benchmark`; never edit it (results compare\n"
            f"# across releases only while this folder stays as it is). A run is (family, seed, weather).\n"
        )
        body = {"benchmark": name, "version": version, "split": split, "weathers": weathers, "families": entries}
        (folder / f"{split}.yaml").write_text(header + yaml.safe_dump(body, sort_keys=False, default_flow_style=None))
    return folder
