"""Stand-ins for the pieces of mmcv-full 1.4.0 that hustvl/VAD's model files import.

Written from mmcv v1.4.0's semantics (``mmcv/utils/{config,registry,misc}.py``, ``mmcv/runner/{base_module,fp16_utils}
.py``, ``mmcv/cnn/{utils/weight_init,bricks/*}.py``, ``mmcv/ops/multi_scale_deform_attn.py``), not copied from it. Only
the inference path is covered: whatever VAD builds but never runs at test time (CUDA kernels, fp16 casting, logging
of initialisation) is a no-op or raises when used.
"""

# Mutable dict defaults are kept on purpose: mmcv/mmdet declare them so, and mmcv 1.4.0's BaseTransformerLayer
# writes the deprecated FFN arguments into its shared default ``ffn_cfgs``.
# ruff: noqa: B006

from __future__ import annotations

import copy
import functools
import inspect
import types
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# ----------------------------------------------------------------------------------------------------------------
# mmcv.utils


TORCH_VERSION = torch.__version__


def digit_version(version: str) -> tuple[int, ...]:
    """``'2.3.1+cpu'`` -> (2, 3, 1): enough for VAD's ``digit_version(TORCH_VERSION) >= digit_version('1.8')``."""
    release = version.split("+")[0]
    digits = []
    for part in release.split("."):
        number = "".join(ch for ch in part if ch.isdigit())
        digits.append(int(number) if number else 0)
    return tuple(digits)


def to_2tuple(x):
    """A scalar twice, an iterable as a tuple."""
    return tuple(x) if isinstance(x, (list, tuple)) else (x, x)


class ConfigDict(dict):
    """mmcv's ``ConfigDict`` (an ``addict.Dict``): a dict whose keys are also attributes; nested dicts become
    ConfigDicts so that ``cfg.model.train_cfg.pts`` works as in the official tools.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    @staticmethod
    def _wrap(value):
        if isinstance(value, dict) and not isinstance(value, ConfigDict):
            return ConfigDict(value)
        if isinstance(value, list):
            return [ConfigDict._wrap(v) for v in value]
        if isinstance(value, tuple):
            return tuple(ConfigDict._wrap(v) for v in value)
        return value

    def __setitem__(self, key, value):
        super().__setitem__(key, self._wrap(value))

    def __getattr__(self, name):
        # why: copy/pickle probe dunder names through getattr; those must see AttributeError, not KeyError
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        del self[name]

    def update(self, *args, **kwargs):  # keep the wrapping on update
        for key, value in dict(*args, **kwargs).items():
            self[key] = value


def deprecated_api_warning(name_dict: dict, cls_name: str | None = None):
    """Rename deprecated keyword arguments (``{old: new}``) before calling the function, as mmcv does."""

    def decorator(old_func):
        @functools.wraps(old_func)
        def new_func(*args, **kwargs):
            for old, new in name_dict.items():
                if old in kwargs:
                    assert new not in kwargs, f"both {old!r} and its replacement {new!r} given"
                    kwargs[new] = kwargs.pop(old)
            return old_func(*args, **kwargs)

        return new_func

    return decorator


class Registry:
    """Name -> class table with ``register_module`` (decorator) and ``build``."""

    def __init__(self, name: str, fallback=None):
        self.name = name
        self._module_dict: dict[str, type] = {}
        # why: losses, assigners and coders are built by VAD's head at construction but never run at inference;
        # a registry with a fallback returns an inert object for any type it does not know.
        self.fallback = fallback

    def __contains__(self, key) -> bool:
        return key in self._module_dict

    def get(self, key: str):
        """The class registered as ``key`` (or the fallback, or None)."""
        if key in self._module_dict:
            return self._module_dict[key]
        if self.fallback is not None:
            return functools.partial(self.fallback, key)
        return None

    def register_module(self, name=None, force: bool = False, module=None):
        """``@REGISTRY.register_module()`` or ``REGISTRY.register_module(module=cls)``."""

        def register(cls):
            names = [cls.__name__] if name is None else ([name] if isinstance(name, str) else list(name))
            for key in names:
                if key in self._module_dict and not force:
                    raise KeyError(f"{key} is already registered in {self.name}")
                self._module_dict[key] = cls
            return cls

        if module is not None:
            return register(module)
        return register

    def build(self, cfg, default_args=None):
        """``build_from_cfg(cfg, self, default_args)``."""
        return build_from_cfg(cfg, self, default_args)


def build_from_cfg(cfg: dict, registry: Registry, default_args: dict | None = None):
    """Instantiate ``cfg['type']`` from ``registry`` with the other keys (default_args fill the missing ones)."""
    if not isinstance(cfg, dict) or ("type" not in cfg and (default_args is None or "type" not in default_args)):
        raise KeyError(f'cfg must be a dict with "type", got {cfg!r}')
    args = cfg.copy()  # shallow, as mmcv: nested dicts are the config's own objects
    if default_args is not None:
        for key, value in default_args.items():
            args.setdefault(key, value)
    obj_type = args.pop("type")
    if isinstance(obj_type, str):
        obj_cls = registry.get(obj_type)
        if obj_cls is None:
            raise KeyError(f"{obj_type} is not in the {registry.name} registry")
    elif inspect.isclass(obj_type):
        obj_cls = obj_type
    else:
        raise TypeError(f"type must be a str or a class, got {type(obj_type)}")
    return obj_cls(**args)


class _CudaOnlyExtension:
    """What ``ext_loader.load_ext('_ext', [...])`` returns: VAD's CUDA kernels, only used for CUDA tensors."""

    def __init__(self, names):
        self._names = list(names)

    def __getattr__(self, name):
        def unavailable(*args, **kwargs):
            raise RuntimeError(f"mmcv's compiled op {name} is not available in the oracle (run on CPU tensors)")

        return unavailable


ext_loader = types.SimpleNamespace(load_ext=lambda name, funcs: _CudaOnlyExtension(funcs))


# ----------------------------------------------------------------------------------------------------------------
# mmcv.runner


def auto_fp16(apply_to=None, out_fp32=False):
    """No-op: mmcv casts only when the module's ``fp16_enabled`` is True, which VAD never sets at test time."""

    def decorator(func):
        return func

    return decorator


def force_fp32(apply_to=None, out_fp16=False):
    """No-op for the same reason as ``auto_fp16``."""

    def decorator(func):
        return func

    return decorator


class BaseModule(nn.Module):
    """mmcv's ``BaseModule``: ``init_cfg`` is applied by ``init_weights``, then every child's ``init_weights`` runs.

    As mmcv 1.4.0: a module initialises once (``_is_init``); a ``Pretrained`` init_cfg stops the recursion.
    """

    def __init__(self, init_cfg=None):
        super().__init__()
        self._is_init = False
        self.init_cfg = copy.deepcopy(init_cfg)

    @property
    def is_init(self) -> bool:
        return self._is_init

    def init_weights(self):
        """Apply ``init_cfg``, then the children's own ``init_weights``."""
        if self._is_init:
            warnings.warn(f"init_weights of {type(self).__name__} has been called more than once.", stacklevel=2)
            return
        if self.init_cfg:
            initialize(self, self.init_cfg)
            if isinstance(self.init_cfg, dict) and self.init_cfg["type"] == "Pretrained":
                return
        for child in self.children():
            if hasattr(child, "init_weights"):
                child.init_weights()
        self._is_init = True


class Sequential(BaseModule, nn.Sequential):
    """``nn.Sequential`` with ``init_cfg``."""

    def __init__(self, *args, init_cfg=None):
        BaseModule.__init__(self, init_cfg)
        nn.Sequential.__init__(self, *args)


class ModuleList(BaseModule, nn.ModuleList):
    """``nn.ModuleList`` with ``init_cfg``."""

    def __init__(self, modules=None, init_cfg=None):
        BaseModule.__init__(self, init_cfg)
        nn.ModuleList.__init__(self, modules)


# ----------------------------------------------------------------------------------------------------------------
# mmcv.cnn: initialisers


def constant_init(module, val, bias=0):
    """Weight = val, bias = bias (where present)."""
    if getattr(module, "weight", None) is not None:
        nn.init.constant_(module.weight, val)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def xavier_init(module, gain=1, bias=0, distribution="normal"):
    """Xavier (Glorot) weight, constant bias."""
    assert distribution in ("uniform", "normal")
    if getattr(module, "weight", None) is not None:
        if distribution == "uniform":
            nn.init.xavier_uniform_(module.weight, gain=gain)
        else:
            nn.init.xavier_normal_(module.weight, gain=gain)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def normal_init(module, mean=0, std=1, bias=0):
    """Normal weight, constant bias."""
    if getattr(module, "weight", None) is not None:
        nn.init.normal_(module.weight, mean, std)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def uniform_init(module, a=0, b=1, bias=0):
    """Uniform weight, constant bias."""
    if getattr(module, "weight", None) is not None:
        nn.init.uniform_(module.weight, a, b)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def kaiming_init(module, a=0, mode="fan_out", nonlinearity="relu", bias=0, distribution="normal"):
    """He weight (fan_out by default, as mmcv), constant bias."""
    if getattr(module, "weight", None) is not None:
        if distribution == "uniform":
            nn.init.kaiming_uniform_(module.weight, a=a, mode=mode, nonlinearity=nonlinearity)
        else:
            nn.init.kaiming_normal_(module.weight, a=a, mode=mode, nonlinearity=nonlinearity)
    if getattr(module, "bias", None) is not None:
        nn.init.constant_(module.bias, bias)


def bias_init_with_prob(prior_prob: float) -> float:
    """The bias whose sigmoid is ``prior_prob``."""
    return float(-np.log((1 - prior_prob) / prior_prob))


_INIT_FUNCS = {
    "Constant": lambda m, c: constant_init(m, c["val"], c.get("bias", 0)),
    "Xavier": lambda m, c: xavier_init(m, c.get("gain", 1), c.get("bias", 0), c.get("distribution", "normal")),
    "Normal": lambda m, c: normal_init(m, c.get("mean", 0), c.get("std", 1), c.get("bias", 0)),
    "Uniform": lambda m, c: uniform_init(m, c.get("a", 0), c.get("b", 1), c.get("bias", 0)),
    "Kaiming": lambda m, c: kaiming_init(
        m,
        c.get("a", 0),
        c.get("mode", "fan_out"),
        c.get("nonlinearity", "relu"),
        c.get("bias", 0),
        c.get("distribution", "normal"),
    ),
}


def _apply_init(module: nn.Module, cfg: dict, wholemodule: bool) -> None:
    kind = cfg["type"]
    if kind == "Pretrained":
        raise RuntimeError("the oracle builds models without pretrained weights (set model.pretrained = None)")
    if cfg.get("bias_prob") is not None:
        cfg = {**cfg, "bias": bias_init_with_prob(cfg["bias_prob"])}
    layers = cfg.get("layer") or []
    layers = [layers] if isinstance(layers, str) else list(layers)

    def visit(m):
        # as mmcv: a layer matches by its class name or the names of its direct base classes (e.g. '_BatchNorm')
        names = {type(m).__name__, *(base.__name__ for base in type(m).__bases__)}
        if wholemodule or names & set(layers):
            _INIT_FUNCS[kind](m, cfg)

    module.apply(visit)


def initialize(module: nn.Module, init_cfg) -> None:
    """mmcv's ``initialize``: each cfg by layer type, then its ``override`` on the named child as a whole."""
    cfgs = [init_cfg] if isinstance(init_cfg, dict) else list(init_cfg)
    for cfg in cfgs:
        cfg = copy.deepcopy(dict(cfg))
        override = cfg.pop("override", None)
        _apply_init(module, cfg, wholemodule=False)
        if override is None:
            continue
        cfg.pop("layer", None)
        for item in [override] if isinstance(override, dict) else override:
            item = copy.deepcopy(dict(item))
            name = item.pop("name")
            if not item:  # only a name: the outer cfg's initialiser
                item.update(cfg)
            _apply_init(getattr(module, name), item, wholemodule=True)


# ----------------------------------------------------------------------------------------------------------------
# mmcv.cnn: layers


class Linear(nn.Linear):
    """mmcv's ``Linear`` (an ``nn.Linear`` that only differs for empty inputs on old torch)."""


Conv2d = nn.Conv2d

_NORMS = {
    "BN": (nn.BatchNorm2d, "bn"),
    "BN2d": (nn.BatchNorm2d, "bn"),
    "SyncBN": (nn.BatchNorm2d, "bn"),
    "LN": (nn.LayerNorm, "ln"),
    "GN": (nn.GroupNorm, "gn"),
}


def build_norm_layer(cfg: dict, num_features: int, postfix="") -> tuple[str, nn.Module]:
    """(name, layer): the name is the type's abbreviation plus ``postfix`` (``bn1``, ``ln``...)."""
    cfg_ = dict(cfg)
    layer_type = cfg_.pop("type")
    norm_cls, abbr = _NORMS[layer_type]
    requires_grad = cfg_.pop("requires_grad", True)
    cfg_.setdefault("eps", 1e-5)
    layer = norm_cls(num_channels=num_features, **cfg_) if layer_type == "GN" else norm_cls(num_features, **cfg_)
    for param in layer.parameters():
        param.requires_grad = requires_grad
    return f"{abbr}{postfix}", layer


def build_activation_layer(cfg: dict) -> nn.Module:
    """ReLU / GELU / Sigmoid / Tanh / LeakyReLU from a cfg."""
    cfg_ = dict(cfg)
    kinds = {"ReLU": nn.ReLU, "GELU": nn.GELU, "Sigmoid": nn.Sigmoid, "Tanh": nn.Tanh, "LeakyReLU": nn.LeakyReLU}
    return kinds[cfg_.pop("type")](**cfg_)


def build_conv_layer(cfg, *args, **kwargs) -> nn.Module:
    """Only the default (``cfg=None`` or ``Conv``/``Conv2d``): ``nn.Conv2d``."""
    if cfg is not None and dict(cfg).get("type") not in ("Conv", "Conv2d"):
        raise NotImplementedError(f"conv type {cfg}")
    return nn.Conv2d(*args, **kwargs)


class ConvModule(nn.Module):
    """mmcv's ``ConvModule`` in its default order conv -> norm -> act; bias only without a norm ('auto')."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias="auto",
        conv_cfg=None,
        norm_cfg=None,
        act_cfg=dict(type="ReLU"),
        inplace=True,
    ):
        super().__init__()
        self.with_norm = norm_cfg is not None
        self.with_activation = act_cfg is not None
        bias = not self.with_norm if bias == "auto" else bias
        self.conv = build_conv_layer(
            conv_cfg,
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
        )
        if self.with_norm:
            self.norm_name, norm = build_norm_layer(norm_cfg, out_channels)
            self.add_module(self.norm_name, norm)
        if self.with_activation:
            act = dict(act_cfg)
            if act["type"] not in ("Tanh", "Sigmoid", "GELU"):
                act.setdefault("inplace", inplace)
            self.activate = build_activation_layer(act)

    def init_weights(self):
        """As mmcv 1.4: Kaiming (fan_out, relu) for the conv, unit norm."""
        kaiming_init(self.conv, a=0, nonlinearity="relu")
        if self.with_norm:
            constant_init(getattr(self, self.norm_name), 1, bias=0)

    def forward(self, x):
        """conv, norm, activation."""
        x = self.conv(x)
        if self.with_norm:
            x = getattr(self, self.norm_name)(x)
        if self.with_activation:
            x = self.activate(x)
        return x


# ----------------------------------------------------------------------------------------------------------------
# mmcv.cnn.bricks: registries and transformer bricks

ATTENTION = Registry("attention")
FEEDFORWARD_NETWORK = Registry("feed-forward Network")
POSITIONAL_ENCODING = Registry("position encoding")
TRANSFORMER_LAYER = Registry("transformerLayer")
TRANSFORMER_LAYER_SEQUENCE = Registry("transformer-layers sequence")


def build_positional_encoding(cfg, default_args=None):
    """From ``POSITIONAL_ENCODING``."""
    return build_from_cfg(cfg, POSITIONAL_ENCODING, default_args)


def build_attention(cfg, default_args=None):
    """From ``ATTENTION``."""
    return build_from_cfg(cfg, ATTENTION, default_args)


def build_feedforward_network(cfg, default_args=None):
    """From ``FEEDFORWARD_NETWORK``."""
    return build_from_cfg(cfg, FEEDFORWARD_NETWORK, default_args)


def build_transformer_layer(cfg, default_args=None):
    """From ``TRANSFORMER_LAYER``."""
    return build_from_cfg(cfg, TRANSFORMER_LAYER, default_args)


def build_transformer_layer_sequence(cfg, default_args=None):
    """From ``TRANSFORMER_LAYER_SEQUENCE``."""
    return build_from_cfg(cfg, TRANSFORMER_LAYER_SEQUENCE, default_args)


@ATTENTION.register_module()
class MultiheadAttention(BaseModule):
    """mmcv's wrapper of ``nn.MultiheadAttention``: ``identity + attn(query + query_pos, key + key_pos, value)``.

    As mmcv 1.4.0: key defaults to query, value to key; a missing key_pos takes query_pos when the shapes match;
    ``dropout`` (deprecated) sets the attention dropout; the call does not pass ``need_weights`` (torch's default,
    True, which picks torch's explicit softmax path).
    """

    def __init__(
        self,
        embed_dims,
        num_heads,
        attn_drop=0.0,
        proj_drop=0.0,
        dropout_layer=None,
        init_cfg=None,
        batch_first=False,
        **kwargs,
    ):
        super().__init__(init_cfg)
        if "dropout" in kwargs:
            attn_drop = kwargs.pop("dropout")
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.batch_first = batch_first
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, attn_drop, **kwargs)
        self.proj_drop = nn.Dropout(proj_drop)
        self.dropout_layer = nn.Identity()  # dropout at inference is the identity

    @deprecated_api_warning({"residual": "identity"}, cls_name="MultiheadAttention")
    def forward(
        self,
        query,
        key=None,
        value=None,
        identity=None,
        query_pos=None,
        key_pos=None,
        attn_mask=None,
        key_padding_mask=None,
        **kwargs,
    ):
        """Sequence-first (or batch-first) attention with the identity added."""
        if key is None:
            key = query
        if value is None:
            value = key
        if identity is None:
            identity = query
        if key_pos is None and query_pos is not None and query_pos.shape == key.shape:
            key_pos = query_pos
        if query_pos is not None:
            query = query + query_pos
        if key_pos is not None:
            key = key + key_pos
        if self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        out = self.attn(query=query, key=key, value=value, attn_mask=attn_mask, key_padding_mask=key_padding_mask)[0]
        if self.batch_first:
            out = out.transpose(0, 1)
        return identity + self.dropout_layer(self.proj_drop(out))


@FEEDFORWARD_NETWORK.register_module()
class FFN(BaseModule):
    """mmcv's FFN: ``identity + Sequential(Sequential(Linear, act, Dropout) * (num_fcs - 1), Linear, Dropout)``."""

    @deprecated_api_warning({"dropout": "ffn_drop", "add_residual": "add_identity"}, cls_name="FFN")
    def __init__(
        self,
        embed_dims=256,
        feedforward_channels=1024,
        num_fcs=2,
        act_cfg=dict(type="ReLU", inplace=True),
        ffn_drop=0.0,
        dropout_layer=None,
        add_identity=True,
        init_cfg=None,
        **kwargs,
    ):
        super().__init__(init_cfg)
        assert num_fcs >= 2, f"num_fcs should be no less than 2. got {num_fcs}."
        self.embed_dims = embed_dims
        self.feedforward_channels = feedforward_channels
        self.num_fcs = num_fcs
        self.activate = build_activation_layer(act_cfg)
        layers = []
        in_channels = embed_dims
        for _ in range(num_fcs - 1):
            layers.append(Sequential(Linear(in_channels, feedforward_channels), self.activate, nn.Dropout(ffn_drop)))
            in_channels = feedforward_channels
        layers.append(Linear(feedforward_channels, embed_dims))
        layers.append(nn.Dropout(ffn_drop))
        self.layers = Sequential(*layers)
        self.dropout_layer = nn.Identity()
        self.add_identity = add_identity

    @deprecated_api_warning({"residual": "identity"}, cls_name="FFN")
    def forward(self, x, identity=None):
        """``identity (default x) + layers(x)``."""
        out = self.layers(x)
        if not self.add_identity:
            return self.dropout_layer(out)
        if identity is None:
            identity = x
        return identity + self.dropout_layer(out)


@TRANSFORMER_LAYER.register_module()
class BaseTransformerLayer(BaseModule):
    """mmcv 1.4.0's ``BaseTransformerLayer``: attentions, FFNs and norms run in ``operation_order``.

    Kept from mmcv because VAD's configs rely on it: the deprecated ``feedforward_channels``/``ffn_dropout``/
    ``ffn_num_fcs`` arguments are written into ``ffn_cfgs`` (the shared mutable default, as in mmcv), whose default
    ``embed_dims`` is 256 (so a narrower model must pass its own ``ffn_cfgs``); ``self_attn`` uses the query as key
    and value with ``key_pos=query_pos``; post-norm unless the order starts with 'norm'.
    """

    def __init__(
        self,
        attn_cfgs=None,
        ffn_cfgs=dict(
            type="FFN",
            embed_dims=256,
            feedforward_channels=1024,
            num_fcs=2,
            ffn_drop=0.0,
            act_cfg=dict(type="ReLU", inplace=True),
        ),
        operation_order=None,
        norm_cfg=dict(type="LN"),
        init_cfg=None,
        batch_first=False,
        **kwargs,
    ):
        for old, new in (
            ("feedforward_channels", "feedforward_channels"),
            ("ffn_dropout", "ffn_drop"),
            ("ffn_num_fcs", "num_fcs"),
        ):
            if old in kwargs:
                ffn_cfgs[new] = kwargs[old]
        super().__init__(init_cfg)
        self.batch_first = batch_first
        assert set(operation_order) & {"self_attn", "norm", "ffn", "cross_attn"} == set(operation_order)
        num_attn = operation_order.count("self_attn") + operation_order.count("cross_attn")
        if isinstance(attn_cfgs, dict):
            attn_cfgs = [copy.deepcopy(attn_cfgs) for _ in range(num_attn)]
        else:
            assert num_attn == len(attn_cfgs)
        self.num_attn = num_attn
        self.operation_order = operation_order
        self.norm_cfg = norm_cfg
        self.pre_norm = operation_order[0] == "norm"
        self.attentions = ModuleList()
        index = 0
        for operation_name in operation_order:
            if operation_name in ("self_attn", "cross_attn"):
                if "batch_first" in attn_cfgs[index]:
                    assert self.batch_first == attn_cfgs[index]["batch_first"]
                else:
                    attn_cfgs[index]["batch_first"] = self.batch_first
                attention = build_attention(attn_cfgs[index])
                attention.operation_name = operation_name
                self.attentions.append(attention)
                index += 1
        self.embed_dims = self.attentions[0].embed_dims
        self.ffns = ModuleList()
        num_ffns = operation_order.count("ffn")
        if isinstance(ffn_cfgs, dict):
            ffn_cfgs = ConfigDict(ffn_cfgs)
        if isinstance(ffn_cfgs, dict):
            ffn_cfgs = [copy.deepcopy(ffn_cfgs) for _ in range(num_ffns)]
        assert len(ffn_cfgs) == num_ffns
        for ffn_index in range(num_ffns):
            if "embed_dims" not in ffn_cfgs[ffn_index]:
                ffn_cfgs[ffn_index]["embed_dims"] = self.embed_dims
            else:
                assert ffn_cfgs[ffn_index]["embed_dims"] == self.embed_dims
            self.ffns.append(build_feedforward_network(ffn_cfgs[ffn_index], dict(type="FFN")))
        self.norms = ModuleList()
        for _ in range(operation_order.count("norm")):
            self.norms.append(build_norm_layer(norm_cfg, self.embed_dims)[1])

    def forward(
        self,
        query,
        key=None,
        value=None,
        query_pos=None,
        key_pos=None,
        attn_masks=None,
        query_key_padding_mask=None,
        key_padding_mask=None,
        **kwargs,
    ):
        """The operations in order; extra kwargs reach every attention."""
        norm_index = attn_index = ffn_index = 0
        identity = query
        if attn_masks is None:
            attn_masks = [None] * self.num_attn
        elif isinstance(attn_masks, torch.Tensor):
            attn_masks = [copy.deepcopy(attn_masks) for _ in range(self.num_attn)]
        for layer in self.operation_order:
            if layer == "self_attn":
                temp_key = temp_value = query
                query = self.attentions[attn_index](
                    query,
                    temp_key,
                    temp_value,
                    identity if self.pre_norm else None,
                    query_pos=query_pos,
                    key_pos=query_pos,
                    attn_mask=attn_masks[attn_index],
                    key_padding_mask=query_key_padding_mask,
                    **kwargs,
                )
                attn_index += 1
                identity = query
            elif layer == "norm":
                query = self.norms[norm_index](query)
                norm_index += 1
            elif layer == "cross_attn":
                query = self.attentions[attn_index](
                    query,
                    key,
                    value,
                    identity if self.pre_norm else None,
                    query_pos=query_pos,
                    key_pos=key_pos,
                    attn_mask=attn_masks[attn_index],
                    key_padding_mask=key_padding_mask,
                    **kwargs,
                )
                attn_index += 1
                identity = query
            elif layer == "ffn":
                query = self.ffns[ffn_index](query, identity if self.pre_norm else None)
                ffn_index += 1
        return query


@TRANSFORMER_LAYER_SEQUENCE.register_module()
class TransformerLayerSequence(BaseModule):
    """``num_layers`` transformer layers (one cfg repeated, or a list), run one after the other."""

    def __init__(self, transformerlayers=None, num_layers=None, init_cfg=None):
        super().__init__(init_cfg)
        if isinstance(transformerlayers, dict):
            transformerlayers = [copy.deepcopy(transformerlayers) for _ in range(num_layers)]
        else:
            assert isinstance(transformerlayers, list) and len(transformerlayers) == num_layers
        self.num_layers = num_layers
        self.layers = ModuleList()
        for i in range(num_layers):
            self.layers.append(build_transformer_layer(transformerlayers[i]))
        self.embed_dims = self.layers[0].embed_dims
        self.pre_norm = self.layers[0].pre_norm

    def forward(
        self,
        query,
        key,
        value,
        query_pos=None,
        key_pos=None,
        attn_masks=None,
        query_key_padding_mask=None,
        key_padding_mask=None,
        **kwargs,
    ):
        """Each layer on the previous one's output."""
        for layer in self.layers:
            query = layer(
                query,
                key,
                value,
                query_pos=query_pos,
                key_pos=key_pos,
                attn_masks=attn_masks,
                query_key_padding_mask=query_key_padding_mask,
                key_padding_mask=key_padding_mask,
                **kwargs,
            )
        return query


# ----------------------------------------------------------------------------------------------------------------
# mmcv.ops


def multi_scale_deformable_attn_pytorch(value, value_spatial_shapes, sampling_locations, attention_weights):
    """mmcv's pure-PyTorch multi-scale deformable attention (its CPU path).

    value (bs, keys, heads, C) holds the levels one after the other; each level is bilinearly sampled by
    ``grid_sample`` (zero padding, ``align_corners=False``) at ``2 * location - 1``; the samples of all levels and
    points are weighted and summed per head. Returns (bs, queries, heads * C).
    """
    bs, _, num_heads, channels = value.shape
    _, num_queries, _, num_levels, num_points, _ = sampling_locations.shape
    per_level = value.split([int(h) * int(w) for h, w in value_spatial_shapes], dim=1)
    grids = 2 * sampling_locations - 1
    samples = []
    for level, (h, w) in enumerate(value_spatial_shapes):
        # (bs, h*w, heads, C) -> (bs*heads, C, h, w)
        v = per_level[level].flatten(2).transpose(1, 2).reshape(bs * num_heads, channels, int(h), int(w))
        # (bs, queries, heads, points, 2) -> (bs*heads, queries, points, 2)
        grid = grids[:, :, :, level].transpose(1, 2).flatten(0, 1)
        samples.append(F.grid_sample(v, grid, mode="bilinear", padding_mode="zeros", align_corners=False))
    weights = attention_weights.transpose(1, 2).reshape(bs * num_heads, 1, num_queries, num_levels * num_points)
    out = (torch.stack(samples, dim=-2).flatten(-2) * weights).sum(-1).view(bs, num_heads * channels, num_queries)
    return out.transpose(1, 2).contiguous()
