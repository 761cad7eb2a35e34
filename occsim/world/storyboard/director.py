"""The storyboard inside an OccSim world: it moves the scenario's actors, and the ego when the ego is scripted.

Each world step hands the runtime the ego's pose (a planner-driven ego is the storyboard's to read, not to move),
steps the storyboard, and copies every entity in the scene into its OccSim actor: the actor's box is the entity's
bounding box, centred where the file puts it relative to the reference point. Entities that are hidden, deleted, not
yet added, or flat (a painted patch) are not actors for that step.
"""

from __future__ import annotations

import math

import numpy as np

from occsim.types import EgoState, Pose2D
from occsim.world.actors import Actor, Behavior, StepContext, register_behavior
from occsim.world.ego import EGO_CENTRE_OFFSET, EGO_SIZE
from occsim.world.roadmap import Lane, road_following
from occsim.world.storyboard.entities import Body, Entity
from occsim.world.storyboard.runtime import Runtime


@register_behavior("storyboard")
class Storyboarded(Behavior):
    """Moved by the OpenSCENARIO storyboard, not by itself."""

    def step(self, actor: Actor, ctx: StepContext, dt: float) -> None:
        """Nothing: the director has placed the actor already."""


class Director:
    """Runs a storyboard runtime in lock-step with the world."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.actors: dict[str, Actor] = {}
        for index, (name, entity) in enumerate(runtime.entities.items()):
            if entity.is_ego or entity.body.cls_name is None:
                continue
            self.actors[name] = _actor(entity, index + 1)
        ego = runtime.entities[runtime.ego]
        ego_body = ego.body
        if not ego.external:
            return  # a scripted ego keeps the file's body, as the file's own player would
        ego.body = Body(  # the ego keeps OccSim's car: its box is the one that collides
            ego_body.kind,
            ego_body.category,
            "car",
            EGO_SIZE,
            (EGO_CENTRE_OFFSET, 0.0),
            ego_body.max_speed,
            ego_body.max_acceleration,
            ego_body.max_deceleration,
        )

    @property
    def scripted(self) -> bool:
        """Whether the ego follows the file's actions (not the planner)."""
        return not self.runtime.entities[self.runtime.ego].external

    @property
    def finished(self) -> bool:
        """Whether the storyboard's stop trigger has ended the scenario."""
        return self.runtime.finished

    def report(self) -> dict:
        """What the run did differently from the file: ego actions the planner replaced, things accepted unused."""
        rt = self.runtime
        return {"ego": rt.ego, "dropped": list(rt.dropped), "notes": list(rt.notes), "finished": rt.finished}

    def ego_state(self, previous: EgoState | None = None, dt: float = 0.0) -> EgoState:
        """The ego entity as OccSim's ego state (speed, acceleration and yaw rate from the step)."""
        ego = self.runtime.entities[self.runtime.ego]
        if previous is None or dt <= 0:
            return EgoState(Pose2D(ego.x, ego.y, ego.h), float(ego.speed))
        turn = math.atan2(math.sin(ego.h - previous.pose.yaw), math.cos(ego.h - previous.pose.yaw))
        return EgoState(
            Pose2D(ego.x, ego.y, ego.h),
            float(ego.speed),
            acceleration=(ego.speed - previous.speed) / dt,
            yaw_rate=turn / dt,
        )

    def step(self, ego: EgoState, dt: float) -> list[Actor]:
        """Step the storyboard by ``dt`` from the ego's state; the actors in the scene afterwards."""
        if not self.scripted:
            self.runtime.sync_external(ego.pose.x, ego.pose.y, ego.pose.yaw, ego.speed)
        self.runtime.step(dt)
        return self.scene(dt)

    def scene(self, dt: float | None = None) -> list[Actor]:
        """The actors of the entities in the scene, placed where their entities are."""
        present = []
        for name, actor in self.actors.items():
            entity = self.runtime.entities[name]
            if not entity.active or not entity.visible:
                continue
            x, y = entity.centre_xy
            if dt:
                actor.vx, actor.vy = (x - actor.x) / dt, (y - actor.y) / dt
            else:
                actor.vx, actor.vy = entity.speed * math.cos(entity.h), entity.speed * math.sin(entity.h)
            actor.x, actor.y, actor.yaw, actor.speed = x, y, entity.h, abs(entity.speed)
            present.append(actor)
        return present


def _actor(entity: Entity, instance: int) -> Actor:
    """An OccSim actor for an entity (its lane is a stub: the storyboard sets the pose directly)."""
    x, y = entity.centre_xy
    heading = np.array([math.cos(entity.h), math.sin(entity.h)])
    road = road_following(2000 + instance, np.array([[x, y], [x, y] + heading]), 3.5, 0, min_length=1.0)
    actor = Actor(
        id=entity.name,
        cls_name=entity.body.cls_name,
        size=entity.body.size,
        lane=Lane(road, 0),
        s=0.0,
        offset=0.0,
        speed=abs(entity.speed),
        behavior=Storyboarded(),
        instance=instance,
    )
    actor.x, actor.y, actor.yaw = x, y, entity.h
    return actor
