"""Fuzz: benchmark folders. A tampered, truncated or missing split or family file is a BenchmarkError naming it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import example, given
from hypothesis import strategies as st

from occsim.scenario import ScenarioError
from occsim.suite.splits import BenchmarkError, Split, load_split, shipped_root
from tests.fuzz.profiles import budget
from tests.fuzz.strategies import HOSTILE_VALUES, mutated

pytestmark = pytest.mark.fuzz

SHIPPED = next(p for p in sorted(shipped_root().iterdir()) if p.is_dir())  # longtail-v1
SPLIT_TREE = yaml.safe_load((SHIPPED / "test.yaml").read_text())
FAMILY_FILES = sorted(p.relative_to(SHIPPED).as_posix() for p in (SHIPPED / "families").glob("*.yaml"))

TAMPERINGS = st.one_of(
    st.tuples(st.just("truncate"), st.just("test.yaml"), st.floats(0, 1)),
    st.tuples(st.just("rewrite"), st.just("test.yaml"), mutated(st.just(SPLIT_TREE), HOSTILE_VALUES)),
    st.tuples(st.just("bytes"), st.sampled_from(["test.yaml", *FAMILY_FILES]), st.binary(max_size=300)),
    st.tuples(st.just("delete"), st.sampled_from(["test.yaml", *FAMILY_FILES]), st.none()),
    st.tuples(st.just("append"), st.sampled_from(FAMILY_FILES), st.text(max_size=20)),
    st.tuples(st.just("folder"), st.sampled_from(["test.yaml", FAMILY_FILES[0]]), st.none()),
)


def tamper(folder: Path, how: tuple) -> None:
    kind, name, arg = how
    path = folder / name
    if kind == "truncate":
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * arg)])
    elif kind == "rewrite":
        path.write_text(yaml.safe_dump(arg, sort_keys=False, allow_unicode=True))
    elif kind == "bytes":
        path.write_bytes(arg)
    elif kind == "delete":
        path.unlink()
    elif kind == "append":  # bytes: an earlier tampering may have left the file not UTF-8
        path.write_bytes(path.read_bytes() + arg.encode())
    elif kind == "folder":  # a folder where a file belongs
        path.unlink()
        path.mkdir()


@given(st.lists(TAMPERINGS, max_size=3))
@example([])
@example([("truncate", "test.yaml", 0.5)])
@example([("rewrite", "test.yaml", {**SPLIT_TREE, "families": None})])
@example(
    [
        (
            "rewrite",
            "test.yaml",
            {**SPLIT_TREE, "families": {"x": {"file": "../../../etc/passwd", "sha256": "0" * 64, "seeds": [1]}}},
        )
    ]
)
@example([("rewrite", "test.yaml", {**SPLIT_TREE, "version": "one"})])
@example(  # found: a NUL in a family's file reached Path.resolve as a ValueError
    [("rewrite", "test.yaml", {**SPLIT_TREE, "families": {"x": {"file": "a\x00", "sha256": "0" * 64, "seeds": [1]}}})]
)
@example([("delete", "test.yaml", None)])
@example(  # found by the long profile: appending to a file made binary by an earlier tampering (the harness's bug)
    [("bytes", "families/cut_out_reveal.yaml", b"\x80"), ("append", "families/cut_out_reveal.yaml", "")]
)
@example([("bytes", "test.yaml", b"\xff\xfe\x00")])
@example([("folder", "test.yaml", None)])
@budget(0.3)
def test_tampered_benchmark_folders_load_or_give_a_benchmark_error(tamperings):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / SHIPPED.name
        shutil.copytree(SHIPPED, folder)
        for how in tamperings:
            if (folder / how[1]).is_file():
                tamper(folder, how)
        try:
            split = load_split(str(folder), "test")
        except (BenchmarkError, ScenarioError) as e:
            assert tamperings, f"the shipped folder must load: {e}"
            assert str(folder) in str(e), str(e)  # names the folder or the file
            return
        assert isinstance(split, Split) and split.families
