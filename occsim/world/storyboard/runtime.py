"""The OpenSCENARIO storyboard, run step by step over an OpenDRIVE network.

Each step (OccSim's 0.1 s substep), on the state at its start: the storyboard's stop trigger, then every start and
stop trigger in document order (starting events and their actions), then every running action steps, time
advances, and entities no action moved drive ``speed * dt`` along their lanes. The first step (at t = 0, no time
passing) runs the ``Init`` actions. The ego is an entity like any other, but one that the planner drives
(``ego_mode="planner"``: the storyboard reads it and drops the actions the file scripts for it, noting each) or
that follows the file's own actions (``"scripted"``).
"""

from __future__ import annotations

import math

import numpy as np

from occsim.world.opendrive.network import RoadNetwork
from occsim.world.storyboard import actions
from occsim.world.storyboard.conditions import Condition
from occsim.world.storyboard.elements import COMPLETE, RUNNING, STANDBY, Element, Trigger, build_story
from occsim.world.storyboard.entities import Entity, body_of, choose_ego
from occsim.world.storyboard.motion import locate, move_along, to_world
from occsim.world.storyboard.positions import Place
from occsim.world.storyboard.routing import RoutePlan, road_path, route_of
from occsim.world.storyboard.trajectories import Shape, build_shape
from occsim.world.storyboard.tree import Node
from occsim.world.xmlsafe import XmlError

EGO_ROUTE_ACTIONS = ("AssignRouteAction", "FollowTrajectoryAction", "AcquirePositionAction")
STATES = {"standbyState": STANDBY, "runningState": RUNNING, "completeState": COMPLETE}
TRANSITIONS = ("startTransition", "endTransition", "stopTransition", "skipTransition")
STANDSTILL = 1e-3  # [m/s] below this an entity stands still


class Runtime:
    """Entities, parameters, variables and the storyboard of one resolved scenario, and the clock."""

    def __init__(
        self,
        root: Node,
        network: RoadNetwork | None,
        parameters: dict[str, str] | None = None,
        ego: str | None = None,
        ego_mode: str = "planner",
    ):
        self.root, self.network = root, network
        self.parameters = dict(parameters or {})
        declarations = root.child("VariableDeclarations")
        self.variables = (
            {d.text("name"): d.text("value") for d in declarations.all("VariableDeclaration")} if declarations else {}
        )
        self.notes: dict[str, None] = {}
        self.dropped: dict[str, None] = {}
        self.entities: dict[str, Entity] = {}
        objects = root.need("Entities").all("ScenarioObject")
        for obj in objects:
            kinds = [
                c for c in obj.children if c.tag in ("Vehicle", "Pedestrian", "MiscObject", "ExternalObjectReference")
            ]
            if not kinds:
                raise obj.error("has no Vehicle, Pedestrian or MiscObject")
            if obj.child("ObjectController") is not None:
                self.note("ObjectController (accepted; OccSim's own behaviour runs)")
            self.entities[obj.text("name")] = Entity(obj.text("name"), body_of(kinds[0]))
        if not self.entities:
            raise root.need("Entities").error("has no ScenarioObject")
        bodies = {n: e.body for n, e in self.entities.items()}
        self.ego = choose_ego(list(self.entities), bodies, ego, root.need("Entities"))
        self.ego_mode = ego_mode
        self.entities[self.ego].is_ego = True
        self.entities[self.ego].external = ego_mode == "planner"
        self.time, self.started, self.finished = 0.0, False, False
        self.conditions: list[Condition] = []
        self.ego_path: Shape | None = None  # the planner's route, to measure the ego's distance along
        storyboard = root.need("Storyboard")
        self.init_node = storyboard.need("Init").child("Actions") or Node("Actions")
        for block in self.init_node.children:
            for action_node in block.all("PrivateAction") if block.tag == "Private" else [block]:
                if action_node.tag in ("PrivateAction", "GlobalAction"):
                    actions.check(action_node)
                elif action_node.tag == "UserDefinedAction":
                    raise action_node.error("is not supported (user-defined actions)")
        self.stories = [build_story(n, self) for n in storyboard.all("Story")]
        self.stop_trigger = Trigger(storyboard.child("StopTrigger"), self, False)
        self.init_actions: list[actions.Action] = []
        self._watch: dict[int, dict] = {}
        self._elements = [e for story in self.stories for e in _walk(story)]
        for condition in self.conditions:
            if condition.kind.tag == "StoryboardElementStateCondition":
                self._register(condition.kind)

    # ---- lookups -------------------------------------------------------------------------------------------------

    def entity(self, name: str, where: Node, active_only: bool = True) -> Entity:
        """The entity ``name``; an error at ``where`` if there is none (or it is not in the scene)."""
        if name not in self.entities:
            raise where.error(f"no entity '{name}'; entities: {', '.join(self.entities)}")
        entity = self.entities[name]
        if active_only and self.started and not entity.active:
            raise where.error(f"entity '{name}' is not in the scene (never placed, or deleted)")
        return entity

    def active(self) -> list[Entity]:
        """Entities in the scene."""
        return [e for e in self.entities.values() if e.active]

    def note(self, message: str) -> None:
        """Record something the run did differently from the file (reported once per message)."""
        self.notes[message] = None

    def need_road(self, entity: Entity, node: Node) -> None:
        """An error unless ``entity`` is on a lane of the network."""
        if self.network is None or entity.pos is None:
            raise node.error(f"entity '{entity.name}' is not on a road of the network")

    # ---- placing -------------------------------------------------------------------------------------------------

    def place(self, entity: Entity, place: Place) -> None:
        """Put ``entity`` at a resolved position."""
        entity.x, entity.y, entity.h = place.x, place.y, place.h
        entity.pos = place.pos
        if entity.pos is None and self.network is not None:
            entity.pos = locate(self.network, place.x, place.y, place.h)

    def place_on_road(self, entity: Entity) -> None:
        """Recompute ``entity``'s world pose from its lane position."""
        entity.x, entity.y, entity.h = to_world(self.network, entity.pos)

    # ---- routes and trajectories ---------------------------------------------------------------------------------

    def route_of(self, node: Node) -> RoutePlan:
        """The plan of the ``<Route>`` in ``node`` (an AssignRouteAction, a RouteRef or a Route)."""
        return route_of(self, node)

    def road_path(self, start: str, goal: str) -> list[str]:
        """The shortest chain of linked roads from ``start`` to ``goal``."""
        return road_path(self.network, start, goal)

    def trajectory_of(self, node: Node, entity: Entity | None, mode: str = "follow") -> Shape:
        """The frozen shape of the ``<Trajectory>`` in ``node``, for ``entity``."""
        trajectory = node if node.tag == "Trajectory" else next((n for n in node.walk() if n.tag == "Trajectory"), None)
        if trajectory is None:
            raise node.error("has no <Trajectory>")
        return build_shape(self, trajectory, entity, mode)

    def distance_ahead(self, entity: Entity, place: Place) -> float:
        """How far ``entity`` still has to go to ``place`` along its way [m] (negative: passed; reversing: behind)."""
        way = -1.0 if entity.speed < 0 else 1.0
        path = self.ego_path if entity.is_ego and entity.external else self._trajectory_of(entity)
        if path is not None:
            return way * (_along(path, place.x, place.y) - _along(path, entity.x, entity.y))
        if entity.pos is not None and place.pos is not None and entity.pos.road == place.pos.road:
            return way * (place.pos.s - entity.pos.s) * entity.pos.along
        dx, dy = place.x - entity.x, place.y - entity.y
        return way * math.copysign(math.hypot(dx, dy), dx * math.cos(entity.h) + dy * math.sin(entity.h))

    def trajectory_following(self, entity: Entity) -> Shape | None:
        """The shape of the trajectory ``entity`` follows now, if any."""
        return self._trajectory_of(entity)

    def distance_along(self, shape: Shape, entity: Entity) -> float:
        """Arc length of the point of ``shape`` nearest the entity."""
        return _along(shape, entity.x, entity.y)

    def _trajectory_of(self, entity: Entity) -> Shape | None:
        for element in self._elements:
            for running in element.running if element.state == RUNNING else ():
                if running.actor is entity and isinstance(running, actions.FollowTrajectory) and not running.done:
                    return running.shape
        for running in self.init_actions:
            if running.actor is entity and isinstance(running, actions.FollowTrajectory) and not running.done:
                return running.shape
        return None

    def road_delta(self, e: Entity, tx: float, ty: float, kind: str, freespace: bool, other: Entity | None) -> float:
        """Longitudinal (station) or lateral (t) distance from ``e`` to a point or entity in road coordinates."""
        target = other.pos if other is not None else locate(self.network, tx, ty, None, e.pos.road if e.pos else None)
        if e.pos is None or target is None:
            dx, dy = e.to_local(tx, ty)
            return dx if kind == "longitudinal" else dy
        if kind == "lateral":
            if target.road != e.pos.road:
                return e.to_local(tx, ty)[1]
            t_of = self.network.roads[target.road].lane_centre_t
            return float(t_of(target.lane, target.s)[0] + target.offset - t_of(e.pos.lane, e.pos.s)[0] - e.pos.offset)
        if target.road == e.pos.road:
            ds = (target.s - e.pos.s) * e.pos.along
        else:
            ds = self.distance_ahead(e, Place(tx, ty, 0.0, target))
        if freespace:
            reach = e.body.size[0] / 2 + (other.body.size[0] / 2 if other is not None else 0.0)
            ds = math.copysign(max(abs(ds) - reach, 0.0), ds)
        return ds

    # ---- storyboard element states ------------------------------------------------------------------------------

    def _register(self, node: Node) -> None:
        ref, kind = node.text("storyboardElementRef"), node.text("storyboardElementType")
        matches = [e for e in self._elements if (e.path == ref or e.path.endswith("::" + ref) or e.name == ref)]
        matches = [e for e in matches if e.kind == kind] or matches
        if not matches:
            raise node.error(f"no {kind} named '{ref}' in the storyboard")
        wanted = node.text("state")
        if wanted not in STATES and wanted not in TRANSITIONS:
            raise node.error(f"state={wanted!r}; allowed: {', '.join([*STATES, *TRANSITIONS])}")
        self._watch[id(node)] = {"element": matches[0], "queue": [], "latest": None}

    def element_changed(self, element: Element, transition: str | None) -> None:
        """Queue a state change for the conditions that watch ``element``."""
        for watch in self._watch.values():
            if watch["element"] is element:
                watch["queue"].append((element.state, transition))

    def element_state_holds(self, node: Node) -> bool:
        """A StoryboardElementStateCondition: a state holds while it lasts; a transition once, when it happened."""
        watch = self._watch[id(node)]
        wanted = node.text("state")

        def matches(state: str, transition: str | None) -> bool:
            return transition == wanted if wanted in TRANSITIONS else state == STATES[wanted]

        if watch["queue"]:
            hit = any(matches(s, t) for s, t in watch["queue"])
            watch["latest"] = watch["queue"][-1]
            watch["queue"] = []
            return hit
        state = watch["latest"][0] if watch["latest"] else watch["element"].state
        return matches(state, None)

    # ---- running --------------------------------------------------------------------------------------------------

    def start_action(self, element: Element) -> None:
        """Create and start an Action element's actions: one per actor of its maneuver group (private) or one."""
        if not element.node.children:
            element.running = []
            self.note(f"empty <Action> '{element.name}' (does nothing)")
            return
        inner = element.node.only()
        if inner.tag == "GlobalAction":
            element.running = [actions.make(inner, None)]
        else:
            element.running = [actions.make(inner, self.entity(name, inner)) for name in element.group().actors]
        for running in element.running:
            self._begin(running)

    def _begin(self, running: actions.Action) -> None:
        actor = running.actor
        if actor is not None and actor.external and not self._for_external(running):
            running.done = True
            return
        if actor is not None and running.domains:
            for other in self._running_on(actor):
                if other is not running and other.domains & running.domains:
                    other.done = True
        running.started = True
        try:
            running.start(self)
        except XmlError:
            raise
        except ValueError as e:  # a lane or road the file names is not there: say where the file asked for it
            raise running.node.error(str(e)) from None

    def _for_external(self, running: actions.Action) -> bool:
        """Whether an action on the planner-driven ego still applies (placing it at the start); else dropped."""
        tag = running.node.tag
        if not self.started and tag in ("TeleportAction", "SpeedAction"):
            return True
        if not self.started and tag == "FollowTrajectoryAction":
            running.start(self)  # an Init trajectory puts the ego at its start; the planner drives it from there
        where = f"{running.node.file}:{running.node.line}" if running.node.line else ""
        self.dropped[f"{tag} on {running.actor.name} ({where})"] = None
        return False

    def _running_on(self, entity: Entity) -> list[actions.Action]:
        found = [a for a in self.init_actions if a.actor is entity and a.started and not a.done]
        for element in self._elements:
            if element.kind == "action" and element.state == RUNNING:
                found += [a for a in element.running if a.actor is entity and not a.done]
        return found

    def begin(self) -> None:
        """The first step at t = 0: the Init actions, the stories' start, and the triggers at t = 0."""
        order = _placement_order(self.init_node)
        for block in order:
            if block.tag == "Private":
                entity = self.entity(block.text("entityRef"), block, active_only=False)
                entity.active = True
                for node in block.all("PrivateAction"):
                    self.init_actions.append(actions.make(node, entity))
            elif block.tag == "GlobalAction":
                self.init_actions.append(actions.make(block, None))
        for running in self.init_actions:
            self._begin(running)
        for story in self.stories:
            story.start(self)
        for story in self.stories:
            story.eval_triggers(self)
        self._step_actions(0.0)
        for entity in self.active():
            entity.velocity = (entity.speed * math.cos(entity.h), entity.speed * math.sin(entity.h))
            entity.previous = (entity.x, entity.y)
        self.started = True

    def step(self, dt: float) -> None:
        """One step of ``dt`` seconds from the current time (see the module docstring)."""
        if self.finished:
            return
        for entity in self.entities.values():
            entity.moved = entity.teleported = False
            entity.previous = (entity.x, entity.y)
        if self.stop_trigger.evaluate(self):
            self.finished = True
            for story in self.stories:
                story.stop(self)
            return
        for story in self.stories:
            story.eval_triggers(self)
        self._step_actions(dt)
        self.time += dt
        for entity in self.active():
            if not entity.external and not entity.moved and abs(entity.speed) > 1e-6:
                self._drive(entity, dt)
        self._account(dt)

    def _step_actions(self, dt: float) -> None:
        for running in self.init_actions:
            if not running.done:
                running.step(self, dt)
        for story in self.stories:
            story.step_actions(self, dt)

    def _drive(self, entity: Entity, dt: float) -> None:
        """Default motion: along the lane at the entity's speed (off the network: straight on)."""
        if entity.pos is None or self.network is None:
            entity.x += entity.speed * dt * math.cos(entity.h)
            entity.y += entity.speed * dt * math.sin(entity.h)
            return
        entity.pos, end = move_along(self.network, entity.pos, entity.speed * dt, entity.route)
        self.place_on_road(entity)
        if end:
            if entity.end_of_road_since is None:
                entity.end_of_road_since = self.time
            entity.speed = 0.0
        else:
            entity.end_of_road_since = None

    def _account(self, dt: float) -> None:
        """Velocities, accelerations, odometers and the standstill and off-road clocks after a step."""
        for entity in self.active():
            old = entity.velocity
            if entity.teleported or dt <= 0:
                velocity = (entity.speed * math.cos(entity.h), entity.speed * math.sin(entity.h))
            else:
                velocity = ((entity.x - entity.previous[0]) / dt, (entity.y - entity.previous[1]) / dt)
                entity.odometer += math.hypot(entity.x - entity.previous[0], entity.y - entity.previous[1])
            entity.velocity = velocity
            entity.acceleration = ((velocity[0] - old[0]) / dt, (velocity[1] - old[1]) / dt) if dt > 0 else (0.0, 0.0)
            if abs(entity.speed) < STANDSTILL:
                entity.standstill_since = self.time if entity.standstill_since is None else entity.standstill_since
            else:
                entity.standstill_since = None
            if self.network is not None and self._off_road(entity):
                entity.offroad_since = self.time if entity.offroad_since is None else entity.offroad_since
            else:
                entity.offroad_since = None

    def _off_road(self, entity: Entity) -> bool:
        """Whether the entity's reference point is beyond its road's outermost lanes (or on no road at all)."""
        pos = entity.pos
        if pos is None:
            return True
        road = self.network.roads[pos.road]
        t = float(road.lane_centre_t(pos.lane, pos.s)[0]) + pos.offset
        right, left = road.extent(road.section_index(pos.s), [pos.s], real=True)
        return not float(right[0]) <= t <= float(left[0])

    def sync_external(self, x: float, y: float, h: float, speed: float) -> None:
        """Take the planner-driven ego's pose and speed (before a step)."""
        ego = self.entities[self.ego]
        ego.x, ego.y, ego.h, ego.speed = x, y, h, speed
        if self.network is not None:
            ego.pos = locate(self.network, x, y, h, ego.pos.road if ego.pos else None)

    def ego_route_source(self) -> Node | None:
        """The first route-giving action the file scripts for the ego (its route for the planner), if any."""
        for node in self.root.need("Storyboard").walk():
            if node.tag in EGO_ROUTE_ACTIONS and _actor_of(self, node) == self.ego:
                return node
        return None


def _walk(element: Element):
    yield element
    for child in element.children:
        yield from _walk(child)


def _actor_of(rt: Runtime, node: Node) -> str | None:
    """The entity an action element acts on (Init Private block, or the maneuver group's first actor)."""
    for block in rt.init_node.all("Private"):
        if any(n is node for n in block.walk()):
            return block.text("entityRef")
    for story in rt.stories:
        for element in _walk(story):
            if element.kind == "maneuverGroup" and any(n is node for n in element.node.walk()):
                return element.actors[0] if element.actors else None
    return None


def _placement_order(init: Node) -> list[Node]:
    """Init blocks with each entity placed after any entity its position refers to."""
    blocks = list(init.children)
    privates = [b for b in blocks if b.tag == "Private"]
    placed: set[str] = set()
    ordered: list[Node] = [b for b in blocks if b.tag != "Private"]
    pending = privates
    while pending:
        progress = False
        for block in list(pending):
            refs = {  # the entities this block's positions are relative to (not its relative speeds)
                n.attrs["entityRef"]
                for n in block.walk()
                if n.tag.startswith("Relative") and n.tag.endswith("Position") and "entityRef" in n.attrs
            }
            refs.discard(block.text("entityRef"))
            if refs <= placed or not (refs & {p.text("entityRef") for p in pending}):
                ordered.append(block)
                placed.add(block.text("entityRef"))
                pending.remove(block)
                progress = True
        if not progress:
            ordered += pending
            break
    return ordered


def _along(path: Shape, x: float, y: float) -> float:
    """Arc length of the point of ``path`` nearest (x, y) (past the ends: continued straight)."""
    d = np.hypot(path.x - x, path.y - y)
    k = int(np.argmin(d))
    h = float(path.h[k])
    return float(path.s[k] + (x - path.x[k]) * math.cos(h) + (y - path.y[k]) * math.sin(h))
