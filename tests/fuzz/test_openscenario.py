"""Fuzz: the OpenSCENARIO and OpenDRIVE readers. Mutated .xosc/.xodr load, or fail with the reader's own error
(ScenarioError or XmlError) naming the file and line; entity bombs and external entities are refused unexpanded."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree

from occsim.scenario import Scenario, ScenarioError, build_world
from occsim.scenario.openscenario.load import Sweep, load_openscenario
from occsim.world.xmlsafe import XmlError
from tests import openscenario_files as F
from tests.fuzz.profiles import budget

pytestmark = pytest.mark.fuzz

STORY = F.story("Lead", F.event("brake", F.speed(0.0, "linear", "rate", 4.0), F.trigger(F.sim_time(2.0))), act_start="")
XOSC = F.xosc(
    {"Ego": F.vehicle("ego"), "Lead": F.vehicle("lead")},
    {
        "Ego": [F.teleport(F.lane_position("0", -1, 50.0)), F.speed(10.0)],
        "Lead": [F.teleport(F.lane_position("0", -1, 90.0)), F.speed(8.0)],
    },
    stories=STORY,
)
XODR = F.straight_xodr(300.0)
HOSTILE = st.one_of(
    st.sampled_from(
        [
            "",
            "nan",
            "NaN",
            "inf",
            "-inf",
            "1e308",
            "-1e308",
            "1e999",
            "0",
            "-1",
            "$nope",
            "${1 / 0}",
            "${2 ** 99999}",
            "$",
            "true",
            "x" * 10_000,
            "é",
            "\x7f",
            "../../../etc/passwd",
        ]
    ),
    st.text(max_size=12).filter(lambda t: all(ch.isprintable() for ch in t)),
    st.floats().map(repr),
)
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><OpenSCENARIO>&d;</OpenSCENARIO>'
)
XXE = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><OpenSCENARIO>&e;</OpenSCENARIO>'


@st.composite
def mutated_xml(draw, text: str) -> str:
    """``text`` with up to four XML mutations: attributes set to hostile values, elements dropped or doubled."""
    root = etree.fromstring(text.encode())
    for _ in range(draw(st.integers(0, 4))):
        elements = list(root.iter())
        element = draw(st.sampled_from(elements))
        action = draw(st.sampled_from(["attribute", "drop", "double", "rename", "new attribute", "text"]))
        if action == "attribute" and element.attrib:
            element.set(draw(st.sampled_from(sorted(element.attrib))), draw(HOSTILE))
        elif action == "drop" and element.getparent() is not None:
            element.getparent().remove(element)
        elif action == "double" and element.getparent() is not None:
            element.addnext(etree.fromstring(etree.tostring(element)))
        elif action == "rename":
            element.tag = draw(st.sampled_from(["Bogus", "Entities", "Private", "LanePosition", "Event"]))
        elif action == "new attribute":
            element.set(draw(st.sampled_from(["value", "s", "name", "bogus"])), draw(HOSTILE))
        elif action == "text":
            element.text = draw(HOSTILE)
    out = etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()
    if draw(st.integers(0, 9)) == 0:  # a truncated file
        out = out[: draw(st.integers(0, len(out)))]
    return out


def load_within_bounds(xosc: str, xodr: str):
    """Load the pair from a fresh folder: a scenario (its world built) or the reader's own located error."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = F.write(folder, "test.xosc", xosc)
        F.write(folder, "road.xodr", xodr)
        start = time.perf_counter()
        try:
            loaded = load_openscenario(path)
            scenario = loaded.scenario(0, 0)[0] if isinstance(loaded, Sweep) else loaded
            assert isinstance(scenario, Scenario)
            build_world(scenario, 0)
        except ScenarioError as e:
            for problem in e.problems:
                assert problem.file.endswith((".xosc", ".xodr")) or problem.file.startswith("<"), problem
                assert problem.line is not None or problem.field or problem.message, problem
        except XmlError as e:
            assert e.file is None or e.file.endswith((".xosc", ".xodr")), str(e)
            assert e.message, str(e)
        assert time.perf_counter() - start < 10.0


@given(mutated_xml(XOSC))
@example(XOSC)
@example(BOMB)
@example(XXE)
@example(XOSC.replace('value="10.0"', 'value="nan"'))
@example(XOSC.replace('s="90.0"', 's="1e308"'))
@example(XOSC.replace('filepath="road.xodr"', 'filepath=""'))  # found: named the folder, no line
@example(XOSC.replace('<Center x="1.4"', '<Center x="9007199254740992.0"', 1))  # found: a body 2^53 m off its centre
@example(XOSC.replace('filepath="road.xodr"', 'filepath="../../../etc/passwd"'))  # found: read as a road network
@budget(0.5)
def test_mutated_xosc_load_or_give_located_errors(xosc):
    load_within_bounds(xosc, XODR)


@given(mutated_xml(XODR))
@example(XODR)
@example(BOMB.replace("OpenSCENARIO", "OpenDRIVE"))
@example(XXE.replace("OpenSCENARIO", "OpenDRIVE"))
@example(XODR.replace('length="300.0"', 'length="1e308"', 1))  # found: a road this long sampled every 0.5 m
@example(XODR.replace('<geometry s="0"', '<geometry s="300"', 1))  # found: a reference line starting at the road's end
@example(XODR.replace('hdg="0" length="300.0"', 'hdg="0" length="0"', 1))  # found: a reference line of length 0
@example(XODR.replace('hdg="0" length="300.0"', 'hdg="0" length="1E-200"', 1))  # found: and of length 1e-200
@budget(0.5)
def test_mutated_xodr_load_or_give_located_errors(xodr):
    load_within_bounds(XOSC, xodr)
