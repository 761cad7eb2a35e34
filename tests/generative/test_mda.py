import pytest
import torch
from torch.nn import functional as F

from occsim.generative.models.mda import DeformableConv3d, MambaDualAlignment, camera_parameters
from occsim.types import CameraRig


def _inputs(frames=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    occupancy = torch.rand(3, frames, 18, 4, 8, 8, generator=g)
    latents = torch.randn(3, frames, 4, 8, 8, generator=g)
    cameras = torch.rand(3, frames, 16, generator=g)
    return occupancy, latents, cameras


def _module(**kwargs):
    torch.manual_seed(0)
    module = MambaDualAlignment(occupancy_channels=18, out_channels=8, depth=4, patch=2, dim=16, **kwargs)
    return module.eval()


def _wake(module):
    """Give the zero convolution weights, as training would, so the output shows what reaches it."""
    torch.nn.init.normal_(module.zero_conv.weight)
    return module


def test_the_zero_convolution_makes_it_add_nothing_at_first():
    out = _module()(*_inputs())
    assert out.shape == (3, 8, 8, 8) and torch.count_nonzero(out) == 0


def test_deformable_conv_with_zero_offsets_is_a_3d_convolution_and_offsets_move_the_samples():
    torch.manual_seed(0)
    conv = DeformableConv3d(3, 5)
    x = torch.randn(2, 3, 4, 6, 7)
    weight = conv.weight.weight.view(5, 3, 3, 3, 3)  # (out, in, kernel d, h, w) in the kernel's order
    reference = F.conv3d(x, weight, conv.weight.bias, padding=1)
    assert torch.allclose(conv(x), reference, atol=1e-5)
    with torch.no_grad():  # every kernel point one voxel further along w: the same as the input shifted by one
        conv.offsets.bias.view(27, 3)[:, 2] = 1.0
    shifted = F.pad(x[..., 1:], (0, 1))
    expected = F.conv3d(shifted, weight, conv.weight.bias, padding=1)
    # away from w = 0, where the shifted input's padding hides the first column the offsets now reach
    assert torch.allclose(conv(x)[..., 1:], expected[..., 1:], atol=1e-5)


@pytest.mark.parametrize("mixer", ["mamba", "attention"])
def test_the_previous_frame_reaches_the_current_frames_residual(mixer):
    module = _wake(_module(mixer=mixer))
    occupancy, latents, cameras = _inputs()
    with torch.no_grad():
        base = module(occupancy, latents, cameras)
        other = latents.clone()
        other[:, 0] += 1.0  # only the context frame's latent changes
        assert not torch.allclose(module(occupancy, other, cameras), base)
        single = module(occupancy[:, 1:], latents[:, 1:], cameras[:, 1:])  # a first frame: no context
        assert single.shape == base.shape and not torch.allclose(single, base)
    with pytest.raises(ValueError, match="frames"):
        module(*_inputs(frames=3))


def test_camera_encoding_makes_the_features_depend_on_the_cameras():
    occupancy, latents, cameras = _inputs()
    moved = cameras + 0.5
    with torch.no_grad():
        aware = _wake(_module(camera_encoding=True))
        assert not torch.allclose(aware(occupancy, latents, cameras), aware(occupancy, latents, moved))
        blind = _wake(_module(camera_encoding=False))
        assert torch.equal(blind(occupancy, latents, cameras), blind(occupancy, latents, moved))


def test_camera_parameters_normalise_lenses_and_carry_the_pose():
    rig = CameraRig.nuscenes((64, 112))
    params = camera_parameters(rig.intrinsics, rig.cam2ego, rig.hw)
    assert params.shape == (6, 16)
    assert torch.allclose(params[:, 2], torch.full((6,), 0.5), atol=1e-6)  # principal point at the centre
    moved = rig.cam2ego.copy()
    moved[:, 0, 3] += 10.0
    assert torch.allclose(camera_parameters(rig.intrinsics, moved, rig.hw)[:, 13] - params[:, 13], torch.ones(6))


def test_unknown_mixer_is_a_clear_error():
    with pytest.raises(ValueError, match="mixer must be one of"):
        MambaDualAlignment(mixer="gru")
