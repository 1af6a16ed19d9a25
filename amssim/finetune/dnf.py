"""Differential Noise Finetuning (Basumallik et al. 2022, Sec. VI): histograms + sampler.

Calibration (one batch): the float32 network runs on the batch; every GEMM op's
float32 input goes through the float32 layer and through the device's ABFP layer
(:func:`amssim.abfp_matmul` with the device's :class:`AbfpConfig` and the run seed,
bias added and the sum rounded to bf16 as the executor does); the difference of the
two outputs gives one histogram per layer with ``bins`` equal-width bins over
[min, max], ``bin_offset`` (paper: 0.5) added to every count, normalised to sum 1.

Sampling: a bin is drawn by its probability, then a value uniformly inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError
from ._torch import require_torch


@dataclass(frozen=True, kw_only=True, eq=False)
class DiffHistogram:
    """Normalised histogram of one layer's differential error (output units)."""

    name: str  #: op name
    layer: int  #: op index
    edges: np.ndarray  #: (bins + 1,) float64, increasing
    probs: np.ndarray  #: (bins,) float64, sum 1
    mean: float  #: mean of the raw differences
    std: float  #: population std of the raw differences
    count: int  #: number of differences

    @classmethod
    def from_diffs(cls, name: str, layer: int, d, *, bins: int, bin_offset: float) -> "DiffHistogram":
        d = np.asarray(d, np.float64).reshape(-1)
        if d.size == 0:
            raise ConfigError(f"DNF calibration of layer {name!r}: no differences (empty batch)")
        lo, hi = float(d.min()), float(d.max())
        if not hi > lo:  # all differences equal: a bin of one float spacing around the value
            sp = max(np.spacing(abs(lo)), np.finfo(np.float32).tiny)
            lo, hi = lo - sp, hi + sp
        counts, edges = np.histogram(d, bins=bins, range=(lo, hi))
        c = counts.astype(np.float64) + bin_offset
        return cls(name=name, layer=layer, edges=edges, probs=c / c.sum(), mean=float(d.mean()),
                   std=float(d.std()), count=int(d.size))

    def sample(self, shape, generator):
        """float32 torch tensor of ``shape`` drawn from the histogram with ``generator``.

        The bin is drawn with Walker's alias method (O(1) per draw, exact bin
        probabilities up to float32 resolution), then a value uniformly inside it.
        """
        torch = require_torch()
        q, alias, lo, width = self._tables()
        nb = len(self.probs)
        n = math.prod(shape)
        u = torch.rand(2, n, generator=generator, dtype=torch.float32)
        s = u[0] * nb
        k = s.to(torch.int32).clamp_(max=nb - 1)
        keep = (s - k.to(torch.float32)) < q.index_select(0, k)
        j = torch.where(keep, k, alias.index_select(0, k))
        return torch.addcmul(lo.index_select(0, j), u[1], width.index_select(0, j)).reshape(shape)

    def _tables(self):
        t = self.__dict__.get("_tabs")
        if t is None:
            torch = require_torch()
            q, alias = alias_table(self.probs)
            e = np.asarray(self.edges, np.float64)
            t = (torch.from_numpy(q.astype(np.float32)), torch.from_numpy(alias.astype(np.int32)),
                 torch.from_numpy(e[:-1].astype(np.float32)), torch.from_numpy(np.diff(e).astype(np.float32)))
            object.__setattr__(self, "_tabs", t)
        return t

    def to_dict(self) -> dict:
        return {"name": self.name, "layer": self.layer, "mean": self.mean, "std": self.std,
                "count": self.count, "edges": [float(e) for e in self.edges],
                "probs": [float(p) for p in self.probs]}


def alias_table(probs) -> tuple[np.ndarray, np.ndarray]:
    """Walker/Vose alias table: bin k is kept with probability q[k], else alias[k]."""
    p = np.asarray(probs, np.float64)
    nb = len(p)
    scaled = p * (nb / p.sum())
    q = np.ones(nb)
    alias = np.arange(nb, dtype=np.int64)
    small = [i for i in range(nb) if scaled[i] < 1.0]
    large = [i for i in range(nb) if scaled[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        q[s], alias[s] = scaled[s], g
        scaled[g] -= 1.0 - scaled[s]
        (small if scaled[g] < 1.0 else large).append(g)
    return q, alias


def calibrate(module, batch: dict, cfg, *, seed: int, bins: int, bin_offset: float) -> dict:
    """One histogram per GEMM op of ``module`` (a TorchTrace) from one calibration batch."""
    torch = require_torch()
    from ..signal import abfp_matmul
    from ..trace.ops import round_bf16
    from .numerics import CaptureNumerics

    n = _batch_len(batch)
    if n == 0:
        raise ConfigError("DNF calibration batch is empty: give at least one training sample")
    cap = CaptureNumerics()
    old = module.numerics
    module.numerics = cap
    try:
        with torch.no_grad():
            module(batch)
    finally:
        module.numerics = old
    index = {op.name: op.index for op in module.trace.ops}
    hists = {}
    for name, calls in cap.calls.items():
        diffs = []
        for x, w, b in calls:
            x3 = x.numpy().reshape(-1, *x.shape[-2:]) if x.dim() > 2 else x.numpy()[None]
            w3 = w.numpy().reshape(-1, *w.shape[-2:]) if w.dim() > 2 else None
            for g in range(x3.shape[0]):
                xg = np.ascontiguousarray(x3[g], np.float32)
                wg = np.ascontiguousarray(w.numpy() if w3 is None else w3[g], np.float32)
                ref = xg @ wg.T
                dev = abfp_matmul(xg, wg, cfg, seed, layer=index[name], row_offset=g * xg.shape[0])
                if b is not None:
                    ref = ref + b.numpy()
                    dev = dev + b.numpy()
                diffs.append((round_bf16(dev).astype(np.float64) - ref).reshape(-1))
        hists[name] = DiffHistogram.from_diffs(name, index[name], np.concatenate(diffs), bins=bins,
                                               bin_offset=bin_offset)
    return hists


def select_layers(hists: dict, spec: str) -> dict:
    """``"all"`` or ``"topK"``: the K layers with the largest differential std."""
    if spec == "all":
        return dict(hists)
    if isinstance(spec, str) and spec.startswith("top") and spec[3:].isdigit() and int(spec[3:]) >= 1:
        k = int(spec[3:])
        keep = sorted(hists.values(), key=lambda h: -h.std)[:k]
        return {h.name: h for h in keep}
    raise ConfigError(f"dnf_layers {spec!r}: expected 'all' or 'topK' with K >= 1 (e.g. top2)")


def _batch_len(batch: dict) -> int:
    for v in batch.values():
        return int(len(v))
    return 0
