"""The snippets that README.md and the docs mark runnable are run, so a documented command that stops working fails.

A fenced block runs when the line before it is an HTML comment (invisible on GitHub and on the site):

- ``<!-- runnable -->``: a ``python`` block runs in Python, a ``bash`` block in bash (``set -euo pipefail``);
- ``<!-- runnable: write NAME -->``: the block's text is written to the file NAME (a scenario for the next block);
- ``<!-- runnable: expect exit N -->``: a ``bash`` block that must exit with code N.

The blocks of one page run in order in one temporary folder, so a later block sees the files an earlier one wrote;
each page's Python blocks run in one interpreter, each in fresh globals.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").rglob("*.md") if "_hooks" not in p.parts)]
MARKER = re.compile(r"^<!-- runnable(?:: (write (?P<file>[\w.\-/]+)|expect exit (?P<code>\d+)))? -->$")
FENCE = re.compile(r"^```(?P<lang>\w+)?")
TIMEOUT_S = 120  # per page; the snippets are meant to take seconds


@dataclass(frozen=True)
class Snippet:
    """One runnable block."""

    page: Path
    line: int  # 1-based line of the block's opening fence
    lang: str
    code: str
    write: str | None = None  # write the code to this file instead of running it
    exit_code: int = 0

    @property
    def where(self) -> str:
        """``page:line`` for messages."""
        return f"{_shown(self.page)}:{self.line}"


def _shown(page: Path) -> str:
    """A page's path relative to the repository where it is inside it."""
    return str(page.relative_to(ROOT)) if page.is_relative_to(ROOT) else str(page)


def snippets(page: Path) -> list[Snippet]:
    """The runnable blocks of a page, in order.

    Raises:
        ValueError: a marker that is not followed by a fenced block, or a block in a language that cannot run.
    """
    lines = page.read_text().splitlines()
    found = []
    for i, line in enumerate(lines):
        match = MARKER.match(line.strip())
        if not match:
            continue
        fence = FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if fence is None:
            raise ValueError(f"{_shown(page)}:{i + 1}: a runnable marker must be followed by a ``` block")
        end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
        code = "\n".join(lines[i + 2 : end]) + "\n"
        lang = fence.group("lang") or ""
        write = match.group("file")
        if write is None and lang not in ("python", "bash"):
            raise ValueError(f"{_shown(page)}:{i + 2}: runnable blocks are python or bash, not {lang!r}")
        found.append(Snippet(page, i + 2, lang, code, write, int(match.group("code") or 0)))
    return found


# Runs a page's Python snippets one after another in one interpreter, each in fresh globals; stops at the first
# failure and names it.
RUNNER = """
import json, sys, traceback
for where, code in json.load(sys.stdin):
    try:
        exec(compile(code, where, "exec"), {"__name__": "__main__"})
    except BaseException:
        traceback.print_exc()
        print(f"snippet failed: {where}", file=sys.stderr)
        sys.exit(1)
"""


def run_page(page: Path, folder: Path) -> None:
    """Run a page's snippets in ``folder``; fail with the snippet's place and output."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MPLBACKEND": "Agg",
        "SDL_VIDEODRIVER": "dummy",
        "PYTHONPATH": str(ROOT),
    }
    pending: list[Snippet] = []

    def flush() -> None:
        if not pending:
            return
        payload = json.dumps([(s.where, s.code) for s in pending])
        result = subprocess.run(
            [sys.executable, "-c", RUNNER], input=payload, cwd=folder, env=env, capture_output=True, text=True,
            timeout=TIMEOUT_S,
        )  # fmt: skip
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        pending.clear()

    for snippet in snippets(page):
        if snippet.write is not None:
            target = folder / snippet.write
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(snippet.code)
        elif snippet.lang == "python":
            pending.append(snippet)
        else:
            flush()
            result = subprocess.run(
                ["bash", "-c", "set -euo pipefail\n" + snippet.code], cwd=folder, env=env, capture_output=True,
                text=True, timeout=TIMEOUT_S,
            )  # fmt: skip
            assert result.returncode == snippet.exit_code, (
                f"{snippet.where}: exit code {result.returncode}, expected {snippet.exit_code}\n"
                f"{result.stdout}\n{result.stderr}"
            )
    flush()


RUNNABLE = [page for page in PAGES if snippets(page)]


@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_the_runnable_snippets_of_a_page_run(page, tmp_path):
    run_page(page, tmp_path)


def test_the_readme_quick_starts_are_runnable():
    """gym.make, occsim suite, a YAML scenario (written, validated, run) and a planner of your own."""
    readme = snippets(ROOT / "README.md")
    codes = "\n".join(s.code for s in readme)
    assert "gym.make(" in codes and "occsim suite" in codes and "register_planner" in codes
    assert any(s.write and s.write.endswith(".yaml") for s in readme)
    assert "occsim run my_scenario.yaml" in codes


def test_a_marker_without_a_block_is_an_error(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- runnable -->\nno block here\n")
    with pytest.raises(ValueError, match="page.md:1: a runnable marker must be followed"):
        snippets(page)


def test_a_failing_snippet_fails_with_its_place(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("text\n\n<!-- runnable -->\n```python\nraise SystemExit(3)\n```\n")
    with pytest.raises(AssertionError, match="page.md:4"):
        run_page(page, tmp_path)


def test_an_unexpected_exit_code_fails(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("<!-- runnable: expect exit 2 -->\n```bash\ntrue\n```\n")
    with pytest.raises(AssertionError, match="exit code 0, expected 2"):
        run_page(page, tmp_path)
