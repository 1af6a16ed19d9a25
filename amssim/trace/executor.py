"""Run a trace op by op through a numeric backend (docs/architecture.md §2, §3, §6).

GEMM ops (linear, conv1d/conv2d via im2col, matmul) go to ``backend.gemm``; every
other op runs in float32 (:mod:`.ops`). When ``backend.bf16_activations`` is true
(ABFP and digital backends), graph inputs are rounded to bfloat16 and every op's
output is rounded to bfloat16 (so non-GEMM ops see bf16 inputs and return bf16;
bias adds after a GEMM are digital and rounded too). :class:`~.backends.Float32Backend`
keeps everything float32: the paper's float32 baseline, which matches PyTorch.
Embedding lookups are digital in every backend.

Row numbering (what ``row_offset`` means): a GEMM op's input rows are ordered
sample-major. For ``linear`` the batch axis is moved to the front and the other
leading axes flattened, so sample ``s`` (global index in the evaluation set) owns
rows ``s*R ... s*R+R-1`` (R = rows per sample). For convolutions R is the number of
output positions. For ``matmul`` the leading axes (batch first, then e.g. heads)
are flattened into ``G = B*c`` independent products; product ``g`` of the batch
starting at sample ``b0`` is called with ``row_offset = (b0*c + g) * M``, i.e.
(sample, head) is folded into the row index. Results are therefore independent of
the batch size.

Differential error (the paper's per-layer error): in the backend run, each GEMM
op's actual input goes through the float32 op and through the backend; streaming
float64 sums of the difference d give ``dy_mean``, ``dy_std`` (population) and
``rel_rms_error = rms(d) / rms(float32 output)`` (outputs include the bias).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import TraceError
from . import im2col as _im
from .backends import Float32Backend, gemm_call, gemm_groups, gemm_static_groups
from ._kernels import diff_sums
from .metrics import dense_top1_counts
from .ops import SPECS, conv_geometry, round_bf16
from .ops._base import OpDataError
from .ops.gemm import dilate_input, group_layer, groups_of, input_dilation

F32 = np.float32
#: im2col elements of one chunk of groups of a grouped convolution (memory bound; groups
#: are independent, so the chunking does not change any result)
_GROUP_COLS_ELEMS = 1 << 24


@dataclass(frozen=True, kw_only=True)
class LayerError:
    name: str  #: op name
    layer: int  #: op index
    kind: str
    macs: int  #: multiply-accumulates per inference
    dy_mean: float  #: mean of (backend - float32) op output, same input
    dy_std: float  #: standard deviation of that difference
    rel_rms_error: float  #: rms(difference) / rms(float32 output)


@dataclass(frozen=True, kw_only=True)
class EvalResult:
    trace: str
    backend: str
    metric: str | None  #: metric name, e.g. "top1"
    accuracy: float | None  #: metric of this run (None for layer/unlabelled traces)
    num_samples: int
    layers: list[LayerError] = field(default_factory=list)
    outputs: np.ndarray | None = None  #: outputs[0] of every sample when keep_outputs=True


class _Stats:
    __slots__ = ("n", "s1", "s2", "sy2")

    def __init__(self):
        self.n, self.s1, self.s2, self.sy2 = 0, 0.0, 0.0, 0.0

    def add(self, y, y_ref):
        y = np.ascontiguousarray(y, dtype=F32).reshape(-1)
        r = np.ascontiguousarray(y_ref, dtype=F32).reshape(-1)
        if y.shape != r.shape:
            raise ValueError(f"backend output has {y.size} values, the float32 op {r.size}")
        s1, s2, sy = diff_sums(y, r)
        self.n += y.size
        self.s1 += s1
        self.s2 += s2
        self.sy2 += sy

    def result(self):
        if self.n == 0:
            return 0.0, 0.0, 0.0
        mean = self.s1 / self.n
        var = max(self.s2 / self.n - mean * mean, 0.0)
        rel = math.sqrt(self.s2 / self.sy2) if self.sy2 > 0 else (0.0 if self.s2 == 0 else math.inf)
        return mean, math.sqrt(var), rel


class Executor:
    """A trace bound to a backend; :meth:`run` executes one batch."""

    def __init__(self, trace, backend, *, differential: bool = True):
        if not trace.has_values:
            raise TraceError(f"trace {trace.name!r} is shape-only (kind 'shape'): it has no values to execute")
        self.trace = trace
        self.backend = backend
        self.bf16 = bool(getattr(backend, "bf16_activations", False))
        self.differential = differential and not isinstance(backend, Float32Backend)
        self.params = {op.name: trace.params(op) for op in trace.ops}
        # per group: the (N/groups, K) weight matrix, kept as one object so backends reuse
        # their programmed weights across batches
        self.w2d = {}
        # grouped convolutions: all groups as one (groups, N/groups, K) array (w2d holds its
        # per-group views, created once so they too are the same objects every batch)
        self.w3 = {}
        self._w3_chunks: dict = {}
        for op in trace.ops:
            if op.kind in ("linear", "conv1d", "conv2d"):
                w = self.params[op.name]["weight"]
                g = groups_of(op.attrs) if op.kind != "linear" else 1
                og = w.shape[0] // g
                if g > 1:
                    w3 = np.ascontiguousarray(w.reshape(g, og, -1))
                    self.w3[op.name] = w3
                    self.w2d[op.name] = [w3[j] for j in range(g)]
                    continue
                self.w2d[op.name] = [np.ascontiguousarray(w[j * og:(j + 1) * og].reshape(og, -1))
                                     for j in range(g)]
        self.stats = {op.name: _Stats() for op in trace.ops if SPECS[op.kind].gemm}

    def _gemm(self, op, x, w, row_offset, bias, layer=None, sample_rows=None):
        """One (M, K) x (N, K)^T product through the backend (+ float32 reference).

        With x (G, M, K) and w (G, N, K), G independent products in one backend call
        (``gemm_groups``; ``row_offset`` holds one offset per product); statistics are
        still added product by product, so they equal G separate calls bit for bit.
        """
        x = np.ascontiguousarray(x, dtype=F32)
        layer = op.index if layer is None else layer
        if x.ndim == 3:
            y = gemm_groups(self.backend, x, w, layer=layer, row_offsets=[int(o) for o in row_offset],
                            op_name=op.name)
        else:
            y = gemm_call(self.backend, x, w, layer=layer, row_offset=int(row_offset), op_name=op.name,
                          sample_rows=sample_rows)
        y = np.asarray(y, dtype=F32)
        if bias is not None:
            y = y + bias
        if self.bf16:
            y = round_bf16(y)
        if self.differential:
            ref = np.matmul(x, np.swapaxes(w, -1, -2))  # per product the same BLAS call as x @ w.T
            if bias is not None:
                ref += bias
            st = self.stats[op.name]
            for yg, rg in (zip(y, ref) if x.ndim == 3 else ((y, ref),)):
                st.add(yg, rg)
        return y

    def _run_gemm(self, op, ins, start, batch):
        t = self.trace
        p = self.params[op.name]
        bias = p.get("bias")
        if op.kind == "linear":
            x = ins[0]
            bax = t.batch_axes[op.inputs[0]][0]
            xm = np.moveaxis(x, bax, 0)
            rows = xm.reshape(-1, xm.shape[-1])
            r = rows.shape[0] // batch
            y = self._gemm(op, rows, self.w2d[op.name][0], start * r, bias, sample_rows=r)
            return np.moveaxis(y.reshape(xm.shape[:-1] + (y.shape[1],)), 0, bax)
        if op.kind in ("conv1d", "conv2d"):
            return self._run_conv(op, ins[0], p, start, batch, bias)
        # matmul: both operands are activations
        a, b = ins
        bax = t.batch_axes[op.inputs[0]][0]
        am, bm = np.moveaxis(a, bax, 0), np.moveaxis(b, bax, 0)
        lead = am.shape[:-2]
        a3 = am.reshape((-1,) + am.shape[-2:])
        b3 = bm.reshape((-1,) + bm.shape[-2:])
        if not op.attrs.get("transpose_b", False):
            b3 = np.swapaxes(b3, 1, 2)  # -> (G, N, K)
        g_total, m = a3.shape[0], a3.shape[1]
        c = g_total // batch
        # all (sample, head) products in one call; product g keeps row_offset (start*c + g)*m
        offs = [(start * c + g) * m for g in range(g_total)]
        out = self._gemm(op, a3, np.ascontiguousarray(b3, dtype=F32), offs, None)
        return np.moveaxis(out.reshape(lead + out.shape[1:]), 0, bax)

    def _run_conv(self, op, x, p, start, batch, bias):
        """A convolution as GEMMs on im2col rows, one per group (layer keys per group)."""
        w = p["weight"]
        nd = w.ndim - 2
        stride, padding, dilation = conv_geometry(nd, op.attrs)
        x = dilate_input(x, input_dilation(nd, op.attrs))
        ws = self.w2d[op.name]
        g = len(ws)
        if g > 1:
            return self._run_grouped_conv(op, x, w.shape[2:], stride, padding, dilation, start, batch, bias)
        cg, og = x.shape[1] // g, w.shape[0] // g
        ys = []
        outs = None
        for j in range(g):
            xj = x if g == 1 else x[:, j * cg:(j + 1) * cg]
            cols, outs = _im.im2col(xj, w.shape[2:], stride, padding, dilation)
            bj = None if bias is None else bias[j * og:(j + 1) * og]
            ys.append(self._gemm(op, cols, ws[j], start * math.prod(outs), bj, layer=group_layer(op.index, j),
                                 sample_rows=math.prod(outs)))
        y = ys[0] if g == 1 else np.concatenate(ys, axis=1)
        return _im.cols_to_output(y, batch, outs)

    def _w3_chunk(self, name, g0, g1):
        """Groups g0 .. g1 of an op's weights, one view object per chunk for the whole run."""
        w3 = self.w3[name]
        if (g0, g1) == (0, w3.shape[0]):
            return w3
        key = (name, g0, g1)
        v = self._w3_chunks.get(key)
        if v is None:
            v = self._w3_chunks[key] = w3[g0:g1]
        return v

    def _run_grouped_conv(self, op, x, kernel, stride, padding, dilation, start, batch, bias):
        """A grouped convolution: im2col once per chunk of groups (group j's columns are the
        contiguous slice j*cg*k ... of the channel-major columns, the values a per-group
        im2col gives), all groups of a chunk in one backend call
        (:func:`~.backends.gemm_static_groups`), product j with layer ``group_layer(L, j)``
        and the same row offset. Bias, bf16 rounding and the differential statistics (added
        group by group, in group order) are those of one ``_gemm`` call per group."""
        w3 = self.w3[op.name]
        ws = self.w2d[op.name]
        g, og, kg = w3.shape
        cg = x.shape[1] // g
        nd = len(kernel)
        outs = [_im.out_size(x.shape[2 + i], kernel[i], stride[i], padding[i], padding[nd + i], dilation[i])
                for i in range(nd)]
        rows = batch * math.prod(outs)
        gc = max(1, min(g, _GROUP_COLS_ELEMS // max(1, rows * kg)))
        y = np.empty((rows, g, og), F32)
        refs = []
        for g0 in range(0, g, gc):
            g1 = min(g, g0 + gc)
            cols, outs_ = _im.im2col(x[:, g0 * cg:g1 * cg], kernel, stride, padding, dilation)
            outs = list(outs_)
            m = cols.shape[0]
            x3 = cols.astype(F32, copy=False).reshape(m, g1 - g0, kg).swapaxes(0, 1)
            y3 = gemm_static_groups(self.backend, x3, self._w3_chunk(op.name, g0, g1),
                                    layers=[group_layer(op.index, j) for j in range(g0, g1)],
                                    row_offset=start * math.prod(outs), op_name=op.name,
                                    sample_rows=math.prod(outs), weights=ws[g0:g1])
            y[:, g0:g1] = np.swapaxes(np.asarray(y3, dtype=F32), 0, 1)
            if self.differential:
                refs.append(np.matmul(x3, np.swapaxes(w3[g0:g1], -1, -2)))  # per group as x @ w.T
        y2 = y.reshape(rows, g * og)
        if bias is not None:
            y2 = y2 + bias
        if self.bf16:
            y2 = round_bf16(y2)
        if self.differential:
            ref = np.concatenate(refs) if len(refs) > 1 else refs[0]
            if bias is not None:
                ref += bias.reshape(g, 1, og)
            st = self.stats[op.name]
            yg = np.ascontiguousarray(y2.reshape(rows, g, og).swapaxes(0, 1))  # group j's (rows, og) at [j]
            for j in range(g):
                st.add(yg[j], ref[j])
        return _im.cols_to_output(y2, batch, tuple(outs))

    def run(self, inputs: dict, start: int = 0) -> dict:
        """Execute one batch; ``inputs`` maps graph input names to (B, ...) arrays whose
        first sample is sample ``start`` of the evaluation set. Returns all tensors."""
        t = self.trace
        env = {}
        batch = None
        for spec in t.inputs:
            a = np.asarray(inputs[spec["name"]])
            a = a.astype(F32 if spec["dtype"] == "float32" else np.int64, copy=False)
            if self.bf16 and a.dtype == F32:
                a = round_bf16(a)
            env[spec["name"]] = a
            batch = a.shape[0]
        for op in t.ops:
            spec = SPECS[op.kind]
            ins = [env[n] for n in op.inputs]
            try:
                if spec.gemm:
                    y = self._run_gemm(op, ins, start, batch)
                else:
                    y = spec.run(ins, self.params[op.name], op.attrs)[0]
                    if self.bf16 and y.dtype == F32:
                        y = round_bf16(y)
            except OpDataError as exc:  # bad data (ids out of range); anything else is a bug
                raise TraceError(f"trace {t.name!r}: op {op.name!r} ({op.kind}): {exc}") from exc
            env[op.outputs[0]] = y
        return env

    def layer_errors(self) -> list[LayerError]:
        out = []
        for g in self.trace.gemm_ops():
            mean, std, rel = self.stats[g.name].result()
            out.append(LayerError(name=g.name, layer=g.layer, kind=g.kind, macs=g.macs,
                                  dy_mean=mean, dy_std=std, rel_rms_error=rel))
        return out


def evaluate(trace, backend, *, batch_size: int = 64, limit: int | None = None, progress: bool = False,
             differential: bool = True, keep_outputs: bool = False) -> EvalResult:
    """Run the evaluation set of ``trace`` through ``backend`` in batches.

    Returns the task metric (None for layer traces), per-GEMM-op differential errors
    (zeros for :class:`Float32Backend`), and optionally the outputs. Memory is bounded
    by one batch of activations (data files are memory-mapped).
    """
    if batch_size < 1:
        raise TraceError(f"batch_size must be >= 1, got {batch_size}")
    ex = Executor(trace, backend, differential=differential)
    n = trace.num_samples if limit is None else min(int(limit), trace.num_samples)
    if n < 1:
        raise TraceError(f"limit must be >= 1, got {limit}")
    labels = trace.labels()
    metric = trace.metric if labels is not None else None
    correct = 0
    counted = 0  # top1_dense: positions with a label >= 0
    kept = []
    starts = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm
        starts = tqdm(starts, total=len(starts), desc=f"{trace.name} [{getattr(backend, 'name', '?')}]",
                      unit="batch")
    for b0 in starts:
        b1 = min(b0 + batch_size, n)
        env = ex.run({s["name"]: np.asarray(trace.data_input(s["name"])[b0:b1]) for s in trace.inputs}, b0)
        y = env[trace.outputs[0]]
        if metric == "top1":
            correct += int(np.sum(np.argmax(y, axis=1) == np.asarray(labels[b0:b1])))
        elif metric == "top1_dense":
            c, k = dense_top1_counts(y, labels[b0:b1])
            correct, counted = correct + c, counted + k
        if keep_outputs:
            kept.append(np.array(y, dtype=F32))
    if metric == "top1_dense" and counted == 0:
        raise TraceError(f"trace {trace.name!r}: metric top1_dense: the {n} evaluated samples hold no labelled "
                         "position (every label < 0)")
    acc = (correct / counted if metric == "top1_dense" else correct / n) if metric is not None else None
    return EvalResult(trace=trace.name, backend=getattr(backend, "name", type(backend).__name__), metric=metric,
                      accuracy=acc, num_samples=n, layers=ex.layer_errors(),
                      outputs=np.concatenate(kept) if keep_outputs else None)


def fp32_accuracy(trace, *, batch_size: int = 64, limit: int | None = None) -> float | None:
    """The task metric of float32 execution (the value recorded as ``fp32_metric``)."""
    return evaluate(trace, Float32Backend(), batch_size=batch_size, limit=limit, differential=False).accuracy
