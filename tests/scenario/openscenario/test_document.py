"""Reading OpenSCENARIO documents: parameters, expressions, catalogs with assignments, constraints, errors."""

import warnings

import pytest

from occsim.scenario.openscenario.document import ConstraintWarning, read_document, referenced_catalogs, resolve
from occsim.world.xmlsafe import XmlError
from tests import openscenario_files as F

CATALOG = """<?xml version="1.0"?><OpenSCENARIO><FileHeader revMajor="1" revMinor="2" date="2026-01-01T00:00:00" description="c" author="t"/>
<Catalog name="Cars">
  <Vehicle name="sized" vehicleCategory="car">
    <ParameterDeclarations><ParameterDeclaration name="Length" parameterType="double" value="4"/></ParameterDeclarations>
    <BoundingBox><Center x="1.4" y="0" z="0.8"/><Dimensions width="1.8" length="$Length" height="1.5"/></BoundingBox>
    <Performance maxSpeed="50" maxAcceleration="5" maxDeceleration="9"/><Axles><FrontAxle maxSteering="0.5" wheelDiameter="0.6" trackWidth="1.6" positionX="2.8" positionZ="0.3"/><RearAxle maxSteering="0" wheelDiameter="0.6" trackWidth="1.6" positionX="0" positionZ="0.3"/></Axles><Properties/>
  </Vehicle>
</Catalog></OpenSCENARIO>"""

PARAMETERS = (
    '<ParameterDeclaration name="Speed_kph" parameterType="double" value="36"/>'
    '<ParameterDeclaration name="_Speed" parameterType="double" value="${$Speed_kph / 3.6}"/>'
    '<ParameterDeclaration name="Lane" parameterType="int" value="-1"/>'
    '<ParameterDeclaration name="Long" parameterType="double" value="6"/>'
)


def _write(tmp_path, entities=None, parameters=PARAMETERS, init=None):
    (tmp_path / "cat").mkdir(exist_ok=True)
    F.write(tmp_path / "cat", "cars.xosc", CATALOG)
    F.write(tmp_path, "road.xodr", F.straight_xodr())
    reference = (
        '<CatalogReference catalogName="Cars" entryName="sized"><ParameterAssignments>'
        '<ParameterAssignment parameterRef="Length" value="$Long"/></ParameterAssignments></CatalogReference>'
    )
    entities = entities or {"Ego": reference}
    init = init or {"Ego": [F.teleport(F.lane_position("0", "$Lane", "${10 + 5}")), F.speed("$_Speed")]}
    text = F.xosc(
        entities, init, parameters=parameters, catalogs='<VehicleCatalog><Directory path="cat"/></VehicleCatalog>'
    )
    return F.write(tmp_path, "s.xosc", text)


def test_parameters_expressions_and_catalog_assignments_resolve(tmp_path):
    document = read_document(_write(tmp_path))
    resolved = resolve(document)
    assert resolved.parameters["_Speed"] == pytest.approx(10.0)
    nodes = {n.tag: n for n in resolved.root.walk()}
    assert nodes["LanePosition"].attrs == {"roadId": "0", "laneId": "-1", "s": "15", "offset": "0.0"}
    assert nodes["AbsoluteTargetSpeed"].attrs["value"] == "10"
    assert nodes["Dimensions"].attrs["length"] == "6"  # the reference's assignment, through the outer parameter
    assert "CatalogReference" not in nodes
    assert set(referenced_catalogs(document)["Cars"]) == {"sized"}


def test_overrides_replace_declared_values_before_dependent_ones_are_evaluated(tmp_path):
    resolved = resolve(read_document(_write(tmp_path)), {"Speed_kph": "72"})
    assert resolved.parameters["_Speed"] == pytest.approx(20.0)
    with pytest.raises(XmlError, match="no parameter 'Nope' is declared"):
        resolve(read_document(_write(tmp_path)), {"Nope": "1"})


def test_an_unknown_parameter_is_a_file_line_error(tmp_path):
    init = {"Ego": [F.teleport(F.lane_position("0", -1, "$Where"))]}
    with pytest.raises(XmlError, match=r"s.xosc:1: <LanePosition>: s='\$Where': no parameter 'Where'"):
        resolve(read_document(_write(tmp_path, init=init)))


def test_a_missing_catalog_entry_names_the_entries(tmp_path):
    entities = {"Ego": '<CatalogReference catalogName="Cars" entryName="szed"/>'}
    with pytest.raises(XmlError, match="has no entry 'szed'; entries: sized"):
        resolve(read_document(_write(tmp_path, entities=entities)))


def test_a_broken_constraint_warns_and_runs(tmp_path):
    parameters = PARAMETERS + (
        '<ParameterDeclaration name="Gap" parameterType="double" value="2">'
        '<ConstraintGroup><ValueConstraint rule="greaterThan" value="${$Long - 1}"/></ConstraintGroup></ParameterDeclaration>'
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        resolve(read_document(_write(tmp_path, parameters=parameters)))
    assert any(issubclass(w.category, ConstraintWarning) and "greaterThan 5" in str(w.message) for w in caught)


def test_only_openscenario_one_point_zero_to_three(tmp_path):
    path = _write(tmp_path)
    path.write_text(path.read_text().replace('revMinor="2"', 'revMinor="7"'))
    with pytest.raises(XmlError, match="OpenSCENARIO 1.7 is not supported"):
        read_document(path)


def test_a_declared_dollar_name_is_read_as_the_name(tmp_path):
    """Some files declare ``name="$Speed"``; players read it as ``Speed``."""
    parameters = PARAMETERS.replace('name="Long"', 'name="$Long"')
    resolved = resolve(read_document(_write(tmp_path, parameters=parameters)))
    assert resolved.parameters["Long"] == 6
