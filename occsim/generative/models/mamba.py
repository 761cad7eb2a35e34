"""A bidirectional Mamba block (OccScene, paper 000, section III-C, eq. 5-8): forward and backward selective scans.

The selective scan runs in mamba-ssm's fused CUDA kernel where it imports and the input is on a GPU, in mambapy's
parallel scan (pure PyTorch) on a GPU without it, and in mambapy's sequential scan on a CPU, where it measured faster
than the parallel one at every length tried (``benchmarks/bench_mamba.py``). All read the same parameters (mambapy's
``MambaBlock``), so a model trained on one path runs on the others.
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from mambapy.mamba import MambaBlock, MambaConfig
from torch import nn

try:  # the CUDA kernels: only where mamba-ssm built (it needs CUDA)
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
except ImportError:  # pragma: no cover - depends on the machine
    selective_scan_fn = None

BACKENDS = ("auto", "mambapy", "mamba_ssm", "sequential")


def kernel_available() -> bool:
    """Whether mamba-ssm's CUDA selective scan imported."""
    return selective_scan_fn is not None


class BidirectionalMamba(ModelMixin, ConfigMixin):
    """Pre-norm residual block: x + mean(forward scan(norm x), reversed(backward scan(reversed norm x))).

    Args:
        dim: channels of each token.
        state: SSM state size N.
        expand: inner width factor E of the Mamba block.
        conv: kernel of the short causal convolution before the scan.
    """

    @register_to_config
    def __init__(self, dim: int, state: int = 16, expand: int = 2, conv: int = 4):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        # one config each: the scan backend is switched per call on the config mambapy reads
        self.forward_scan = MambaBlock(
            MambaConfig(d_model=dim, n_layers=1, d_state=state, expand_factor=expand, d_conv=conv)
        )
        self.backward_scan = MambaBlock(
            MambaConfig(d_model=dim, n_layers=1, d_state=state, expand_factor=expand, d_conv=conv)
        )
        for block in (self.forward_scan, self.backward_scan):
            block.selective_scan_cuda = selective_scan_fn

    def forward(self, tokens: torch.Tensor, backend: str = "auto") -> torch.Tensor:
        """(B, L, dim) -> (B, L, dim).

        Args:
            tokens: the sequence, scanned in both directions.
            backend: ``auto`` (mamba-ssm on CUDA where it imports, mambapy's parallel scan on other GPUs, its
                sequential scan on a CPU), ``mambapy`` (parallel scan), ``mamba_ssm`` (the CUDA kernel; an error
                where it cannot run) or ``sequential`` (mambapy's loop).
        """
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        kernel = backend == "mamba_ssm" or (backend == "auto" and tokens.is_cuda and kernel_available())
        if kernel and not (tokens.is_cuda and kernel_available()):
            raise RuntimeError("the mamba_ssm backend needs mamba-ssm installed and the input on a CUDA device")
        sequential = backend == "sequential" or (backend == "auto" and not tokens.is_cuda)
        h = self.norm(tokens)
        forward = self._scan(self.forward_scan, h, kernel, sequential)
        backward = self._scan(self.backward_scan, h.flip(1), kernel, sequential).flip(1)
        return tokens + (forward + backward) / 2

    @staticmethod
    def _scan(block: MambaBlock, x: torch.Tensor, kernel: bool, sequential: bool) -> torch.Tensor:
        block.config.use_cuda = kernel
        block.config.pscan = not sequential
        return block(x)
