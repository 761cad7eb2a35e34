"""The released SyntheOcc checkpoint's two changes to Stable Diffusion 2.1, rebuilt so its weights load as saved.

From EnVision-Research/SyntheOcc at commit d7dccb5 (read with the library's ``fetch``):

- ControlNet (``models/controlnet1x1.py``): the condition, 257 channels at latent resolution (256 MPI planes of raw
  class ids, then the nearest class), goes through ``controlnet_cond_embedding.position_encoder`` = Conv 1 x 1,
  ReLU, Conv 1 x 1 (l. 143-148; the last is not zero-initialised) and is added to the latents after ``conv_in``
  (l. 849-862). Everything else is diffusers' stock ControlNet.
- UNet (``models/blocks.py`` l. 490-684, installed on every ``BasicTransformerBlock`` by
  ``models/unet_2d_condition_multiview.py`` l. 248-262 with ``utils/common.py`` l. 11-28): after the text
  cross-attention, ``norm4`` (LayerNorm), ``attn4`` (bias-free q/k/v) from each view to each of its two neighbours,
  the two outputs summed, then ``connector`` (a zero-initialised Linear) added as a residual before the feed-forward.
  The block hands its arguments to its parent by position, so ``final_dropout`` (False) lands on ``norm_eps``
  (blocks.py l. 514-518): in the release norm1-3 have eps 0; norm4 keeps LayerNorm's 1e-5.

Views are batched ``(b n)`` with n = 6 in the nuScenes order of ARCHITECTURE.md, the same order the release uses
(``utils/dataset_nusmtv.py`` l. 75), so view i's neighbours are i - 1 and i + 1 (mod 6).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from diffusers import ControlNetModel, UNet2DConditionModel
from diffusers.models.attention import BasicTransformerBlock
from diffusers.models.attention_processor import Attention
from safetensors.torch import load_file
from torch import nn

OFFICIAL_NEIGHBOURS = {i: [(i - 1) % 6, (i + 1) % 6] for i in range(6)}  # utils/common.py l. 11-18
OFFICIAL_CONDITION_CHANNELS = 257  # 256 planes + the nearest class
RELEASE_NORM_EPS = 0.0  # norm1-3 of every multi-view block in the release (see the module docstring)
# Extra keys of the release's UNet config (UNet2DConditionModelMultiview); only the stock ones build the UNet.
_MULTIVIEW_CONFIG = (
    "trainable_state",
    "neighboring_view_pair",
    "neighboring_attn_type",
    "zero_module_type",
    "crossview_attn_type",
    "img_size",
)


class PositionEncoder(nn.Module):
    """``controlnet_cond_embedding`` of the release: 1 x 1 convolutions from the raw condition to the latent width."""

    def __init__(self, conditioning_channels: int, embedding_channels: int):
        super().__init__()
        self.position_encoder = nn.Sequential(
            nn.Conv2d(conditioning_channels, embedding_channels, kernel_size=1),
            nn.ReLU(),
            nn.Conv2d(embedding_channels, embedding_channels, kernel_size=1),
        )

    def forward(self, condition: torch.Tensor) -> torch.Tensor:
        """(B, C_cond, h, w) raw condition → (B, C_latent, h, w)."""
        return self.position_encoder(condition)


class OfficialControlNet(ControlNetModel):
    """diffusers' ControlNet with the release's ``PositionEncoder`` as its conditioning embedding.

    Build it with ``official_controlnet(config)`` or ``from_unet``: both swap the embedding in after diffusers'
    constructor (whose config, saved with the weights, stays the stock one; ``conditioning_channels`` is 257).
    """

    def use_position_encoder(self) -> OfficialControlNet:
        """Replace the image-space conditioning embedding by the release's 1 x 1 ``PositionEncoder``."""
        self.controlnet_cond_embedding = PositionEncoder(
            self.config.conditioning_channels, self.config.block_out_channels[0]
        )
        return self

    @classmethod
    def from_unet(cls, unet: UNet2DConditionModel, conditioning_channels: int = OFFICIAL_CONDITION_CHANNELS):
        """A ControlNet whose encoder starts as a copy of ``unet``'s, as the release's training does (train.py l. 267).

        Call it before ``install_official_cross_view``: the ControlNet keeps stock transformer blocks.
        """
        source = ControlNetModel.from_unet(unet, conditioning_channels=conditioning_channels)
        model = official_controlnet(dict(source.config))
        state = {k: v for k, v in source.state_dict().items() if not k.startswith("controlnet_cond_embedding.")}
        missing, unexpected = model.load_state_dict(state, strict=False)
        assert not unexpected and all(k.startswith("controlnet_cond_embedding.") for k in missing)
        return model

    def forward(  # noqa: D417 - the pipeline's ControlNet interface, documented on MPIControlNet
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | int,
        encoder_hidden_states: torch.Tensor,
        mpi: torch.Tensor,
        nearest: torch.Tensor,
        conditioning_scale: float = 1.0,
        condition_residual: torch.Tensor | None = None,
    ) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        """``(down residuals, mid residual)`` for the UNet from ``mpi`` (B, 256, h, w) and ``nearest`` (B, h, w).

        Both hold the release's class ids (``build_mpi(layout="official")``), fed to the network as numbers.
        """
        if condition_residual is not None:
            raise ValueError("the official SyntheOcc layout has no entry for a condition residual (OccScene's MDA)")
        condition = torch.cat([mpi, nearest[:, None]], dim=1).to(sample.dtype)
        out = super().forward(
            sample,
            timestep,
            encoder_hidden_states=encoder_hidden_states,
            controlnet_cond=condition,
            conditioning_scale=conditioning_scale,
            return_dict=False,
        )
        return out[0], out[1]


class OfficialMultiviewBlock(nn.Module):
    """A stock SD transformer block (its own modules, same names) plus the release's cross-view attention.

    Args:
        block: the diffusers block to extend (layer-norm type, as in SD 2.1); its modules are reused, not copied.
        neighbours: view → the two views it attends to.
        release_eps: give norm1-3 the release's eps of 0, so the official weights reproduce the official outputs.
    """

    def __init__(self, block: BasicTransformerBlock, neighbours: dict[int, list[int]], release_eps: bool = True):
        super().__init__()
        if block.norm_type != "layer_norm" or block.pos_embed is not None or block.only_cross_attention:
            raise ValueError("the release's cross-view block extends plain layer-norm transformer blocks (SD 2.x)")
        self.norm1, self.attn1, self.norm2, self.attn2 = block.norm1, block.attn1, block.norm2, block.attn2
        self.norm3, self.ff = block.norm3, block.ff
        if release_eps:
            for norm in (self.norm1, self.norm2, self.norm3):
                norm.eps = RELEASE_NORM_EPS
        dim = block.dim
        self.neighbours = {int(k): [int(v) for v in vs] for k, vs in neighbours.items()}
        self.norm4 = nn.LayerNorm(dim, elementwise_affine=block.norm_elementwise_affine)
        self.attn4 = Attention(
            query_dim=dim,
            cross_attention_dim=dim,
            heads=block.num_attention_heads,
            dim_head=block.attention_head_dim,
            dropout=block.dropout,
            bias=block.attention_bias,
            upcast_attention=block.attn1.upcast_attention,
        )
        self.connector = nn.Linear(dim, dim)
        nn.init.zeros_(self.connector.weight)
        nn.init.zeros_(self.connector.bias)
        like = next(block.parameters())  # the new layers live where the block does (a GPU, half precision)
        for module in (self.norm4, self.attn4, self.connector):
            module.to(like.device, like.dtype)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        encoder_hidden_states: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        timestep: torch.Tensor | None = None,
        cross_attention_kwargs: dict[str, Any] | None = None,
        class_labels: torch.Tensor | None = None,
        added_cond_kwargs: dict[str, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Self-attention, text cross-attention, cross-view attention, feed-forward; each a pre-norm residual.

        The positional order of the arguments is diffusers' (its gradient checkpointing passes them by position).
        """
        kwargs = cross_attention_kwargs or {}
        hidden_states = self.attn1(self.norm1(hidden_states), attention_mask=attention_mask, **kwargs) + hidden_states
        hidden_states = (
            self.attn2(
                self.norm2(hidden_states),
                encoder_hidden_states=encoder_hidden_states,
                attention_mask=encoder_attention_mask,
                **kwargs,
            )
            + hidden_states
        )
        hidden_states = self.connector(self.cross_view(self.norm4(hidden_states))) + hidden_states
        return self.ff(self.norm3(hidden_states)) + hidden_states

    def cross_view(self, normed: torch.Tensor) -> torch.Tensor:
        """Sum over each view's neighbours of attn4(view, neighbour): (b n, L, C) in and out."""
        views = len(self.neighbours)
        if normed.shape[0] % views:
            raise ValueError(f"batch {normed.shape[0]} is not a multiple of the {views} views")
        grouped = normed.view(normed.shape[0] // views, views, *normed.shape[1:])
        out = torch.zeros_like(grouped)
        for slot in range(max(len(v) for v in self.neighbours.values())):
            # every view's slot-th neighbour at once: one attention call per slot, not per view pair
            order = [self.neighbours[view][slot] for view in range(views)]
            query, context = grouped.flatten(0, 1), grouped[:, order].flatten(0, 1)
            out = out + self.attn4(query, encoder_hidden_states=context).view_as(grouped)
        return out.flatten(0, 1)


def install_official_cross_view(
    unet: UNet2DConditionModel, neighbours: dict[int, list[int]] | None = None, release_eps: bool = True
) -> int:
    """Replace every transformer block of ``unet`` by an ``OfficialMultiviewBlock``; returns how many.

    The state dict then has the release's keys: the stock ones plus ``norm4``, ``attn4`` and ``connector`` per block.
    """
    neighbours = OFFICIAL_NEIGHBOURS if neighbours is None else neighbours
    names = [name for name, module in unet.named_modules() if isinstance(module, BasicTransformerBlock)]
    if not names:
        raise ValueError("the UNet has no transformer blocks to extend")
    for name in names:
        parent, _, child = name.rpartition(".")
        owner = unet.get_submodule(parent)
        owner._modules[child] = OfficialMultiviewBlock(owner._modules[child], neighbours, release_eps)
    return len(names)


def official_unet(config: dict[str, Any]) -> UNet2DConditionModel:
    """The release's UNet built from its ``unet/config.json``: stock SD 2.1 layers plus the cross-view blocks.

    Raises:
        ValueError: the config asks for a cross-view variant the release did not ship (only ``add`` attention to
            neighbours through a ``zero_linear`` connector is rebuilt here).
    """
    if config.get("neighboring_attn_type", "add") != "add" or config.get("zero_module_type", "zero_linear") != (
        "zero_linear"
    ):
        raise ValueError(
            "only the released cross-view variant (neighboring_attn_type 'add', zero_module_type 'zero_linear') "
            f"is supported, got {config.get('neighboring_attn_type')!r} / {config.get('zero_module_type')!r}"
        )
    stock = {k: v for k, v in config.items() if k not in _MULTIVIEW_CONFIG and not k.startswith("_")}
    unet = UNet2DConditionModel.from_config(stock)
    install_official_cross_view(unet, config.get("neighboring_view_pair") or OFFICIAL_NEIGHBOURS)
    return unet


def official_controlnet(config: dict[str, Any]) -> OfficialControlNet:
    """The release's ControlNet built from its ``controlnet/config.json`` (class ``ControlNetModel1x1``)."""
    stock = {k: v for k, v in config.items() if not k.startswith("_")}
    return OfficialControlNet.from_config(stock).use_position_encoder()


WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.fp16.safetensors")
PICKLE_FILES = ("diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.bin")


def read_state(folder: Path) -> dict[str, torch.Tensor]:
    """The weights in ``folder``: safetensors, else a ``.bin`` read with ``torch.load(weights_only=True)``.

    Raises:
        FileNotFoundError: neither is there.
    """
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return load_file(str(folder / name))
    for name in PICKLE_FILES:
        if (folder / name).is_file():
            # weights_only refuses anything but tensors and plain containers: no code runs from the file
            return torch.load(folder / name, map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"{folder}: no weights ({', '.join(WEIGHT_FILES + PICKLE_FILES)})")


def load_exact(module: nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """Load ``state`` into ``module``, refusing any missing, unexpected or misshapen key by name.

    Raises:
        ValueError: the keys or shapes of ``state`` are not ``module``'s.
    """
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    misshapen = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected)):
        if keys:
            problems.append(f"{len(keys)} {label} key(s): {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}")
    for key in misshapen[:5]:
        problems.append(f"{key} has shape {tuple(state[key].shape)}, expected {tuple(own[key].shape)}")
    if problems:
        raise ValueError(f"{source} does not match the official SyntheOcc layout: " + "; ".join(problems))
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in state.items()})
