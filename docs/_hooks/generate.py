"""MkDocs hooks: the parts of the docs that are generated from the code, so they cannot drift from it.

A page asks for a generated part with a marker on a line of its own, ``<!-- generated: NAME -->``:

- ``scenario-schema``: every model and field of the scenario YAML schema (``occsim.scenario.schema``);
- ``cli``: every ``occsim`` command with its usage, help and options (the Typer app's click commands);
- ``benchmarks``: a table per file in ``benchmarks/results/`` with the machine and date it was measured on.

The model cards beside the shipped weights (``*/weights/*/MODEL_CARD.md``) become pages under ``models/``, with the
pictures they show, and the pictures in ``benchmarks/results/`` are served under ``results/``.
"""

from __future__ import annotations

import json
import re
import subprocess
import types
import typing
from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[2]
MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.MULTILINE)
CARD_FOLDERS = ("planners/weights", "occsim/generative/weights")


# --- model cards -------------------------------------------------------------------------------------------------


def model_cards() -> dict[str, Path]:
    """Page name (the weights folder's name) -> the model card beside the weights."""
    cards = {}
    for folder in CARD_FOLDERS:
        for card in sorted((ROOT / folder).glob("*/MODEL_CARD.md")):
            cards[card.parent.name] = card
    return cards


def on_files(files, config):
    """Add each model card as ``models/NAME.md`` and the pictures beside it as ``models/NAME/PICTURE``."""
    for name, card in model_cards().items():
        text = card.read_text()
        text = re.sub(r"\]\((?!https?:|#|/)([^)]+\.(?:png|gif|jpg))\)", rf"]({name}/\g<1>)", text)
        text += f"\n\n*This page is `{card.relative_to(ROOT)}`, the model card beside the weights.*\n"
        files.append(File.generated(config, f"models/{name}.md", content=text))
        for picture in sorted(card.parent.glob("*.png")):
            files.append(File.generated(config, f"models/{name}/{picture.name}", abs_src_path=str(picture)))
    for picture in sorted((ROOT / "benchmarks" / "results").glob("*.png")):
        files.append(File.generated(config, f"results/{picture.name}", abs_src_path=str(picture)))
    return files


# --- page markers ------------------------------------------------------------------------------------------------


def on_page_markdown(markdown, page, config, files):
    """Replace every ``<!-- generated: NAME -->`` marker with its generated Markdown."""
    generators = {"scenario-schema": scenario_schema, "cli": cli_reference, "benchmarks": benchmark_tables}

    def generate(match: re.Match) -> str:
        name = match.group(1)
        if name not in generators:
            raise ValueError(f"{page.file.src_uri}: unknown generated part {name!r}; known: {', '.join(generators)}")
        return generators[name]()

    return MARKER.sub(generate, markdown)


# --- the scenario schema -----------------------------------------------------------------------------------------


def scenario_schema() -> str:
    """A section per pydantic model reachable from ``Scenario``: its docstring and a table of its fields."""
    from pydantic import BaseModel

    from occsim.scenario.schema import Scenario

    models: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in models:
            return
        models.append(model)
        for field in model.model_fields.values():
            for inner in _models_in(field.annotation):
                visit(inner)

    visit(Scenario)
    lines = []
    for model in models:
        lines += [f"### {model.__name__}", "", _doc(model), ""]
        lines += ["| field | type | default | meaning |", "|---|---|---|---|"]
        for name, field in model.model_fields.items():
            meaning = (field.description or "").replace("|", "\\|")
            limits = _limits(field)
            if limits:
                meaning = f"{meaning} ({limits})" if meaning else limits
            lines.append(f"| `{name}` | {_type_text(field.annotation)} | {_default(field)} | {meaning} |")
        lines.append("")
    return "\n".join(lines)


def _doc(model) -> str:
    return " ".join((model.__doc__ or "").split()).replace("``", "`")


def _models_in(annotation) -> list:
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _type_text(annotation) -> str:
    from pydantic import BaseModel

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return "null"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return f"[{annotation.__name__}](#{annotation.__name__.lower()})"
    if origin is typing.Literal:
        return " \\| ".join(f"`{a!r}`" if not isinstance(a, str) else f"`{a}`" for a in args)
    if origin is typing.Annotated:
        return _type_text(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_text(a) for a in args)
    if origin is list:
        return f"list of {_type_text(args[0])}"
    if origin is tuple:
        return "[" + ", ".join(_type_text(a) for a in args) + "]"
    if origin is dict:
        return f"mapping of {_type_text(args[0])} to {_type_text(args[1])}"
    if annotation is dict:
        return "mapping"
    return {int: "integer", float: "number", str: "string", bool: "boolean"}.get(annotation, str(annotation))


def _default(field) -> str:
    from pydantic import BaseModel

    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if isinstance(value, BaseModel):
        set_fields = value.model_dump(exclude_defaults=True)
        return f"`{json.dumps(set_fields)}`" if set_fields else "all defaults"
    return f"`{json.dumps(value)}`"


def _limits(field) -> str:
    names = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "min_length": "at least", "max_length": "at most"}
    parts = []
    for item in field.metadata:
        for attr, word in names.items():
            value = getattr(item, attr, None)
            if value is not None:
                unit = " items or characters" if "length" in attr else ""
                parts.append(f"{word} {value}{unit}")
        pattern = getattr(item, "pattern", None)
        if pattern:
            parts.append(f"matches `{pattern}`")
    return ", ".join(parts)


# --- the command line --------------------------------------------------------------------------------------------


def cli_reference() -> str:
    """A section per ``occsim`` command, from the same command objects ``occsim COMMAND --help`` prints."""
    import typer

    from occsim.cli import app

    group = typer.main.get_command(app)
    root = group.context_class(group, info_name="occsim")
    lines = [group.help or "", ""]
    for name in group.list_commands(root):
        command = group.get_command(root, name)
        context = command.context_class(command, info_name=name, parent=root)
        lines += [f"### occsim {name}", "", "```text", command.get_usage(context), "```", ""]
        lines += [_clean(command.help or ""), ""]
        lines += ["| argument or option | type | default | help |", "|---|---|---|---|"]
        lines += [_param_row(param) for param in command.params if param.name != "help"]
        lines.append("")
    return "\n".join(lines)


def _clean(text: str) -> str:
    """Help text as Markdown: its paragraphs kept, the lines inside a paragraph joined."""
    return "\n\n".join(" ".join(p.split()) for p in text.strip().split("\n\n"))


def _param_type(annotation) -> str:
    from pathlib import PurePath

    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return _param_type(args[0])
    if typing.get_origin(annotation) is list:
        return _param_type(args[0])
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return "path"
    return {int: "integer", float: "number", str: "text", bool: "flag"}.get(annotation, str(annotation))


def _param_row(param) -> str:
    """One table row: names, type (with its range), default and help of an argument or option."""
    argument = param.param_type_name == "argument"
    names = f"`{param.name}`" if argument else ", ".join(f"`{o}`" for o in [*param.opts, *param.secondary_opts])
    kind = "flag" if getattr(param, "is_flag", False) else _param_type(param.type_descriptor.annotation)
    if param.min is not None or param.max is not None:
        kind += f" ({'' if param.min is None else param.min}..{'' if param.max is None else param.max})"
    if param.multiple or param.nargs == -1:
        kind += ", repeatable"
    if param.required:
        default = "required"
    elif param.default is None or getattr(param, "is_flag", False) and param.default is False:
        default = ""
    else:
        default = f"`{param.default}`"
    help_text = _clean(param.help or "").replace("|", "\\|")
    return f"| {names} | {kind} | {default} | {help_text} |"


# --- benchmark results -------------------------------------------------------------------------------------------


def benchmark_tables() -> str:
    """A section per ``benchmarks/results/*.json`` file: where and when it was measured, then its figures."""
    lines = []
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        data = json.loads(path.read_text())
        lines += [f"### {path.stem}", "", _provenance(path, data), ""]
        lines += _tables(data, level=4)
        lines.append("")
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.md")):
        text = path.read_text().strip()
        title, _, body = text.partition("\n") if text.startswith("# ") else (f"# {path.stem}", "", text)
        lines += [f"### {path.stem}", "", f"*{title.lstrip('# ').strip()}*", "", _provenance(path, {}), "", body, ""]
    return "\n".join(lines)


def _provenance(path: Path, data) -> str:
    fields = data if isinstance(data, dict) else {}
    machine = fields.get("machine")
    details = [
        f"{fields[k]} {label}" for k, label in (("cpu_count", "CPUs"), ("threads", "torch threads")) if k in fields
    ]
    if "device" in fields:
        details.append(f"device {fields['device']}")
    where = ", ".join(([str(machine)] if machine else []) + details)
    where = where or "not recorded in the file"
    if "date" in fields:
        when = str(fields["date"])
    else:
        when = f"{_git_date(path)} (not recorded in the file: the date of the commit that last changed it)"
    return f"`benchmarks/results/{path.name}`. Machine: {where}. Date: {when}."


def _git_date(path: Path) -> str:
    try:
        result = subprocess.run(
            ["git", "log", "-1", "--format=%cs", "--", str(path)], cwd=ROOT, capture_output=True, text=True, timeout=30
        )
    except OSError:
        return "unknown"
    return result.stdout.strip() or "unknown (not committed)"


SKIP = {"machine", "date", "cpu_count", "threads", "device"}


def _scalar(value) -> bool:
    return value is None or isinstance(value, (int, float, str, bool))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and all(_scalar(v) for v in value):
        return (
            " × ".join(_fmt(v) for v in value)
            if all(isinstance(v, int) for v in value)
            else ", ".join(map(_fmt, value))
        )
    return "" if value is None else str(value).replace("|", "\\|")


def _table(rows: dict[str, dict], key_name: str) -> list[str]:
    columns = list(dict.fromkeys(c for row in rows.values() for c in row))
    lines = [f"| {key_name} | " + " | ".join(map(str, columns)) + " |", "|---" * (len(columns) + 1) + "|"]
    for key, row in rows.items():
        lines.append(f"| {key} | " + " | ".join(_fmt(row.get(c)) for c in columns) + " |")
    return lines + [""]


def _tables(data, level: int, title: str = "") -> list[str]:
    lines = []
    if isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
        first = next(iter(data[0]))
        rows = {_fmt(row.get(first)): {k: v for k, v in row.items() if k != first} for row in data}
        flat = {k: {c: v for c, v in row.items() if _scalar(v) or isinstance(v, list)} for k, row in rows.items()}
        return _table(flat, first)
    if not isinstance(data, dict):
        return [_fmt(data), ""]
    scalars = {k: v for k, v in data.items() if (_scalar(v) or isinstance(v, list) and all(map(_scalar, v)))}
    scalars = {k: v for k, v in scalars.items() if k not in SKIP}
    rows = {k: v for k, v in data.items() if isinstance(v, dict) and v and all(_scalar(x) for x in v.values())}
    rest = {k: v for k, v in data.items() if k not in scalars and k not in rows and k not in SKIP}
    if scalars:
        lines += ["| figure | value |", "|---|---|"] + [f"| {k} | {_fmt(v)} |" for k, v in scalars.items()] + [""]
    if rows:
        lines += _table(rows, "")
    for key, value in rest.items():
        heading = f"{title} / {key}" if title else str(key)
        lines += [f"{'#' * min(level, 6)} {heading}", ""] + _tables(value, level + 1, heading)
    return lines
