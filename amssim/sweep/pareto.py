"""Pareto fronts: the non-dominated points over chosen objectives.

A point ``a`` dominates ``b`` when ``a`` is at least as good in every objective and
strictly better in one. Equal points do not dominate each other, so ties stay on
the front together. Points with a missing (None/NaN) objective value cannot be
ranked and are never on the front.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np

from ..errors import ConfigError

__all__ = ["Objective", "parse_objective", "pareto_front", "pareto_mask", "DEFAULT_OBJECTIVES"]

#: result keys better when larger; every other key is minimised unless told otherwise
_MAXIMISE = {"accuracy", "fp32_accuracy", "tops", "tops_per_w", "macs"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Objective:
    """One objective: a summary/result key and whether to minimise or maximise it."""

    key: str  #: e.g. "energy_j" (joules per inference), "accuracy"
    maximise: bool  #: True: larger is better

    def __str__(self) -> str:
        return f"{self.key}:{'max' if self.maximise else 'min'}"


def parse_objective(text: str) -> Objective:
    """``"key"`` (direction from the key: accuracy/tops... max, others min) or ``"key:min|max"``."""
    key, sep, direction = text.strip().partition(":")
    key = key.strip()
    if not key:
        raise ConfigError(f"objective {text!r}: empty key")
    if not sep:
        return Objective(key=key, maximise=key in _MAXIMISE)
    direction = direction.strip().lower()
    if direction in ("max", "maximise", "maximize"):
        return Objective(key=key, maximise=True)
    if direction in ("min", "minimise", "minimize"):
        return Objective(key=key, maximise=False)
    raise ConfigError(f"objective {text!r}: direction {direction!r} is not 'min' or 'max'")


DEFAULT_OBJECTIVES = (Objective(key="energy_j", maximise=False), Objective(key="accuracy", maximise=True))


def _value(p: Mapping, key: str) -> float:
    v = p.get(key)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return math.nan
    return float(v)


def pareto_mask(points: Sequence[Mapping], objectives: Sequence[Objective] = DEFAULT_OBJECTIVES) -> np.ndarray:
    """Boolean mask over ``points``: True where the point is non-dominated."""
    if len(objectives) < 1:
        raise ConfigError("a Pareto front needs at least one objective")
    n = len(points)
    # costs: every objective turned into "smaller is better"
    costs = np.array(
        [[(-1.0 if o.maximise else 1.0) * _value(p, o.key) for o in objectives] for p in points],
        dtype=np.float64,
    ).reshape(n, len(objectives))
    valid = ~np.isnan(costs).any(axis=1)
    mask = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(valid)
    if idx.size == 0:
        return mask
    c = costs[idx]
    if c.shape[1] == 2:
        mask[idx] = _front_2d(c)
    else:
        mask[idx] = _front_nd(c)
    return mask


def pareto_front(points: Sequence[Mapping], objectives: Sequence[Objective] = DEFAULT_OBJECTIVES) -> list[int]:
    """Indices of the non-dominated points, ordered by the first objective (best first)."""
    mask = pareto_mask(points, objectives)
    idx = [int(i) for i in np.flatnonzero(mask)]
    o = objectives[0]
    sign = -1.0 if o.maximise else 1.0
    return sorted(idx, key=lambda i: (sign * _value(points[i], o.key), i))


def _front_2d(c: np.ndarray) -> np.ndarray:
    """O(n log n): sort by the first cost; i is dominated iff some point with a strictly
    smaller first cost has second cost <= c_i2, or a point with an equal first cost
    has a strictly smaller second cost."""
    order = np.lexsort((c[:, 1], c[:, 0]))
    a, b = c[order, 0], c[order, 1]
    keep = np.zeros(len(a), dtype=bool)
    best_before = math.inf  # min second cost over strictly smaller first cost
    i = 0
    n = len(a)
    while i < n:
        j = i
        while j < n and a[j] == a[i]:
            j += 1
        group_min = b[i]  # sorted by b inside the group
        for k in range(i, j):
            keep[k] = not (best_before <= b[k] or group_min < b[k])
        best_before = min(best_before, group_min)
        i = j
    out = np.zeros(n, dtype=bool)
    out[order] = keep
    return out


def _front_nd(c: np.ndarray) -> np.ndarray:
    """Any number of objectives, vectorised O(n^2 k) in row chunks."""
    n = len(c)
    dominated = np.zeros(n, dtype=bool)
    step = max(1, 2_000_000 // max(1, n * c.shape[1]))
    for s in range(0, n, step):
        blk = c[s : s + step]  # candidates i
        le = (c[None, :, :] <= blk[:, None, :]).all(axis=2)  # j no worse than i
        lt = (c[None, :, :] < blk[:, None, :]).any(axis=2)  # j strictly better somewhere
        dominated[s : s + step] = np.any(le & lt, axis=1)
    return ~dominated
