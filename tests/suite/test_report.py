"""The report in a real browser: headless Chromium (Debian's package) driven by Playwright."""

import os
import shutil
import subprocess

import imageio.v2 as imageio
import pytest
from typer.testing import CliRunner

from occsim.cli import app

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, capture_output=True, timeout=900)
        path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed and could not be installed here (needs root and apt-get)")
    return path


def test_report_loads_without_errors_lists_every_run_and_its_videos_decode(tmp_path, chromium):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    out = tmp_path / "suite"
    args = ["suite", "bus_ahead", "cut_in", "--weather", "clear,fog", "--out", str(out), "--camera-hw", "16x28"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto((out / "report.html").as_uri())
        page.wait_for_load_state("load")
        rows = page.locator("#runs tbody tr")
        assert rows.count() == 8
        assert page.locator("#summary tbody tr").count() == 4  # 2 planners x 2 weathers
        page.select_option("select[data-filter=planner]", "expert")
        assert page.locator("#runs tbody tr:visible").count() == 4
        assert page.locator("#shown").inner_text() == "4 of 8 runs"
        page.select_option("select[data-filter=outcome]", "collision")
        assert page.locator("#runs tbody tr:visible").count() == 0
        videos = page.locator("video").evaluate_all("els => els.map(e => e.getAttribute('src'))")
        stills = page.locator("img[alt=collision]").count()
        browser.close()
    assert not errors, errors
    assert len(videos) == 8 and stills == 4
    for src in videos:
        frames = imageio.mimread(out / src)
        assert len(frames) >= 2 and frames[0].ndim == 3
