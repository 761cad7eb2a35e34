"""Consistency distillation: a student that samples with LCM in few unguided steps, deterministic per seed."""

import numpy as np
import pytest
import torch
from diffusers import LCMScheduler, UniPCMultistepScheduler

from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline
from occsim.scenarios import load_scenario
from occsim.training.collect_render import collect_render
from occsim.training.configs import DistillConfig, RenderCollectConfig, SyntheOccTrainConfig
from occsim.training.distill import boundary_scalings, distill_syntheocc
from occsim.training.syntheocc import train_syntheocc


@pytest.fixture(scope="module")
def teacher_and_data(tmp_path_factory):
    data = tmp_path_factory.mktemp("pairs")
    collect_render([load_scenario("bus_ahead")], RenderCollectConfig(data, 2, (32, 56), 4, planes=4, every=8))
    teacher = tmp_path_factory.mktemp("teacher")
    train_syntheocc(SyntheOccTrainConfig(data, teacher, steps=2, vae_steps=2, batch_size=1, held_out=0.5))
    return teacher, data


def _condition(folder):
    sample = np.load(sorted(folder.glob("*.npz"))[0])
    return torch.from_numpy(sample["mpi"][0].astype(np.int64)), torch.from_numpy(sample["nearest"][0].astype(np.int64))


def test_boundary_condition_is_the_identity_at_time_zero():
    c_skip, c_out = boundary_scalings(torch.tensor([0, 999]), 10.0)
    assert c_skip[0] == 1.0 and c_out[0] == 0.0
    assert c_skip[1] < 1e-4 and c_out[1] > 0.999
    scheduler = LCMScheduler(timestep_scaling=10.0)  # the sampler must use the same scalings as training
    assert scheduler.get_scalings_for_boundary_condition_discrete(999) == pytest.approx(
        (float(c_skip[1]), float(c_out[1]))
    )


def test_distilled_student_saves_an_lcm_sampler_and_its_own_defaults(teacher_and_data, tmp_path):
    teacher, data = teacher_and_data
    pipe, record = distill_syntheocc(DistillConfig(data, tmp_path / "lcm", teacher=teacher, steps=3, batch_size=1))
    assert len(record["losses"]) == 3 and np.isfinite(record["losses"]).all()
    loaded = OccSimSyntheOccPipeline.load(tmp_path / "lcm")
    assert isinstance(loaded.scheduler, LCMScheduler)
    assert loaded.sampling() == (4, 1.0)  # few steps, guidance baked in
    assert loaded.settings["distilled"]["teacher_guidance"] == 7.5 and loaded.settings["image_hw"] == [32, 56]
    assert isinstance(OccSimSyntheOccPipeline.load(teacher).scheduler, UniPCMultistepScheduler)
    # the student moved away from its teacher
    before = OccSimSyntheOccPipeline.load(teacher).controlnet.state_dict()
    after = loaded.controlnet.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_lcm_sampling_is_deterministic_per_seed(teacher_and_data, tmp_path):
    teacher, data = teacher_and_data
    distill_syntheocc(DistillConfig(data, tmp_path / "lcm", teacher=teacher, steps=1, batch_size=1))
    pipe = OccSimSyntheOccPipeline.load(tmp_path / "lcm")
    pipe.set_progress_bar_config(disable=True)
    mpi, nearest = _condition(data)

    def sample(seed, steps=3):
        return pipe(mpi, nearest, "fog", num_inference_steps=steps, generator=torch.Generator().manual_seed(seed))

    first = sample(0)
    assert first.shape == (6, 32, 56, 3)
    assert np.array_equal(first, sample(0))  # the noise LCM injects between steps comes from the seed too
    assert not np.array_equal(first, sample(1))
    assert not np.array_equal(first, sample(0, steps=2))


def test_data_that_does_not_match_the_teacher_is_refused(teacher_and_data, tmp_path):
    teacher, _ = teacher_and_data
    other = tmp_path / "other"
    collect_render([load_scenario("bus_ahead")], RenderCollectConfig(other, 1, (64, 112), 4, planes=4, every=8))
    with pytest.raises(ValueError, match="image_hw"):
        distill_syntheocc(DistillConfig(other, tmp_path / "lcm", teacher=teacher, steps=1))


def test_the_renderer_samples_a_distilled_model_with_its_own_steps(teacher_and_data, tmp_path):
    from occsim.generative.renderers.syntheocc import SyntheOccRenderer
    from occsim.types import CameraRig

    teacher, data = teacher_and_data
    distill_syntheocc(DistillConfig(data, tmp_path / "lcm", teacher=teacher, steps=1, batch_size=1))
    rig = CameraRig.nuscenes((32, 56))
    renderer = SyntheOccRenderer(rig, weights=tmp_path / "lcm")
    assert (renderer.steps, renderer.guidance) == (4, 1.0)
    assert SyntheOccRenderer(rig, weights=tmp_path / "lcm", steps=2).steps == 2
    assert (SyntheOccRenderer(rig, weights=teacher).steps, SyntheOccRenderer(rig, weights=teacher).guidance) == (
        20,
        7.5,
    )
