"""mmcv-style config files: a Python file's top-level names, merged over its ``_base_`` files.

As mmcv 1.4.0's ``Config._file2dict``: the predefined ``{{ fileDirname }}``-style placeholders are substituted, the
file is executed, its names not starting with ``__`` are kept; ``_base_`` (a path or a list, relative to the file)
is read recursively, bases must not share keys, and the file's dicts are merged into the bases' recursively (a
dict with ``_delete_=True`` replaces instead).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from benchmarks.vad_oracle.mmcv_standins import ConfigDict

BASE_KEY, DELETE_KEY = "_base_", "_delete_"


def _merge_a_into_b(a: dict, b: dict) -> dict:
    b = dict(b)
    for key, value in a.items():
        if isinstance(value, dict) and key in b and not value.pop(DELETE_KEY, False):
            if not isinstance(b[key], dict):
                raise TypeError(f"{key}={value} in child config cannot inherit from base: it is a {type(b[key])}")
            b[key] = _merge_a_into_b(value, b[key])
        else:
            b[key] = value
    return b


def _file2dict(path: Path) -> dict[str, Any]:
    path = path.resolve()
    text = path.read_text(encoding="utf-8")
    predefined = {
        "fileDirname": str(path.parent),
        "fileBasename": path.name,
        "fileBasenameNoExtension": path.stem,
        "fileExtname": path.suffix,
    }
    for key, value in predefined.items():
        text = re.sub(r"\{\{\s*" + key + r"\s*\}\}", value.replace("\\", "/"), text)
    if re.search(r"\{\{\s*_base_\.", text):
        raise NotImplementedError("{{ _base_.x }} references are not needed by VAD's configs")
    namespace: dict[str, Any] = {"__file__": str(path), "__name__": "__mmcv_config__"}
    exec(compile(text, str(path), "exec"), namespace)  # noqa: S102 - a config file is Python by design
    cfg = {name: value for name, value in namespace.items() if not name.startswith("__")}
    if BASE_KEY in cfg:
        bases = cfg.pop(BASE_KEY)
        merged: dict[str, Any] = {}
        for base in bases if isinstance(bases, list) else [bases]:
            base_cfg = _file2dict(path.parent / base)
            duplicate = merged.keys() & base_cfg.keys()
            if duplicate:
                raise KeyError(f"Duplicate key is not allowed among bases: {duplicate}")
            merged.update(base_cfg)
        cfg = _merge_a_into_b(cfg, merged)
    return cfg


class Config(ConfigDict):
    """A read config (a ``ConfigDict`` of its top-level names)."""

    @classmethod
    def fromfile(cls, filename: str | Path) -> Config:
        """Read ``filename`` and its bases."""
        return cls(_file2dict(Path(filename)))


def _split(path: str) -> list[str | int]:
    return [int(part) if part.isdigit() else part for part in path.split(".")]


def get_path(cfg: Any, path: str) -> Any:
    """``cfg['model']['img_neck']['out_channels']`` for ``'model.img_neck.out_channels'`` (digits index lists)."""
    node = cfg
    for part in _split(path):
        node = node[part]
    return node


def apply_overrides(cfg: dict, overrides: dict[str, Any]) -> dict:
    """Set each dotted path (creating the last key where missing) to a deep copy of its value; returns cfg."""
    for path, value in overrides.items():
        *parents, last = _split(path)
        node = cfg
        for part in parents:
            node = node[part]
        node[last] = copy.deepcopy(value)
    return cfg
