"""``occsim convert``: an OpenSCENARIO file as an OccSim YAML scenario (or, for a variation file, a sweep).

OccSim's YAML has words for the map, the weather and the time limit; the storyboard (entities, Init, stories,
every condition and action) has none, so the YAML language carries it as an ``openscenario`` block: the document
in YAML form (each element a mapping, attributes lower case, child elements capitalised, exactly the XML's
content), the catalog entries it uses, and the parameter values. Nothing is dropped: the converted file runs
the same storyboard as the .xosc, and its parameters, positions and speeds can be edited in place. A variation
file's distributions go into ``openscenario.distribution``, so the YAML is a sweep of the same runs.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from occsim.scenario.openscenario.document import referenced_catalogs
from occsim.scenario.openscenario.load import document_of, is_variation_file, load_sweep, load_xosc
from occsim.scenario.openscenario.variations import read_variations
from occsim.scenario.problems import Problem, ScenarioError
from occsim.world.xmlsafe import XmlError

HEADER = """\
# Converted by `occsim convert` from {source}.
# The openscenario block is the file's storyboard in YAML form (elements as mappings, attributes in lower case,
# child elements capitalised); edit parameters under openscenario.document.ParameterDeclarations, or any element.
"""


def convert(source: str | Path, out: str | Path, ego: str | None = None) -> str:
    """Write the YAML form of ``source`` (a scenario or variation .xosc) to ``out``; returns the text written.

    Raises:
        ScenarioError: the file cannot be read or holds something OccSim does not support.
    """
    source, out = Path(source).resolve(), Path(out).resolve()
    distribution = None
    base = source
    if is_variation_file(source):
        sweep = load_sweep(source, ego)  # checks the base scenario with the first run's parameters
        try:
            variations = read_variations(source)
        except XmlError as e:
            raise ScenarioError([Problem(e.file or str(source), e.line, "", e.message)]) from None
        base = Path(variations.scenario)
        distribution = {k: v for k, v in variations.node.to_data().items() if k != "ScenarioFile"}
        scenario = sweep.scenario(0, 0)[0]
    else:
        scenario = load_xosc(source, ego=ego)
    document = document_of(base)
    catalogs = {
        name: {entry: {node.tag: node.to_data()} for entry, node in entries.items()}
        for name, entries in referenced_catalogs(document).items()
    }
    body = {k: v for k, v in document.root.to_data().items() if k not in ("CatalogLocations", "RoadNetwork")}
    data = {
        "version": 1,
        "name": scenario.name if distribution is None else _stem_name(source),
        "description": scenario.description,
        "tags": list(scenario.tags),
        "map": {"type": "opendrive", "file": _relative(scenario.map.file, out.parent)},
        "weather": scenario.weather.model_dump(exclude_none=True),
        "duration": scenario.duration,
        "dt": scenario.dt,
        "openscenario": {
            "file": _relative(str(base), out.parent),
            **({"variations": _relative(str(source), out.parent)} if distribution is not None else {}),
            **({"ego": ego} if ego else {}),
            "document": body,
            "catalogs": catalogs,
            **({"distribution": distribution} if distribution is not None else {}),
        },
    }
    text = HEADER.format(source=source.name) + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return text


def _relative(path: str, folder: Path) -> str:
    try:
        return os.path.relpath(path, folder)
    except ValueError:  # another drive (Windows)
        return path


def _stem_name(path: Path) -> str:
    from occsim.scenario.openscenario.load import slug

    return slug(path.stem)
