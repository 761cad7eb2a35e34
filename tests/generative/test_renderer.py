import gymnasium as gym
import numpy as np
import pytest

import occsim  # noqa: F401 - registers the env ids
from occsim.classes import FREE
from occsim.generative.renderers.syntheocc import SMALL_WEIGHTS, SyntheOccRenderer
from occsim.registry import Registry
from occsim.scenario import weather_of
from occsim.scenarios import load_scenario
from occsim.sensors import RENDERERS, RasterRenderer
from occsim.types import CameraRig, Weather


def test_views_at_the_rigs_size_geometry_from_the_raster_and_the_same_seed_gives_the_same_bytes(weights, world):
    rig = CameraRig.nuscenes((64, 112))
    renderer = SyntheOccRenderer(rig, weights=weights, steps=2, init="noise")
    a = renderer.render(world, Weather("fog"), seed=3)
    b = renderer.render(world, Weather("fog"), seed=3)
    c = renderer.render(world, Weather("fog"), seed=4)
    assert a.rgb.shape == (6, 64, 112, 3) and a.rgb.dtype == np.uint8  # generated at 32 x 56, resized
    assert np.array_equal(a.rgb, b.rgb) and not np.array_equal(a.rgb, c.rgb)
    raster = RasterRenderer(rig).render(world, Weather("fog"), seed=3)
    assert np.array_equal(a.semantic, raster.semantic) and np.array_equal(a.depth, raster.depth)
    assert (a.semantic != FREE).any()


def test_the_prompt_follows_weather_scenario_text_and_user_in_that_order(weights, world, monkeypatch):
    rig = CameraRig.nuscenes((32, 56))
    prompts = []
    renderer = SyntheOccRenderer(rig, weights=weights, steps=1, guidance=1.0)

    def record(self, mpi, nearest, prompt, **kwargs):
        prompts.append(prompt)
        return np.zeros((6, 32, 56, 3), np.uint8)

    monkeypatch.setattr(type(renderer.pipe), "__call__", record)
    renderer.render(world, Weather("night"), seed=0)
    renderer.render(world, Weather("night", prompt="a rainy night in Boston"), seed=0)
    renderer.prompt = "a toy town"
    renderer.render(world, Weather("night", prompt="a rainy night in Boston"), seed=0)
    assert "night" in prompts[0] and prompts[1:] == ["a rainy night in Boston", "a toy town"]


def test_bad_options_are_clear(weights, tmp_path):
    rig = CameraRig.nuscenes((32, 56))
    with pytest.raises(ValueError, match="dtype must be one of"):
        SyntheOccRenderer(rig, weights=weights, dtype="float8")
    with pytest.raises(FileNotFoundError, match="no SyntheOcc pipeline"):
        SyntheOccRenderer(rig, weights=tmp_path)


def test_the_env_renders_with_syntheocc_by_name_with_renderer_kwargs(weights):
    env = gym.make(
        "OccSim-fog-v0", renderer="syntheocc", renderer_kwargs={"weights": str(weights), "steps": 1}, camera_hw=(32, 56)
    )
    obs, _ = env.reset(seed=0)
    obs2, *_ = env.step(np.zeros((6, 2), np.float32))
    assert obs["images"].shape == (6, 32, 56, 3) and obs2["images"].shape == (6, 32, 56, 3)
    assert isinstance(env.unwrapped.sim.renderer, SyntheOccRenderer)
    env.close()


def test_the_shipped_small_model_loads_and_renders(world):
    renderer = SyntheOccRenderer(CameraRig.nuscenes((64, 112)), steps=1)
    assert renderer.pipe.settings["image_hw"] == [64, 112]
    frames = renderer.render(world, weather_of(load_scenario("fog_bus")), seed=0)
    assert frames.rgb.shape == (6, 64, 112, 3)
    assert SMALL_WEIGHTS.joinpath("MODEL_CARD.md").is_file()


def test_learned_renderers_are_declared_lazily():
    registry = Registry("thing")
    registry.register_lazy("syntheocc", "occsim.generative.renderers.syntheocc")
    assert "syntheocc" in registry and list(registry) == ["syntheocc"]
    assert "syntheocc" in RENDERERS and RENDERERS["syntheocc"] is SyntheOccRenderer
    assert "occscene" in RENDERERS
    with pytest.raises(ValueError, match="available: blank, occscene, raster, syntheocc"):
        RENDERERS["synthocc"]
