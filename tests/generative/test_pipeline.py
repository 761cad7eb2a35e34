import numpy as np
import pytest
import torch
from diffusers import AutoencoderKL, UniPCMultistepScheduler

from occsim.classes import CAR, FREE
from occsim.generative.models.controlnet import MPIControlNet
from occsim.generative.models.cross_view import install_cross_view
from occsim.generative.models.text import char_tokenizer, small_text_encoder
from occsim.generative.pipelines.prompts import weather_prompt
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline
from tests.generative.tiny import tiny_unet


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    unet = tiny_unet()
    controlnet = MPIControlNet.from_unet(unet, planes=4, embed_dim=2, hidden=8)  # copied before cross-view is added
    install_cross_view(unet)
    torch.manual_seed(0)
    tokenizer = char_tokenizer(tmp_path_factory.mktemp("tok"))
    text_encoder = small_text_encoder(tokenizer, width=16)
    vae = AutoencoderKL(
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=16,
    )
    scheduler = UniPCMultistepScheduler()
    return OccSimSyntheOccPipeline(vae.eval(), text_encoder.eval(), tokenizer, unet, controlnet.eval(), scheduler)


def _mpi():
    mpi = torch.full((6, 4, 8, 8), FREE)
    mpi[1, 2, 3:6, 2:5] = CAR
    nearest = mpi.min(dim=1).values
    return mpi, nearest


def test_six_views_out_and_the_same_seed_gives_the_same_bytes(pipe):
    mpi, nearest = _mpi()
    prompt = weather_prompt("fog")
    a = pipe(mpi, nearest, prompt, num_inference_steps=3, generator=torch.Generator().manual_seed(7))
    b = pipe(mpi, nearest, prompt, num_inference_steps=3, generator=torch.Generator().manual_seed(7))
    c = pipe(mpi, nearest, prompt, num_inference_steps=3, generator=torch.Generator().manual_seed(8))
    assert a.shape == (6, 16, 16, 3) and a.dtype == np.uint8  # the VAE upsamples the 8 x 8 latent by 2
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_one_unet_call_per_step_carries_both_guidance_halves_of_all_six_views(pipe, monkeypatch):
    batches = []
    forward = pipe.unet.forward

    def spy(sample, *args, **kwargs):
        batches.append(sample.shape[0])
        return forward(sample, *args, **kwargs)

    monkeypatch.setattr(pipe.unet, "forward", spy)
    mpi, nearest = _mpi()
    pipe(mpi, nearest, weather_prompt("clear"), num_inference_steps=2, generator=torch.Generator().manual_seed(0))
    assert batches == [12, 12]
    batches.clear()
    pipe(mpi, nearest, "x", num_inference_steps=2, guidance_scale=1.0, generator=torch.Generator().manual_seed(0))
    assert batches == [6, 6]


def test_prompts_follow_the_weather_and_can_be_overridden():
    assert "fog" in weather_prompt("fog") and "night" in weather_prompt("night")
    assert weather_prompt("fog", "8-bit pixel art") == "8-bit pixel art"
    with pytest.raises(ValueError, match="known"):
        weather_prompt("hail")


def test_a_scenario_can_set_the_prompt():
    from occsim.scenario import parse_scenario, weather_of

    scenario = parse_scenario(
        "name: styled\nmap: {type: straight}\nweather: {type: fog, visibility: 40, prompt: 'Ghibli style, fog'}\n"
    )
    weather = weather_of(scenario)
    assert weather_prompt(weather.kind, weather.prompt) == "Ghibli style, fog"
    assert weather_of(parse_scenario("name: plain\nmap: {type: straight}\n")).prompt is None


def test_save_and_load_give_the_same_images(pipe, tmp_path):
    mpi, nearest = _mpi()
    before = pipe(mpi, nearest, "night", num_inference_steps=2, generator=torch.Generator().manual_seed(1))
    pipe.save(tmp_path / "p")
    loaded = OccSimSyntheOccPipeline.load(tmp_path / "p")
    after = loaded(mpi, nearest, "night", num_inference_steps=2, generator=torch.Generator().manual_seed(1))
    assert np.array_equal(before, after)
    assert not list((tmp_path / "p").rglob("*.bin"))  # safetensors only
    with pytest.raises(FileNotFoundError, match="no SyntheOcc pipeline"):
        OccSimSyntheOccPipeline.load(tmp_path)


def test_the_condition_can_come_from_occupancy_and_camera_parameters(tmp_path):
    from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline as Pipeline
    from occsim.types import OCC3D_GRID, CameraRig
    from tests.generative.tiny import tiny_renderer_weights

    pipe = Pipeline.load(tiny_renderer_weights(tmp_path))
    occupancy = np.full(OCC3D_GRID.shape, FREE, np.uint8)
    occupancy[120:130, 95:105, :8] = CAR  # 8-12 m ahead
    rig = CameraRig.nuscenes((32, 56))
    mpi, nearest = pipe.mpi_condition(occupancy, rig.intrinsics, rig.cam2ego, (32, 56))
    assert mpi.shape == (6, 4, 8, 14) and nearest.shape == (6, 8, 14)  # 4 planes, 1/4 resolution
    front = rig.names.index("CAM_FRONT")
    assert (nearest[front] == CAR).any() and not (nearest[rig.names.index("CAM_BACK")] == CAR).any()
    images = pipe(mpi, nearest, "fog", num_inference_steps=1, generator=torch.Generator().manual_seed(0))
    assert images.shape == (6, 32, 56, 3)
