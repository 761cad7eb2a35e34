import torch

from occsim.classes import CAR, FREE
from occsim.generative.models.controlnet import MPIControlNet
from tests.generative.tiny import tiny_unet


def _inputs():
    torch.manual_seed(1)
    mpi = torch.full((2, 4, 8, 8), FREE)
    mpi[:, 1, 2:5, 3:6] = CAR
    nearest = torch.full((2, 8, 8), FREE)
    nearest[:, 2:5, 3:6] = CAR
    return torch.randn(2, 4, 8, 8), torch.randn(2, 5, 16), mpi, nearest


def test_at_initialisation_the_controlnet_leaves_the_unet_output_unchanged():
    unet = tiny_unet()
    control = MPIControlNet.from_unet(unet, planes=4, embed_dim=2, hidden=8).eval()
    sample, text, mpi, nearest = _inputs()
    with torch.no_grad():
        down, mid = control(sample, 10, text, mpi, nearest)
        plain = unet(sample, 10, text).sample
        guided = unet(sample, 10, text, down_block_additional_residuals=down, mid_block_additional_residual=mid).sample
    assert all(float(r.abs().max()) == 0.0 for r in (*down, mid))  # zero convolutions
    assert torch.equal(plain, guided)
    # the encoder copies the UNet's weights, as ControlNet training starts
    assert torch.equal(control.controlnet.conv_in.weight, unet.conv_in.weight)


def test_the_mpi_reaches_the_residuals_once_the_zero_convs_train_and_it_round_trips(tmp_path):
    unet = tiny_unet()
    control = MPIControlNet.from_unet(unet, planes=4, embed_dim=2, hidden=8).eval()
    for conv in [*control.controlnet.controlnet_down_blocks, control.controlnet.controlnet_mid_block]:
        torch.nn.init.normal_(conv.weight, std=0.1)
    sample, text, mpi, nearest = _inputs()
    with torch.no_grad():
        down, mid = control(sample, 10, text, mpi, nearest)
        empty = torch.full_like(mpi, FREE)
        down_empty, _ = control(sample, 10, text, empty, torch.full_like(nearest, FREE))
    assert (down[0] - down_empty[0]).abs().max() > 1e-4
    control.save_pretrained(tmp_path)
    loaded = MPIControlNet.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        again, _ = loaded(sample, 10, text, mpi, nearest)
    assert all(torch.equal(a, b) for a, b in zip(down, again))
