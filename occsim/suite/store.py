"""The suite's folder: an append-only JSONL of results written by one process, guarded by a lock file."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

LOCK_NAME = ".occsim-suite.lock"


class SuiteDirError(RuntimeError):
    """The output folder cannot be used: another suite owns it, or it holds results and --resume was not given."""


class JsonlStore:
    """Append-only JSON lines keyed by ``key_field``; a torn last line (killed mid-write) is dropped on open."""

    def __init__(self, path: Path, key_field: str | tuple[str, ...]):
        self.path = path
        self.key_field = key_field
        self.records: dict[str, dict] = {}
        if path.exists():
            good: list[str] = []
            for line in path.read_text().splitlines():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # only a torn final line can be invalid: every line is written whole, then flushed
                good.append(line)
                self.records.setdefault(self.key_of(record), record)
            path.write_text("".join(f"{line}\n" for line in good))
        self._file = path.open("a")

    def key_of(self, record: dict) -> str:
        """The record's identity."""
        if isinstance(self.key_field, str):
            return str(record[self.key_field])
        return "|".join(str(record[k]) for k in self.key_field)

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def append(self, record: dict) -> bool:
        """Write ``record`` unless its key is already stored; returns whether it was written."""
        key = self.key_of(record)
        if key in self.records:
            return False
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.records[key] = record
        return True

    def close(self) -> None:
        """Close the file."""
        self._file.close()


class SuiteLock:
    """``DIR/.occsim-suite.lock`` holding the owner's pid; a stale lock is taken over only with ``resume``."""

    def __init__(self, out_dir: Path, resume: bool):
        self.path = out_dir / LOCK_NAME
        out_dir.mkdir(parents=True, exist_ok=True)
        results = out_dir / "results.jsonl"
        if self.path.exists():
            owner = self._owner()
            if owner is not None and _alive(owner):
                raise SuiteDirError(
                    f"{out_dir} is in use by a running suite (pid {owner}); wait for it or pick another --out"
                )
            if not resume:
                raise SuiteDirError(
                    f"{out_dir} holds a suite that stopped before finishing (pid {owner} is gone): "
                    "add --resume to continue it, or pick another --out"
                )
            self.path.unlink()
        elif not resume and results.exists() and results.stat().st_size > 0:
            raise SuiteDirError(f"{out_dir} already holds results: add --resume to continue, or pick another --out")
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname()}, f)

    def _owner(self) -> int | None:
        try:
            return int(json.loads(self.path.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def release(self) -> None:
        """Remove the lock."""
        self.path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
