import torch

from occsim.classes import CAR, FREE
from occsim.generative.models.mpi_encoder import MPIEncoder


def test_one_by_one_encoder_keeps_pixels_apart_and_round_trips(tmp_path):
    torch.manual_seed(0)
    encoder = MPIEncoder(planes=8, embed_dim=2, hidden=16, out_channels=12).eval()
    mpi = torch.full((2, 8, 5, 7), FREE)
    nearest = torch.full((2, 5, 7), FREE)
    out = encoder(mpi, nearest)
    assert out.shape == (2, 12, 5, 7)  # latent resolution in, latent resolution out
    changed = mpi.clone()
    changed[0, 3, 2, 4] = CAR
    delta = (encoder(changed, nearest) - out).abs().sum(dim=1)
    assert delta[0, 2, 4] > 0
    delta[0, 2, 4] = 0
    assert delta.max() == 0  # no other pixel, no other sample moved
    encoder.save_pretrained(tmp_path)
    loaded = MPIEncoder.from_pretrained(tmp_path).eval()
    assert (tmp_path / "diffusion_pytorch_model.safetensors").exists()
    assert torch.equal(loaded(changed, nearest), encoder(changed, nearest))
    try:
        encoder(torch.full((1, 4, 5, 7), FREE), nearest[:1])
    except ValueError as e:
        assert "planes" in str(e)
    else:
        raise AssertionError("a wrong plane count must be refused")
