"""Hill et al.'s fast configuration search over uniform configurations.

Hill et al. (arXiv:1808.02513): run only a handful of inputs, compare last-layer
activations with float32 by R^2, map R^2 to normalised accuracy with a linear model
fitted on evaluated configurations, pick the cheapest configuration predicted to meet
the target, verify it with a full evaluation and step one value up or down.

Here: every option of the space gets a proxy (R^2 on ``proxy_inputs`` samples) and an
energy; ``calib_points`` options spread evenly over the R^2 ranking are fully evaluated
and a least-squares line ``accuracy = a + b R^2`` (scipy.stats.linregress) is fitted to
them; the cheapest option predicted to meet ``1 - target_loss`` is verified, then its
grid neighbours (one step in one key) are tried: cheaper ones while it passes, dearer
ones until one passes if it fails.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import SearchError


@dataclass(frozen=True, kw_only=True)
class LinearModel:
    """Normalised accuracy predicted from R^2: ``clip(intercept + slope * r2, 0, 1)``."""

    intercept: float
    slope: float
    r_value: float  #: correlation of the fit points
    points: int

    def predict(self, r2: float) -> float:
        if not math.isfinite(r2):
            return 0.0
        return float(min(1.0, max(0.0, self.intercept + self.slope * r2)))


@dataclass(frozen=True, kw_only=True)
class FastResult:
    option: dict  #: the chosen uniform overrides
    energy_j: float  #: per inference
    accuracy_norm: float  #: verified normalised accuracy
    model: LinearModel
    full_evals: int  #: distinct configurations fully evaluated (calibration + verification)
    candidates: list = field(default_factory=list)  #: every option: overrides, r2, predicted, energy


def fit_model(r2s, accs) -> LinearModel:
    """Least-squares line through (R^2, normalised accuracy) points (scipy.stats.linregress)."""
    from scipy.stats import linregress

    x = np.asarray(r2s, float)
    y = np.asarray(accs, float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = np.clip(x[ok], -1.0, 1.0), y[ok]
    if len(x) < 2 or np.ptp(x) == 0:
        # one distinct R^2: predict the measured mean (no slope can be fitted)
        return LinearModel(intercept=float(np.mean(y)) if len(y) else 0.0, slope=0.0,
                           r_value=0.0, points=len(x))
    if np.ptp(y) == 0:  # tied accuracies: a flat line, correlation undefined (reported as 0)
        return LinearModel(intercept=float(y[0]), slope=0.0, r_value=0.0, points=len(x))
    fit = linregress(x, y)
    vals = [float(fit.intercept), float(fit.slope), float(fit.rvalue)]
    if not all(math.isfinite(v) for v in vals):
        return LinearModel(intercept=float(np.mean(y)), slope=0.0, r_value=0.0, points=len(x))
    return LinearModel(intercept=vals[0], slope=vals[1], r_value=vals[2], points=len(x))


def calibrate_model(ctx, configs: list, proxies: list, calib_points: int) -> LinearModel:
    """Fully evaluate ``calib_points`` configurations spread over the R^2 ranking and fit."""
    order = np.argsort([-p.r2 if math.isfinite(p.r2) else math.inf for p in proxies], kind="stable")
    k = min(max(2, calib_points), len(configs))
    picks = sorted({int(order[int(round(i))]) for i in np.linspace(0, len(order) - 1, k)})
    accs = [ctx.full(configs[i]) for i in picks]
    return fit_model([proxies[i].r2 for i in picks], accs)


def fast_search(ctx, space, target_loss: float, *, calib_points: int = 4,
                max_steps: int = 8) -> FastResult:
    """The cheapest uniform option meeting ``accuracy / fp32 >= 1 - target_loss``."""
    goal = 1.0 - target_loss
    grid = space.index_grid()
    configs = [ctx.uniform(space.option(i)) for i in grid]
    proxies = [ctx.proxy(c) for c in configs]
    energies = [ctx.energy_j(c) for c in configs]
    model = calibrate_model(ctx, configs, proxies, calib_points)
    pred = [model.predict(p.r2) for p in proxies]
    cands = [{"option": space.option(i), "r2": p.r2, "kl": p.kl, "predicted": q, "energy_j": e}
             for i, p, q, e in zip(grid, proxies, pred, energies)]
    pos = {idx: j for j, idx in enumerate(grid)}

    feasible = [j for j in range(len(grid)) if pred[j] >= goal]
    if feasible:
        start = min(feasible, key=lambda j: (energies[j], j))
    else:  # nothing predicted to pass: try the most faithful option
        start = max(range(len(grid)), key=lambda j: (proxies[j].r2, -energies[j]))
    cur = start
    passed = ctx.full(configs[cur]) >= goal
    for _ in range(max_steps):
        nbrs = [pos[n] for n in space.neighbours(grid[cur])]
        if passed:  # one step cheaper while it still passes
            nxt = [j for j in sorted(nbrs, key=lambda j: energies[j]) if energies[j] < energies[cur]]
            moved = False
            for j in nxt:
                if ctx.full(configs[j]) >= goal:
                    cur, moved = j, True
                    break
            if not moved:
                break
        else:  # one step dearer until one passes
            nxt = [j for j in sorted(nbrs, key=lambda j: energies[j]) if energies[j] >= energies[cur]]
            nxt = nxt or sorted(nbrs, key=lambda j: -proxies[j].r2)
            for j in nxt:
                if ctx.full(configs[j]) >= goal:
                    cur, passed = j, True
                    break
            else:
                cur = max(nxt, key=lambda j: proxies[j].r2) if nxt else cur
    if not passed:
        best = ctx.best_full()
        raise SearchError(
            f"target unreachable: no configuration found with accuracy >= {100 * goal:.2f} % of "
            f"float32 ({ctx.full_lookups} evaluated; best {100 * best:.2f} %). Widen the --space or "
            f"relax --target-loss")
    return FastResult(option=space.option(grid[cur]), energy_j=energies[cur],
                      accuracy_norm=ctx.full(configs[cur]), model=model,
                      full_evals=ctx.full_lookups, candidates=cands)


def exhaustive_search(ctx, space, target_loss: float) -> tuple[dict | None, float | None, list]:
    """Full evaluation of every option; the cheapest that meets the target (the oracle)."""
    goal = 1.0 - target_loss
    grid = space.index_grid()
    rows = []
    best = None
    for idx in grid:
        c = ctx.uniform(space.option(idx))
        acc, e = ctx.full(c), ctx.energy_j(c)
        rows.append({"option": space.option(idx), "accuracy_norm": acc, "energy_j": e})
        if acc >= goal and (best is None or e < best[1]):
            best = (space.option(idx), e)
    return (best[0], best[1], rows) if best else (None, None, rows)
