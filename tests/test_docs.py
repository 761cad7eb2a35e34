import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "_hooks"))
import generate  # noqa: E402 - the docs' hooks, importable as a module

README_LINES = 150


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The documentation built once with ``mkdocs build --strict``."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return out


def test_the_documentation_site_builds_strictly(site):
    """Every page in the nav exists, every page is in the nav, and no link inside the docs is broken."""
    pages = ["index", "getting-started", "environment", "scenarios", "scenario-reference", "families", "openscenario"]
    pages += ["real-scenes", "planners", "vad", "renderers", "suites", "reliability", "benchmarks", "cli"]
    pages += ["architecture", "changelog", "models/vision", "models/rl", "models/syntheocc-small"]
    for page in pages:
        assert (site / page / "index.html" if page != "index" else site / "index.html").is_file(), page
    assert (site / "models" / "vision" / "bev.png").is_file()


def test_a_broken_link_fails_the_build(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [the missing page](missing.md).\n")
    (tmp_path / "mkdocs.yml").write_text("site_name: check\nstrict: true\nnav:\n  - Home: index.md\n")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert result.returncode != 0 and "missing.md" in result.stderr


def test_the_scenario_reference_names_every_field_of_every_model():
    from pydantic import BaseModel

    from occsim.scenario import schema

    text = generate.scenario_schema()
    models = [m for m in vars(schema).values() if isinstance(m, type) and issubclass(m, BaseModel)]
    models = [m for m in models if m.__module__ == schema.__name__ and m is not schema.Strict]
    for model in models:
        assert f"### {model.__name__}" in text, model.__name__
        section = text.split(f"### {model.__name__}\n", 1)[1].split("\n### ", 1)[0]
        for name, field in model.model_fields.items():
            assert f"| `{name}` |" in section, f"{model.__name__}.{name}"
            if field.description:
                assert field.description.replace("|", "\\|") in section, f"{model.__name__}.{name}"


def test_the_cli_reference_says_what_occsim_help_says():
    """Every command's help and every option's help in the docs, as ``occsim COMMAND --help`` prints them."""
    import typer
    from typer.testing import CliRunner

    from occsim.cli import app

    text = generate.cli_reference()
    group = typer.main.get_command(app)
    root = group.context_class(group, info_name="occsim")
    runner = CliRunner()
    names = group.list_commands(root)
    assert "snapshot" in names and "suite" in names
    for name in names:
        command = group.get_command(root, name)
        assert f"### occsim {name}\n" in text, name
        section = text.split(f"### occsim {name}\n", 1)[1].split("\n### ", 1)[0]
        shown = runner.invoke(app, [name, "--help"], env={"COLUMNS": "400", "NO_COLOR": "1"}).output
        first_line = generate._clean(command.help or "").split("\n")[0]
        assert first_line in section and " ".join(first_line.split()[:6]) in " ".join(shown.split()), name
        for param in command.params:
            if param.name == "help":
                continue
            flag = param.name if param.param_type_name == "argument" else param.opts[0]
            assert f"`{flag}`" in section, f"{name} {flag}"
            assert flag in shown, f"{name} {flag} missing from --help"
            words = " ".join(generate._clean(param.help or "").split()[:5])
            assert words in section and words in " ".join(shown.split()), f"{name} {flag}: {words!r}"


def test_every_benchmark_result_is_on_the_benchmarks_page_with_machine_and_date():
    text = generate.benchmark_tables()
    for path in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        section = text.split(f"### {path.stem}\n", 1)[1].split("\n### ", 1)[0]
        assert "Machine:" in section and re.search(r"Date: \d{4}-\d{2}-\d{2}", section), path.name
        data = json.loads(path.read_text())
        if isinstance(data, dict) and "date" in data:
            assert f"Date: {data['date']}." in section, path.name


def test_the_readme_is_a_front_door():
    """Short, the test command CI runs, no measurement histories or commit hashes, links that resolve."""
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= README_LINES
    assert re.search(r'^pip install torch==[0-9.]+ -e "\.\[dev\]" && pytest$', readme, re.MULTILINE)
    assert re.search(r'^pip install torch==[0-9.]+ -e "\.\[dev\]" && occsim suite', readme, re.MULTILINE)
    for banned in (r"\bthis CPU\b", r"\bstop \d+", r"\bcommit [0-9a-f]{7,}", r"\bDAgger round"):
        assert not re.search(banned, readme, re.IGNORECASE), banned
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", readme):
        assert (ROOT / target).exists(), target


def test_the_readme_picture_comes_from_the_command_the_docs_give():
    readme = (ROOT / "README.md").read_text()
    assert "docs/assets/overview.png" in readme and (ROOT / "docs" / "assets" / "overview.png").is_file()
    assert (
        "occsim snapshot cut_in --steps 6 --out docs/assets/overview.png"
        in (ROOT / "docs" / "getting-started.md").read_text()
    )
