"""What a suite records: one ``RunRecord`` per run and one ``ReferenceRecord`` per (scenario, seed).

These are the types that travel from the worker through the runner and the store to the summary and the report.
``to_json`` writes the JSON line of ``results.jsonl`` / ``references.jsonl`` (the field order is part of the
format), ``from_json`` reads one back: a line of an older folder, or one missing fields, loads with those fields
None, as the report has always shown them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any

import occsim
from occsim.metrics.scores import RunScores
from occsim.suite.tasks import Task
from occsim.types import HistoryStep, ReferenceRun

ERROR = "error"  # the outcome of a run that did not finish: the planner failed, the worker died, ...


@dataclass(frozen=True)
class EpisodeResult:
    """The outcome of one run, JSON-ready (``history`` is kept out of ``to_dict``)."""

    scenario: str
    planner: str
    weather: str
    seed: int
    outcome: str  # collision | goal | stopped (the scenario's own stop trigger) | timeout
    collision: bool
    collided_with: str | None
    impact_speed: float  # [m/s] relative speed at contact
    initial_speed: float  # [m/s] the ego's speed at the start
    ego_impact_speed: float | None  # [m/s] the ego's own speed at contact (speed reduction = initial - this)
    offroad: bool  # off the drivable area at any step
    route_completion: float  # [0, 1]
    steps: int
    wall_time: float  # [s]
    renderer: str
    perceived_occupancy_miou: float | None = None  # mean over the frames, when the perception meter is on
    object_recall: dict | None = None  # {class: {distance band: [found, visible]}} over the frames, with the meter
    storyboard: dict | None = None  # an OpenSCENARIO run: its ego, the ego actions the planner replaced, notes
    version: str = occsim.__version__
    history: list[HistoryStep] = field(default_factory=list, repr=False, compare=False)

    def to_dict(self) -> dict:
        """Plain dict for JSON."""
        out = asdict(self)
        out.pop("history")
        return out


@dataclass(frozen=True)
class RunOrigin:
    """Where a run's scenario came from, when not a plain scenario file (flattened into the record's top level)."""

    family: str | None = None  # the scenario family the instance was drawn from
    drawn: dict | None = None  # the family's drawn values, by distribution name
    difficulty: dict | None = None  # the family's difficulty measures of the instance
    benchmark: str | None = None  # the benchmark split, ``<name>-v<version>/<split>``
    openscenario: dict | None = None  # an OpenSCENARIO run: its file, base scenario and parameter values

    @classmethod
    def from_json(cls, record: dict) -> RunOrigin:
        """The origin fields of a record (or of a task's origin), those absent None."""
        return cls(**{f.name: record.get(f.name) for f in dataclasses.fields(cls)})

    def to_json(self) -> dict:
        """The fields that are set, in the record's order."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


@dataclass(frozen=True)
class WorkerInfo:
    """How and where a run was made (absent when its worker died before saying)."""

    renderer: str
    renderer_kwargs: dict
    versions: dict  # occsim, python, numpy, torch versions
    pid: int  # the worker process that ran it

    def to_json(self) -> dict:
        """JSON fields."""
        return dataclasses.asdict(self)


# EpisodeResult's fields the record keeps at its top level, after the worker's; the rest are the run's identity
# (scenario, planner, weather, seed), the worker's (renderer, version) or not recorded (history).
_EPISODE_FIELDS = tuple(
    f.name
    for f in dataclasses.fields(EpisodeResult)
    if f.name not in ("scenario", "planner", "weather", "seed", "renderer", "version", "history")
)
_SCORE_FIELDS = tuple(f.name for f in dataclasses.fields(RunScores))


@dataclass(frozen=True)
class RunRecord:
    """One line of ``results.jsonl``: a run's identity, and its episode and scores or the error that ended it."""

    key: str  # unique id of the run (``Task.key``)
    scenario: str
    planner: str
    weather: str
    run: int  # jittered copy (a family's instance index)
    seed: int
    origin: RunOrigin = field(default_factory=RunOrigin)
    worker: WorkerInfo | None = None
    episode: EpisodeResult | None = None  # None for an error (without its history: records stay small)
    scores: RunScores | None = None  # None for an error
    video: str | None = None  # path relative to the suite folder
    still: str | None = None  # the collision's frame, relative to the suite folder
    error: str | None = None  # why the run ended in an error
    traceback: str | None = None

    @property
    def outcome(self) -> str:
        """The episode's outcome (collision, goal, stopped or timeout), or ``ERROR``."""
        return ERROR if self.episode is None else self.episode.outcome

    @property
    def failed(self) -> bool:
        """The run ended in an error (no episode, no scores)."""
        return self.episode is None

    def to_json(self) -> dict:
        """The JSON line's fields, in the order ``results.jsonl`` has always had them."""
        out: dict[str, Any] = {
            "key": self.key,
            "scenario": self.scenario,
            "planner": self.planner,
            "weather": self.weather,
            "run": self.run,
            "seed": self.seed,
            **self.origin.to_json(),
        }
        if self.worker is not None:
            out.update(self.worker.to_json())
        out["outcome"] = self.outcome
        if self.episode is not None:
            out.update({name: getattr(self.episode, name) for name in _EPISODE_FIELDS})
        if self.scores is not None:
            out.update(self.scores.to_dict())  # its route completion replaces the episode's, in the episode's place
        if self.episode is not None:
            out.update(video=self.video, still=self.still)
        if self.error is not None:
            out["error"] = self.error
        if self.traceback is not None:
            out["traceback"] = self.traceback
        return out

    @classmethod
    def of_task(cls, task: Task, **fields: Any) -> RunRecord:
        """The record of ``task`` with ``fields`` set: its identity (the scenario's own weather for 'own')."""
        return cls(
            key=task.key,
            scenario=task.scenario.name,
            planner=task.planner,
            weather=task.weather or task.scenario.weather.type,
            run=task.run,
            seed=task.seed,
            origin=RunOrigin.from_json(task.origin or {}),
            **fields,
        )

    @classmethod
    def from_json(cls, record: dict) -> RunRecord:
        """A record from its JSON line; fields an older or partial line lacks are None."""
        failed = record.get("outcome") == ERROR
        worker = None
        if "renderer" in record or "versions" in record:
            versions = record.get("versions") or {}
            worker = WorkerInfo(
                record.get("renderer"), record.get("renderer_kwargs") or {}, versions, record.get("pid")
            )
        episode = None
        if not failed:
            common = {k: record.get(k) for k in ("scenario", "planner", "weather", "seed", "renderer")}
            version = (record.get("versions") or {}).get("occsim")
            episode = EpisodeResult(
                **common,
                **{name: record.get(name) for name in _EPISODE_FIELDS},
                **({"version": version} if version else {}),
            )
        scores = None
        if not failed and any(name in record for name in _SCORE_FIELDS if name != "route_completion"):
            scores = RunScores(**{name: record.get(name) for name in _SCORE_FIELDS})
        return cls(
            key=record.get("key"),
            scenario=record.get("scenario"),
            planner=record.get("planner"),
            weather=record.get("weather"),
            run=record.get("run"),
            seed=record.get("seed"),
            origin=RunOrigin.from_json(record),
            worker=worker,
            episode=episode,
            scores=scores,
            video=record.get("video"),
            still=record.get("still"),
            error=record.get("error"),
            traceback=record.get("traceback"),
        )


@dataclass(frozen=True)
class ReferenceKey:
    """Which reference rollouts: a scenario and a reset seed (every planner and weather of it shares them)."""

    scenario: str
    seed: int


@dataclass(frozen=True)
class ReferenceRecord:
    """One line of ``references.jsonl``: the no-intervention impact speed and the expert's progress, or an error."""

    scenario: str
    seed: int
    impact_speed: float | None = None  # [m/s] NCAP's v_ref (0 without a collision)
    expert_progress: tuple[float, ...] | None = None  # [m] the expert's progress along the route, per step
    error: str | None = None
    traceback: str | None = None

    @property
    def key(self) -> ReferenceKey:
        """The store's key."""
        return ReferenceKey(self.scenario, self.seed)

    @property
    def reference(self) -> ReferenceRun:
        """What the scores compare a run with."""
        return ReferenceRun(self.impact_speed, self.expert_progress)

    def to_json(self) -> dict:
        """The JSON line's fields, in the order ``references.jsonl`` has always had them."""
        out: dict[str, Any] = {"scenario": self.scenario, "seed": self.seed}
        if self.error is None:
            out.update(impact_speed=self.impact_speed, expert_progress=list(self.expert_progress or ()))
        else:
            out["error"] = self.error
            if self.traceback is not None:
                out["traceback"] = self.traceback
        return out

    @classmethod
    def from_json(cls, record: dict) -> ReferenceRecord:
        """A record from its JSON line."""
        progress = record.get("expert_progress")
        return cls(
            scenario=record["scenario"],
            seed=int(record["seed"]),
            impact_speed=record.get("impact_speed"),
            expert_progress=None if progress is None else tuple(progress),
            error=record.get("error"),
            traceback=record.get("traceback"),
        )
