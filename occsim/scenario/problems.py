"""What is wrong with a scenario file, and where: problems with file, line and field, and the error that lists them."""

from __future__ import annotations

from dataclasses import dataclass

Path_ = tuple[str | int, ...]  # a key path into a scenario file: ("actors", 2, "type")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file."""

    file: str
    line: int | None  # 1-based
    field: str  # e.g. actors[2].type
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ScenarioError(ValueError):
    """A scenario file has one or more problems; ``str()`` lists them one per line."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def line_of(lines: dict[Path_, int], path: Path_) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path)


def field_name(path: Path_) -> str:
    """A key path as people write it: ``actors[2].type``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
