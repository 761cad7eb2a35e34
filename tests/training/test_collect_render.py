import numpy as np
from typer.testing import CliRunner

from occsim.classes import FREE
from occsim.cli import app


def test_collect_render_pairs_views_with_aligned_latent_mpis(tmp_path):
    out = tmp_path / "render"
    args = ["collect-render", "--scenarios", "bus_ahead", "--episodes", "1", "--out", str(out), "--planes", "16"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = np.load(next(out.glob("*.npz")))
    n = len(data["images"])
    assert data["images"].shape == (n, 6, 64, 112, 3)
    assert data["mpi"].shape == (n, 6, 16, 16, 28) and data["nearest"].shape == (n, 6, 16, 28)
    assert data["occupancy"].shape == (n, 200, 200, 16) and data["ego_pose"].shape == (n, 3)
    assert data["intrinsics"].shape == (6, 3, 3) and data["cam2ego"].shape == (6, 4, 4)
    assert str(data["weather"]) in {"clear", "fog", "rain", "snow", "night", "sandstorm"}
    # the MPI's first occupied plane and the rendered nearest surface name the same class in most latent pixels
    mpi = data["mpi"]
    occupied = mpi != FREE
    first = np.take_along_axis(mpi, occupied.argmax(axis=2)[:, :, None], axis=2)[:, :, 0]
    hit = occupied.any(axis=2)
    agreement = (first[hit] == data["nearest"][hit]).mean()
    assert agreement > 0.6, agreement
    bad = CliRunner().invoke(app, ["collect-render", "--image-hw", "62x100", "--out", str(out)])
    assert bad.exit_code == 2 and "multiples of --latent-factor 4" in bad.output
