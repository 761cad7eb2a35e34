"""Registries: unknown names, defaults, and built-ins that do not depend on import order."""

import subprocess
import sys

import pytest

from occsim.registry import Registry


def test_get_returns_the_default_and_indexing_suggests_a_name():
    registry: Registry[type] = Registry("thing")
    registry.register("alpha")(int)
    assert registry.get("alpha") is int
    assert registry.get("beta") is None
    assert registry.get("beta", str) is str
    with pytest.raises(ValueError, match="did you mean 'alpha'"):
        registry["alph"]


@pytest.mark.parametrize(
    ("module", "registry", "names"),
    [
        ("occsim.sensors.renderer", "RENDERERS", ["raster", "blank", "syntheocc", "occscene"]),
        ("occsim.scenario.build", "WORLD_BUILDERS", ["nuscenes"]),
    ],
)
def test_built_ins_are_registered_whichever_module_is_imported_first(module, registry, names):
    # A fresh interpreter that imports only the registry's own module (not occsim.sim or the occsim package's
    # side effects) still finds every built-in, and resolves the cheap ones.
    code = (
        f"import importlib; r = getattr(importlib.import_module({module!r}), {registry!r}); "
        f"print(sorted(n for n in {names!r} if n in r)); print(r[{names[0]!r}].__name__)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found, first = result.stdout.split("\n")[:2]
    assert found == str(sorted(names))
    assert first
