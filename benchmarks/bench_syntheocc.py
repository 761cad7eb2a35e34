"""Seconds per env step with the SyntheOcc renderer against the raster renderer in the same run, and the full-size
configurations: OccSim's layout (Stable Diffusion 2.1 UNet shape, 6 x 256 x 448) or the released SyntheOcc's
(``--format official``: 6 x 448 x 800, 257-channel condition, norm4 / attn4 / connector blocks).

    python benchmarks/bench_syntheocc.py [--steps 20] [--env-steps 5]
    python benchmarks/bench_syntheocc.py --device cuda --format official --full-size [--compile]
        [--weights RELEASE_DIR --base SD21_DIR]
    python benchmarks/bench_syntheocc.py --format official --flops [--peak-tflops 989 --utilisation 0.45]

The env part uses the shipped small model on the CPU (or --device cuda). --full-size builds the models from config
with random weights unless --weights/--base name a release (nothing is downloaded), and times a six-view generation
with classifier-free guidance in fp16 at 20 and 4 UniPC steps, with peak GPU memory. --flops counts the floating-point
work of one env step on the meta device (no memory, any machine) and turns it into a paper estimate for a GPU of the
given peak fp16 throughput: where no GPU is lent, that estimate is what README reports, labelled as one.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch


def full_size_seconds(device: str, steps: int, compile_unet: bool, repeats: int = 3) -> dict:
    """One 6 x 256 x 448 generation with an SD 2.1-shaped pipeline in fp16 (random weights)."""
    from diffusers import UniPCMultistepScheduler

    from occsim.generative.models.controlnet import MPIControlNet
    from occsim.generative.models.cross_view import install_cross_view

    torch.manual_seed(0)
    unet = sd21_unet()
    controlnet = MPIControlNet.from_unet(unet, planes=64)
    install_cross_view(unet)
    pipe = random_pipeline(unet, controlnet, UniPCMultistepScheduler(), device)
    if compile_unet:
        pipe.unet = torch.compile(pipe.unet)
    mpi = torch.randint(0, 18, (6, 64, 32, 56))
    nearest = torch.randint(0, 18, (6, 32, 56))
    times = cuda_seconds(pipe, mpi, nearest, "a street in fog", steps, None, repeats + 1)
    return {
        "images": [mpi.shape[0], mpi.shape[2] * 8, mpi.shape[3] * 8, 3],  # SD's autoencoder: 8x the latent
        "seconds_per_generation": round(float(np.median(times[1:])), 3),  # the first call compiles and warms up
        "first_call_seconds": round(times[0], 2),
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "unet_parameters_m": round(sum(p.numel() for p in unet.parameters()) / 1e6, 1),
        "controlnet_parameters_m": round(sum(p.numel() for p in controlnet.parameters()) / 1e6, 1),
    }


def random_pipeline(unet, controlnet, scheduler, device: str):
    """A SyntheOcc pipeline in fp16 on ``device``: SD's autoencoder shape and a 1024-wide one-layer text encoder.

    The text encoder runs once per generation, so its size is not the cost being timed.
    """
    import tempfile

    from occsim.generative.models.text import char_tokenizer, small_text_encoder
    from occsim.generative.pipelines.syntheocc import OccSimSyntheOccPipeline

    tokenizer = char_tokenizer(tempfile.mkdtemp())
    text_encoder = small_text_encoder(tokenizer, width=1024, layers=1, heads=16)
    pipe = OccSimSyntheOccPipeline(sd21_vae(), text_encoder, tokenizer, unet, controlnet, scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device, torch.float16)


def cuda_seconds(pipe, mpi, nearest, prompt: str, steps: int, guidance: float | None, calls: int) -> list[float]:
    """Wall seconds of ``calls`` generations, the device synchronised around each (the first one warms up)."""
    times = []
    for r in range(calls):
        torch.cuda.synchronize()
        start = time.perf_counter()
        pipe(
            mpi,
            nearest,
            prompt,
            num_inference_steps=steps,
            guidance_scale=guidance,
            generator=torch.Generator().manual_seed(r),
        )
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return times


def sd21_unet(device: str = "cpu"):
    """Stable Diffusion 2.1's UNet shape (random weights), built from config on ``device`` ("meta": shapes only)."""
    from diffusers import UNet2DConditionModel

    with torch.device(device):
        return UNet2DConditionModel(
            sample_size=96,
            block_out_channels=(320, 640, 1280, 1280),
            attention_head_dim=(5, 10, 20, 20),
            cross_attention_dim=1024,
            use_linear_projection=True,
            layers_per_block=2,
        )


def sd21_vae(device: str = "cpu"):
    """Stable Diffusion's autoencoder shape (random weights)."""
    from diffusers import AutoencoderKL

    with torch.device(device):
        return AutoencoderKL(
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=2,
            latent_channels=4,
            sample_size=768,
        )


def official_models(device: str = "cpu"):
    """(UNet, ControlNet) in the released SyntheOcc's layout on SD 2.1's shape, random weights."""
    from occsim.generative.models.official import OfficialControlNet, install_official_cross_view

    unet = sd21_unet(device)
    with torch.device(device):
        controlnet = OfficialControlNet.from_unet(unet)
    install_official_cross_view(unet)
    return unet, controlnet


def official_flops(steps: int) -> dict:
    """Floating-point work of one official-format env step (6 x 448 x 800, guidance), counted on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    unet, controlnet = official_models("meta")
    vae = sd21_vae("meta")
    views, (h, w) = 6, (56, 100)
    latents = torch.empty(2 * views, 4, h, w, device="meta")
    text = torch.empty(2 * views, 77, 1024, device="meta")
    mpi = torch.empty(2 * views, 256, h, w, device="meta", dtype=torch.long)
    nearest = torch.empty(2 * views, h, w, device="meta", dtype=torch.long)
    t = torch.tensor(500, device="meta")
    with FlopCounterMode(display=False) as denoiser:
        down, mid = controlnet(latents, t, text, mpi, nearest)
        unet(latents, t, text, down_block_additional_residuals=down, mid_block_additional_residual=mid)
    with FlopCounterMode(display=False) as decoder:
        vae.decode(torch.empty(views, 4, h, w, device="meta"))
    per_call, decode = denoiser.get_total_flops(), decoder.get_total_flops()
    return {
        "unet_parameters_m": round(sum(p.numel() for p in unet.parameters()) / 1e6, 1),
        "controlnet_parameters_m": round(sum(p.numel() for p in controlnet.parameters()) / 1e6, 1),
        "denoiser_tflop_per_step": round(per_call / 1e12, 2),  # ControlNet + UNet, both guidance halves, 6 views
        "decode_tflop": round(decode / 1e12, 2),
        "tflop_per_env_step": {str(n): round((n * per_call + decode) / 1e12, 1) for n in sorted({steps, 4})},
    }


def official_full_size_seconds(device: str, compile_unet: bool, weights: str | None, base: str | None) -> dict:
    """Seconds per six-view 448 x 800 generation in fp16 at 20 and 4 UniPC steps, and peak memory."""
    from diffusers import UniPCMultistepScheduler

    from occsim.generative.pipelines.official import load_official

    torch.manual_seed(0)
    if weights:
        pipe = load_official(weights, base, torch.float16).to(device)
        pipe.set_progress_bar_config(disable=True)
    else:
        unet, controlnet = official_models()
        pipe = random_pipeline(unet, controlnet, UniPCMultistepScheduler(prediction_type="v_prediction"), device)
    if compile_unet:
        pipe.unet = torch.compile(pipe.unet)
        pipe.controlnet = torch.compile(pipe.controlnet)
    mpi = torch.randint(0, 17, (6, 256, 56, 100))
    nearest = torch.randint(0, 17, (6, 56, 100))
    figures: dict = {"weights": weights or "random, official layout", "compiled": compile_unet}
    for steps in (20, 4):
        times = cuda_seconds(pipe, mpi, nearest, "show a photorealistic street view image.", steps, 7.5, 3)
        figures[f"{steps}_steps"] = {"seconds": round(float(np.median(times[1:])), 3), "first_call": round(times[0], 2)}
    figures["peak_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20, help="UniPC steps")
    parser.add_argument("--env-steps", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--format", choices=("occsim", "official"), default="occsim")
    parser.add_argument("--full-size", action="store_true", help="time the full-size pipeline (needs CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the UNet for --full-size")
    parser.add_argument("--weights", help="--format official: a released checkpoint folder (default random weights)")
    parser.add_argument("--base", help="--format official with --weights: the local SD 2.1 folder")
    parser.add_argument("--flops", action="store_true", help="--format official: count the work, estimate GPU time")
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense fp16 peak (H100 SXM: 989)")
    parser.add_argument("--utilisation", type=float, default=0.45, help="share of peak a UNet reaches (estimate)")
    args = parser.parse_args()
    if args.flops:
        counted = official_flops(args.steps)
        rate = args.peak_tflops * args.utilisation
        counted["estimate"] = {
            "assumed_tflops": rate,
            "seconds_per_env_step": {n: round(w / rate, 2) for n, w in counted["tflop_per_env_step"].items()},
            "note": "an estimate from counted work and an assumed throughput, not a measurement",
        }
        print(json.dumps(counted, indent=2))
        return
    if args.format == "official":
        if not (args.full_size and torch.cuda.is_available()):
            raise SystemExit("--format official times --full-size on CUDA; without a GPU use --flops for an estimate")
        print(json.dumps(official_full_size_seconds("cuda", args.compile, args.weights, args.base), indent=2))
        return
    from occsim.suite.throughput import renderer_seconds_per_step

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
