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
from ..trace.ops import SPECS, conv_geometry
from ..trace.ops.gemm import dilate_input, groups_of, input_dilation
from ._torch import require_torch

#: op kinds this interpreter runs: every kind of amssim.trace.ops (non-GEMM kinds
#: through their torch implementation in the op table)
SUPPORTED_KINDS = frozenset(k for k, s in SPECS.items() if s.gemm or s.torch is not None)
TRAINABLE_KINDS = ("linear", "conv1d", "conv2d")


def check_supported(trace) -> None:
    """Raise :class:`TraceError` if ``trace`` has an op kind the interpreter cannot run."""
    if not trace.has_values:
        raise TraceError(f"trace {trace.name!r} is shape-only: it has no weights to finetune")
    bad = [f"{op.name} ({op.kind})" for op in trace.ops if op.kind not in SUPPORTED_KINDS]
    if bad:
        raise TraceError(f"trace {trace.name!r}: the torch interpreter cannot run op(s) "
                         f"{', '.join(bad)}; supported kinds: {', '.join(sorted(SUPPORTED_KINDS))}")


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
                    raise TraceError(f"trace {self.trace.name!r}: op {op.name!r} ({op.kind}): {exc}") from exc
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
            return SPECS[k].torch(ins, ps, at)

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
            stride, padding, dilation = conv_geometry(nd, op.attrs)
            x = dilate_input(x, input_dilation(nd, op.attrs))
            g = groups_of(op.attrs)
            lo, hi = padding[:nd], padding[nd:]
            pads = []
            for i in reversed(range(nd)):
                pads += [lo[i], hi[i]]
            if any(pads):
                x = F.pad(x, pads)
            num = self.numerics
            if num.fast_conv:
                conv = F.conv1d if nd == 1 else F.conv2d
                return conv(x, w, b, stride=stride, dilation=dilation, groups=g)
            B = x.shape[0]
            cg, og = x.shape[1] // g, w.shape[0] // g
            ys = []
            for j in range(g):  # one GEMM per group, as the executor
                v = x[:, j * cg:(j + 1) * cg]
                for i in range(nd):  # windows along each spatial axis: (B, C, *out, *k)
                    eff = dilation[i] * (w.shape[2 + i] - 1) + 1
                    v = v.unfold(2 + i, eff, stride[i])
                    if dilation[i] > 1:
                        v = v[..., ::dilation[i]]
                outs = tuple(v.shape[2:2 + nd])
                perm = (0,) + tuple(range(2, 2 + nd)) + (1,) + tuple(range(2 + nd, 2 + 2 * nd))
                rows = v.permute(*perm).reshape(B * math.prod(outs), -1)  # K order (C, *kernel)
                wj = w[j * og:(j + 1) * og]
                bj = None if b is None else b[j * og:(j + 1) * og]
                ys.append(num.gemm(op, rows, wj.reshape(og, -1), bj))  # (B*P, O/g)
            y = ys[0] if g == 1 else torch.cat(ys, dim=1)
            return y.reshape(B, *outs, -1).movedim(-1, 1)

    return TorchTrace


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
