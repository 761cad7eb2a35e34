"""A generic element tree for OpenSCENARIO content, read from XML or from its YAML form, with file and line.

The YAML form is the XML's shape: an element is a mapping whose lowerCamelCase keys are its attributes (scalars)
and whose UpperCamelCase keys are its child elements, a mapping for one and a list for several. OpenSCENARIO
orders elements of different tags by its schema, so nothing is lost: ``Node.from_data(tag, node.to_data())``
gives the same tree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from lxml import etree

from occsim.world.xmlsafe import XmlError, local_name

MAX_NODES = 200_000  # elements of one document (a large scenario has a few thousand)
MAX_DEPTH = 64  # nesting; OpenSCENARIO needs about 20


@dataclass
class Node:
    """One element: tag, attributes (strings, as in XML), child elements, and where it was written."""

    tag: str
    attrs: dict[str, str] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)
    file: str | None = None
    line: int | None = None

    # ---- reading ---------------------------------------------------------------------------------------------

    def error(self, message: str) -> XmlError:
        """An error at this element: ``file:line: <Tag>: message``."""
        return XmlError(self.file, self.line, f"<{self.tag}>: {message}")

    def child(self, tag: str) -> Node | None:
        """The first child element ``tag``, or None."""
        return next((c for c in self.children if c.tag == tag), None)

    def need(self, tag: str) -> Node:
        """The child element ``tag``; an error naming it if absent."""
        found = self.child(tag)
        if found is None:
            raise self.error(f"missing element <{tag}>")
        return found

    def all(self, tag: str) -> list[Node]:
        """Every child element ``tag``, in order."""
        return [c for c in self.children if c.tag == tag]

    def only(self) -> Node:
        """The single child of a choice element (Position, PrivateAction, Condition's kind, ...)."""
        if not self.children:
            raise self.error("is empty; it needs one element")
        return self.children[0]

    def text(self, name: str, default: str | None = None) -> str:
        """Attribute ``name``; an error if absent without a default."""
        value = self.attrs.get(name, default)
        if value is None:
            raise self.error(f"missing attribute '{name}'")
        return value

    def number(self, name: str, default: float | None = None) -> float:
        """Attribute ``name`` as a finite number."""
        raw = self.attrs.get(name)
        if raw is None:
            if default is None:
                raise self.error(f"missing attribute '{name}'")
            return default
        try:
            value = float(raw)
        except ValueError:
            raise self.error(f"attribute {name}={raw!r} is not a number") from None
        if not math.isfinite(value):
            raise self.error(f"attribute {name}={raw!r} is not finite")
        return value

    def integer(self, name: str, default: int | None = None) -> int:
        """Attribute ``name`` as an integer (``3.0`` accepted)."""
        value = self.number(name, None if default is None else float(default))
        if value != int(value):
            raise self.error(f"attribute {name}={self.attrs.get(name)!r} is not an integer")
        return int(value)

    def flag(self, name: str, default: bool | None = None) -> bool:
        """Attribute ``name`` as a boolean (true/false, 1/0)."""
        raw = self.attrs.get(name)
        if raw is None:
            if default is None:
                raise self.error(f"missing attribute '{name}'")
            return default
        if raw.strip().lower() in ("true", "1"):
            return True
        if raw.strip().lower() in ("false", "0"):
            return False
        raise self.error(f"attribute {name}={raw!r} is not true or false")

    def choice(self, name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
        """Attribute ``name``, which must be one of ``allowed``."""
        value = self.text(name, default)
        if value not in allowed:
            raise self.error(f"{name}={value!r} is not supported; allowed: {', '.join(allowed)}")
        return value

    def walk(self) -> Iterator[Node]:
        """Every element from this one down, depth first."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def copy(self) -> Node:
        """A deep copy."""
        return Node(self.tag, dict(self.attrs), [c.copy() for c in self.children], self.file, self.line)

    # ---- from and to XML and YAML ----------------------------------------------------------------------------

    @classmethod
    def from_xml(cls, element: etree._Element, file: str) -> Node:
        """The tree of an lxml element (comments dropped, namespaces stripped)."""
        count = 0

        def build(el: etree._Element, depth: int) -> Node:
            nonlocal count
            count += 1
            if count > MAX_NODES or depth > MAX_DEPTH:
                raise XmlError(file, el.sourceline, f"more than {MAX_NODES:,} elements or {MAX_DEPTH} levels")
            attrs = {etree.QName(k).localname: v for k, v in el.attrib.items()}
            kids = [build(c, depth + 1) for c in el if isinstance(c.tag, str)]
            return cls(local_name(el), attrs, kids, file, el.sourceline)

        return build(element, 0)

    def to_data(self) -> dict:
        """The YAML form: attributes as scalars (numbers as numbers), children as mappings or lists."""
        out: dict = {key: _scalar(value) for key, value in self.attrs.items()}
        for tag in dict.fromkeys(c.tag for c in self.children):
            same = [c.to_data() for c in self.children if c.tag == tag]
            out[tag] = same[0] if len(same) == 1 and tag not in REPEATED else same
        return out

    @classmethod
    def from_data(
        cls, tag: str, data, file: str | None = None, line_of: Callable[[tuple], int | None] | None = None
    ) -> Node:
        """The tree of a YAML-form mapping; ``line_of(path)`` gives the line of a key path (for errors)."""
        count = 0

        def build(name: str, value, path: tuple, depth: int) -> Node:
            nonlocal count
            count += 1
            line = line_of(path) if line_of else None
            if count > MAX_NODES or depth > MAX_DEPTH:
                raise XmlError(file, line, f"more than {MAX_NODES:,} elements or {MAX_DEPTH} levels")
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise XmlError(file, line, f"<{name}>: expected a mapping of attributes and elements")
            node = cls(name, {}, [], file, line)
            for key, item in value.items():
                key = str(key)
                if key[:1].isupper():
                    items = item if isinstance(item, list) else [item]
                    node.children += [build(key, v, (*path, key, i), depth + 1) for i, v in enumerate(items)]
                elif isinstance(item, (dict, list)):
                    raise XmlError(file, line, f"<{name}>: attribute '{key}' must be a single value")
                else:
                    node.attrs[key] = _text(item)
            return node

        return build(tag, data, (), 0)


# Elements that may repeat under their parent: written as a list in the YAML form even when there is one.
REPEATED = frozenset(
    {
        "ParameterDeclaration",
        "VariableDeclaration",
        "ScenarioObject",
        "Private",
        "PrivateAction",
        "GlobalAction",
        "UserDefinedAction",
        "Story",
        "Act",
        "ManeuverGroup",
        "Maneuver",
        "Event",
        "Action",
        "ConditionGroup",
        "Condition",
        "EntityRef",
        "Vertex",
        "ControlPoint",
        "Knot",
        "Waypoint",
        "ParameterAssignment",
        "ClothoidSplineSegment",
        "SpeedProfileEntry",
        "Element",
        "ParameterValueSet",
        "DeterministicSingleParameterDistribution",
        "DeterministicMultiParameterDistribution",
        "StochasticDistribution",
        "Bin",
        "ValueConstraint",
        "ConstraintGroup",
        "Property",
        "File",
        "Directory",
    }
)


def _scalar(text: str):
    """An attribute as YAML writes it best: a number when it reads back as the same text, otherwise the string."""
    try:
        number = float(text)
    except ValueError:
        return text
    if number == int(number) and str(int(number)) == text:
        return int(number)
    return number if repr(number) == text else text


def _text(value) -> str:
    """A YAML scalar as the attribute string XML would hold."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)
