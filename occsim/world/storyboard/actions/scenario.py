"""Global actions: parameters and variables, added and deleted entities, and those accepted without effect."""

from __future__ import annotations

from typing import TYPE_CHECKING

from typing_extensions import override

from occsim.world.storyboard.actions.base import Action
from occsim.world.storyboard.positions import resolve_position

if TYPE_CHECKING:
    from occsim.world.storyboard.runtime import Runtime


class ParameterSet(Action):
    """Set or modify a parameter (by name) or a variable."""

    @override
    def start(self, rt: Runtime) -> None:
        node = self.node
        table, key = (
            (rt.variables, node.text("variableRef"))
            if node.tag == "VariableAction"
            else (
                rt.parameters,
                node.text("parameterRef"),
            )
        )
        if key not in table:
            raise node.error(f"no {'variable' if table is rt.variables else 'parameter'} '{key}' is declared")
        change = node.only()
        if change.tag == "SetAction":
            table[key] = change.text("value")
            return
        rule = change.need("Rule").only()
        try:
            current = float(table[key])
        except ValueError:
            raise rule.error(f"'{key}' = {table[key]!r} is not a number") from None
        value = current + rule.number("value") if rule.tag == "AddValue" else current * rule.number("value")
        table[key] = repr(value)


class EntityChange(Action):
    """Add an entity at a position, or delete one."""

    @override
    def start(self, rt: Runtime) -> None:
        entity = rt.entity(self.node.text("entityRef"), self.node, active_only=False)
        change = self.node.only()
        if change.tag == "DeleteEntityAction":
            entity.active = False
        elif change.tag == "AddEntityAction":
            entity.active = True
            rt.place(entity, resolve_position(rt, change.need("Position")))
        else:
            raise change.error("is not an entity action")


class Environment(Action):
    """A weather change during the run: OccSim keeps the episode's weather; noted."""

    @override
    def start(self, rt: Runtime) -> None:
        if rt.started:
            rt.note("EnvironmentAction during the run (the episode keeps its starting weather)")


class Ignored(Action):
    """An action that does not change motion in OccSim (controllers, lights, traffic signals): noted."""

    @override
    def start(self, rt: Runtime) -> None:
        rt.note(f"{self.node.tag} (accepted; OccSim's own behaviour runs)")
