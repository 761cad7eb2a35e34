import numpy as np
import pytest

from occsim.world.roadmap import build_curve, build_intersection, build_straight


def test_straight_lane_positions_and_directions():
    m = build_straight(lanes=2, oncoming_lanes=1, lane_width=3.5, length=100)
    assert m.lane(0).pose_at(10.0) == pytest.approx((10.0, -5.25, 0.0))
    assert m.lane(1).pose_at(10.0) == pytest.approx((10.0, -1.75, 0.0))
    x, y, yaw = m.lane(-1).pose_at(10.0)
    assert (x, y) == pytest.approx((10.0, 1.75)) and abs(abs(yaw) - np.pi) < 1e-9
    # offset is left of the driving direction: left of an oncoming lane is -y
    assert m.lane(-1).pose_at(10.0, offset=1.0)[1] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="allowed -1..1"):
        m.lane(2)


def test_drivable_area_covers_lanes_only():
    m = build_straight(lanes=2, oncoming_lanes=1, lane_width=3.5, length=100)
    assert m.is_drivable(np.array([[50.0, -6.9], [50.0, 3.4]])).all()
    assert not m.is_drivable(np.array([[50.0, -7.2], [50.0, 3.7], [120.0, 0.0]])).any()


def test_project_inverts_to_world_on_a_curve():
    m = build_curve(radius=60.0, length=150)
    road = m.roads[0]
    s = np.array([5.0, 40.0, 90.0])
    lat = np.array([-3.0, 1.0, 2.5])
    station, lateral = road.project(road.to_world(s, lat))
    assert station == pytest.approx(s, abs=0.05)
    assert lateral == pytest.approx(lat, abs=0.05)


def test_curve_lane_moves_at_lane_speed():
    m = build_curve(radius=40.0, length=120)
    inner, outer = m.lane(1), m.lane(0)  # lane 1 is nearer the centre of a left-hand bend
    assert abs(inner.station_rate(50.0)) > abs(outer.station_rate(50.0))


def test_intersection_has_two_crossing_roads():
    m = build_intersection(length=200)
    assert len(m.roads) == 2
    assert m.is_drivable(np.array([[100.0, -60.0], [30.0, 0.0]])).all()
    _, _, yaw = m.lane(0, road=1).pose_at(10.0)
    assert yaw == pytest.approx(np.pi / 2)


def test_one_station_frame_matches_the_array_path_to_the_bit():
    """``frame_at`` of a single station (compiled, every actor at every substep) is the array path's, bit for bit."""
    road = build_curve(radius=45.0, length=150).roads[0]
    rng = np.random.default_rng(0)
    stations = np.concatenate(
        [rng.uniform(road.stations[0] - 30.0, road.stations[-1] + 30.0, 300), road.stations[:5], road.stations[-2:]]
    )
    points, headings, normals = road.frame_at(stations)
    for k, s in enumerate(stations):
        point, heading, normal = road.frame_at(float(s))
        assert np.array_equal(point, points[k]) and heading == headings[k] and np.array_equal(normal, normals[k])


def test_project_finds_the_nearest_point_of_the_reference():
    from shapely.geometry import LineString, Point

    road = build_curve(radius=30.0, length=120).roads[0]
    line = LineString(road.reference)
    rng = np.random.default_rng(1)
    lo, hi = road.reference[20:-20].min(axis=0), road.reference[20:-20].max(axis=0)
    points = rng.uniform(lo - 10.0, hi + 10.0, (200, 2))
    station, lateral = road.project(points)
    inside = (station > road.stations[0] + 1.0) & (station < road.stations[-1] - 1.0)  # past the ends it extends
    assert inside.sum() > 150
    for p, s, lat in zip(points[inside], station[inside], lateral[inside]):
        foot = road.to_world(s, 0.0)
        assert np.hypot(*(p - foot)) == pytest.approx(line.distance(Point(p)), abs=1e-6)
        assert abs(lat) == pytest.approx(line.distance(Point(p)), abs=0.01)  # off a vertex: its normal part only
    single = road.project(points[7])
    assert single[0][0] == station[7] and single[1][0] == lateral[7]
