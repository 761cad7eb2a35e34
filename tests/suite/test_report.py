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


SCREENSHOT = os.environ.get("OCCSIM_REPORT_SCREENSHOT")  # save the 1400 px page here, to look at it


@pytest.mark.slow
def test_report_loads_without_errors_lists_every_run_and_its_videos_decode(tmp_path, chromium):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    out = tmp_path / "suite"
    args = ["suite", "bus_ahead", "cut_in", "--weather", "clear,fog", "--out", str(out), "--camera-hw", "16x28"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: errors.append(f"fetched {r.url}") if not r.url.startswith("file:") else None)
        page.goto((out / "report.html").as_uri())
        page.wait_for_load_state("load")
        if SCREENSHOT:
            page.screenshot(path=SCREENSHOT, full_page=True)
        rows = page.locator("#runs tbody tr")
        assert rows.count() == 8
        assert page.evaluate("document.documentElement.scrollWidth") <= 1400  # no sideways scrolling at 1400 px
        assert page.locator("#summary tbody tr").count() == 4  # 2 planners x 2 weathers
        # the plots are shown at their own size, not squeezed beside each other
        widths = page.locator("#plots img").evaluate_all("els => els.map(e => [e.clientWidth, e.naturalWidth])")
        assert len(widths) == 2 and all(shown == natural for shown, natural in widths)
        # sorting: a click on NCAP sorts the runs by it, a second click reverses
        ncap = page.locator("#runs-table thead th", has_text="NCAP")
        column = "els => els.map(e => parseFloat(e.dataset.value))"
        ncap.click()
        ascending = page.locator("#runs tbody td.ncap").evaluate_all(column)
        ncap.click()
        descending = page.locator("#runs tbody td.ncap").evaluate_all(column)
        assert ascending == sorted(ascending) and descending == ascending[::-1] and ascending[0] < ascending[-1]
        page.fill("#runs input[type=search]", "cut_in")
        assert page.locator("#runs tbody tr:visible").count() == 4
        page.fill("#runs input[type=search]", "")
        page.select_option("select[data-filter=planner]", "expert")
        assert page.locator("#runs tbody tr:visible").count() == 4
        assert page.locator("#shown").inner_text() == "4 of 8 runs"
        page.select_option("select[data-filter=outcome]", "collision")
        assert page.locator("#runs tbody tr:visible").count() == 0
        videos = page.locator("video").evaluate_all("els => els.map(e => [e.getAttribute('src'), e.poster])")
        stills = page.locator("a.still").count()
        browser.close()
    assert not errors, errors
    assert len(videos) == 8 and stills == 4
    for src, poster in videos:
        frames = imageio.mimread(out / src)
        assert len(frames) >= 2 and frames[0].ndim == 3
        assert poster.endswith(src.replace(".mp4", ".png"))  # a poster frame beside each video
        assert imageio.imread(out / src.replace(".mp4", ".png")).shape[1] == 464
