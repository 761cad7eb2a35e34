"""Reading an OpenSCENARIO file: the document, its catalogs, and its parameters resolved into one plain tree.

Resolution follows the standard: ``ParameterDeclarations`` are evaluated in order (a later one may use an
earlier one), an attribute ``$name`` is replaced by the parameter's value and ``${...}`` by the expression's, a
``CatalogReference`` is replaced by its catalog entry with the entry's own parameters, overridden by the
reference's ``ParameterAssignments`` (evaluated where the reference is). ``ValueConstraint`` groups are checked.
What comes out has no parameters, expressions or references left: the storyboard runtime reads it as it is.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from occsim.scenario.openscenario.expressions import ExpressionError, Value, evaluate
from occsim.world.storyboard.tree import Node
from occsim.world.xmlsafe import read_xml

SUPPORTED_MINOR = (0, 1, 2, 3)  # OpenSCENARIO 1.0 to 1.3
PARAMETER_TYPES = ("double", "int", "unsignedInt", "unsignedShort", "boolean", "string", "dateTime", "integer")
CATALOG_KINDS = (
    "VehicleCatalog",
    "ControllerCatalog",
    "PedestrianCatalog",
    "MiscObjectCatalog",
    "EnvironmentCatalog",
    "ManeuverCatalog",
    "TrajectoryCatalog",
    "RouteCatalog",
)
MAX_CATALOG_DEPTH = 16  # catalog entries that reference entries that reference ...


class ConstraintWarning(UserWarning):
    """A parameter value breaks its declaration's ValueConstraints."""


@dataclass
class Document:
    """An OpenSCENARIO scenario file as read, before its parameters are resolved."""

    path: str
    root: Node  # <OpenSCENARIO>
    catalogs: dict[str, dict[str, Node]] = field(default_factory=dict)  # catalog name -> entry name -> entry

    @property
    def declarations(self) -> list[Node]:
        """The top-level ParameterDeclarations, in order."""
        block = self.root.child("ParameterDeclarations")
        return block.all("ParameterDeclaration") if block else []


def read_document(path: str | Path) -> Document:
    """Read an OpenSCENARIO scenario file and the catalog entries it references.

    Raises:
        XmlError: unreadable, not OpenSCENARIO 1.0-1.3, a ParameterValueDistribution (read those with
            ``read_variations``), or a catalog it references is missing.
    """
    path = Path(path)
    root = Node.from_xml(read_xml(path), str(path))
    check_header(root)
    if root.child("ParameterValueDistribution") is not None:
        raise root.error("is a parameter variation file; run it (or read it with read_variations)")
    if root.child("Storyboard") is None:
        raise root.error("has no <Storyboard>: not a scenario (a catalog?)")
    document = Document(str(path), root)
    document.catalogs = load_catalogs(root, path.parent)
    return document


def check_header(root: Node) -> None:
    """Refuse anything but OpenSCENARIO 1.0-1.3."""
    if root.tag != "OpenSCENARIO":
        raise root.error("is not <OpenSCENARIO>")
    header = root.need("FileHeader")
    major, minor = header.integer("revMajor", 1), header.integer("revMinor", 0)
    if major != 1 or minor not in SUPPORTED_MINOR:
        raise header.error(f"OpenSCENARIO {major}.{minor} is not supported; OccSim reads 1.0 to 1.3")


def load_catalogs(root: Node, folder: Path) -> dict[str, dict[str, Node]]:
    """Every entry of every catalog file in the scenario's CatalogLocations (folders relative to the scenario)."""
    catalogs: dict[str, dict[str, Node]] = {}
    locations = root.child("CatalogLocations")
    for kind in locations.children if locations else []:
        if kind.tag not in CATALOG_KINDS:
            raise kind.error(f"is not a catalog location; allowed: {', '.join(CATALOG_KINDS)}")
        directory = kind.need("Directory")
        where = (folder / directory.text("path")).resolve()
        if not where.is_dir():  # harmless unless an entry is needed from it: then the reference's error follows
            warnings.warn(str(directory.error(f"catalog folder {where} does not exist")), stacklevel=2)
        for file in sorted(where.glob("*.xosc")):
            catalog = Node.from_xml(read_xml(file), str(file)).child("Catalog")
            if catalog is None:
                continue
            entries = catalogs.setdefault(catalog.text("name"), {})
            for entry in catalog.children:
                entries.setdefault(entry.text("name"), entry)
    return catalogs


def referenced_catalogs(document: Document) -> dict[str, dict[str, Node]]:
    """Only the catalog entries the scenario uses, following entries that reference others."""
    used: dict[str, dict[str, Node]] = {}
    pending = [document.root]
    while pending:
        for node in pending.pop().walk():
            if node.tag != "CatalogReference":
                continue
            if "$" in node.attrs.get("catalogName", "") + node.attrs.get("entryName", ""):
                for entries in document.catalogs.values():  # chosen by a parameter: keep every candidate
                    for entry_name, entry in entries.items():
                        used.setdefault(_catalog_of(document.catalogs, entry), {})[entry_name] = entry
                continue
            entry = _entry(document.catalogs, node)
            name, entry_name = node.text("catalogName"), node.text("entryName")
            if entry_name not in used.setdefault(name, {}):
                used[name][entry_name] = entry
                pending.append(entry)
    return used


def _catalog_of(catalogs: Mapping[str, Mapping[str, Node]], entry: Node) -> str:
    return next(name for name, entries in catalogs.items() if any(e is entry for e in entries.values()))


def _entry(catalogs: Mapping[str, Mapping[str, Node]], reference: Node) -> Node:
    name, entry = reference.text("catalogName"), reference.text("entryName")
    holding = [c for c in catalogs.values() if entry in c]
    if name not in catalogs and len(holding) == 1:
        return holding[0][entry]  # the catalog is named differently from the reference, but the entry is unique
    if name not in catalogs:
        known = ", ".join(sorted(catalogs)) or "none (no CatalogLocations)"
        raise reference.error(f"no catalog named '{name}'; catalogs: {known}")
    if entry not in catalogs[name]:
        raise reference.error(f"catalog '{name}' has no entry '{entry}'; entries: {', '.join(sorted(catalogs[name]))}")
    return catalogs[name][entry]


class Scope:
    """Parameters visible at one place: this scope's, then its parent's."""

    def __init__(self, values: dict[str, Value | str] | None = None, parent: Scope | None = None):
        self.values: dict[str, Value | str] = values or {}
        self.parent = parent

    def lookup(self, name: str) -> Value | str:
        """The value of parameter ``name``, innermost scope first; ExpressionError if no scope has it."""
        scope: Scope | None = self
        while scope is not None:
            if name in scope.values:
                return scope.values[name]
            scope = scope.parent
        raise ExpressionError(f"no parameter '{name}'")

    def flat(self) -> dict[str, Value | str]:
        """Every visible parameter (inner ones win)."""
        return {**(self.parent.flat() if self.parent else {}), **self.values}


def format_value(value: Value | str) -> str:
    """A parameter or expression value as attribute text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value == int(value) and abs(value) < 1e15 else repr(value)
    return str(value)


def resolve_text(text: str, scope: Scope, node: Node, name: str) -> str:
    """An attribute's text with a ``$name`` reference or a ``${...}`` expression replaced by its value."""
    if not text.startswith("$"):
        return text
    try:
        if text.startswith("${") and text.endswith("}"):
            return format_value(evaluate(text[2:-1], _numeric(scope)))
        return format_value(scope.lookup(text[1:]))
    except ExpressionError as e:
        if name == "name":  # an element's name built by a player-specific string expression: keep it as written
            return text
        raise node.error(f"{name}={text!r}: {e}") from None


def _numeric(scope: Scope):
    """A lookup for expressions: numbers and booleans as they are, numeric strings as numbers."""

    def lookup(name: str) -> Value:
        value = scope.lookup(name)
        if isinstance(value, (bool, float)):
            return value
        try:
            return float(value)
        except ValueError:
            raise ExpressionError(f"parameter '{name}' is the string {value!r}, not a number") from None

    return lookup


def typed(kind: str, text: str, node: Node) -> Value | str:
    """A parameter value of ``kind`` from its text (ints rounded half away from zero, as C does)."""
    if kind == "double":
        try:
            value = float(text)
        except ValueError:
            return text  # written wrong (players accept it): an error only where it is used as a number
        if not math.isfinite(value):
            raise node.error(f"value {text!r} is not finite")
        return value
    if kind in ("int", "integer", "unsignedInt", "unsignedShort"):  # "integer": OpenSCENARIO 1.0 drafts' name
        try:
            number = float(text)
        except ValueError:
            return text
        value = float(math.floor(abs(number) + 0.5) * (1 if number >= 0 else -1))
        if kind.startswith("unsigned") and value < 0:
            raise node.error(f"value {text!r} is negative for an {kind}")
        return value
    if kind == "boolean":
        if text.lower() in ("true", "1"):
            return True
        if text.lower() in ("false", "0"):
            return False
        raise node.error(f"value {text!r} is not true or false")
    return text


def declare(
    block: Node | None, parent: Scope | None, overrides: Mapping[str, str] | None = None, strict: bool = True
) -> Scope:
    """A scope of the declarations in ``block`` (in order), each value replaced by ``overrides`` where given.

    ``strict``: an override of a parameter that is not declared is an error (else it is added, as players do for
    catalog references).
    """
    scope = Scope({}, parent)
    overrides = dict(overrides or {})
    for declaration in block.all("ParameterDeclaration") if block else []:
        name = declaration.text("name").removeprefix("$")  # some files declare "$name"; players read it as "name"
        kind = declaration.choice("parameterType", PARAMETER_TYPES, "string")
        raw = overrides.pop(name, None)
        text = resolve_text(declaration.text("value") if raw is None else raw, scope, declaration, "value")
        value = typed(kind, text, declaration)
        _check_constraints(declaration, name, value, scope)
        scope.values[name] = value
    if overrides and strict:
        known = [d.text("name").removeprefix("$") for d in block.all("ParameterDeclaration")] if block else []
        where = block or Node("ParameterDeclarations")
        raise where.error(f"no parameter {sorted(overrides)[0]!r} is declared here; declared: {', '.join(known)}")
    scope.values.update(overrides)  # a catalog reference may assign a parameter its entry does not declare
    return scope


def _check_constraints(declaration: Node, name: str, value: Value | str, scope: Scope) -> None:
    groups = declaration.all("ConstraintGroup")
    if not groups:
        return
    targets = {
        id(c): resolve_text(c.text("value"), scope, c, "value") for g in groups for c in g.all("ValueConstraint")
    }
    for group in groups:
        if all(_holds(c, value, targets[id(c)]) for c in group.all("ValueConstraint")):
            return
    rules = " or ".join(
        " and ".join(f"{c.text('rule')} {targets[id(c)]}" for c in g.all("ValueConstraint")) for g in groups
    )
    # Players run such files (the ASAM ALKS variations break their own templates' constraints): say so, and run.
    warnings.warn(
        str(declaration.error(f"parameter '{name}' = {format_value(value)} breaks its constraints ({rules})")),
        ConstraintWarning,
        stacklevel=2,
    )


def _holds(constraint: Node, value: Value | str, target: str) -> bool:
    rule = constraint.text("rule")
    try:
        a, b = float(value), float(target)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        a, b = str(value), target  # type: ignore[assignment]
    compare = {
        "equalTo": a == b,
        "notEqualTo": a != b,
        "greaterThan": a > b,
        "greaterOrEqual": a >= b,
        "lessThan": a < b,
        "lessOrEqual": a <= b,
    }
    if rule not in compare:
        raise constraint.error(f"rule={rule!r}; allowed: {', '.join(compare)}")
    return compare[rule]


@dataclass
class Resolved:
    """A scenario with its parameters resolved."""

    root: Node  # <OpenSCENARIO> with no $ references, expressions or catalog references left
    parameters: dict[str, Value | str]  # the top-level parameters' values


def resolve(document: Document, overrides: Mapping[str, str] | None = None) -> Resolved:
    """The scenario's tree with parameters (``overrides`` replacing declared values) and catalogs resolved.

    Raises:
        XmlError: an unknown parameter or override, a bad expression, a broken constraint, a missing catalog entry.
    """
    scope = declare(document.root.child("ParameterDeclarations"), None, overrides)
    root = _resolve(document.root, scope, document.catalogs, 0, top=True)
    return Resolved(root, dict(scope.values))


def _resolve(node: Node, scope: Scope, catalogs: Mapping[str, Mapping[str, Node]], depth: int, top=False) -> Node:
    if node.tag == "CatalogReference":
        if depth > MAX_CATALOG_DEPTH:
            raise node.error(f"catalog entries reference each other more than {MAX_CATALOG_DEPTH} deep (a cycle?)")
        reference = Node(
            node.tag, {k: resolve_text(v, scope, node, k) for k, v in node.attrs.items()}, [], node.file, node.line
        )
        entry = _entry(catalogs, reference)
        assignments = {
            a.text("parameterRef").lstrip("$"): resolve_text(a.text("value"), scope, a, "value")
            for block in node.all("ParameterAssignments")
            for a in block.all("ParameterAssignment")
        }
        inner = declare(entry.child("ParameterDeclarations"), scope, assignments, strict=False)
        return _body(entry, inner, catalogs, depth + 1)
    if node.tag in ("ParameterDeclarations", "ParameterAssignments"):
        return node.copy()
    inner = (
        scope
        if top or node.child("ParameterDeclarations") is None
        else declare(node.child("ParameterDeclarations"), scope)
    )
    return _body(node, inner, catalogs, depth)


def _body(node: Node, scope: Scope, catalogs, depth: int) -> Node:
    attrs = {k: resolve_text(v, scope, node, k) for k, v in node.attrs.items()}
    children = [_resolve(c, scope, catalogs, depth) for c in node.children if c.tag != "ParameterDeclarations"]
    return Node(node.tag, attrs, children, node.file, node.line)
