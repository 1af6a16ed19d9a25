"""A trace as a ``torch.nn.Module``: every op of :mod:`amssim.trace.ops` in torch.

GEMM weights and biases (linear, conv1d, conv2d) are trainable ``Parameter`` s (one
per tensor file, so shared tensors stay shared); every other parameter is a fixed
buffer. How the GEMMs run is delegated to a *numerics* object (see
:mod:`amssim.finetune.numerics`): float32 (the reference), DNF (float32 + sampled
differential noise) or QAT (ABFP forward with straight-through gradients, bf16
activations like :class:`amssim.trace.AbfpBackend`).

Convolutions in the rows path are GEMMs on window rows (``Tensor.unfold`` views,
sample-major rows, K order (channel, kernel offsets)), exactly the layout of
:mod:`amssim.trace.im2col`.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import TraceError
from ..trace import shapes as _s
from ..trace.ops import SPECS
from ._torch import require_torch

#: op kinds this interpreter runs (every kind of amssim.trace.ops)
SUPPORTED_KINDS = frozenset((
    "linear", "conv1d", "conv2d", "matmul", "embedding", "add", "sub", "mul", "div", "relu",
    "tanh", "sigmoid", "erf", "gelu", "softmax", "log_softmax", "layernorm", "batchnorm", "pool",
    "mean", "sum", "flatten", "reshape", "transpose", "expand", "concat", "slice", "select", "eq",
    "masked_fill", "full_like"))
TRAINABLE_KINDS = ("linear", "conv1d", "conv2d")


def check_supported(trace) -> None:
    """Raise :class:`TraceError` if ``trace`` has an op kind the interpreter cannot run."""
    if not trace.has_values:
        raise TraceError(f"trace {trace.name!r} is shape-only: it has no weights to finetune")
    bad = [f"{op.name} ({op.kind})" for op in trace.ops if op.kind not in SUPPORTED_KINDS]
    if bad:
        raise TraceError(f"trace {trace.name!r}: the torch interpreter cannot run op(s) "
                         f"{', '.join(bad)}; supported kinds: {', '.join(sorted(SUPPORTED_KINDS))}")
    for op in trace.ops:
        if op.kind in ("conv1d", "conv2d") and int(op.attrs.get("groups", 1)) != 1:
            raise TraceError(f"trace {trace.name!r}: op {op.name!r}: groups != 1 is not supported")


def _make_module_class():
    torch = require_torch()
    F = torch.nn.functional

    class TorchTrace(torch.nn.Module):
        """Executes ``trace`` in torch; ``forward(inputs: dict) -> {tensor name: tensor}``."""

        def __init__(self, trace, numerics=None):
            super().__init__()
            check_supported(trace)
            self.trace = trace
            self.numerics = numerics
            self.weights = torch.nn.ParameterDict()
            self._key = {}  # relpath -> key in self.weights or buffer name
            self._trainable = set()
            for op in trace.ops:
                for role, rel in op.params.items():
                    if rel in self._key:
                        continue
                    a = torch.from_numpy(np.array(trace.array(rel)))
                    key = f"t{len(self._key)}"
                    self._key[rel] = key
                    if op.kind in TRAINABLE_KINDS and role in ("weight", "bias"):
                        self.weights[key] = torch.nn.Parameter(a.float())
                        self._trainable.add(rel)
                    else:
                        self.register_buffer(key, a, persistent=False)

        # -------------------------------------------------------------- params
        def param(self, rel):
            key = self._key[rel]
            return self.weights[key] if rel in self._trainable else getattr(self, key)

        def op_params(self, op):
            return {role: self.param(rel) for role, rel in op.params.items()}

        def trained_arrays(self) -> dict:
            """relpath -> float32 numpy array of every trainable tensor."""
            return {rel: self.param(rel).detach().cpu().numpy().astype(np.float32)
                    for rel in sorted(self._trainable)}

        # -------------------------------------------------------------- run
        def forward(self, inputs: dict, *, outputs_only: bool = True):
            num = self.numerics
            env = {}
            for spec in self.trace.inputs:
                a = inputs[spec["name"]]
                if not torch.is_tensor(a):
                    a = torch.from_numpy(np.array(a))
                a = a.float() if spec["dtype"] == "float32" else a.long()
                if a.is_floating_point():
                    a = num.act(a)
                env[spec["name"]] = a
            for op in self.trace.ops:
                ins = [env[n] for n in op.inputs]
                try:
                    y = self._run(op, ins)
                except (ValueError, RuntimeError) as exc:
                    raise TraceError(f"trace {self.trace.name!r}: op {op.name!r} ({op.kind}): {exc}") from None
                if y.is_floating_point() and not SPECS[op.kind].gemm:
                    y = num.act(y)
                env[op.outputs[0]] = y
            return env[self.trace.outputs[0]] if outputs_only else env

        def _run(self, op, ins):
            k = op.kind
            ps = self.op_params(op)
            at = op.attrs
            if k in ("linear", "conv1d", "conv2d", "matmul"):
                return self._gemm(op, ins, ps)
            fn = _OPS[k]
            return fn(ins, ps, at)

        def _gemm(self, op, ins, ps):
            num = self.numerics
            if op.kind == "linear":
                x = ins[0]
                y = num.gemm(op, x.reshape(-1, x.shape[-1]), ps["weight"], ps.get("bias"))
                y = y.reshape(*x.shape[:-1], y.shape[-1])
            elif op.kind == "matmul":
                a, b = ins
                w = b if op.attrs.get("transpose_b", False) else b.transpose(-1, -2)
                y = num.gemm(op, a, w, None)
            else:
                y = self._conv(op, ins[0], ps["weight"], ps.get("bias"))
            return num.act(num.post_gemm(op, y))

        def _conv(self, op, x, w, b):
            nd = w.dim() - 2
            stride, padding, dilation = _s.conv_geometry(nd, op.attrs)
            lo, hi = padding[:nd], padding[nd:]
            pads = []
            for i in reversed(range(nd)):
                pads += [lo[i], hi[i]]
            if any(pads):
                x = F.pad(x, pads)
            num = self.numerics
            if num.fast_conv:
                conv = F.conv1d if nd == 1 else F.conv2d
                return conv(x, w, b, stride=stride, dilation=dilation)
            B = x.shape[0]
            v = x
            for i in range(nd):  # windows along each spatial axis: (B, C, *out, *k)
                eff = dilation[i] * (w.shape[2 + i] - 1) + 1
                v = v.unfold(2 + i, eff, stride[i])
                if dilation[i] > 1:
                    v = v[..., ::dilation[i]]
            outs = tuple(v.shape[2:2 + nd])
            perm = (0,) + tuple(range(2, 2 + nd)) + (1,) + tuple(range(2 + nd, 2 + 2 * nd))
            rows = v.permute(*perm).reshape(B * math.prod(outs), -1)  # K order (C, *kernel)
            y = num.gemm(op, rows, w.reshape(w.shape[0], -1), b)  # (B*P, O)
            return y.reshape(B, *outs, -1).movedim(-1, 1)

    def _binary(fn):
        def r(ins, ps, at):
            if len(ins) == 2:
                other = ins[1]
            elif "other" in ps:
                other = ps["other"]
            else:
                other = _s.attr_float(at["scalar"])
            return fn(ins[0], other)
        return r

    def _gelu(ins, ps, at):
        return F.gelu(ins[0], approximate="tanh" if at.get("approximate", "none") == "tanh" else "none")

    def _layernorm(ins, ps, at):
        x = ins[0]
        ns = tuple(int(d) for d in at["normalized_shape"])
        axes = tuple(range(x.dim() - len(ns), x.dim()))
        mu = x.mean(dim=axes, keepdim=True)
        d = x - mu
        var = (d * d).mean(dim=axes, keepdim=True)
        y = d / torch.sqrt(var + float(at.get("eps", 1e-5)))
        if "weight" in ps:
            y = y * ps["weight"]
        if "bias" in ps:
            y = y + ps["bias"]
        return y

    def _batchnorm(ins, ps, at):
        x = ins[0]
        shp = (1, -1) + (1,) * (x.dim() - 2)
        y = (x - ps["mean"].reshape(shp)) / torch.sqrt(ps["var"].reshape(shp) + float(at.get("eps", 1e-5)))
        if "weight" in ps:
            y = y * ps["weight"].reshape(shp)
        if "bias" in ps:
            y = y + ps["bias"].reshape(shp)
        return y

    def _pool(ins, ps, at):
        x = ins[0]
        nd, geo = _s.pool_geometry(tuple(x.shape), at)
        sp = tuple(range(2, 2 + nd))
        if geo is None:
            return x.amax(dim=sp, keepdim=True) if at["mode"] == "max" else x.mean(dim=sp, keepdim=True)
        kernel, stride, padding = geo
        lo, hi = padding[:nd], padding[nd:]
        ceil = bool(at.get("ceil_mode", False))
        if lo == hi and all(2 * p <= k for p, k in zip(lo, kernel)):
            if at["mode"] == "max":
                f = F.max_pool1d if nd == 1 else F.max_pool2d
                return f(x, kernel, stride, lo, ceil_mode=ceil)
            f = F.avg_pool1d if nd == 1 else F.avg_pool2d
            return f(x, kernel, stride, lo, ceil_mode=ceil,
                     count_include_pad=bool(at.get("count_include_pad", True)))
        if ceil or (at["mode"] == "avg" and not at.get("count_include_pad", True)):
            raise ValueError("asymmetric pool padding with ceil_mode or count_include_pad=false "
                             "is not supported by the torch interpreter")
        pads = []
        for i in reversed(range(nd)):
            pads += [lo[i], hi[i]]
        if at["mode"] == "max":
            f = F.max_pool1d if nd == 1 else F.max_pool2d
            return f(F.pad(x, pads, value=-math.inf), kernel, stride)
        f = F.avg_pool1d if nd == 1 else F.avg_pool2d
        return f(F.pad(x, pads), kernel, stride)

    def _reduce(fn):
        def r(ins, ps, at):
            axes = tuple(int(a) for a in at["axes"])
            return fn(ins[0], dim=axes, keepdim=bool(at.get("keepdims", False)))
        return r

    def _flatten(ins, ps, at):
        return ins[0].reshape(_s._s_flatten([tuple(ins[0].shape)], ps, at)[0])

    def _slice(ins, ps, at):
        x = ins[0]
        ax = int(at["axis"]) % x.dim()
        sl = [slice(None)] * x.dim()
        start, end, step = int(at.get("start", 0)), int(at.get("end", 2**62)), int(at.get("step", 1))
        sl[ax] = slice(*slice(start, end, step).indices(x.shape[ax]))
        return x[tuple(sl)]

    def _embedding(ins, ps, at):
        ids, w = ins[0], ps["weight"]
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= w.shape[0]):
            raise ValueError(f"token id out of range [0, {w.shape[0]})")
        return F.embedding(ids, w)

    def _full(v):
        return torch.tensor(_s.attr_float(v), dtype=torch.float32)

    global _OPS
    _OPS = {
        "embedding": _embedding,
        "add": _binary(torch.add), "sub": _binary(torch.sub),
        "mul": _binary(torch.mul), "div": _binary(torch.div),
        "relu": lambda i, p, a: torch.relu(i[0]), "tanh": lambda i, p, a: torch.tanh(i[0]),
        "sigmoid": lambda i, p, a: torch.sigmoid(i[0]), "erf": lambda i, p, a: torch.erf(i[0]),
        "gelu": _gelu,
        "softmax": lambda i, p, a: torch.softmax(i[0], dim=int(a.get("axis", -1))),
        "log_softmax": lambda i, p, a: torch.log_softmax(i[0], dim=int(a.get("axis", -1))),
        "layernorm": _layernorm, "batchnorm": _batchnorm, "pool": _pool,
        "mean": _reduce(torch.mean), "sum": _reduce(torch.sum), "flatten": _flatten,
        "reshape": lambda i, p, a: i[0].reshape(_s.reshape_target(tuple(i[0].shape), a["shape"])),
        "transpose": lambda i, p, a: i[0].permute(*[int(q) for q in a["perm"]]),
        "expand": lambda i, p, a: i[0].expand(*_s.expand_target(tuple(i[0].shape), a["shape"])),
        "concat": lambda i, p, a: torch.cat(i, dim=int(a["axis"])),
        "slice": _slice,
        "select": lambda i, p, a: i[0].select(int(a["axis"]), int(a["index"])),
        "eq": lambda i, p, a: (i[0] == _s.attr_float(a["scalar"])).float(),
        "masked_fill": lambda i, p, a: torch.where(i[1] != 0, _full(a["value"]), i[0]),
        "full_like": lambda i, p, a: torch.full(tuple(i[0].shape), _s.attr_float(a["value"])),
    }
    return TorchTrace


_OPS: dict = {}
_CLASS = None


def TorchTrace(trace, numerics=None):
    """Build the torch module of ``trace`` (``numerics`` default: float32)."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _make_module_class()
    if numerics is None:
        from .numerics import Float32Numerics
        numerics = Float32Numerics()
    return _CLASS(trace, numerics)
