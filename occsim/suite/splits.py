"""Versioned benchmark splits: fixed instances of scenario families under fixed weathers.

A benchmark version is a folder ``<name>-v<version>/`` (the shipped ones under ``scenarios/benchmarks/``) that holds
a frozen copy of each family file and its split files: ``train.yaml`` (to train on), ``val.yaml`` (to choose every
threshold, weight and setting on) and ``test.yaml`` (run once, for the model card); versions made before the
validation split existed (``longtail-v1``) have no ``val.yaml``. A split lists each family's instance seeds and the
weathers; a run is (family, instance seed, weather), and the seed is also the run's reset seed, so an entry gives the
same scenario, jitter and images wherever the folder is unchanged. The split files record each family file's SHA-256
and loading refuses a folder whose families were edited: results stay comparable across releases, and a changed
family means a new version.

``make_benchmark`` writes a version. Each split's seeds come from a stream of its own (test, train, val, drawn in that
order), and a draw equal to one an earlier split holds is skipped, so no two splits share an instance; a family that
cannot supply enough distinct draws is refused by name. Adding the val stream left the test and train streams as they
were: a version made again from the same families and seed has the same test and train instances.
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

SPLITS = ("test", "train", "val")  # the order numbers the seed streams: never reorder
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

    ``longtail-v1`` names a version as ``--benchmark-version 1`` does (for commands that take no version option).

    Raises:
        BenchmarkError: no such benchmark or version; the message lists what there is.
    """
    if Path(name).is_dir():
        return Path(name)
    named = FOLDER.match(name)
    if named and version is None:
        name, version = named["name"], int(named["version"])
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
        held = [s for s in SPLITS if (folder / f"{s}.yaml").is_file()]
        made = " (it was made before validation splits existed)" if split == "val" and held else ""
        raise BenchmarkError(
            f"benchmark {folder.name} has no {split} split{made}; its splits: {', '.join(held) or 'none'} ({folder})"
        )
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
    split = split_families(split, families)
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


def split_families(split: Split, families: list[str] | None) -> Split:
    """The split with only ``families`` (all if None or empty), in the order given.

    Raises:
        BenchmarkError: a family the split does not have (with the nearest name).
    """
    missing = [f for f in families or [] if f not in split.families]
    if missing:
        hint = did_you_mean(missing[0], list(split.families))
        raise BenchmarkError(f"{split.label} has no family '{missing[0]}'{hint}; families: {', '.join(split.families)}")
    return replace(split, families={f: split.families[f] for f in families}) if families else split


def split_slice(split: Split, start: int, stop: int) -> Split:
    """The split with only instances ``start`` to ``stop`` − 1 of each family (DAgger's rounds take turns)."""
    return replace(split, families={n: replace(e, seeds=e.seeds[start:stop]) for n, e in split.families.items()})


def split_seed(base: int, family: str, split: str, index: int) -> int:
    """Seed of instance ``index`` of a family in a split: a stream per (base, family, split)."""
    entropy = [base, zlib.crc32(family.encode()), SPLITS.index(split), index]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0] & 0x7FFFFFFF)


def distinct_draws(family: Family) -> int | None:
    """At most how many distinct instances ``family`` has (drawn values at 3 decimals); None: too many to count.

    A choice gives its distinct values, a uniform or clipped normal the 0.001 steps of its range, an expression none
    of its own; an unclipped normal is uncounted.
    """
    count = 1
    for draw in family.draws:
        args = draw.spec[draw.kind]
        if draw.kind == "choice":
            count *= len({json.dumps(v, sort_keys=True) for v in args})
        elif draw.kind == "uniform":
            count *= round((args[1] - args[0]) * 1000) + 1
        elif draw.kind == "normal":
            lo, hi = draw.spec.get("clip", [None, None])
            if lo is None or hi is None:
                return None
            count *= round((hi - lo) * 1000) + 1
        if count > 10**9:
            return None
    return count


def make_benchmark(
    family_files: list[Path],
    out_root: Path,
    name: str,
    version: int,
    test_instances: int,
    train_instances: int,
    weathers: list[str],
    seed: int = 0,
    val_instances: int = 0,
) -> Path:
    """Write ``out_root/<name>-v<version>/``: the family files copied and the split files; returns the folder.

    ``test.yaml`` and ``train.yaml`` always, ``val.yaml`` where ``val_instances`` > 0. No two splits share an
    instance (the same drawn values), even for a family with few possible draws.

    Raises:
        BenchmarkError: the folder exists (a version is never rewritten), two families share a name, or a family
            has too few distinct draws for the instances asked for (nothing is written then).
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
    counts = {"test": test_instances, "train": train_instances, "val": val_instances}
    wanted = {s: n for s, n in counts.items() if s != "val" or n > 0}
    splits: dict[str, dict] = {s: {} for s in wanted}
    seeds = {}
    for family_name, (_, family) in families.items():
        seeds[family_name] = _distinct_seeds(family, seed, wanted)
    (folder / "families").mkdir(parents=True)
    for family_name, (path, _) in families.items():
        copy = folder / "families" / f"{family_name}.yaml"
        shutil.copyfile(path, copy)
        digest = file_sha256(copy)
        for split in wanted:
            entry = {"file": f"families/{family_name}.yaml", "sha256": digest, "seeds": seeds[family_name][split]}
            splits[split][family_name] = entry
    for split, entries in splits.items():
        header = (
            f"# {name} v{version}, {split} split: written by `occsim make-benchmark`; never edit it (results compare\n"
            f"# across releases only while this folder stays as it is). A run is (family, seed, weather).\n"
        )
        body = {"benchmark": name, "version": version, "split": split, "weathers": weathers, "families": entries}
        (folder / f"{split}.yaml").write_text(header + yaml.safe_dump(body, sort_keys=False, default_flow_style=None))
    return folder


def _distinct_seeds(family: Family, base: int, counts: dict[str, int]) -> dict[str, list[int]]:
    """Each split's seeds for ``family``, drawn split after split; a draw an earlier seed gave is skipped.

    Raises:
        BenchmarkError: the family cannot supply ``sum(counts)`` distinct instances, naming it and the counts.
    """
    total = sum(counts.values())
    asked = " + ".join(f"{n} {s}" for s, n in counts.items())
    possible = distinct_draws(family)
    if possible is not None and possible < total:
        raise BenchmarkError(
            f"family '{family.name}' has too few distinct draws: at most {possible}, and the splits need {asked} = "
            f"{total} distinct instances (splits never share one); ask for fewer instances or widen the family"
        )
    seen: set[str] = set()
    chosen: dict[str, list[int]] = {}
    for split, count in counts.items():
        seeds, index = [], 0
        while len(seeds) < count:
            candidate = split_seed(base, family.name, split, index)
            index += 1
            drawn = json.dumps(family.sample(candidate).drawn, sort_keys=True)
            if drawn in seen:  # the same draw twice (a family with few choices): never in two splits
                if index > 100 * count:
                    raise BenchmarkError(
                        f"family '{family.name}' has too few distinct draws: {len(seen)} found in {index} draws, and "
                        f"the splits need {asked} = {total} distinct instances (splits never share one); ask for "
                        "fewer instances or widen the family"
                    )
                continue
            seen.add(drawn)
            seeds.append(candidate)
        chosen[split] = seeds
    return chosen
