"""Bounded-memory statistics over a stream of chunks.

* :class:`Reservoir`: a uniform random subsample of fixed size without
  replacement (every element gets a uniform priority key; the k smallest keys are
  kept), exact for any chunking, seeded.
* :class:`Moments`: count, mean, M2, M3, M4, min, max merged chunk by chunk
  (Chan et al. pairwise update), so 1e8 samples need O(1) memory.
* :class:`StreamHistogram`: counts on fixed edges; values beyond the edges go to
  the outer bins and the observed min/max widen the outer edges at the end.
* :class:`ChannelStats`: per-channel count, sum, sum of squares (bincount).
"""

from __future__ import annotations

import numpy as np


class Reservoir:
    def __init__(self, size: int, seed: int):
        self.size = int(size)
        self.rng = np.random.default_rng(seed)
        self.keys = np.empty(0)
        self.data: dict[str, np.ndarray] | None = None
        self.seen = 0

    def add(self, **cols: np.ndarray) -> None:
        n = len(next(iter(cols.values())))
        if n == 0:
            return
        self.seen += n
        k = self.rng.random(n)
        if self.data is None:
            keys, data = k, {c: np.asarray(v) for c, v in cols.items()}
        else:
            keys = np.concatenate([self.keys, k])
            data = {c: np.concatenate([self.data[c], np.asarray(v)]) for c, v in cols.items()}
        if len(keys) > self.size:
            keep = np.argpartition(keys, self.size - 1)[: self.size]
            keep.sort()
            keys = keys[keep]
            data = {c: v[keep] for c, v in data.items()}
        self.keys, self.data = keys, data

    def get(self, name: str) -> np.ndarray:
        return np.empty(0) if self.data is None else self.data[name]


class Moments:
    def __init__(self):
        self.n = 0
        self.mean = 0.0
        self.m2 = self.m3 = self.m4 = 0.0
        self.min = np.inf
        self.max = -np.inf

    def add(self, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        nb = x.size
        if nb == 0:
            return
        mb = float(x.mean())
        d = x - mb
        m2b, m3b, m4b = float((d * d).sum()), float((d**3).sum()), float((d**4).sum())
        na = self.n
        n = na + nb
        delta = mb - self.mean
        m2a, m3a, m4a = self.m2, self.m3, self.m4
        self.m4 = (m4a + m4b + delta**4 * na * nb * (na * na - na * nb + nb * nb) / n**3
                   + 6 * delta**2 * (na * na * m2b + nb * nb * m2a) / n**2
                   + 4 * delta * (na * m3b - nb * m3a) / n)
        self.m3 = (m3a + m3b + delta**3 * na * nb * (na - nb) / n**2
                   + 3 * delta * (na * m2b - nb * m2a) / n)
        self.m2 = m2a + m2b + delta**2 * na * nb / n
        self.mean += delta * nb / n
        self.n = n
        self.min = min(self.min, float(x.min()))
        self.max = max(self.max, float(x.max()))

    def summary(self) -> dict:
        n = self.n
        var = self.m2 / n if n else float("nan")
        sd = var**0.5
        return {"n": n, "mean_lsb": self.mean if n else float("nan"), "std_lsb": sd,
                "skewness": (self.m3 / n) / sd**3 if n and sd > 0 else float("nan"),
                "excess_kurtosis": (self.m4 / n) / var**2 - 3.0 if n and var > 0 else float("nan"),
                "min_lsb": self.min, "max_lsb": self.max}


class StreamHistogram:
    def __init__(self, edges: np.ndarray):
        self.edges = np.asarray(edges, np.float64)
        self.counts = np.zeros(len(self.edges) - 1, np.int64)
        self.min, self.max = np.inf, -np.inf

    def add(self, x: np.ndarray) -> None:
        if x.size == 0:
            return
        self.min = min(self.min, float(x.min()))
        self.max = max(self.max, float(x.max()))
        j = np.searchsorted(self.edges, x, side="right") - 1
        np.clip(j, 0, len(self.counts) - 1, out=j)
        self.counts += np.bincount(j, minlength=len(self.counts))

    def final_edges(self) -> np.ndarray:
        e = self.edges.copy()
        e[0] = min(e[0], self.min)
        e[-1] = max(e[-1], self.max)
        return e


class ChannelStats:
    def __init__(self, n_channels: int):
        self.n = np.zeros(n_channels, np.int64)
        self.s1 = np.zeros(n_channels)
        self.s2 = np.zeros(n_channels)

    def add(self, ch: np.ndarray, x: np.ndarray) -> None:
        m = len(self.n)
        self.n += np.bincount(ch, minlength=m)[:m]
        self.s1 += np.bincount(ch, weights=x, minlength=m)[:m]
        self.s2 += np.bincount(ch, weights=x * x, minlength=m)[:m]

    def summary(self) -> dict:
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = self.s1 / self.n
            std = np.sqrt(np.maximum(self.s2 / self.n - mean * mean, 0.0))
        return {"count": self.n.tolist(), "mean_lsb": _nan_none(mean), "std_lsb": _nan_none(std)}


def _nan_none(a):
    return [None if not np.isfinite(v) else float(v) for v in a]
