"""What every training loop shares: a progress bar, Ctrl-C that keeps what was learned, and the run record."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

from tqdm.auto import tqdm


class TrainingRun:
    """One training run: ``with run.stoppable(): for step in run.progress(...): ...``, then save and ``record``.

    Ctrl-C inside ``stoppable`` ends the loop, not the program, so the caller saves what was learned so far and
    the record says the run was interrupted.
    """

    def __init__(self, name: str, config):
        self.name, self.config = name, config
        self.started = time.perf_counter()
        self.interrupted = False

    def progress(self, steps: Iterable, **options) -> tqdm:
        """The loop's steps under a progress bar named after the run."""
        return tqdm(steps, desc=options.pop("desc", self.name), **options)

    @contextlib.contextmanager
    def stoppable(self) -> Iterator[None]:
        """Ctrl-C inside the block stops training; what follows the block saves the model as it is."""
        try:
            yield
        except KeyboardInterrupt:
            self.interrupted = True
            tqdm.write(f"{self.name}: stopped by Ctrl-C; saving what was learned")

    def record(self, **fields) -> dict:
        """The run's record: its configuration, wall time, whether it was interrupted, and ``fields``."""
        config = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.config).items()}
        seconds = round(time.perf_counter() - self.started, 1)
        return {"config": config, "train_seconds": seconds, "interrupted": self.interrupted, **fields}


def write_metrics(out_dir: str | Path, record: dict, indent: int = 1) -> Path:
    """``metrics.json`` in ``out_dir``."""
    path = Path(out_dir) / "metrics.json"
    path.write_text(json.dumps(record, indent=indent))
    return path
