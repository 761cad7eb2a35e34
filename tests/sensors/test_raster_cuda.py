"""``RasterRenderer(device="cuda")``: numba's CUDA simulator runs the GPU path here against the CPU kernel.

The simulator (``NUMBA_ENABLE_CUDASIM=1``, with ``NUMBA_DISABLE_JIT=1`` so the shared per-pixel helpers run as
Python inside it) checks everything but the GPU compile: the uploads, the static-world cache, the thread-to-pixel
mapping, the per-world launches and the copies back. The ``gpu`` test compares a real device where one is lent.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from occsim.envs import OccSimVectorEnv
from occsim.scenario import build_world
from occsim.scenarios import load_scenario
from occsim.sensors.raster import RasterRenderer
from occsim.sensors.raster_cuda import cuda_problem
from occsim.types import CameraRig, Weather

HW = (12, 20)
SCENES = [("bus_ahead", Weather("clear")), ("cut_in", Weather("night")), ("construction_zone", Weather("rain"))]

RENDER_ON_CUDA = """
import sys
import numpy as np
from occsim.scenario import build_world
from occsim.scenarios import load_scenario
from occsim.sensors.raster import RasterRenderer
from occsim.types import CameraRig, Weather

names, kinds = sys.argv[2].split(","), sys.argv[3].split(",")
worlds = [build_world(load_scenario(name), 3) for name in names]
renderer = RasterRenderer(CameraRig.nuscenes((12, 20)), device="cuda")
batch = renderer.render_batch(worlds, [Weather(kind) for kind in kinds], [5] * len(worlds))
again = renderer.render(worlds[0], Weather(kinds[0]), 5)  # the static world is on the device already
cached = len(renderer._gpu._statics) == len({id(world.static) for world in worlds})  # each uploaded once
np.savez(sys.argv[1], cached=cached, again=again.rgb, **{f"{k}_{i}": getattr(f, k) for i, f in enumerate(batch)
         for k in ("rgb", "depth", "semantic")})
"""


def _cpu_frames():
    renderer = RasterRenderer(CameraRig.nuscenes(HW))
    worlds = [build_world(load_scenario(name), 3) for name, _ in SCENES]
    return renderer.render_batch(worlds, [weather for _, weather in SCENES], [5] * len(SCENES))


@pytest.mark.slow
def test_the_cuda_path_renders_what_the_cpu_kernel_does_in_the_simulator(tmp_path):
    out = tmp_path / "cuda.npz"
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1", "NUMBA_DISABLE_JIT": "1"}
    names, kinds = ",".join(n for n, _ in SCENES), ",".join(w.kind for _, w in SCENES)
    done = subprocess.run(
        [sys.executable, "-c", RENDER_ON_CUDA, str(out), names, kinds], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    gpu = np.load(out)
    for i, frames in enumerate(_cpu_frames()):
        assert np.array_equal(gpu[f"semantic_{i}"], frames.semantic)
        assert np.allclose(gpu[f"depth_{i}"], frames.depth, rtol=1e-5)  # inf (sky) equals inf
        assert np.abs(gpu[f"rgb_{i}"].astype(int) - frames.rgb).max() <= 1  # fastmath rounding on the CPU
    assert np.array_equal(gpu["again"], gpu["rgb_0"]) and bool(gpu["cached"])


@pytest.mark.skipif(cuda_problem() is None, reason="a GPU is here")
def test_cuda_without_a_gpu_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="no CUDA GPU"):
        RasterRenderer(CameraRig.nuscenes(HW), device="cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        OccSimVectorEnv(num_envs=2, camera_hw=HW, device="cuda")
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        RasterRenderer.check_options(device="tpu")


@pytest.mark.gpu
@pytest.mark.skipif(cuda_problem() is not None, reason="needs a CUDA GPU")
def test_a_real_gpu_renders_what_the_cpu_does():
    renderer = RasterRenderer(CameraRig.nuscenes(HW), device="cuda")
    worlds = [build_world(load_scenario(name), 3) for name, _ in SCENES]
    gpu = renderer.render_batch(worlds, [weather for _, weather in SCENES], [5] * len(SCENES))
    for g, c in zip(gpu, _cpu_frames()):
        assert np.mean(g.semantic == c.semantic) > 0.999  # a grazing ray may round to the neighbouring voxel
        assert np.mean(np.abs(g.rgb.astype(int) - c.rgb) <= 2) > 0.999
