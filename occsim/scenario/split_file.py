"""Benchmark split files (``<benchmark>-v<N>/<split>.yaml``), read as safely as a scenario, with file:line errors.

The same safe YAML loader and limits as a scenario file, a strict schema, and ``file:line: field: message``
problems for a tampered or truncated file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError

from occsim.scenario.loader import parse_tree, read_scenario_text
from occsim.scenario.problems import Problem, ScenarioError, field_name, line_of
from occsim.scenario.schema import PATH_PATTERN, Strict

MAX_SEEDS = 100_000  # instances of one family in one split


class SplitEntry(Strict):
    """One family of a split."""

    file: str = Field(
        min_length=1,
        max_length=500,
        pattern=PATH_PATTERN,
        description="The family file, relative to the benchmark folder.",
    )
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the family file when the split was made.")
    seeds: list[int] = Field(min_length=1, max_length=MAX_SEEDS, description="Seeds of the family's instances.")


class SplitFile(Strict):
    """A split: families with instance seeds, crossed with weathers."""

    benchmark: str = Field(pattern=r"^[a-z0-9_]+$", description="Benchmark name.")
    version: int = Field(ge=1, description="Benchmark version.")
    split: str = Field(pattern=r"^[a-z0-9_]+$", description="Split name (train, test).")
    weathers: list[str] = Field(min_length=1, max_length=100, description="Weathers every instance runs in.")
    families: dict[str, SplitEntry] = Field(min_length=1, description="Family name → its entry.")


def read_split_file(path: str | Path) -> SplitFile:
    """A split file, checked: its schema, and every family file inside the benchmark folder.

    Raises:
        ScenarioError: every problem, with its line (an unreadable, oversize, truncated or tampered file).
    """
    path = Path(path)
    source = str(path)
    data, lines = parse_tree(read_scenario_text(path), source)
    try:
        split = SplitFile.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = tuple(err["loc"])
            message = "required field is missing" if err["type"] == "missing" else err["msg"]
            if err["type"] == "extra_forbidden":
                message = f"unknown key '{loc[-1]}'"
            elif err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == PATH_PATTERN:
                message = "a path cannot hold a NUL character"
            problems.append(Problem(source, line_of(lines, loc), field_name(loc), message))
        raise ScenarioError(problems) from None
    folder = path.parent.resolve()
    problems = []
    for name, entry in split.families.items():
        target = (folder / entry.file).resolve()
        if not target.is_relative_to(folder):
            where = ("families", name, "file")
            problems.append(Problem(source, line_of(lines, where), field_name(where), "must stay inside the folder"))
    if problems:
        raise ScenarioError(problems)
    return split
