import numpy as np
import pytest

from occsim.generative.pipelines.occscene import OccScenePipeline
from occsim.generative.renderers.occscene import OccSceneRenderer
from occsim.scenarios import load_scenario
from occsim.sensors import make_renderer
from occsim.sim import Simulation
from occsim.types import CameraRig, Trajectory
from tests.generative.tiny import as_if_trained, tiny_occscene


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("occscene")
    pipe = as_if_trained(tiny_occscene(folder / "parts"))
    return pipe.save(folder / "model")


def test_each_step_is_conditioned_on_the_last_frame_of_the_same_episode(weights, monkeypatch):
    renderer = make_renderer("occscene", CameraRig.nuscenes((64, 112)), weights=weights, steps=1)
    assert isinstance(renderer, OccSceneRenderer)
    seen = []
    original = OccScenePipeline.__call__

    def spy(self, condition, *args, context=None, **kwargs):
        seen.append(context)
        return original(self, condition, *args, context=context, **kwargs)

    monkeypatch.setattr(OccScenePipeline, "__call__", spy)
    sim = Simulation(renderer)
    scenario = load_scenario("bus_ahead")
    first = sim.reset(scenario, seed=0)
    assert first.frames.rgb.shape == (6, 64, 112, 3)  # generated at 32 x 56, resized
    context = renderer.context
    sim.step(Trajectory.constant_velocity(5.0))
    sim.reset(scenario, seed=0)  # a new episode starts without a previous frame
    assert seen[0] is None and seen[1] is context and seen[2] is None
    assert renderer.perceived_occupancy.shape == (50, 50, 8)


def test_same_seed_same_bytes_and_video_off(weights):
    rig = CameraRig.nuscenes((32, 56))
    runs = []
    for video in (True, True, False):
        sim = Simulation(OccSceneRenderer(rig, weights=weights, steps=1, video=video, init="noise"))
        sim.reset(load_scenario("bus_ahead"), seed=0)
        runs.append(sim.step(Trajectory.constant_velocity(5.0)).frames.rgb)
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])  # the second frame without its predecessor differs


def test_bad_dtype_is_clear(weights):
    with pytest.raises(ValueError, match="dtype must be one of"):
        OccSceneRenderer(CameraRig.nuscenes((32, 56)), weights=weights, dtype="int8")


def test_the_shipped_model_renders_in_the_env_with_the_meter():
    import gymnasium as gym

    import occsim  # noqa: F401 - registers the env ids

    env = gym.make(
        "OccSim-fog-v0",
        scenario="bus_ahead",
        camera_hw=(64, 112),
        renderer="occscene",
        renderer_kwargs={"steps": 2},
        perception_meter=True,
    )
    obs, info = env.reset(seed=0)
    obs, _, _, _, info = env.step(np.zeros((6, 2), np.float32))
    assert obs["images"].shape == (6, 64, 112, 3) and obs["images"].std() > 1.0
    assert 0.0 <= info["perceived_occupancy_miou"] <= 1.0
    assert env.unwrapped.sim.renderer.context is not None
