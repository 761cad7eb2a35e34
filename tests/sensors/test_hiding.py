"""Hiding actors from the cameras: the picture is the world's without them, the world keeps them."""

import numpy as np

from envs.occsim_env import OccSimEnv
from occsim.scenarios import load_scenario
from occsim.sensors import make_renderer
from occsim.sensors.hiding import HidingRenderer
from occsim.types import CameraRig, Weather

HW = (64, 112)


def test_a_hidden_actor_is_left_out_of_the_picture_and_only_it():
    env = OccSimEnv(load_scenario("bus_ahead"), camera_hw=HW)
    env.reset(seed=0)
    world = env.sim.world
    inner = make_renderer("raster", CameraRig.nuscenes(HW))
    hiding = HidingRenderer(inner)
    weather = Weather()
    shown = hiding.render(world, weather, 0).rgb
    assert np.array_equal(shown, inner.render(world, weather, 0).rgb)  # nothing hidden: the inner renderer's bytes
    bus = world.actors[0].id
    hiding.hidden = {bus}
    without = hiding.render(world, weather, 0).rgb
    assert not np.array_equal(without, shown)  # the bus ahead was in the front view
    assert bus in [a.id for a in world.actors]  # the world still holds it
    hiding.hidden = {"no such actor"}
    assert np.array_equal(hiding.render(world, weather, 0).rgb, shown)
    hiding.reset(world)
    assert hiding.hidden == set()
