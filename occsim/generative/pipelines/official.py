"""The released SyntheOcc checkpoint as an ``OccSimSyntheOccPipeline``: its ControlNet and UNet on a local SD 2.1.

The release (Hugging Face ``lilelife/SyntheOcc``) holds ``controlnet/`` and ``unet/`` folders written by diffusers'
``save_pretrained``; the rest (autoencoder, CLIP text encoder and tokenizer, v-prediction scheduler config) comes from
the Stable Diffusion 2.1 folder it was trained on. Both are directories the user names: nothing is downloaded.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel, UniPCMultistepScheduler
from transformers import CLIPTextModel, CLIPTokenizer

from occsim.generative.models.official import (
    OFFICIAL_CONDITION_CHANNELS,
    OFFICIAL_NEIGHBOURS,
    PICKLE_FILES,
    WEIGHT_FILES,
    OfficialControlNet,
    load_exact,
    official_controlnet,
    official_unet,
    read_state,
)
from occsim.generative.models.text import quiet_loading
from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline

# What the release was trained and sampled with (infer.py l. 46-47, 97, 108, 187 of EnVision-Research/SyntheOcc;
# cfg 7.5 in infer.py, 256 planes of 0.2 m in utils/gen_mtp.py).
OFFICIAL_SETTINGS = {
    "format": "official",
    "image_hw": [448, 800],
    "planes": 256,
    "max_depth": 51.2,
    "latent_factor": 8,
    "steps": 20,
    "guidance": 7.5,
}
BASE_PARTS = ("vae", "text_encoder", "tokenizer", "scheduler")
# The release's cross-view settings as its UNet config stores them (utils/common.py l. 21-28).
RELEASE_UNET_CONFIG = {
    "trainable_state": "only_new",
    "neighboring_view_pair": {str(k): v for k, v in OFFICIAL_NEIGHBOURS.items()},
    "neighboring_attn_type": "add",
    "zero_module_type": "zero_linear",
    "crossview_attn_type": "basic",
    "img_size": OFFICIAL_SETTINGS["image_hw"],
}


def load_official(
    weights: str | Path, base: str | Path | None, torch_dtype: torch.dtype | None = None
) -> OccSimSyntheOccPipeline:
    """The release's ``weights`` folder (``controlnet/``, ``unet/``) on the SD 2.1 folder ``base``.

    Every key of the release is mapped onto OccSim modules that reproduce its forward (``models.official``); a
    missing, unexpected or misshapen key is refused by name.

    Raises:
        ValueError: no ``base``, or weights that are not the official layout. FileNotFoundError: a folder or file
            missing, named.
    """
    base = check_base(base)
    unet, controlnet = official_parts(weights)
    with quiet_loading():
        text_encoder = CLIPTextModel.from_pretrained(base / "text_encoder", local_files_only=True)
    pipe = OccSimSyntheOccPipeline(
        vae=AutoencoderKL.from_pretrained(base / "vae", local_files_only=True),
        text_encoder=text_encoder,
        tokenizer=CLIPTokenizer.from_pretrained(base / "tokenizer", local_files_only=True),
        unet=unet.eval(),
        controlnet=controlnet.eval(),
        # the release samples with UniPC on SD 2.1's own scheduler config (v-prediction): infer.py l. 187
        scheduler=UniPCMultistepScheduler.from_pretrained(base / "scheduler", local_files_only=True),
    )
    pipe.settings = dict(OFFICIAL_SETTINGS)
    return pipe.to(torch_dtype=torch_dtype) if torch_dtype else pipe


def official_parts(weights: str | Path) -> tuple[UNet2DConditionModel, OfficialControlNet]:
    """The UNet and ControlNet of a release-layout folder, every key checked (see ``load_official``)."""
    weights = Path(weights)
    unet = official_unet(_config(weights / "unet"))
    load_exact(unet, read_state(weights / "unet"), weights / "unet")
    controlnet = official_controlnet(_config(weights / "controlnet"))
    if controlnet.config.conditioning_channels != OFFICIAL_CONDITION_CHANNELS:
        raise ValueError(
            f"{weights / 'controlnet'}: conditioning_channels is {controlnet.config.conditioning_channels}; "
            f"the official layout takes {OFFICIAL_CONDITION_CHANNELS} (256 MPI planes and the nearest class)"
        )
    load_exact(controlnet, read_state(weights / "controlnet"), weights / "controlnet")
    return unet, controlnet


def save_official(directory: str | Path, unet: UNet2DConditionModel, controlnet: OfficialControlNet) -> Path:
    """Write ``unet/`` and ``controlnet/`` in the release's layout (safetensors), so the release's code reads them.

    The UNet's config gets the release's cross-view keys (``UNet2DConditionModelMultiview``).
    """
    directory = Path(directory)
    unet.save_pretrained(directory / "unet", safe_serialization=True)
    controlnet.save_pretrained(directory / "controlnet", safe_serialization=True)
    config_path = directory / "unet" / "config.json"
    config = json.loads(config_path.read_text())
    config.update(_class_name="UNet2DConditionModelMultiview", **RELEASE_UNET_CONFIG)
    config_path.write_text(json.dumps(config, indent=2))
    return directory


def check_base(base: str | Path | None) -> Path:
    """``base`` as a Path holding an SD 2.1 folder's parts.

    Raises:
        ValueError: no ``base`` given. FileNotFoundError: a part missing, named.
    """
    if base is None:
        raise ValueError("the official format needs base: the local Stable Diffusion 2.1 folder it was trained on")
    base = Path(base)
    missing = [part for part in BASE_PARTS if not (base / part).is_dir()]
    if missing:
        raise FileNotFoundError(f"{base} is not a Stable Diffusion folder: no {', '.join(missing)}/")
    return base


def check_official(weights: str | Path) -> None:
    """Cheap checks of a release folder before anything loads: both parts, their configs and weights present.

    Raises:
        FileNotFoundError: a part, config or weights file missing, named.
    """
    for part in ("unet", "controlnet"):
        folder = Path(weights) / part
        _config(folder)
        if not any((folder / name).is_file() for name in WEIGHT_FILES + PICKLE_FILES):
            raise FileNotFoundError(f"{folder}: no weights ({', '.join(WEIGHT_FILES + PICKLE_FILES)})")


def _config(folder: Path) -> dict:
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder}: no config.json (expected the release's controlnet/ and unet/ folders)")
    return json.loads((folder / "config.json").read_text())
