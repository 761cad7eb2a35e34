"""Raster-guided sampling (SDEdit): strength 0 is the raster views through the autoencoder, 1 is pure generation."""

import numpy as np
import pytest
import torch

from occsim.generative.models.images import to_signed, to_uint8
from occsim.generative.models.pixel_space import decode_latents, encode_images
from occsim.generative.renderers.occscene import OccSceneRenderer
from occsim.generative.renderers.syntheocc import DEFAULT_INIT, DEFAULT_STRENGTH, SyntheOccRenderer
from occsim.types import CameraRig, Weather
from tests.generative.tiny import as_if_trained, tiny_occscene


def _round_trip(pipe, images: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        latents = encode_images(pipe.vae, to_signed(torch.from_numpy(images).permute(0, 3, 1, 2)))
        return to_uint8(decode_latents(pipe.vae, latents))


def test_strength_zero_returns_the_raster_views_through_the_autoencoder(weights, world):
    rig = CameraRig.nuscenes((32, 56))  # the tiny model's own size: no resize in between
    renderer = SyntheOccRenderer(rig, weights=weights, steps=4, init="raster", strength=0.0, keep_detail=False)
    frames = renderer.render(world, Weather("fog"), seed=1)
    raster = renderer.condition_raster.render(world, Weather("fog"), seed=1)
    assert np.array_equal(frames.rgb, _round_trip(renderer.pipe, raster.rgb))


def test_strength_one_equals_pure_generation_with_the_same_seed(weights, world):
    rig = CameraRig.nuscenes((32, 56))
    pure = SyntheOccRenderer(rig, weights=weights, steps=3, init="noise").render(world, Weather("clear"), seed=5)
    guided = SyntheOccRenderer(rig, weights=weights, steps=3, init="raster", strength=1.0)
    assert np.array_equal(guided.render(world, Weather("clear"), seed=5).rgb, pure.rgb)


def test_partial_strength_runs_part_of_the_schedule_deterministically(weights, world, monkeypatch):
    rig = CameraRig.nuscenes((32, 56))
    renderer = SyntheOccRenderer(rig, weights=weights, steps=4, init="raster", strength=0.5)
    calls = []
    denoise = type(renderer.pipe).denoise
    monkeypatch.setattr(type(renderer.pipe), "denoise", lambda self, *a, **k: calls.append(1) or denoise(self, *a, **k))
    a = renderer.render(world, Weather("clear"), seed=2)
    assert len(calls) == 2  # strength x steps
    b = renderer.render(world, Weather("clear"), seed=2)
    assert np.array_equal(a.rgb, b.rgb)
    pure = SyntheOccRenderer(rig, weights=weights, steps=4, init="noise").render(world, Weather("clear"), seed=2)
    zero = SyntheOccRenderer(rig, weights=weights, steps=4, init="raster", strength=0.0).render(
        world, Weather("clear"), seed=2
    )
    assert not np.array_equal(a.rgb, pure.rgb) and not np.array_equal(a.rgb, zero.rgb)


@pytest.mark.parametrize(
    ("option", "value"), [("init", "lidar"), ("strength", 1.5), ("strength", float("nan")), ("keep_detail", "yes")]
)
def test_bad_start_options_are_refused(weights, option, value):
    with pytest.raises(ValueError, match=option):
        SyntheOccRenderer.check_options(weights=str(weights), **{option: value})


def test_occscene_starts_from_the_raster_views_and_keeps_its_context(tmp_path, world):
    pipe = as_if_trained(tiny_occscene(tmp_path / "parts"))
    folder = pipe.save(tmp_path / "model")
    rig = CameraRig.nuscenes(tuple(pipe.settings["image_hw"]))
    renderer = OccSceneRenderer(rig, weights=folder, steps=3, init="raster", strength=0.0, keep_detail=False)
    renderer.reset(world)
    frames = renderer.render(world, Weather("clear"), seed=1)
    raster = renderer.condition_raster.render(world, Weather("clear"), seed=1)
    assert np.array_equal(frames.rgb, _round_trip(renderer.pipe, raster.rgb))
    assert renderer.context is not None  # the next frame is still conditioned on this one


def test_the_default_is_raster_guided_and_still_denoises(weights, world, monkeypatch):
    rig = CameraRig.nuscenes((32, 56))
    renderer = SyntheOccRenderer(rig, weights=weights)
    assert (renderer.init, renderer.strength) == (DEFAULT_INIT, DEFAULT_STRENGTH) == ("raster", 0.1)
    assert (renderer.steps, renderer.guidance) == (20, 7.5)  # the model's own
    calls = []
    denoise = type(renderer.pipe).denoise
    monkeypatch.setattr(type(renderer.pipe), "denoise", lambda self, *a, **k: calls.append(1) or denoise(self, *a, **k))
    renderer.render(world, Weather("clear"), seed=0)
    assert len(calls) == 2  # the last tenth of 20 steps


def test_keep_detail_returns_what_a_lossy_autoencoder_drops(weights, world):
    from diffusers import AutoencoderKL

    renderer = SyntheOccRenderer(CameraRig.nuscenes((32, 56)), weights=weights, steps=4, init="raster", strength=0.0)
    torch.manual_seed(0)
    renderer.pipe.vae = AutoencoderKL(  # lossy, 4 x 4 down to the tiny UNet's 48 channels
        block_out_channels=(8, 8, 8),
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        latent_channels=48,
        norm_num_groups=4,
    ).eval()
    raster = renderer.condition_raster.render(world, Weather("clear"), seed=1).rgb
    kept = renderer.render(world, Weather("clear"), seed=1).rgb
    assert np.abs(kept.astype(int) - raster).max() <= 1  # strength 0: the raster views themselves
    renderer.keep_detail = False
    lost = renderer.render(world, Weather("clear"), seed=1).rgb
    assert np.abs(lost.astype(int) - raster).mean() > 10  # the bare round trip of a random autoencoder
    renderer.keep_detail, renderer.strength = True, 0.5
    partial = renderer.render(world, Weather("clear"), seed=1).rgb
    assert not np.array_equal(partial, kept)  # the model's change is laid over the detail


def test_keep_detail_lays_the_models_change_over_the_rig_size_raster(weights, world):
    rig = CameraRig.nuscenes((64, 112))  # twice the tiny model's size
    renderer = SyntheOccRenderer(rig, weights=weights, steps=4, init="raster", strength=0.0)
    raster = renderer.geometry_raster.render(world, Weather("clear"), seed=1).rgb
    assert np.array_equal(renderer.render(world, Weather("clear"), seed=1).rgb, raster)  # not an upsampled small frame
    renderer.strength = 0.5
    changed = renderer.render(world, Weather("clear"), seed=1).rgb
    assert changed.shape == raster.shape and not np.array_equal(changed, raster)
