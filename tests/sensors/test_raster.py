import numpy as np
import pytest

from occsim.classes import BUS, DRIVEABLE_SURFACE, FREE, SIDEWALK, TERRAIN
from occsim.scenario import build_world
from occsim.scenarios import load_scenario
from occsim.sensors import make_renderer, make_weather
from occsim.sensors.raster import RasterRenderer
from occsim.sensors.weather import koschmieder
from occsim.types import GROUND_LAYER, CameraRig, Weather

WEATHERS = ["clear", "fog", "rain", "snow", "night", "sandstorm"]


@pytest.fixture(scope="module")
def world():
    return build_world(load_scenario("bus_ahead"))  # no jitter: bus centre at s = 50, ego at s = 20


@pytest.fixture(scope="module")
def renderer():
    return RasterRenderer(CameraRig.nuscenes((90, 160)))


@pytest.mark.parametrize("kind", WEATHERS)
def test_same_seed_same_bytes(world, renderer, kind):
    a = renderer.render(world, Weather(kind), seed=5)
    b = renderer.render(world, Weather(kind), seed=5)
    assert a.rgb.shape == (6, 90, 160, 3) and a.rgb.dtype == np.uint8
    assert a.depth.dtype == np.float32 and a.semantic.dtype == np.uint8
    assert np.array_equal(a.rgb, b.rgb) and np.array_equal(a.depth, b.depth)


def test_seed_changes_only_random_effects(world, renderer):
    assert np.array_equal(
        renderer.render(world, Weather("clear"), 1).rgb, renderer.render(world, Weather("clear"), 2).rgb
    )
    assert not np.array_equal(
        renderer.render(world, Weather("rain"), 1).rgb, renderer.render(world, Weather("rain"), 2).rgb
    )


def test_bus_ahead_is_seen_at_its_depth(world, renderer):
    f = renderer.render(world, Weather("clear"), 0)
    front_sem, front_depth = f.semantic[1], f.depth[1]
    h, w = front_sem.shape
    centre = front_sem[h // 2 - 5 : h // 2, w // 2 - 3 : w // 2 + 3]
    assert np.all(centre == BUS)
    expected = (50.0 - 11.0 / 2) - (20.0 + 1.70)  # bus rear minus camera x
    assert np.median(front_depth[h // 2 - 5 : h // 2, w // 2 - 3 : w // 2 + 3]) == pytest.approx(expected, abs=0.05)
    assert not np.any(f.semantic[4] == BUS)  # not in the back camera


def test_sky_and_ground_geometry(world, renderer):
    f = renderer.render(world, Weather("clear"), 0)
    rig = renderer.rig
    assert f.semantic[1, 0, 80] == FREE and np.isinf(f.depth[1, 0, 80])
    v = 85
    fy, cy = rig.intrinsics[1, 1, 1], rig.intrinsics[1, 1, 2]
    expected = rig.cam2ego[1, 2, 3] * fy / (v + 0.5 - cy)  # level camera over a flat ground plane
    assert f.semantic[1, v, 80] in (DRIVEABLE_SURFACE, SIDEWALK, TERRAIN)
    assert f.depth[1, v, 80] == pytest.approx(expected, rel=1e-4)


def test_first_hits_match_a_brute_force_ray_march():
    world = build_world(load_scenario("stalled_truck_curve"))
    world.actors.clear()  # static voxels and ground only
    rig = CameraRig.nuscenes((12, 20))
    f = RasterRenderer(rig).render(world, Weather("clear"), 0)
    st = world.static
    rays = RasterRenderer(rig)._rays
    pose = world.ego.pose
    c, s = np.cos(pose.yaw), np.sin(pose.yaw)
    rot = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    labels_hit = np.full(f.semantic.shape, FREE)
    dist_hit = np.full(f.semantic.shape, np.inf)
    for cam in range(6):
        d = np.einsum("ij,hwj->hwi", rot @ rig.cam2ego[cam, :3, :3], rays[cam]).reshape(-1, 3)
        o = rot @ rig.cam2ego[cam, :3, 3] + (pose.x, pose.y, 0.0)
        alive = np.ones(len(d), bool)
        lab = np.full(len(d), FREE)
        dist = np.full(len(d), np.inf)
        for t in np.arange(0.0, 150.0, 0.01):
            p = o + t * d[alive]
            idx = np.floor((p - st.grid.lower) / st.grid.voxel_size).astype(int)
            inside = np.all((idx >= 0) & (idx < st.grid.shape), axis=1)
            raised = np.zeros(len(p), bool)
            ii = idx[inside]
            raised[inside] = (st.columns[ii[:, 0], ii[:, 1]] >> ii[:, 2].astype(np.uint64)) & np.uint64(1) == 1
            ground = p[:, 2] <= 0.0
            stop = raised | ground
            where = np.flatnonzero(alive)[stop]
            lab[where] = np.where(raised[stop], st.labels[ii_all(idx[stop])], -1)
            dist[where] = t
            alive[where] = False
            if not alive.any():
                break
        labels_hit[cam] = lab.reshape(12, 20)
        dist_hit[cam] = dist.reshape(12, 20)
    raised_px = labels_hit >= 0
    raised_px &= labels_hit != FREE
    renderer_raised = ~np.isin(f.semantic, [FREE, DRIVEABLE_SURFACE, SIDEWALK, TERRAIN])
    agree = (raised_px == renderer_raised).mean()
    assert agree > 0.99
    both = raised_px & renderer_raised
    assert both.sum() > 50
    assert np.mean(f.semantic[both] == labels_hit[both]) > 0.99
    ray_len = f.depth / rays[..., 2]  # depth is distance times the cosine to the optical axis
    assert np.median(np.abs(ray_len[both] - dist_hit[both])) < 0.02


def ii_all(idx):
    return idx[:, 0], idx[:, 1], idx[:, 2]


def test_ground_layer_is_not_raised(world):
    assert np.all((world.static.columns >> np.uint64(GROUND_LAYER)) & np.uint64(1) <= 1)


def test_koschmieder_law():
    j = np.full((1, 1, 2, 3), 0.2, np.float32)
    d = np.array([[[0.0, 40.0]]], np.float32)
    a = np.array([0.8, 0.8, 0.8], np.float32)
    out = koschmieder(j, d, visibility=40.0, airlight=a)
    assert out[0, 0, 0] == pytest.approx(j[0, 0, 0])
    t = np.exp(-3.912)
    assert out[0, 0, 1] == pytest.approx(0.2 * t + 0.8 * (1 - t), rel=1e-5)


def test_fog_hides_the_bus(world, renderer):
    clear = renderer.render(world, Weather("clear"), 0).rgb[1].astype(float)
    fog = renderer.render(world, Weather("fog", visibility=30.0), 0).rgb[1].astype(float)
    h, w = clear.shape[:2]
    bus = (slice(h // 2 - 5, h // 2), slice(w // 2 - 3, w // 2 + 3))
    road = (slice(h - 8, h), slice(w // 2 - 3, w // 2 + 3))
    contrast_clear = abs(clear[bus].mean() - clear[road].mean())
    contrast_fog = abs(fog[bus].mean() - fog[0:5].mean())  # bus against the foggy sky
    assert contrast_fog < 0.2 * contrast_clear


def test_weather_looks(world, renderer):
    clear = renderer.render(world, Weather("clear"), 0)
    night = renderer.render(world, Weather("night"), 0).rgb.astype(float)
    snow = renderer.render(world, Weather("snow"), 0).rgb.astype(float)
    sand = renderer.render(world, Weather("sandstorm"), 0).rgb.astype(float)
    assert night.mean() < 0.4 * clear.rgb.mean()
    # headlights light the road ahead, not behind
    assert night[1, -10:].mean() > 2 * night[4, -10:].mean()
    ground = np.isin(clear.semantic, [DRIVEABLE_SURFACE, SIDEWALK, TERRAIN])
    assert snow[ground].mean() > clear.rgb[ground].astype(float).mean() + 30
    assert sand[..., 0].mean() > sand[..., 2].mean() + 20  # ochre


def test_registries_reject_unknown_names():
    rig = CameraRig.nuscenes((8, 8))
    with pytest.raises(ValueError, match="did you mean 'raster'"):
        make_renderer("rastr", rig)
    with pytest.raises(ValueError, match="did you mean 'fog'"):
        make_weather(Weather("fogg"))


def test_screen_rects_hold_every_pixel_that_sees_a_box():
    """The kernel tests a box only inside its screen rectangle: every ray that meets the box must lie inside it."""
    from occsim.sensors.raster_kernel import screen_rects

    rig = CameraRig.nuscenes((48, 80))
    rng = np.random.default_rng(3)
    inv_k = np.linalg.inv(rig.intrinsics)
    v, u = np.meshgrid(np.arange(48) + 0.5, np.arange(80) + 0.5, indexing="ij")
    pix = np.stack([u, v, np.ones_like(u)], axis=-1)
    cam_rot, cam_pos = rig.cam2ego[:, :3, :3], rig.cam2ego[:, :3, 3]
    seen = 0
    for _ in range(40):
        box = np.array([*rng.normal(0.0, 12.0, 2), rng.uniform(-np.pi, np.pi), *rng.uniform(0.4, 10.0, 3), 4, 0])
        rects = screen_rects(box[None], cam_rot, cam_pos, rig.intrinsics, 48, 80, 150.0)
        c, s = np.cos(box[2]), np.sin(box[2])
        for cam in range(6):
            d = np.einsum("ij,hwj->hwi", cam_rot[cam] @ inv_k[cam], pix)  # world-frame ray directions
            o = cam_pos[cam] - (box[0], box[1], 0.0)
            lo_o = np.array([c * o[0] + s * o[1], -s * o[0] + c * o[1], o[2]])
            lo_d = np.stack([c * d[..., 0] + s * d[..., 1], -s * d[..., 0] + c * d[..., 1], d[..., 2]], -1)
            half = np.array([box[3] / 2, box[4] / 2, box[5]])
            with np.errstate(divide="ignore", invalid="ignore"):
                t1 = (np.array([-half[0], -half[1], 0.0]) - lo_o) / lo_d
                t2 = (half - lo_o) / lo_d
            near = np.nanmax(np.minimum(t1, t2), axis=-1)
            far = np.nanmin(np.maximum(t1, t2), axis=-1)
            hits = (near <= far) & (near > 0) & (near < 150.0)
            r0, r1, c0, c1 = rects[cam, 0]
            rows, cols = np.nonzero(hits)
            seen += len(rows)
            assert np.all((rows >= r0) & (rows <= r1) & (cols >= c0) & (cols <= c1)), (box, cam)
    assert seen > 1000  # the boxes were in view


def test_rising_rays_skip_the_voxel_walk_only_where_it_finds_nothing(world):
    """``_above_blocks`` lets a sky ray skip the voxel walk; it may say so only where the walk would miss."""
    from occsim.sensors.raster_kernel import _above_blocks, _walk_voxels
    from occsim.world.background import BLOCK

    st = world.static
    lower, voxel = np.asarray(st.grid.lower, dtype=np.float64), float(st.grid.voxel_size)
    span = np.asarray(st.grid.shape[:2]) * voxel
    rng = np.random.default_rng(0)
    skipped = walked = 0
    for _ in range(4000):
        o = np.array([*(lower[:2] + rng.uniform(0.1, 0.9, 2) * span), rng.uniform(0.3, 4.0)])
        d = np.array([*rng.normal(0.0, 1.0, 2), rng.uniform(0.005, 0.4)])
        d /= np.linalg.norm(d)
        limit = (st.top - o[2]) / d[2]
        clear = _above_blocks(*o, *d, limit, st.block_top, BLOCK, lower, voxel)
        found = _walk_voxels(
            *o, *d, limit, st.columns, st.labels, st.clearance, st.block_top, BLOCK, lower, voxel, 1 / voxel
        )[0]
        assert not (clear and found), (o, d)
        skipped += clear
        walked += found
    assert skipped > 400 and walked > 400  # both kinds of rising ray were drawn
