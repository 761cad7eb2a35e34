import torch

from occsim.generative.models.pixel_space import PixelSpace, decode_latents, encode_images, latent_factor


def test_pixel_space_folds_blocks_into_channels_and_decodes_exactly():
    space = PixelSpace(factor=4, scaling_factor=2.0)
    images = torch.rand(2, 3, 16, 24) * 2 - 1
    latents = encode_images(space, images)
    assert latents.shape == (2, 48, 4, 6) and space.latent_channels == 48 and latent_factor(space) == 4
    # the first latent pixel holds exactly the top-left 4 x 4 block, scaled
    assert torch.allclose(latents[0, :, 0, 0].view(3, 4, 4), images[0, :, :4, :4] * 2.0)
    assert torch.allclose(decode_latents(space, latents), images, atol=1e-6)


def test_pixel_space_round_trips_through_save_and_load(tmp_path):
    PixelSpace(factor=2, scaling_factor=1.7).save_pretrained(tmp_path)
    loaded = PixelSpace.from_pretrained(tmp_path, local_files_only=True)
    assert loaded.config.factor == 2 and loaded.config.scaling_factor == 1.7
