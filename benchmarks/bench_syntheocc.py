"""Seconds per env step with the SyntheOcc renderer against the raster renderer in the same run, and, on a GPU, the
full-size configuration (Stable Diffusion 2.1 UNet shape, 6 x 256 x 448, 20 UniPC steps, random weights).

    python benchmarks/bench_syntheocc.py [--steps 20] [--env-steps 5] [--full-size] [--compile]

The env part uses the shipped small model on the CPU (or --device cuda). --full-size builds SD 2.1's UNet, VAE and a
1024-wide text encoder from config (nothing is downloaded) and times one six-view generation with classifier-free
guidance: the figure to compare with the 1.5 s per env step goal on an H100.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def full_size_seconds(device: str, steps: int, compile_unet: bool, repeats: int = 3) -> dict:
    """One 6 x 256 x 448 generation with an SD 2.1-shaped pipeline in fp16 (random weights)."""
    from diffusers import AutoencoderKL, UNet2DConditionModel, UniPCMultistepScheduler

    from occsim.generative.models.controlnet import MPIControlNet
    from occsim.generative.models.cross_view import install_cross_view
    from occsim.generative.models.text import char_tokenizer, small_text_encoder
    from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=96,
        block_out_channels=(320, 640, 1280, 1280),
        attention_head_dim=(5, 10, 20, 20),
        cross_attention_dim=1024,
        use_linear_projection=True,
        layers_per_block=2,
    )
    controlnet = MPIControlNet.from_unet(unet, planes=64)
    install_cross_view(unet)
    import tempfile

    tokenizer = char_tokenizer(tempfile.mkdtemp())
    pipe = OccSimSyntheOccPipeline(
        AutoencoderKL(
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2,
            latent_channels=4,
            sample_size=768,
        ),
        small_text_encoder(tokenizer, width=1024, layers=1, heads=16),
        tokenizer,
        unet,
        controlnet,
        UniPCMultistepScheduler(),
    ).to(device, torch.float16)
    pipe.set_progress_bar_config(disable=True)
    if compile_unet:
        pipe.unet = torch.compile(pipe.unet)
    mpi = torch.randint(0, 18, (6, 64, 32, 56))
    nearest = torch.randint(0, 18, (6, 32, 56))
    times = []
    for r in range(repeats + 1):
        torch.cuda.synchronize()
        start = time.perf_counter()
        images = pipe(
            mpi, nearest, "a street in fog", num_inference_steps=steps, generator=torch.Generator().manual_seed(r)
        )
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return {
        "images": list(images.shape),
        "seconds_per_generation": round(float(np.median(times[1:])), 3),  # the first call compiles and warms up
        "first_call_seconds": round(times[0], 2),
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "unet_parameters_m": round(sum(p.numel() for p in unet.parameters()) / 1e6, 1),
        "controlnet_parameters_m": round(sum(p.numel() for p in controlnet.parameters()) / 1e6, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="UniPC steps")
    parser.add_argument("--env-steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full-size", action="store_true", help="time the SD 2.1-shaped pipeline (needs CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet for --full-size")
    args = parser.parse_args()
    from occsim.suite.bench import renderer_seconds_per_step

    torch.manual_seed(0)
    figures: dict = {"device": args.device, "torch_threads": torch.get_num_threads(), "unipc_steps": args.steps}
    for hw in ((64, 112), (256, 448)):
        raster = renderer_seconds_per_step("raster", hw, args.env_steps)
        kwargs = {"init": "noise", "steps": args.steps, "device": args.device}  # pure generation, as documented
        syntheocc = renderer_seconds_per_step("syntheocc", hw, args.env_steps, kwargs)
        figures[f"{hw[0]}x{hw[1]}"] = {
            "raster_s_per_step": round(raster, 4),
            "syntheocc_s_per_step": round(syntheocc, 3),
            "syntheocc_over_raster": round(syntheocc / raster, 1),
        }
    if args.full_size:
        if not torch.cuda.is_available():
            raise SystemExit("--full-size needs a CUDA device")
        figures["full_size_fp16"] = full_size_seconds("cuda", args.steps, args.compile)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
