"""OpenDRIVE lanes (widths, offsets, sections, types), links and junctions, and the worlds built on them."""

import warnings

import numpy as np
import pytest

from occsim.classes import DRIVEABLE_SURFACE, OTHER_FLAT, SIDEWALK
from occsim.types import GROUND_LAYER
from occsim.world.opendrive.model import OpenDriveWarning
from occsim.world.opendrive.network import RoadNetwork
from occsim.world.opendrive.roads import road_map, route_keys, route_polyline
from occsim.world.opendrive.scenery import static_world
from occsim.world.xmlsafe import XmlError, parse_xml
from tests import openscenario_files as F


def _network(tmp_path, text, name="r.xodr"):
    return RoadNetwork.load(F.write(tmp_path, name, text))


def test_lane_width_polynomials_and_lane_offset_place_the_lanes(tmp_path):
    lanes = (
        '<left><lane id="1" type="driving"><width sOffset="0" a="3.0" b="0.01" c="0" d="0"/></lane></left>'
        '<center><lane id="0" type="none"/></center>'
        '<right><lane id="-1" type="driving"><width sOffset="0" a="3.5" b="0" c="0.0001" d="0"/></lane>'
        '<lane id="-2" type="sidewalk"><width sOffset="0" a="2" b="0" c="0" d="0"/></lane></right>'
    )
    offset = '<lanes><laneOffset s="0" a="0.5" b="0" c="0" d="0"/>'
    text = F.opendrive(F.road("0", F.line(0, 0, 0, 100), 100, lanes).replace("<lanes>", offset))
    road = _network(tmp_path, text).roads["0"]
    s = np.array([0.0, 50.0, 100.0])
    inner, outer = road.lane_t(1, s)
    assert np.allclose(inner, 0.5) and np.allclose(outer, 0.5 + 3.0 + 0.01 * s)
    inner, outer = road.lane_t(-1, s)
    assert np.allclose(outer, 0.5 - (3.5 + 0.0001 * s**2))
    assert road.lane_centre_t(-2, 0.0)[0] == pytest.approx(0.5 - 3.5 - 1.0)
    assert road.lane_at(10.0, -1.0) == -1 and road.lane_at(10.0, 2.0) == 1 and road.lane_at(10.0, -30.0) is None


def test_lane_sections_switch_lanes_and_links_carry_them_on(tmp_path):
    section = '<laneSection s="{s}">{lanes}</laneSection>'
    two = section.format(s=0, lanes=F.lanes(2, 1))
    one = section.format(s=60, lanes=F.lanes(1, 1))
    first = F.road(
        "0", F.line(0, 0, 0, 100), 100, "", links='<successor elementType="road" elementId="1" contactPoint="start"/>'
    )
    first = first.replace('<laneSection s="0"></laneSection>', two + one)
    second = F.road(
        "1",
        F.line(100, 0, 0, 50),
        50,
        F.lanes(1, 1),
        links='<predecessor elementType="road" elementId="0" contactPoint="end"/>',
    )
    network = _network(tmp_path, F.opendrive(first, second))
    road = network.roads["0"]
    assert road.lane_record(0, -2) is not None and road.lane_record(1, -2) is None
    key = network.lane_key("0", -1, 10.0)
    after = network.exits(key)
    assert after and after[0].section == 1 and after[0].lane == -1
    assert network.exits(after[0])[0].road == "1"
    with pytest.raises(ValueError, match="no lane -2 at s=80"):
        network.lane_key("0", -2, 80.0)


def test_a_route_turns_through_the_junction_the_way_asked(tmp_path):
    network = _network(tmp_path, F.junction_xodr())
    start = network.lane_key("0", 1, 100.0)  # arm 0 (east), driving west towards the junction
    ends = {}
    for turn in ("straight", "left", "right"):
        keys = route_keys(network, start, [turn])
        assert any(network.roads[k.road].in_junction for k in keys)
        ends[turn] = route_polyline(network, keys, 100.0)[-1]
    assert ends["straight"][0] < -100 and abs(ends["straight"][1]) < 3
    assert ends["left"][1] < -100  # heading west, a left turn goes south
    assert ends["right"][1] > 100
    with pytest.raises(ValueError, match="route has 2 turns"):
        route_keys(network, start, ["left", "left"])


def test_the_drivable_area_is_the_driving_lanes_only(tmp_path):
    lanes = F.lanes(1, 1, types={-1: "driving", 1: "driving"}).replace(
        "</right>",
        '<lane id="-2" type="shoulder"><width sOffset="0" a="2" b="0" c="0" d="0"/></lane>'
        '<lane id="-3" type="sidewalk"><width sOffset="0" a="3" b="0" c="0" d="0"/></lane></right>',
    )
    network = _network(tmp_path, F.opendrive(F.road("0", F.line(0, 0, 0, 200), 200, lanes)))
    roads = road_map(network)
    assert roads.is_drivable(np.array([[50.0, -1.7], [50.0, 1.7]])).all()
    assert not roads.is_drivable(np.array([[50.0, -4.5], [50.0, -7.0]])).any()  # shoulder, sidewalk
    static = static_world(network, roads, np.random.default_rng(0), scenery="none")
    grid = static.grid

    def at(x, y):
        return static.labels[
            int((x - grid.lower[0]) / grid.voxel_size), int((y - grid.lower[1]) / grid.voxel_size), GROUND_LAYER
        ]

    assert at(50.0, -1.7) == DRIVEABLE_SURFACE and at(50.0, -4.5) == OTHER_FLAT and at(50.0, -7.5) == SIDEWALK


def test_wide_test_track_lanes_work(tmp_path):
    network = _network(tmp_path, F.straight_xodr(300.0, 1, 1, width=28.0))
    assert network.roads["0"].lane_centre_t(-1, 10.0)[0] == pytest.approx(-14.0)
    assert road_map(network).is_drivable(np.array([[100.0, -27.0]]))[0]


def test_elevation_is_flattened_with_one_warning(tmp_path):
    text = F.straight_xodr().replace(
        "<lanes>", '<elevationProfile><elevation s="0" a="0" b="0.05" c="0" d="0"/></elevationProfile><lanes>'
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _network(tmp_path, text)
    assert len([w for w in caught if issubclass(w.category, OpenDriveWarning)]) == 1


def test_a_lane_without_a_width_is_zero_wide_with_a_warning(tmp_path):
    lanes = (
        '<left><lane id="2" type="none"/><lane id="1" type="driving"><width sOffset="0" a="3" b="0" c="0" d="0"/>'
        '</lane></left><center><lane id="0" type="none"/></center>'
        '<right><lane id="-1" type="driving"><width sOffset="0" a="3" b="0" c="0" d="0"/></lane></right>'
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        network = _network(tmp_path, F.opendrive(F.road("0", F.line(0, 0, 0, 100), 100, lanes)))
    assert [w for w in caught if "neither <width> nor <border>" in str(w.message)]
    assert network.roads["0"].lane_centre_t(2, 50.0)[0] == pytest.approx(3.0)


def test_unsupported_geometry_is_a_file_line_error(tmp_path):
    text = F.straight_xodr().replace("<line/>", "<curl/>")
    with pytest.raises(XmlError, match=r"r.xodr:1: <geometry>: needs exactly one of line"):
        _network(tmp_path, text)


def test_xml_bombs_and_external_entities_are_refused_at_once():
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><OpenDRIVE>&d;</OpenDRIVE>'
    )
    external = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><OpenSCENARIO>&e;</OpenSCENARIO>'
    )
    for data in (bomb, external):  # refused before anything is expanded or fetched (benchmarks time it)
        with pytest.raises(XmlError, match="DOCTYPE declaration is refused"):
            parse_xml(data, "bad.xml")


def test_a_roads_speed_limit_is_read_in_metres_per_second(tmp_path):
    text = F.straight_xodr().replace(
        "<planView>", '<type s="0" type="motorway"><speed max="130" unit="km/h"/></type><planView>'
    )
    assert _network(tmp_path, text).roads["0"].record.speed_limit == pytest.approx(130 / 3.6)
    unlimited = F.straight_xodr().replace(
        "<planView>", '<type s="0" type="town"><speed max="no limit"/></type><planView>'
    )
    assert _network(tmp_path, unlimited, "u.xodr").roads["0"].record.speed_limit is None
