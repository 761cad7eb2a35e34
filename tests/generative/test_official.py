"""The released SyntheOcc layout: a tiny checkpoint with the official keys loads, and the pipeline's denoising matches
an independent reference forward written here from the release's facts (blocks.py, controlnet1x1.py)."""

import inspect
import math
import re

import numpy as np
import pytest
import torch
from diffusers import ControlNetModel, UNet2DConditionModel, UniPCMultistepScheduler
from diffusers.models.attention import BasicTransformerBlock
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

from occsim.generative.models.text import token_ids
from occsim.generative.pipelines.official import load_official
from occsim.generative.renderers.syntheocc import SyntheOccRenderer
from occsim.sensors.mpi import build_mpi
from occsim.types import CameraRig, Weather
from tests.generative.official_tiny import write_official_checkpoint, write_tiny_base

NEIGHBOURS = {0: [5, 1], 1: [0, 2], 2: [1, 3], 3: [2, 4], 4: [3, 5], 5: [4, 0]}  # utils/common.py


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = tmp_path_factory.mktemp("official")
    unet_state, control_state = write_official_checkpoint(root / "ckpt")
    write_tiny_base(root / "base")
    return root, unet_state, control_state


def _attention(q_in, kv_in, state, prefix, heads):
    """softmax(QK^T / sqrt(d)) V per head, then the output projection: q, k, v without bias (SD 2.1's blocks)."""
    q, k, v = (x @ state[f"{prefix}.{n}.weight"].T for x, n in ((q_in, "to_q"), (kv_in, "to_k"), (kv_in, "to_v")))
    b, lq, c = q.shape
    d = c // heads
    q, k, v = (x.reshape(b, -1, heads, d).transpose(1, 2) for x in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1)
    out = (weights @ v).transpose(1, 2).reshape(b, lq, c)
    return out @ state[f"{prefix}.to_out.0.weight"].T + state[f"{prefix}.to_out.0.bias"]


def _reference_block(state, prefix, heads, hidden, encoder_hidden_states, **_):
    """BasicMultiviewTransformerBlock.forward of the release (blocks.py l. 603-700), layer-norm path, 'add' pairs."""

    def norm(x, name, eps):
        return F.layer_norm(x, x.shape[-1:], state[f"{prefix}.{name}.weight"], state[f"{prefix}.{name}.bias"], eps)

    h = hidden
    n1 = norm(h, "norm1", 0.0)  # eps 0: final_dropout lands on norm_eps in the release
    h = _attention(n1, n1, state, f"{prefix}.attn1", heads) + h
    h = _attention(norm(h, "norm2", 0.0), encoder_hidden_states, state, f"{prefix}.attn2", heads) + h
    n4 = norm(h, "norm4", 1e-5)
    grouped = n4.reshape(-1, 6, *n4.shape[1:])  # '(b n) ... -> b n ...'
    batch = grouped.shape[0]
    in1, in2, cam_order = [], [], []
    for key, values in NEIGHBOURS.items():  # _construct_attn_input, 'add'
        for value in values:
            in1.append(grouped[:, key])
            in2.append(grouped[:, value])
            cam_order += [key] * batch
    raw = _attention(torch.cat(in1), torch.cat(in2), state, f"{prefix}.attn4", heads)
    cam_order = torch.tensor(cam_order)
    out = torch.zeros_like(grouped)
    for cam in range(6):
        rows = raw[cam_order == cam]  # '(n b) ... -> b n ...'
        out[:, cam] = rows.reshape(-1, batch, *rows.shape[1:]).transpose(0, 1).sum(dim=1)
    out = out.flatten(0, 1) @ state[f"{prefix}.connector.weight"].T + state[f"{prefix}.connector.bias"]
    h = out + h
    n3 = norm(h, "norm3", 0.0)
    hidden_part, gate = (n3 @ state[f"{prefix}.ff.net.0.proj.weight"].T + state[f"{prefix}.ff.net.0.proj.bias"]).chunk(
        2, dim=-1
    )
    ff = (hidden_part * F.gelu(gate)) @ state[f"{prefix}.ff.net.2.weight"].T + state[f"{prefix}.ff.net.2.bias"]
    return ff + h


class _ReferencePositionEncoder(nn.Module):
    def __init__(self, state):
        super().__init__()
        self.state = {k.removeprefix("controlnet_cond_embedding."): v for k, v in state.items()}

    def forward(self, condition):
        s = self.state
        x = F.relu(F.conv2d(condition, s["position_encoder.0.weight"], s["position_encoder.0.bias"]))
        return F.conv2d(x, s["position_encoder.2.weight"], s["position_encoder.2.bias"])


def _reference_models(root, unet_state, control_state):
    """Stock diffusers models with the release's extras done by the functions above, not by OccSim's modules."""
    import json

    unet_config = json.loads((root / "ckpt" / "unet" / "config.json").read_text())
    unet = UNet2DConditionModel.from_config({k: v for k, v in unet_config.items() if k in UNET_KEYS})
    unet.load_state_dict({k: v for k, v in unet_state.items() if k in unet.state_dict()})
    for name, block in unet.named_modules():
        if isinstance(block, BasicTransformerBlock):
            block.forward = lambda h, *a, _n=name, _b=block, encoder_hidden_states=None, **k: _reference_block(
                unet_state, _n, _b.attn1.heads, h, encoder_hidden_states
            )
    control_config = json.loads((root / "ckpt" / "controlnet" / "config.json").read_text())
    controlnet = ControlNetModel.from_config({k: v for k, v in control_config.items() if not k.startswith("_")})
    controlnet.controlnet_cond_embedding = _ReferencePositionEncoder(
        {k: v for k, v in control_state.items() if k.startswith("controlnet_cond_embedding.")}
    )
    controlnet.load_state_dict({k: v for k, v in control_state.items() if "cond_embedding" not in k})
    return unet.eval(), controlnet.eval()


UNET_KEYS = set(inspect.signature(UNet2DConditionModel.__init__).parameters) - {"self"}


def test_official_checkpoint_denoises_as_the_reference_forward(release, world):
    root, unet_state, control_state = release
    pipe = load_official(root / "ckpt", root / "base")
    # a small latent keeps the reference's explicit attention matrices small; the layers are size-agnostic
    rig = CameraRig.nuscenes((16, 24))
    condition = build_mpi(world.occupancy(), rig.intrinsics, rig.cam2ego, rig.hw, layout="official")
    assert condition.shape == (6, 257, 16, 24) and condition.max() <= 16
    mpi, nearest = condition[:, :-1].long(), condition[:, -1].long()

    generator = torch.Generator().manual_seed(0)
    text, mpi_in, nearest_in = pipe.guided_inputs("show a photorealistic street view image.", "", 7.5, mpi, nearest)
    latents, timesteps = pipe.initial_latents(6, (16, 24), 3, generator)

    ref_unet, ref_control = _reference_models(root, unet_state, control_state)
    scheduler = UniPCMultistepScheduler.from_pretrained(root / "base" / "scheduler")
    scheduler.set_timesteps(3)
    ids = token_ids(pipe.tokenizer, ["", "show a photorealistic street view image."])
    embeds = pipe.text_encoder(ids).last_hidden_state
    ref_text = torch.cat([embeds[:1].expand(6, -1, -1), embeds[1:].expand(6, -1, -1)])
    ref_condition = torch.cat([condition.float()] * 2)  # raw class ids as numbers, both guidance halves
    assert torch.equal(scheduler.timesteps, timesteps)
    with torch.no_grad():
        for t in timesteps:
            # each step from the same latents, so float32 rounding (x7.5 through guidance) does not accumulate
            model_in = scheduler.scale_model_input(torch.cat([latents] * 2), t)
            down, mid = ref_control(model_in, t, ref_text, controlnet_cond=ref_condition, return_dict=False)
            noise = ref_unet(
                model_in, t, ref_text, down_block_additional_residuals=down, mid_block_additional_residual=mid
            ).sample
            uncond, cond = noise.chunk(2)
            ref = scheduler.step(uncond + 7.5 * (cond - uncond), t, latents).prev_sample
            latents = pipe.denoise(latents, t, text, mpi_in, nearest_in, 7.5)
            assert (latents - ref).abs().max().item() <= 1e-5
    assert ref.abs().max() > 0.1  # a real trajectory, not zeros on both sides

    # the release's eps quirk is kept: norm1-3 at 0, norm4 at LayerNorm's default
    block = next(m for m in pipe.unet.modules() if hasattr(m, "norm4"))
    assert (block.norm1.eps, block.norm2.eps, block.norm3.eps, block.norm4.eps) == (0.0, 0.0, 0.0, 1e-5)


def test_cross_view_and_condition_change_the_output(release, world):
    """The reference comparison could not fail if either path were inert: both visibly move the prediction."""
    root, _, _ = release
    pipe = load_official(root / "ckpt", root / "base")
    rig = CameraRig.nuscenes((16, 24))
    condition = build_mpi(world.occupancy(), rig.intrinsics, rig.cam2ego, rig.hw, layout="official")
    mpi, nearest = condition[:, :-1].long(), condition[:, -1].long()
    text, mpi_in, nearest_in = pipe.guided_inputs("a street", "", 1.0, mpi, nearest)

    def first_step(mpi_in, nearest_in):
        latents, timesteps = pipe.initial_latents(6, (16, 24), 2, torch.Generator().manual_seed(0))  # fresh sampler
        with torch.no_grad():
            return pipe.denoise(latents, timesteps[0], text, mpi_in, nearest_in, 1.0)

    base = first_step(mpi_in, nearest_in)
    empty = first_step(torch.zeros_like(mpi_in), torch.zeros_like(nearest_in))
    for module in pipe.unet.modules():
        if hasattr(module, "connector"):
            nn.init.zeros_(module.connector.weight)
            nn.init.zeros_(module.connector.bias)
    alone = first_step(mpi_in, nearest_in)
    assert (base - empty).abs().max() > 1e-3 and (base - alone).abs().max() > 1e-3


def test_a_pickled_release_loads_the_same(tmp_path, release):
    root, _, _ = release
    write_official_checkpoint(tmp_path / "ckpt", pickle=True)
    pickled, saved = load_official(tmp_path / "ckpt", root / "base"), load_official(root / "ckpt", root / "base")
    for a, b in zip(pickled.unet.state_dict().values(), saved.unet.state_dict().values(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("change", ["missing", "unexpected", "shape"])
def test_a_checkpoint_that_is_not_the_official_layout_is_refused_by_key(tmp_path, release, change):
    import shutil

    root, _, _ = release
    shutil.copytree(root / "ckpt", tmp_path / "ckpt")
    path = tmp_path / "ckpt" / "unet" / "diffusion_pytorch_model.safetensors"
    state = load_file(str(path))
    key = next(k for k in state if k.endswith("attn4.to_k.weight"))
    if change == "missing":
        del state[key]
    elif change == "unexpected":
        state["down_blocks.0.attentions.0.transformer_blocks.0.attn5.to_q.weight"] = state[key].clone()
        key = "attn5.to_q.weight"
    else:
        state[key] = state[key][:, :-1].contiguous()
    save_file(state, str(path))
    expected = f"{re.escape(key)} has shape" if change == "shape" else f"{change} key.*{re.escape(key)}"
    with pytest.raises(ValueError, match=expected):
        load_official(tmp_path / "ckpt", root / "base")


def test_official_format_needs_its_base_and_weights(release):
    root, _, _ = release
    with pytest.raises(ValueError, match="base"):
        SyntheOccRenderer.check_options(weights=str(root / "ckpt"), format="official")
    with pytest.raises(FileNotFoundError, match="vae"):
        SyntheOccRenderer.check_options(weights=str(root / "ckpt"), format="official", base=str(root / "ckpt"))
    with pytest.raises(ValueError, match="format"):
        SyntheOccRenderer.check_options(format="magic")


@pytest.mark.slow
def test_the_renderer_draws_a_world_through_the_official_layout(release, world):
    root, _, _ = release
    rig = CameraRig.nuscenes((64, 112))
    renderer = SyntheOccRenderer(rig, weights=root / "ckpt", format="official", base=root / "base", steps=2)
    assert renderer.init == "noise" and renderer.model_rig.hw == (448, 800)
    frames = renderer.render(world, Weather("clear"), seed=4)
    assert frames.rgb.shape == (6, 64, 112, 3) and frames.rgb.std() > 0
    assert np.array_equal(frames.rgb, renderer.render(world, Weather("clear"), seed=4).rgb)
    assert renderer.prompt_for(Weather("clear")) == "show a photorealistic street view image."
    assert "fog" in renderer.prompt_for(Weather("fog"))


def test_a_logged_nuscenes_scene_renders_with_its_real_calibration(release, mini_root):
    import warnings

    from occsim.data.nuscenes import load_scene
    from occsim.scenario import parse_scenario
    from occsim.sim import Simulation

    root, _, _ = release
    scenario = parse_scenario(
        f"""name: bus_on_scene_0061
map: {{type: nuscenes, dataroot: {mini_root}, version: v1.0-mini, scene: scene-0061, start_sample: 2}}
ego: {{from_log: true, command: follow}}
actors:
  - {{id: bus, type: bus, lane: 0, s: 20, speed: 0}}
remove: {{within: 5.0, of: bus}}
"""
    )
    options = {"weights": str(root / "ckpt"), "format": "official", "base": str(root / "base"), "steps": 1}
    sim = Simulation("syntheocc", camera_hw=(32, 56), renderer_kwargs=options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = sim.reset(scenario, seed=0)
    logged = load_scene(mini_root, "v1.0-mini", "scene-0061").rig
    assert np.allclose(sim.renderer.model_rig.cam2ego, logged.cam2ego)  # the dataset's calibration, not the default
    assert np.allclose(sim.renderer.model_rig.intrinsics, logged.resized((448, 800)).intrinsics)
    assert outcome.frames.rgb.shape == (6, 32, 56, 3) and outcome.frames.rgb.std() > 0
