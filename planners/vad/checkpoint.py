"""VAD weights: released ``.pth`` checkpoints read without trusting pickle, strict key checks, converted folders.

A converted folder holds ``model.safetensors`` and ``config.json`` (variant, image scale, every config field).

A released checkpoint is mmcv's ``{'meta': ..., 'state_dict': ...[, 'optimizer': ...]}``. ``torch.load`` with
``weights_only=True`` reads it when its ``meta`` holds only plain values; where the meta holds other objects (mmcv
config objects, numpy scalars), a restricted unpickler reads it instead: tensors, storages and plain containers
are built, any other object becomes an inert stand-in, and only the ``state_dict`` is kept.
"""

from __future__ import annotations

import collections
import json
import pickle
import types
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from occsim.planners.vad.config import VARIANTS, VADConfig
from occsim.planners.vad.model import VAD

WEIGHTS_FILE, CONFIG_FILE = "model.safetensors", "config.json"

# What the restricted unpickler may build: torch's tensor and storage rebuilds and plain containers.
_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch", "Size"): torch.Size,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
}
_STORAGES = {
    "FloatStorage",
    "DoubleStorage",
    "HalfStorage",
    "BFloat16Storage",
    "LongStorage",
    "IntStorage",
    "ShortStorage",
    "CharStorage",
    "ByteStorage",
    "BoolStorage",
}


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model; the message names the keys."""


class _Inert:
    """Whatever a checkpoint's meta holds that is not a tensor or a plain container: built, then thrown away."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):  # a dict or list subclass is filled item by item
        pass

    def append(self, item):
        pass

    def extend(self, items):
        pass

    def __call__(self, *args, **kwargs):
        return _Inert()


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module == "torch" and name in _STORAGES:
            return getattr(torch, name)
        if module == "torch" and name in ("float32", "float16", "float64", "bfloat16", "int64", "uint8", "bool"):
            return getattr(torch, name)
        return _Inert  # a config object, a numpy scalar, a class of VAD's or mmcv's: never imported, never run


_restricted = types.SimpleNamespace(  # what torch.load needs of a pickle module, restricted
    Unpickler=_RestrictedUnpickler,
    load=lambda file, **kwargs: _RestrictedUnpickler(file, **kwargs).load(),  # torch's legacy (non-zip) format
    __name__="occsim_restricted_pickle",
)


def read_pth(path: str | Path) -> dict[str, torch.Tensor]:
    """The ``state_dict`` of an mmcv checkpoint (or a bare state dict), without a leading ``module.``."""
    try:
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError:  # the meta holds objects: read again, building none of them
            raw = torch.load(path, map_location="cpu", weights_only=False, pickle_module=_restricted)
    except Exception as error:  # a truncated zip, a foreign file: torch raises several types
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({type(error).__name__}: {error})") from None
    state = raw.get("state_dict", raw) if isinstance(raw, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a checkpoint with a state_dict of tensors")
    return {k.removeprefix("module."): v for k, v in state.items()}


def variant_of(state: dict[str, torch.Tensor]) -> VADConfig:
    """Tiny or Base, from the BEV grid's size."""
    embedding = state.get("pts_bbox_head.bev_embedding.weight")
    if embedding is None:
        raise CheckpointError("no 'pts_bbox_head.bev_embedding.weight': not a VAD checkpoint")
    cells = embedding.shape[0]
    for cfg in VARIANTS.values():
        if cfg.bev_h * cfg.bev_w == cells:
            return cfg
    raise CheckpointError(f"a BEV grid of {cells} cells is neither VAD-Tiny (100 x 100) nor VAD-Base (200 x 200)")


def check_keys(model: torch.nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Refuse a state dict that does not match ``model`` exactly, naming the missing, unexpected and misshapen keys."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshapen = sorted(
        f"{k} {tuple(state[k].shape)} (expected {tuple(expected[k].shape)})"
        for k in set(expected) & set(state)
        if state[k].shape != expected[k].shape
    )
    problems = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("misshapen", misshapen)):
        if keys:
            shown = ", ".join(keys[:6]) + (f" and {len(keys) - 6} more" if len(keys) > 6 else "")
            problems.append(f"{len(keys)} {label}: {shown}")
    if problems:
        raise CheckpointError("the checkpoint does not fit VAD: " + "; ".join(problems))


def config_from_dict(data: dict, where: str) -> VADConfig:
    """A ``VADConfig`` from its saved fields; an unknown field is an error naming it."""
    known = {f.name for f in fields(VADConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise CheckpointError(f"{where}: unknown VAD config fields {unknown}; allowed: {sorted(known)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
    try:
        return VADConfig(**values)
    except TypeError as error:
        raise CheckpointError(f"{where}: {error}") from None


def _read_folder(path: Path) -> tuple[VADConfig, dict[str, torch.Tensor]]:
    weights, config = path / WEIGHTS_FILE, path / CONFIG_FILE
    if not weights.is_file():
        raise CheckpointError(f"{path}: no {WEIGHTS_FILE} (write one with `occsim convert-vad CKPT.pth --out DIR`)")
    state = _read_safetensors(weights)
    if not config.is_file():
        return variant_of(state), state
    try:
        saved = json.loads(config.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{config}: not JSON ({error})") from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{config}: expected an object with 'variant' (and 'config')")
    if isinstance(saved.get("config"), dict):
        return config_from_dict(saved["config"], str(config)), state
    named = saved.get("variant")
    if named not in VARIANTS:
        raise CheckpointError(f"{config}: variant {named!r} is not one of {', '.join(VARIANTS)}")
    if variant_of(state).name != named:
        raise CheckpointError(f"{config} says {named}, the weights are VAD-{variant_of(state).name}")
    return VARIANTS[named], state


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except Exception as error:  # safetensors raises its own error types for truncated or corrupt files
        raise CheckpointError(f"{path}: not a readable safetensors file ({error})") from None


def load_weights(path: str | Path) -> tuple[VADConfig, dict[str, torch.Tensor]]:
    """(variant, state dict) from a ``.pth``/``.pt`` checkpoint, a ``.safetensors`` file or a converted folder."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint or folder")
    state = _read_safetensors(path) if path.suffix == ".safetensors" else read_pth(path)
    return variant_of(state), state


def load_model(path: str | Path) -> VAD:
    """The VAD variant the weights at ``path`` belong to, with those weights (strictly: every key, every shape)."""
    cfg, state = load_weights(path)
    model = VAD(cfg)
    check_keys(model, state)
    model.load_state_dict(state, strict=True)
    return model


def save_folder(cfg: VADConfig, state: dict[str, torch.Tensor], out: str | Path, source: str = "") -> Path:
    """``out/model.safetensors`` + ``out/config.json``, each written to a temporary name first, then renamed."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp_weights, tmp_config = out / f".{WEIGHTS_FILE}.part", out / f".{CONFIG_FILE}.part"
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_weights))
    config = {
        "variant": cfg.name,
        "image_scale": cfg.scale,
        "input_hw": list(cfg.pad_hw),
        "config": asdict(cfg),
        "source": source,
    }
    tmp_config.write_text(json.dumps(config, indent=2) + "\n")
    tmp_weights.replace(out / WEIGHTS_FILE)
    tmp_config.replace(out / CONFIG_FILE)
    return out


def convert(checkpoint: str | Path, out: str | Path) -> Path:
    """Write ``out/model.safetensors`` and ``out/config.json`` from a released checkpoint; return the folder."""
    cfg, state = load_weights(checkpoint)
    check_keys(VAD(cfg), state)
    return save_folder(cfg, state, out, source=Path(checkpoint).name)
