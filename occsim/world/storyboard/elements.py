"""The storyboard's elements (Story, Act, ManeuverGroup, Maneuver, Event, Action) and their state machine.

States: standby (waiting for a start trigger), running, complete; transitions start, end (done by itself), stop (a
stop trigger). A story starts at once; an act, and each event, when its start trigger fires (none: at once); a
maneuver group runs its maneuvers, each its events; an element ends when all its children have. An event or a
maneuver group with executions left returns to standby instead of completing. An event starting with priority
``override`` (``overwrite``) ends the other running events of its maneuver, ``skip`` waits while one runs,
``parallel`` runs beside them. Triggers are ORs of condition groups, each an AND.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from occsim.world.storyboard import actions
from occsim.world.storyboard.conditions import Condition
from occsim.world.storyboard.tree import Node

if TYPE_CHECKING:
    from occsim.world.storyboard.runtime import Runtime

INIT, STANDBY, RUNNING, COMPLETE = "init", "standby", "running", "complete"
KIND_OF_TAG = {
    "Story": "story",
    "Act": "act",
    "ManeuverGroup": "maneuverGroup",
    "Maneuver": "maneuver",
    "Event": "event",
    "Action": "action",
}
PRIORITIES = {"override": "override", "overwrite": "override", "skip": "skip", "parallel": "parallel"}


class Trigger:
    """A start or stop trigger: true when all conditions of any one group are."""

    def __init__(self, node: Node | None, rt: Runtime, default: bool):
        self.default = default
        self.groups = (
            [[Condition(c, rt) for c in g.all("Condition")] for g in node.all("ConditionGroup")] if node else []
        )

    def evaluate(self, rt: Runtime) -> bool:
        """Every group is evaluated; within a group, conditions after a false one are skipped unless delayed."""
        if not self.groups:
            return self.default
        fired = False
        for group in self.groups:
            holds = bool(group)
            for condition in group:
                if holds or condition.delay > 0:
                    holds = condition.evaluate(rt) and holds
            fired = fired or holds
        if fired:
            for group in self.groups:
                for condition in group:
                    condition.rearm()
        return fired

    def reset(self) -> None:
        """Forget delay histories (an element re-armed for another execution)."""
        for group in self.groups:
            for condition in group:
                condition.reset()


@dataclass(eq=False)
class Element:
    """One storyboard element and its state."""

    kind: str  # story | act | maneuverGroup | maneuver | event | action
    name: str
    node: Node
    parent: Element | None = None
    children: list[Element] = field(default_factory=list)
    start_trigger: Trigger | None = None
    stop_trigger: Trigger | None = None
    max_executions: int = 1  # -1: unlimited (events and maneuver groups)
    executions: int = 0
    state: str = INIT
    priority: str = "parallel"  # events
    actors: list[str] = field(default_factory=list)  # maneuver groups: the entities their private actions move
    running: list[actions.Action] = field(default_factory=list)  # actions: one per actor (or one, global)

    @property
    def path(self) -> str:
        """``Story::Act::Group::Maneuver::Event::Action`` names from the top."""
        names, element = [], self
        while element is not None:
            names.append(element.name)
            element = element.parent
        return "::".join(reversed(names))

    def group(self) -> Element:
        """The maneuver group this element belongs to."""
        element = self
        while element.kind != "maneuverGroup":
            element = element.parent
        return element

    # ---- transitions ---------------------------------------------------------------------------------------

    def set_state(self, rt: Runtime, state: str, transition: str | None) -> None:
        """Change state (by ``transition``), telling the conditions that watch this element."""
        if state != self.state:
            self.state = state
            rt.element_changed(self, transition)

    def start(self, rt: Runtime) -> None:
        """Standby if waiting for a start trigger, else running (and start the children)."""
        if self.state == INIT and self.start_trigger is not None:
            self.set_state(rt, STANDBY, None)
        elif self.state in (INIT, STANDBY):
            self.executions += 1
            self.set_state(rt, RUNNING, "startTransition")
            if self.kind == "action":
                rt.start_action(self)
        if self.state == RUNNING and self.kind != "event":
            for child in self.children:
                child.start(rt)

    def start_event(self, rt: Runtime) -> None:
        """Start an event with its priority's effect on its maneuver's other events."""
        siblings = [e for e in self.parent.children if e is not self and e.state == RUNNING]
        if self.state == RUNNING or (self.priority == "skip" and siblings):
            return
        if self.priority == "override":
            for other in siblings:
                other.end(rt)
        self.start(rt)
        for action in self.children:
            action.start(rt)
        if not self.children:
            self.end(rt)

    def eval_triggers(self, rt: Runtime) -> None:
        """Stop if the stop trigger fires, start if the start trigger does, then the children's triggers."""
        if self.state == RUNNING and self.stop_trigger is not None and self.stop_trigger.evaluate(rt):
            self.stop(rt)
        if self.state == STANDBY and (self.start_trigger is None or self.start_trigger.evaluate(rt)):
            if self.kind == "event":
                self.start_event(rt)
            else:
                self.start(rt)
        if self.state == RUNNING and self.kind != "event":
            for child in self.children:
                child.eval_triggers(rt)

    def end(self, rt: Runtime) -> None:
        """Done by itself: complete, or back to standby if executions are left; the parent may end too."""
        if self.state == COMPLETE:
            return
        for child in self.children:
            if child.state == RUNNING:
                child.end(rt)
        if self.state == COMPLETE:
            return
        if self.kind == "action":
            for running in self.running:
                running.done = True
        if self.kind in ("event", "maneuverGroup") and (
            self.max_executions < 0 or self.executions < self.max_executions
        ):
            for trigger in (self.start_trigger, self.stop_trigger):
                if trigger is not None:
                    trigger.reset()
            self.set_state(rt, STANDBY, "endTransition")
            for child in self.children:
                child.reset(rt)
        else:
            self.set_state(rt, COMPLETE, "endTransition")
        self._propagate(rt)

    def stop(self, rt: Runtime) -> None:
        """Stopped by a stop trigger: this and every child complete."""
        for child in self.children:
            child.stop(rt)
        if self.kind == "action":
            for running in self.running:
                running.done = True
        if self.state in (STANDBY, RUNNING):
            self.set_state(rt, COMPLETE, "stopTransition")
        self._propagate(rt)

    def reset(self, rt: Runtime) -> None:
        """Back to the start for another execution of the enclosing group or event."""
        for child in self.children:
            child.reset(rt)
        for trigger in (self.start_trigger, self.stop_trigger):
            if trigger is not None:
                trigger.reset()
        self.running = []
        self.state = INIT
        if self.kind == "event":
            self.start(rt)  # back to waiting for its trigger

    def _propagate(self, rt: Runtime) -> None:
        parent = self.parent
        if parent is not None and parent.state == RUNNING and all(c.state == COMPLETE for c in parent.children):
            parent.end(rt)

    def step_actions(self, rt: Runtime, dt: float) -> None:
        """Step every running action below this element, in document order; end actions that are done."""
        if self.state != RUNNING:
            return
        if self.kind == "action":
            for running in self.running:
                if not running.done:
                    running.step(rt, dt)
            if all(r.done for r in self.running):
                self.end(rt)
            return
        for child in list(self.children):
            child.step_actions(rt, dt)


def build_story(node: Node, rt: Runtime) -> Element:
    """The element tree of a ``<Story>``, its triggers compiled and its actions checked."""
    story = Element("story", node.attrs.get("name", "story"), node)
    for act_node in node.all("Act"):
        act = Element("act", act_node.attrs.get("name", "act"), act_node, story)
        act.start_trigger = _trigger(act_node.child("StartTrigger"), rt, True)
        act.stop_trigger = _trigger(act_node.child("StopTrigger"), rt, False)
        story.children.append(act)
        for group_node in act_node.all("ManeuverGroup"):
            act.children.append(_group(group_node, act, rt))
    return story


def _trigger(node: Node | None, rt: Runtime, default: bool) -> Trigger | None:
    return None if node is None else Trigger(node, rt, default)


def _group(node: Node, act: Element, rt: Runtime) -> Element:
    group = Element("maneuverGroup", node.attrs.get("name", "group"), node, act)
    group.max_executions = node.integer("maximumExecutionCount", 1)
    actors = node.need("Actors")
    group.actors = [ref.text("entityRef") for ref in actors.all("EntityRef")]
    for name in group.actors:
        rt.entity(name, actors, active_only=False)
    maneuvers = node.all("Maneuver") + [n for n in node.all("CatalogReference")]
    for maneuver_node in maneuvers:
        if maneuver_node.tag != "Maneuver":
            raise maneuver_node.error("an unresolved catalog reference (parameters are resolved before a run)")
        maneuver = Element("maneuver", maneuver_node.attrs.get("name", "maneuver"), maneuver_node, group)
        group.children.append(maneuver)
        for event_node in maneuver_node.all("Event"):
            maneuver.children.append(_event(event_node, maneuver, rt))
    return group


def _event(node: Node, maneuver: Element, rt: Runtime) -> Element:
    event = Element("event", node.attrs.get("name", "event"), node, maneuver)
    priority = node.text("priority", "parallel")
    if priority not in PRIORITIES:
        raise node.error(f"priority={priority!r} is not one of {', '.join(PRIORITIES)}")
    event.priority = PRIORITIES[priority]
    event.max_executions = node.integer("maximumExecutionCount", 1)
    event.start_trigger = Trigger(node.child("StartTrigger"), rt, True)
    for action_node in node.all("Action"):
        if action_node.children:  # an empty <Action> (schema-invalid, but written) does nothing, as players run it
            inner = action_node.only()
            if inner.tag not in ("PrivateAction", "GlobalAction"):
                raise inner.error("is not supported (user-defined actions)")
            actions.check(inner)
        event.children.append(Element("action", action_node.attrs.get("name", "action"), action_node, event))
    return event
