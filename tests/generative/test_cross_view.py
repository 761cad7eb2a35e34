import math

import pytest
import torch

from occsim.generative.models.cross_view import NeighbourAttnProcessor, install_cross_view
from occsim.training.reweighing import cosine_weight, loss_weights, weighted_noise_loss
from tests.generative.tiny import tiny_unet


def test_zero_initialised_cross_view_leaves_the_unet_output_unchanged():
    unet = tiny_unet()
    sample, text = torch.randn(6, 4, 8, 8), torch.randn(6, 5, 16)
    with torch.no_grad():
        before = unet(sample, 10, text).sample
        blocks = sum(name.endswith("attn2.processor") for name in unet.attn_processors)
        added = install_cross_view(unet)
        after = unet(sample, 10, text).sample
    assert len(added) == blocks >= 3  # every transformer block: down, mid and up
    assert torch.allclose(before, after, atol=1e-6)
    names = [n for n, _ in unet.named_parameters() if "processor.to_out" in n]
    assert names  # the new layers are the UNet's parameters (trainable, saved with it)


def test_each_view_attends_only_to_its_left_and_right_neighbours():
    torch.manual_seed(0)
    layer = NeighbourAttnProcessor(dim=8, heads=2, group=6)
    torch.nn.init.normal_(layer.to_out.weight)
    h = torch.randn(6, 5, 8)
    changed = h.clone()
    changed[3] += 1.0  # perturb view 3 (CAM_BACK_RIGHT)
    with torch.no_grad():
        delta = (layer.neighbours(changed) - layer.neighbours(h)).abs().sum(dim=(1, 2))
    # views 2 and 4 see view 3; view 3's own queries change too; 0, 1 and 5 do not look at it
    assert delta[[2, 3, 4]].min() > 1e-4
    assert delta[[0, 1, 5]].max() < 1e-6
    first = h.clone()
    first[0] += 1.0  # the ring wraps: views 5 and 1 neighbour view 0
    with torch.no_grad():
        wrap = (layer.neighbours(first) - layer.neighbours(h)).abs().sum(dim=(1, 2))
    assert wrap[[5, 0, 1]].min() > 1e-4 and wrap[[2, 3, 4]].max() < 1e-6
    frames = NeighbourAttnProcessor(dim=8, heads=2, group=3, cyclic=False)
    torch.nn.init.normal_(frames.to_out.weight)
    clip = torch.randn(3, 5, 8)
    moved = clip.clone()
    moved[2] += 1.0
    with torch.no_grad():
        d = (frames.neighbours(moved) - frames.neighbours(clip)).abs().sum(dim=(1, 2))
    assert d[0] < 1e-6 and d[1] > 1e-4  # the first frame does not wrap round to the last
    with pytest.raises(ValueError):
        layer.neighbours(torch.randn(4, 5, 8))


def test_reweighing_matches_eq_6_by_hand():
    assert float(cosine_weight(0.0, 2.0, 50.0)) == pytest.approx(1.0)
    assert float(cosine_weight(25.0, 2.0, 50.0)) == pytest.approx(1.5)
    assert float(cosine_weight(50.0, 2.0, 50.0)) == pytest.approx(2.0)
    assert float(cosine_weight(80.0, 2.0, 50.0)) == pytest.approx(2.0)  # clamped
    x = 12.5
    assert float(cosine_weight(x, 2.0, 50.0)) == pytest.approx(0.5 * (1 + math.cos(x / 50 * math.pi + math.pi)) + 1)
    labels = torch.tensor([[4, 11], [7, 17]])  # car, road / pedestrian, free
    depth = torch.tensor([[50.0, 50.0], [25.0, 10.0]])
    w = loss_weights(labels, depth, step=50, total_steps=100)
    assert torch.allclose(w, torch.tensor([[1.5 * 2.0, 1.0], [1.5 * 1.5, 1.0]]))
    noise = torch.zeros(1, 4, 2, 2)
    assert float(weighted_noise_loss(noise + 1.0, noise, w[None])) == pytest.approx(float(w.mean()))
