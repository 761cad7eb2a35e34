"""Loading scenario YAML: safe parsing, schema validation, semantic checks, each error with file:line:field."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from occsim.registry import did_you_mean
from occsim.scenario import schema
from occsim.scenario.distributions import find_draws
from occsim.scenario.problems import Path_, Problem, ScenarioError, field_name, line_of
from occsim.scenario.schema import Scenario
from occsim.scenario.semantics import check_semantics

MAX_FILE_BYTES = 1 << 20  # a scenario is a few KB; 1 MiB leaves room for thousands of actors
MAX_DEPTH = 64  # nesting levels; the schema needs 6, an OpenSCENARIO storyboard in YAML form about 30
MAX_NODES = 200_000  # YAML values after alias expansion; refuses alias bombs before they expand


def load_scenario_file(path: str | Path) -> Scenario:
    """Read and validate one scenario file; raise ScenarioError listing every problem found."""
    return parse_scenario(read_scenario_text(path), str(path))


def read_scenario_text(path: str | Path) -> str:
    """A scenario file's text, refusing an oversize file before reading it; ScenarioError if unreadable."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ScenarioError(
                [Problem(str(path), None, "", f"file of {size:,} bytes is over the {MAX_FILE_BYTES:,}-byte limit")]
            )
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError([Problem(str(path), None, "", f"cannot read: {e}")]) from None


def parse_scenario(text: str, source: str = "<string>") -> Scenario:
    """Validate scenario YAML ``text``; ``source`` names it in messages.

    Raises:
        ScenarioError: every problem, one per line; a family file (with distributions) is refused here, since it
            describes many scenarios: draw from it with ``occsim.scenario.family`` or ``occsim sample``.
    """
    data, lines = parse_tree(text, source)
    draws = find_draws({k: v for k, v in data.items() if k != "family"})
    if draws or "family" in data:
        first = draws[0].path if draws else ("family",)
        message = "this is a scenario family (it holds distributions): sample it with `occsim sample` or run it"
        raise ScenarioError([Problem(source, line_of(lines, first), field_name(first), message)])
    return validate_data(data, source, lines)


def parse_tree(text: str, source: str = "<string>") -> tuple[dict, dict[Path_, int]]:
    """Scenario YAML ``text`` as plain data and the line of every key path (safe loader, size and alias limits).

    Raises:
        ScenarioError: the text is not a YAML mapping within the limits.
    """
    if len(text) > MAX_FILE_BYTES:
        raise ScenarioError([Problem(source, None, "", f"text of {len(text):,} characters is over the limit")])
    node = _compose(text, source)
    if node is None:
        raise ScenarioError([Problem(source, None, "", "empty file; expected a scenario mapping (name, map, ...)")])
    structural = _duplicate_keys(node, source) + _expansion_problems(node, source)
    if structural:
        raise ScenarioError(structural)
    try:
        data = yaml.SafeLoader("").construct_document(node)
    except yaml.YAMLError as e:  # a tag the safe loader does not know: never constructed, never run
        mark = getattr(e, "problem_mark", None)
        message = f"YAML syntax error: {getattr(e, 'problem', None) or str(e).splitlines()[0]}"
        raise ScenarioError([Problem(source, mark.line + 1 if mark else None, "", message)]) from None
    if data is None:
        raise ScenarioError([Problem(source, None, "", "empty file; expected a scenario mapping (name, map, ...)")])
    if not isinstance(data, dict):
        raise ScenarioError(
            [Problem(source, node.start_mark.line + 1, "", f"expected a mapping at the top, got {type(data).__name__}")]
        )
    return data, _line_index(node)


def validate_data(data: dict, source: str, lines: dict[Path_, int]) -> Scenario:
    """Schema and semantic checks of parsed scenario data; ScenarioError lists every problem with its line."""
    data = resolve_files(data, source)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError([problem_from_error(err, source, lines) for err in e.errors()]) from None
    problems = check_semantics(scenario, source, lines)
    if problems:
        raise ScenarioError(problems)
    return scenario


def resolve_files(data: dict, source: str) -> dict:
    """``data`` with the files it names (opendrive map, openscenario block) relative to the scenario's folder."""
    if not Path(source).is_file():
        return data

    def absolute(block: dict, key: str) -> dict:
        value = block.get(key)
        if not isinstance(value, str) or Path(value).expanduser().is_absolute():
            return block
        return {**block, key: str((Path(source).parent / Path(value).expanduser()).resolve())}

    spec = data.get("map")
    if isinstance(spec, dict) and spec.get("type") == "opendrive":
        data = {**data, "map": absolute(spec, "file")}
    block = data.get("openscenario")
    if isinstance(block, dict):
        data = {**data, "openscenario": absolute(absolute(block, "file"), "variations")}
    return data


def _compose(text: str, source: str) -> yaml.Node | None:
    """The YAML node tree (safe loader: tags never run), refusing deep nesting before the recursive composer runs."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    line = event.start_mark.line + 1
                    raise ScenarioError([Problem(source, line, "", f"nested more than {MAX_DEPTH} levels deep")])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = mark.line + 1 if mark else None
        message = f"YAML syntax error: {getattr(e, 'problem', None) or str(e).splitlines()[0]}"
        context, context_mark = getattr(e, "context", None), getattr(e, "context_mark", None)
        if context and context_mark is not None and context_mark.line + 1 != line:
            message += f" ({context} opened at line {context_mark.line + 1})"
        raise ScenarioError([Problem(source, line, "", message)]) from None


def _duplicate_keys(node: yaml.Node, source: str) -> list[Problem]:
    """Every mapping key given twice, naming both lines (YAML would silently keep the last)."""
    problems: list[Problem] = []
    seen_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, Path_]] = [(node, ())]
    while stack:
        current, path = stack.pop()
        if id(current) in seen_nodes:  # an alias: its target was checked where it was defined
            continue
        seen_nodes.add(id(current))
        if isinstance(current, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in current.value:
                name = str(key.value)
                line = key.start_mark.line + 1
                if name in first and name != "<<":
                    field = field_name((*path, name))
                    problems.append(
                        Problem(source, line, field, f"duplicate key '{name}' (first given at line {first[name]})")
                    )
                first.setdefault(name, line)
                stack.append((value, (*path, name)))
        elif isinstance(current, yaml.SequenceNode):
            stack.extend((value, (*path, i)) for i, value in enumerate(current.value))
    return sorted(problems, key=lambda p: p.line or 0)


def _expansion_problems(node: yaml.Node, source: str) -> list[Problem]:
    """Refuse recursive aliases and aliases that expand to more than MAX_NODES values (counted, never expanded)."""
    size: dict[int, int] = {}  # memoised by node identity: an alias reuses its target's count
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, children_done = stack.pop()
        key = id(current)
        if children_done:
            on_path.discard(key)
            size[key] = min(MAX_NODES + 1, 1 + sum(size[id(c)] for c in _children(current)))
        elif key in on_path:
            line = current.start_mark.line + 1
            return [Problem(source, line, "", "a recursive alias (a value that contains itself); refused")]
        elif key not in size:
            on_path.add(key)
            stack.append((current, True))
            stack.extend((c, False) for c in _children(current))
    if size[id(node)] > MAX_NODES:
        return [Problem(source, None, "", f"aliases expand to over {MAX_NODES:,} values; refused (an alias bomb?)")]
    return []


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _line_index(node: yaml.Node, path: Path_ = ()) -> dict[Path_, int]:
    """Map every key path in the YAML tree to its 1-based line."""
    index = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            index.update(_line_index(value, child))
            index[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, value in enumerate(node.value):
            index.update(_line_index(value, (*path, i)))
    return index


def problem_from_error(err: dict, source: str, lines: dict[Path_, int]) -> Problem:
    """One pydantic error as a file:line problem with a did-you-mean where a key is unknown."""
    # pydantic inserts the union tag into the location (actors.0.behavior.cut_in.to_lane): drop it.
    loc: list[str | int] = []
    for part in err["loc"]:
        if isinstance(part, str) and loc and loc[-1] in ("map", "behavior") and part in _TAGS:
            continue
        loc.append(part)
    path = tuple(loc)
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    if kind == "extra_forbidden":
        parent = _allowed_keys(tuple(err["loc"]))
        hint = did_you_mean(str(path[-1]), parent)
        msg = f"unknown key '{path[-1]}'{hint}" + (f" (allowed: {', '.join(sorted(parent))})" if parent else "")
    elif kind == "literal_error":
        allowed = [a.strip(" '") for a in str(ctx.get("expected", "")).replace(" or ", ", ").split(",")]
        what = "a class" if path[-1] == "type" and "actors" in path else "allowed"
        msg = f"'{value}' is not {what}{did_you_mean(str(value), allowed)} (allowed: {', '.join(allowed)})"
    elif kind == "union_tag_invalid":
        allowed = [a.strip(" '") for a in str(ctx.get("expected_tags", "")).split(",")]
        noun = "behaviour" if "behavior" in path else path[-1] if path else "type"
        msg = f"'{ctx.get('tag')}' is not a {noun} type{did_you_mean(str(ctx.get('tag')), allowed)}"
        msg += f" (allowed: {', '.join(allowed)})"
        path = (*path, "type")
    elif kind == "union_tag_not_found":
        msg = "missing 'type'"
    elif kind == "missing":
        msg = "required field is missing"
    elif kind == "string_pattern_mismatch" and ctx.get("pattern") == schema.PATH_PATTERN:
        msg = "a path cannot hold a NUL character"
    else:
        msg = err["msg"].removeprefix("Value error, ")
        if value is not None and not isinstance(value, (dict, list)):
            msg += f" (got {value!r})"
    return Problem(source, line_of(lines, path), field_name(path), msg)


_UNION_MODELS: dict[str, type[BaseModel]] = {
    "straight": schema.StraightMap,
    "curve": schema.CurveMap,
    "intersection": schema.IntersectionMap,
    "nuscenes": schema.NuScenesMap,
    "opendrive": schema.OpenDriveMap,
    "t_junction": schema.TJunctionMap,
    "static": schema.StaticBehavior,
    "constant": schema.ConstantBehavior,
    "idm": schema.IDMBehavior,
    "cut_in": schema.CutInBehavior,
    "crossing": schema.CrossingBehavior,
    "waypoints": schema.WaypointsBehavior,
}
_TAGS = set(_UNION_MODELS)
_FIELD_MODELS: dict[str, type[BaseModel]] = {
    "weather": schema.WeatherSpec,
    "ego": schema.EgoSpec,
    "actors": schema.ActorSpec,
    "when": schema.Trigger,
    "repeat": schema.Repeat,
    "jitter": schema.Jitter,
    "remove": schema.Remove,
}


def _allowed_keys(raw_loc: tuple) -> list[str]:
    """Field names of the model that holds the last key of a raw pydantic location (union tags included)."""
    model: type[BaseModel] = Scenario
    for part in raw_loc[:-1]:
        if isinstance(part, int):
            continue
        model = _UNION_MODELS.get(part) or _FIELD_MODELS.get(part) or model
    return sorted(model.model_fields)
