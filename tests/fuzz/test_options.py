"""Fuzz: renderer options and planner specs (weights folders with missing or corrupt files included).

``--renderer-option`` items and ``--planner`` specs either pass the up-front checks (and then the planner loads) or
exit 2 with a message naming the option or the planner; nothing else escapes."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import typer
from hypothesis import example, given
from hypothesis import strategies as st

from occsim.cli.common import check_choices, err, key_value_options, planner_problems
from occsim.planners import PLANNERS, make_planner
from tests.fuzz.profiles import budget

pytestmark = pytest.mark.fuzz

WEIGHTS = Path(__file__).parents[2] / "planners" / "weights"
RENDERERS = ["raster", "blank", "syntheocc", "occscene", "rastr", ""]
KEYS = st.sampled_from(["steps", "guidance", "device", "weights", "dtype", "format", "init", "strength", "seed", "x"])
VALUES = st.one_of(
    st.sampled_from(["10", "0", "-1", "1e9", "nan", "true", "null", "cpu", "cuda", "tpu", "/nope", "[1]", "{}", ""]),
    st.text(max_size=12),
)
ITEMS = st.one_of(st.tuples(KEYS, VALUES).map(lambda kv: f"{kv[0]}={kv[1]}"), st.text(max_size=12))


def checked(call) -> str | None:
    """None if ``call()`` passes; the message it printed if it exits 2. Anything else fails the test."""
    code = None
    with err.capture() as captured:
        try:
            call()
        except typer.Exit as e:
            code = e.exit_code
    if code is None:
        return None
    message = captured.get()
    assert code == 2 and message.startswith("error:") and len(message) < 2000, message
    return message


@given(st.sampled_from(RENDERERS), st.lists(ITEMS, max_size=4), st.sampled_from([None, "fog", "rain", "tornado", ""]))
@example("raster", ["device=tpu"], None)
@example("syntheocc", ["weights=/nope"], None)
@example("raster", ["=1"], None)
@example("raster", ["steps"], None)
@example("syntheocc", ["weights=10"], None)  # found: a number where a folder belongs, TypeError
@example("syntheocc", ["dtype=[1]"], None)  # found: a list where a name belongs, unhashable
@budget(1.0)
def test_renderer_options_pass_or_exit_2_naming_them(renderer, items, weather):
    message = checked(lambda: check_choices(["expert"], weather, renderer, key_value_options(items)))
    if message is not None:
        named = [renderer, *(i.partition("=")[0] for i in items), *items, "weather", "renderer"]
        assert "--renderer-option" in message or any(n and n in message for n in named), message


def corrupt_copy(source: Path, how: tuple, tmp: Path) -> Path:
    folder = tmp / source.name
    shutil.copytree(source, folder)
    kind, name, data = how
    path = folder / name
    if kind == "delete":
        path.unlink()
    elif kind == "truncate":
        raw = path.read_bytes()
        path.write_bytes(raw[: int(len(raw) * data)])
    elif kind in ("bytes", "json"):
        path.write_bytes(data if isinstance(data, bytes) else str(data).encode())
    return folder


CORRUPTIONS = st.tuples(
    st.sampled_from(["delete", "truncate", "bytes", "json", "none"]),
    st.sampled_from(["config.json", "model.safetensors"]),
    st.one_of(
        st.floats(0, 1), st.binary(max_size=64), st.sampled_from(['{"rl": {}}', '{"vision": {"x": 1}}', "[]", "{"])
    ),
).filter(lambda t: (t[0] == "truncate") == isinstance(t[2], float))


@given(st.sampled_from(["vision", "rl"]), CORRUPTIONS)
@example("vision", ("none", "config.json", 0.0))
@example("vision", ("truncate", "model.safetensors", 0.5))
@example("rl", ("json", "config.json", '{"rl": {}}'))
@budget(0.3)
def test_weights_folders_are_checked_up_front(planner, how):
    with tempfile.TemporaryDirectory() as tmp:
        folder = corrupt_copy(WEIGHTS / planner, how, Path(tmp))
        spec = f"{planner}:{folder}"
        problems = planner_problems([spec])
        if problems:
            assert all(planner in p for p in problems), problems
            return
        make_planner(spec)  # passed the check: it must load


@given(
    st.one_of(
        st.sampled_from([*PLANNERS, "expert:x", "vad", "vad:", "vad:/nope", "remote:", "remote:ftp://x", "nope", ":"]),
        st.text(max_size=20),
    )
)
@example("vad:/dev/null")
@example("vad:" + str(WEIGHTS / "vision" / "config.json"))
@budget(1.0)
def test_planner_specs_give_problems_naming_the_planner(spec):
    problems = planner_problems([spec])
    assert isinstance(problems, list) and all(isinstance(p, str) and p for p in problems)
    name = spec.partition(":")[0]
    assert all(name in p or "planner" in p for p in problems), problems
