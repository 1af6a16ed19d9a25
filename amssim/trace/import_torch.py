"""Import a PyTorch model into a trace via ``torch.export`` (batch axis dynamic).

The exported aten graph is translated op by op into the op table
(:mod:`amssim.trace.ops`; the handlers live in :mod:`._torch_ops`, the README lists
the coverage). Computations on constants only (a transposed weight, rotary tables,
position ids, causal masks) are folded at import. A constant the model builds from
the batch size (position ids or a mask expanded to the batch, a class token) is
folded with batch size 1 and enters the graph as a ``constant`` op broadcast to the
batch. Constants in activation positions become ``constant`` ops. BatchNorm is
folded into the preceding convolution. Anything else raises
:class:`~amssim.errors.TraceError` naming the aten op and the graph node.
"""

from __future__ import annotations

import numpy as np

from ..errors import TraceError
from ._graph_builder import GraphBuilder
from .import_common import finish_import


class _Act:
    """An activation tensor of the trace (by name)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


_BATCH = object()  # a symbolic int that depends on the batch size


class _BConst:
    """A constant the model computes from the batch size (a mask or position ids expanded
    to the batch, a class token, an ALiBi table repeated per sample): ``t`` is its value
    at batch size 1, ``t2`` at batch size 2, ``axes`` its batch axes (tiled per sample)."""

    __slots__ = ("t", "t2", "axes")

    def __init__(self, t, t2, axes):
        self.t = t
        self.t2 = t2
        self.axes = tuple(axes)


_IDENTITY = {"dropout", "clone", "contiguous", "alias", "detach", "lift_fresh_copy", "native_dropout_eval"}
_IGNORE = {"_assert_tensor_metadata", "_assert_scalar", "sym_constrain_range_for_size", "_assert_async"}


def _has(v, what):
    if isinstance(v, (list, tuple)):
        return any(_has(x, what) for x in v)
    if isinstance(v, dict):
        return any(_has(x, what) for x in v.values())
    if what == "act":
        return isinstance(v, _Act)
    if what == "bconst":
        return isinstance(v, _BConst)
    return v is _BATCH


def _unbatch(v, b=1):
    """Arguments of a constant fold at batch size ``b``: the symbolic batch -> b, batch
    constants -> their value at that batch size."""
    if isinstance(v, (list, tuple)):
        return type(v)(_unbatch(x, b) for x in v)
    if isinstance(v, dict):
        return {k: _unbatch(x, b) for k, x in v.items()}
    if v is _BATCH:
        return b
    if isinstance(v, _BConst):
        return v.t if b == 1 else v.t2
    return v


class _Converter:
    def __init__(self, ep):
        import torch

        self.torch = torch
        self.ep = ep
        self.b = GraphBuilder("torch")
        self.vals = {}
        self.first_input = None  # name of a graph input with the batch on axis 0
        self._consts = {}  # id(tensor) -> (tensor, emitted tensor name)

    def fail(self, node, msg):
        raise TraceError(f"from_torch: node {node.name!r} ({node.target}): {msg}")

    def _shape(self, node):
        """Target shape of a node from its metadata: batch-dependent dims -> -1."""
        val = node.meta.get("val")
        out = []
        for d in val.shape:
            out.append(int(d) if isinstance(d, int) else -1)
        if out.count(-1) > 1:
            self.fail(node, f"shape {list(val.shape)} has more than one batch-dependent dim")
        return out

    def map_arg(self, a):
        import torch.fx as fx

        if isinstance(a, fx.Node):
            return self.vals[a]
        if isinstance(a, (list, tuple)):
            return type(a)(self.map_arg(x) for x in a)
        return a

    def act(self, node, v, what="input"):
        """Tensor name of ``v`` in the trace; constants become ``constant`` ops."""
        torch = self.torch
        if isinstance(v, _Act):
            return v.name
        if isinstance(v, _BConst):
            return self.const_op(node, v.t, v.axes)
        if isinstance(v, torch.Tensor):
            return self.const_op(node, v, ())
        if isinstance(v, (bool, int, float)):
            return self.const_op(node, torch.tensor(v), ())
        self.fail(node, f"{what} must be a tensor, got {type(v).__name__}")

    def const_op(self, node, t, axes):
        hit = self._consts.get((id(t), tuple(axes)))
        if hit is not None:
            return hit[1]
        a = t.detach().cpu()
        a = a.numpy().astype(np.float32) if a.dtype == self.torch.bool or a.is_floating_point() \
            else a.numpy().astype(np.int64)
        if axes:
            if self.first_input is None:
                self.fail(node, "a batch-sized constant needs a graph input with the batch on axis 0")
            name = self.b.add("constant", [self.first_input], name=node.name + "_const", params={"value": a},
                              attrs={"batch_axes": list(axes)})
        else:
            name = self.b.add("constant", [], name=node.name + "_const", params={"value": a})
        self._consts[(id(t), tuple(axes))] = (t, name)
        return name

    def fold_batched(self, node, args, kwargs):
        """Fold a constant computation that depends on the batch size.

        It is evaluated at batch sizes 1 and 2; the value at 2 must be the value at 1
        tiled along the batch-dependent axes (the same for every sample), which is what
        a ``constant`` op with ``batch_axes`` reproduces at any batch size.
        """
        torch = self.torch
        try:
            r1 = node.target(*_unbatch(args, 1), **_unbatch(kwargs, 1))
            r2 = node.target(*_unbatch(args, 2), **_unbatch(kwargs, 2))
        except Exception as exc:  # noqa: BLE001 - report the failing node
            self.fail(node, f"constant folding of a batch-dependent value failed: {exc}")
        val = node.meta.get("val")
        if not isinstance(r1, torch.Tensor) or not isinstance(val, torch.Tensor):
            self.fail(node, "a batch-dependent constant computation with a non-tensor result is not supported")
        axes = [i for i, d in enumerate(val.shape) if not isinstance(d, int)]
        if not axes:
            return r1
        reps = [2 if i in axes else 1 for i in range(r1.dim())]
        if tuple(r2.shape) != tuple(r1.shape[i] * reps[i] for i in range(r1.dim())) or not torch.equal(
                r2, r1.repeat(*reps)):
            self.fail(node, f"constant of shape {list(val.shape)} differs between samples (it depends on the "
                            "sample index, not only on the batch size)")
        return _BConst(r1, r2, axes)

    def run(self):
        sig = self.ep.graph_signature
        consts = {}
        for spec in sig.input_specs:
            name = spec.arg.name
            if spec.kind.name == "USER_INPUT":
                continue
            tgt = spec.target
            if tgt in self.ep.state_dict:
                consts[name] = self.ep.state_dict[tgt]
            elif tgt in self.ep.constants:
                consts[name] = self.ep.constants[tgt]
            else:
                raise TraceError(f"from_torch: cannot find the value of {spec.kind.name} {tgt!r}")
        inputs = []
        for node in self.ep.graph.nodes:
            if node.op == "placeholder":
                if node.name in consts:
                    self.vals[node] = consts[node.name].detach()
                else:
                    self.b.reserve(node.name)
                    self.vals[node] = _Act(node.name)
                    inputs.append(node)
                    if self.first_input is None:
                        self.first_input = node.name
            elif node.op == "call_function":
                self.vals[node] = self.convert(node)
            elif node.op == "output":
                outs = [self.act(node, self.map_arg(a), "graph output") for a in node.args[0]]
                return inputs, outs
            else:
                self.fail(node, f"unsupported node type {node.op!r}")
        raise TraceError("from_torch: exported graph has no output")

    def convert(self, node):
        import operator

        torch = self.torch
        args = self.map_arg(node.args)
        kwargs = self.map_arg(node.kwargs)
        if node.target is operator.getitem:
            return args[0][args[1]]
        tgt = getattr(node.target, "_overloadpacket", None)
        op = getattr(tgt, "__name__", str(node.target)).rstrip("_") if tgt is not None else str(node.target)
        val = node.meta.get("val")
        if isinstance(val, (torch.SymInt, torch.SymFloat, torch.SymBool)) or (
                isinstance(val, (int, float, bool)) and _has((args, kwargs), "batch")):
            return _BATCH
        if not _has((args, kwargs), "act"):
            if op in _IGNORE:
                return None
            if _has((args, kwargs), "batch") or _has((args, kwargs), "bconst"):
                return self.fold_batched(node, args, kwargs)
            try:
                return node.target(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 - report the failing node
                self.fail(node, f"constant folding failed: {exc}")
        from ._torch_ops import HANDLERS

        h = HANDLERS.get(op)
        if h is None:
            if op in _IDENTITY:
                return args[0]
            if op in _IGNORE:
                return None
            self.fail(node, f"unsupported operator {op!r} (amssim trace kinds cannot express it)")
        return h(self, node, args, kwargs)


def _to_torch(a):
    import torch

    if isinstance(a, torch.Tensor):
        return a
    return torch.as_tensor(np.asarray(a))


def from_torch(model, example_input, eval_inputs, labels, out_dir, *, name: str, fold_batchnorm: bool = True,
               task: str = "classification", metric: str | None = "top1", reference: bool = True,
               overwrite: bool = False, batch_size: int = 256, source: dict | None = None):
    """Export ``model`` (an ``nn.Module``) to a graph trace in ``out_dir``; return the loaded Trace.

    - ``example_input``: a tensor (or tuple of tensors) with the batch on axis 0; used to
      trace the model (the batch axis is exported as dynamic).
    - ``eval_inputs``: the evaluation set, array/tensor (or tuple) of shape (N, ...);
      float inputs are stored float32, integer inputs (token ids) int64.
    - ``labels``: (N,) integers, or None (then ``metric`` must be None).
    - ``fold_batchnorm``: fold BatchNorm into the preceding convolution.
    - ``reference``: store PyTorch's float32 outputs as ``data/reference_*.npy``.
    The float32 metric of amssim's executor is recorded as ``fp32_metric`` and the
    PyTorch metric in ``source.torch_metric``.
    """
    import torch

    ex = example_input if isinstance(example_input, (tuple, list)) else (example_input,)
    ex = tuple(_to_torch(e) for e in ex)
    ex = tuple(torch.cat([e, e]) if e.shape[0] < 2 else e for e in ex)  # avoid 0/1 specialisation
    model = model.eval()
    dyn = tuple({0: torch.export.Dim("batch")} for _ in ex)
    try:
        with torch.no_grad():
            ep = torch.export.export(model, ex, dynamic_shapes=dyn)
            ep = ep.run_decompositions({})
    except Exception as exc:  # noqa: BLE001 - torch raises many types here
        raise TraceError(f"from_torch: torch.export failed for {type(model).__name__}: {exc}") from None
    src = {"importer": "amssim.trace.from_torch", "torch_version": torch.__version__,
           "model": type(model).__name__, "fold_batchnorm": fold_batchnorm}
    src.update(source or {})
    return _from_ep(ep, model, eval_inputs, labels, out_dir, name=name, fold_batchnorm=fold_batchnorm, task=task,
                    metric=metric, reference=reference, overwrite=overwrite, batch_size=batch_size, source=src)


def from_exported(ep, eval_inputs, labels, out_dir, *, name: str, fold_batchnorm: bool = True,
                  task: str = "classification", metric: str | None = "top1", reference: bool = True,
                  overwrite: bool = False, batch_size: int = 256, source: dict | None = None):
    """Like :func:`from_torch` for an already exported ``torch.export.ExportedProgram``
    (e.g. from ``torch.export.load("model.pt2")``); its batch axis must be dynamic."""
    import torch

    try:
        ep = ep.run_decompositions({})
    except Exception as exc:  # noqa: BLE001
        raise TraceError(f"from_torch: cannot decompose the exported program: {exc}") from None
    src = {"importer": "amssim.trace.from_exported", "torch_version": torch.__version__}
    src.update(source or {})
    return _from_ep(ep, ep.module(), eval_inputs, labels, out_dir, name=name, fold_batchnorm=fold_batchnorm,
                    task=task, metric=metric, reference=reference, overwrite=overwrite, batch_size=batch_size,
                    source=src)


def _from_ep(ep, model, eval_inputs, labels, out_dir, *, name, fold_batchnorm, task, metric, reference, overwrite,
             batch_size, source):
    import torch

    conv = _Converter(ep)
    in_nodes, outs = conv.run()
    for node in in_nodes:
        val = node.meta.get("val")
        if val is not None and len(val.shape) and isinstance(val.shape[0], int):
            raise TraceError(f"from_torch: input {node.name!r} has a static batch size {val.shape[0]}; export with "
                             "dynamic_shapes={...: {0: torch.export.Dim('batch')}} so traces run at any batch size")
    b = conv.b
    if fold_batchnorm:
        b.fold_batchnorm(set(outs))
    b.prune(outs)
    ev = eval_inputs if isinstance(eval_inputs, (tuple, list)) else (eval_inputs,)
    ev = [np.asarray(e.detach().cpu().numpy() if isinstance(e, torch.Tensor) else e) for e in ev]
    if len(in_nodes) != len(ev):
        raise TraceError(f"from_torch: model has {len(in_nodes)} tensor inputs, eval_inputs gave {len(ev)}")
    in_specs = []
    for node in in_nodes:
        val = node.meta["val"]
        dt = "float32" if val.dtype.is_floating_point else "int64"
        in_specs.append({"name": node.name, "shape": [int(d) for d in val.shape[1:]], "dtype": dt})

    def torch_run(batch_arrays):
        with torch.no_grad():
            ins = [torch.as_tensor(a.astype(np.float32) if s["dtype"] == "float32" else a.astype(np.int64))
                   for a, s in zip(batch_arrays, in_specs)]
            y = model(*ins)
            y = y[0] if isinstance(y, (tuple, list)) else y
            return y.detach().cpu().numpy().astype(np.float32)

    return finish_import(b, in_specs, outs, ev, labels, out_dir, name=name, task=task, metric=metric,
                         reference_fn=torch_run if reference else None, framework="torch",
                         overwrite=overwrite, batch_size=batch_size, source=source)
