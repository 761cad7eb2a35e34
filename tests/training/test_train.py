import pytest
import torch
from diffusers import DDPMScheduler

from occsim.classes import CAR, FREE
from occsim.generative.models.controlnet import MPIControlNet
from occsim.generative.models.cross_view import install_cross_view
from occsim.training.syntheocc_loss import SyntheOccBatch, trainable_parameters, training_loss
from tests.generative.tiny import tiny_unet


def test_training_steps_lower_the_loss_on_a_fixed_batch_and_leave_the_base_frozen():
    unet = tiny_unet()
    controlnet = MPIControlNet.from_unet(unet, planes=4, embed_dim=2, hidden=8)
    install_cross_view(unet)
    base = {n: p.detach().clone() for n, p in unet.named_parameters() if ".processor." not in n}
    params = trainable_parameters(unet, controlnet)
    optimiser = torch.optim.AdamW(params, lr=1e-3)
    torch.manual_seed(0)
    mpi = torch.full((6, 4, 8, 8), FREE)
    mpi[:, 1, 2:6, 2:6] = CAR
    batch = SyntheOccBatch(
        latents=torch.randn(6, 4, 8, 8),
        text=torch.randn(6, 5, 16),
        mpi=mpi,
        nearest=mpi.min(dim=1).values,
        depth=torch.full((6, 8, 8), 20.0),
    )
    scheduler = DDPMScheduler(num_train_timesteps=100)

    def loss_at(step):
        return training_loss(unet, controlnet, scheduler, batch, step, 10, torch.Generator().manual_seed(3))

    first = loss_at(0).item()
    for step in range(8):
        optimiser.zero_grad()
        loss_at(step).backward()
        optimiser.step()
    assert loss_at(0).item() < first
    assert all(torch.equal(p, base[n]) for n, p in unet.named_parameters() if n in base)
    assert any(".processor." in n for n, p in unet.named_parameters() if p.requires_grad)


def test_the_target_follows_the_schedulers_prediction_type(monkeypatch):
    unet = tiny_unet()
    controlnet = MPIControlNet.from_unet(unet, planes=4, embed_dim=2, hidden=8)
    batch = SyntheOccBatch(
        latents=torch.randn(6, 4, 8, 8),
        text=torch.randn(6, 5, 16),
        mpi=torch.full((6, 4, 8, 8), FREE),
        nearest=torch.full((6, 8, 8), FREE),
        depth=torch.full((6, 8, 8), 20.0),
    )
    targets = []
    monkeypatch.setattr(
        "occsim.training.syntheocc_loss.weighted_noise_loss", lambda pred, target, w: targets.append(target)
    )
    for kind in ("epsilon", "v_prediction"):
        scheduler = DDPMScheduler(num_train_timesteps=100, prediction_type=kind)
        training_loss(unet, controlnet, scheduler, batch, 0, 10, torch.Generator().manual_seed(3))
    noise = torch.randn(batch.latents.shape, generator=torch.Generator().manual_seed(3))
    assert torch.equal(targets[0], noise)
    assert not torch.allclose(targets[1], noise)  # v = sqrt(a) * noise - sqrt(1 - a) * x0
    with pytest.raises(ValueError, match="not supported"):
        training_loss(unet, controlnet, DDPMScheduler(prediction_type="sample"), batch, 0, 10)
