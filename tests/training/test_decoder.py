"""Decoder tuning: only the decoder moves (the latents a diffusion model was trained on stay), the card keeps one
section, and folders must share their autoencoder."""

import numpy as np
import torch
from diffusers import AutoencoderKL

from occsim.classes import CAR, DRIVEABLE_SURFACE
from occsim.training.configs import DecoderTuning
from occsim.training.decoder import (
    CARD_HEADER,
    foreground_mask,
    round_trip,
    same_autoencoder,
    tune_decoder,
    update_card,
)


def _tiny_vae():
    torch.manual_seed(0)
    return AutoencoderKL(
        block_out_channels=(8, 8),
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
    )


def _views(n=8):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(n, 16, 32, 3), dtype=np.uint8)
    nearest = np.full((n, 8, 16), DRIVEABLE_SURFACE, np.uint8)
    nearest[:, 2:4, 4:8] = CAR
    return images, nearest


def test_foreground_mask_upsamples_object_cells():
    _, nearest = _views(1)
    mask = foreground_mask(nearest, (16, 32))
    assert mask.shape == (1, 16, 32) and mask[0, 4:8, 8:16].all() and mask.sum() == 4 * 8


def test_only_the_decoder_moves_and_the_round_trip_improves():
    vae = _tiny_vae()
    images, nearest = _views()
    encoder = {k: v.clone() for k, v in vae.encoder.state_dict().items()}
    decoder = {k: v.clone() for k, v in vae.decoder.state_dict().items()}
    before = np.abs(round_trip(vae, images).astype(float) - images).mean()
    losses = tune_decoder(vae, images, nearest, DecoderTuning(steps=30, batch_size=4, learning_rate=3e-3))
    assert len(losses) == 30 and np.isfinite(losses).all()
    assert all(torch.equal(encoder[k], v) for k, v in vae.encoder.state_dict().items())
    assert any(not torch.equal(decoder[k], v) for k, v in vae.decoder.state_dict().items())
    assert np.abs(round_trip(vae, images).astype(float) - images).mean() < before
    assert not any(p.requires_grad for p in vae.parameters())


def test_the_card_section_is_replaced_not_repeated(tmp_path):
    card = tmp_path / "MODEL_CARD.md"
    card.write_text("# Model\n\ntext\n")
    update_card(card, f"{CARD_HEADER}\nfirst\n")
    update_card(card, f"{CARD_HEADER}\nsecond\n")
    text = card.read_text()
    assert text.count(CARD_HEADER) == 1 and "second" in text and "first" not in text and text.startswith("# Model")


def test_folders_must_share_one_autoencoder(tmp_path):
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        torch.manual_seed(seed)
        vae = _tiny_vae() if seed == 0 else AutoencoderKL(block_out_channels=(8,), norm_num_groups=4)
        vae.save_pretrained(tmp_path / name / "vae", safe_serialization=True)
    assert same_autoencoder([tmp_path / "a", tmp_path / "b"])
    assert not same_autoencoder([tmp_path / "a", tmp_path / "c"])


def test_card_section_quotes_the_command_and_both_round_trips():
    from occsim.training.decoder import card_section

    figures = {"samples": 4, "l1": 9.5, "foreground_l1": 15.0, "perceived_miou": 0.5, "raster_perceived_miou": 0.6}
    record = {
        "config": DecoderTuning(steps=10, batch_size=2).__dict__,
        "data_dir": "data/render",
        "evaluated_on": "held-out episodes",
        "seconds": 3.0,
        "before": figures,
        "after": {**figures, "l1": 8.0, "perceived_miou": 0.55},
    }
    text = card_section(record)
    assert text.startswith(CARD_HEADER) and "occsim tune-decoder data/render --steps 10 --batch-size 2" in text
    assert "| before | 9.50 | 15.00 | 0.500 |" in text and "| after | 8.00 | 15.00 | 0.550 |" in text
