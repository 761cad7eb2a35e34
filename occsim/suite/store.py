"""The suite's folder: append-only JSONL written by one process, its configuration, and the lock that guards it."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from occsim.suite.provenance import split_note

LOCK_NAME = ".occsim-suite.lock"
CONFIG_NAME = "suite.json"
PROVENANCE_KEYS = ("planners", "benchmark_splits", "split_note")  # merged on a resume, see check_configuration


class SuiteDirError(RuntimeError):
    """The output folder cannot be used: another suite owns it, or its results need --resume or another config."""


class StoreWriteError(RuntimeError):
    """A record could not be written (disk full, say); the file was left as it was before the write."""


class Record(Protocol):
    """A record the store can write: ``RunRecord`` or ``ReferenceRecord``."""

    def to_json(self) -> dict:
        """The record's JSON line, as a dict."""
        ...


R = TypeVar("R", bound=Record)


class JsonlStore(Generic[R]):
    """Append-only JSON lines of typed records, one per key.

    On open, a torn last line (killed mid-write) is dropped and records that ``retry`` selects are removed, so
    those runs happen again; the file is rewritten through a temporary file and a rename, never in place. Lines
    that stay are kept as they were written.
    """

    def __init__(
        self,
        path: Path,
        decode: Callable[[dict], R],
        key: Callable[[R], Hashable],
        retry: Callable[[R], bool] | None = None,
    ):
        self.path = path
        self.key_of = key
        self.records: dict[Hashable, R] = {}
        self.retried = 0
        if path.exists():
            good: list[str] = []
            for line in path.read_text().splitlines():
                try:
                    record = decode(json.loads(line))
                except json.JSONDecodeError:
                    continue  # only a torn final line can be invalid: every line is written whole, then flushed
                if retry is not None and retry(record):
                    self.retried += 1
                    continue
                if key(record) in self.records:
                    continue
                good.append(line)
                self.records[key(record)] = record
            _replace(path, "".join(f"{line}\n" for line in good))
        # Unbuffered appends on a raw descriptor: nothing sits in a buffer that could land after a truncation.
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def __contains__(self, key: Hashable) -> bool:
        return key in self.records

    def append(self, record: R) -> bool:
        """Write ``record`` unless its key is already stored; returns whether it was written.

        Raises:
            StoreWriteError: the write failed; the file is cut back to its last whole line.
        """
        key = self.key_of(record)
        if key in self.records:
            return False
        data = (json.dumps(record.to_json()) + "\n").encode()
        offset = os.lseek(self._fd, 0, os.SEEK_END)
        try:
            written = 0
            while written < len(data):
                written += os.write(self._fd, data[written:])
            os.fsync(self._fd)
        except OSError as e:
            os.ftruncate(self._fd, offset)
            raise StoreWriteError(f"cannot write to {self.path}: {e.strerror or e}") from None
        self.records[key] = record
        return True

    def close(self) -> None:
        """Close the file."""
        os.close(self._fd)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file renamed over it)."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class SuiteLock:
    """``DIR/.occsim-suite.lock``: an exclusive ``flock`` held for the suite's life.

    The kernel drops the flock when its process dies, however it dies, so a live owner is never mistaken for a
    dead one (no pid checks, no pid reuse) and exactly one of several suites started together wins. The file's
    content (owner pid, host, start time) says who, for the messages; it stays behind when a suite is killed,
    which is how the next one knows the folder holds an unfinished suite.
    """

    def __init__(self, out_dir: Path, resume: bool):
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / LOCK_NAME
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = _read_owner(fd)
                os.close(fd)
                raise SuiteDirError(
                    f"{out_dir} is in use by a running suite ({owner}); wait for it or pick another --out"
                ) from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the previous owner removed the file between our open and our lock: try the new one
        self._fd = fd
        stopped = _read_owner(fd) if os.fstat(fd).st_size else None
        results = out_dir / "results.jsonl"
        problem = None
        if stopped is not None and not resume:
            problem = f"{out_dir} holds a suite that stopped before finishing ({stopped}): add --resume to continue it"
        elif stopped is None and not resume and results.exists() and results.stat().st_size > 0:
            problem = f"{out_dir} already holds results: add --resume to continue"
        if problem is not None:
            self._drop(remove=stopped is None)
            raise SuiteDirError(f"{problem}, or pick another --out")
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(owner).encode(), 0)

    def release(self) -> None:
        """Remove the lock file, then let go of the lock (in that order, so no one locks a file being removed)."""
        self._drop(remove=True)

    def _drop(self, remove: bool) -> None:
        if self._fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def _read_owner(fd: int) -> str:
    try:
        owner = json.loads(os.pread(fd, 4096, 0) or b"{}")
        return f"pid {owner['pid']} on {owner['host']}, started {owner.get('started', '?')}"
    except (OSError, ValueError, KeyError, TypeError):
        return "owner unknown"


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False


def check_configuration(out_dir: Path, configuration: dict, resume: bool) -> None:
    """Record what decides a suite's results in ``DIR/suite.json``; refuse to resume under a different one.

    The provenance keys (``planners``, ``benchmark_splits``, ``split_note``) merge on a resume: it may add planners
    and splits, but a planner recorded with other weights (another ``weights_sha256``) is a difference.

    Raises:
        SuiteDirError: ``--resume`` of a folder whose recorded configuration differs, naming each difference.
    """
    path = out_dir / CONFIG_NAME
    if resume and path.exists():
        try:
            recorded = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise SuiteDirError(f"{path} is unreadable ({e}); it records how the results were made") from None
        fixed = (set(configuration) | set(recorded)) - set(PROVENANCE_KEYS)
        differences = [
            f"{key}: {configuration.get(key)!r} now, {recorded.get(key)!r} in {path}"
            for key in sorted(fixed)
            if configuration.get(key) != recorded.get(key)
        ]
        old, new = recorded.get("planners") or {}, configuration.get("planners") or {}
        differences += [
            f"planner {spec}: weights_sha256 {new[spec].get('weights_sha256')} now, "
            f"{old[spec].get('weights_sha256')} in {path}"
            for spec in sorted(set(old) & set(new))
            if old[spec].get("weights_sha256") != new[spec].get("weights_sha256")
        ]
        if differences:
            raise SuiteDirError(
                "cannot resume: this suite's configuration differs from the one its results were made with:\n  "
                + "\n  ".join(differences)
                + "\nrun with the recorded options, or pick another --out"
            )
        labels = sorted({*recorded.get("benchmark_splits", []), *configuration.get("benchmark_splits", [])})
        configuration = {**recorded, **configuration, "planners": {**old, **new}}
        configuration.pop("split_note", None)
        if labels:
            configuration["benchmark_splits"] = labels
        if note := split_note(labels):
            configuration["split_note"] = note
    _replace(path, json.dumps(configuration, indent=1, sort_keys=True) + "\n")
