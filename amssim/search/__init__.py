"""Configuration search under an accuracy target (``amssim search``).

>>> from amssim.search import run_search
>>> rep = run_search("workloads/fsdd-cnn", space=["numerics.tile_width=32,128",
...                  "numerics.gain=1,2,4,8"], target_loss=0.01)
>>> rep.chosen_config, rep.energy_saved_vs_uniform

Steps: (1) Hill et al.'s fast search over uniform configurations (:mod:`.fast`);
(2) per-layer configurations by a genetic search and a greedy baseline
(:mod:`.perlayer`), both starting from the fast search's R^2 -> accuracy model;
(3) the cheapest verified configuration is the answer. Full evaluations go to a sweep
store (``amssim pareto STORE`` plots them) and are counted.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

from ..errors import SearchError
from .context import Proxy, SearchContext, mean_kl, r_squared
from .fast import FastResult, LinearModel, exhaustive_search, fast_search, fit_model
from .perlayer import GaSettings, Ladders, MixedResult, genetic_search, greedy_search
from .space import SearchSpace, parse_space

METHODS = ("fast", "genetic", "greedy")


def parse_target(text) -> float:
    """``"1%"`` or ``"0.01"`` -> 0.01 (fraction of float32 accuracy that may be lost)."""
    s = str(text).strip()
    try:
        v = float(s[:-1]) / 100 if s.endswith("%") else float(s)
    except ValueError:
        raise SearchError(f"--target-loss {text!r}: expected a fraction (0.01) or a percentage (1%)") from None
    if not 0 <= v < 1:
        raise SearchError(f"--target-loss {text!r}: must lie in [0, 100) %")
    return v


@dataclass(kw_only=True)
class SearchReport:
    trace: str
    device: str
    target_loss: float
    fp32_accuracy: float
    space: dict
    fast: FastResult
    mixed: list = field(default_factory=list)  #: MixedResult per per-layer method
    exhaustive: dict | None = None  #: {"option", "energy_j", "same_pick", "evaluations"}
    chosen_method: str = ""
    chosen_config: dict = field(default_factory=dict)  #: op name -> overrides
    chosen_energy_j: float = 0.0
    chosen_accuracy_norm: float = 0.0
    full_evals: int = 0  #: distinct configurations fully evaluated by the search
    proxy_evals: int = 0
    wall_time_s: float = 0.0

    @property
    def energy_saved_vs_uniform(self) -> float:
        """1 - chosen energy / best uniform energy (the fast search's verified pick)."""
        return 1.0 - self.chosen_energy_j / self.fast.energy_j if self.fast.energy_j else 0.0

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("fast", "mixed")}
        f = self.fast
        d["uniform"] = {"option": f.option, "energy_j": f.energy_j, "accuracy_norm": f.accuracy_norm,
                        "model": asdict(f.model), "full_evals": f.full_evals,
                        "candidates": f.candidates}
        d["mixed"] = [{k: v for k, v in asdict(m).items()} for m in self.mixed]
        d["energy_saved_vs_uniform"] = self.energy_saved_vs_uniform
        return d


def run_search(trace, *, space, device: str = "abfp-paper", overrides=None, target_loss=0.01,
               methods=METHODS, proxy_inputs: int = 10, calib_points: int = 4, seeds=(0,),
               seed: int = 0, ga: GaSettings = GaSettings(), exhaustive: bool = False,
               store=None) -> SearchReport:
    """Search ``space`` (``["key=v1,v2", ...]`` or a :class:`SearchSpace`) on ``trace``."""
    t0 = time.perf_counter()
    target = parse_target(target_loss) if isinstance(target_loss, str) else float(target_loss)
    if not 0 <= target < 1:
        raise SearchError(f"target loss {target!r}: must lie in [0, 1)")
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise SearchError(f"methods {list(methods)!r}: choose from {', '.join(METHODS)}")
    if isinstance(calib_points, bool) or not isinstance(calib_points, int) or calib_points < 2:
        raise SearchError(f"calibration points = {calib_points!r}: need an integer >= 2 (a line needs "
                          "two points)")
    per_layer = any(m != "fast" for m in methods)
    sp = space if isinstance(space, SearchSpace) else parse_space(
        list(space), device, base_overrides=overrides, per_layer=per_layer)
    ctx = SearchContext(trace, device, overrides=overrides, proxy_inputs=proxy_inputs, seeds=seeds,
                        store=store)
    fast = fast_search(ctx, sp, target, calib_points=calib_points)
    rep = SearchReport(trace=ctx.trace.name, device=device, target_loss=target,
                       fp32_accuracy=ctx.fp32_accuracy, space=dict(zip(sp.keys, sp.values)), fast=fast)
    rep.chosen_method, rep.chosen_config = "uniform", ctx.uniform(fast.option)
    rep.chosen_energy_j, rep.chosen_accuracy_norm = fast.energy_j, fast.accuracy_norm
    if per_layer:
        lad = Ladders(ctx, sp)
        uni = lad.genome_of(fast.option)
        for m in methods:
            if m == "genetic":
                r = genetic_search(ctx, sp, target, fast.model, seed=seed, settings=ga,
                                   seeds_genomes=[uni, (0,) * len(ctx.names)], ladders=lad)
            elif m == "greedy":
                r = greedy_search(ctx, sp, target, fast.model, ladders=lad)
            else:
                continue
            rep.mixed.append(r)
            if r.energy_j < rep.chosen_energy_j:
                rep.chosen_method, rep.chosen_config = r.method, r.config
                rep.chosen_energy_j, rep.chosen_accuracy_norm = r.energy_j, r.accuracy_norm
    rep.full_evals, rep.proxy_evals = ctx.full_lookups, ctx.proxy_evals
    if exhaustive:
        before = ctx.full_lookups
        opt, e, rows = exhaustive_search(ctx, sp, target)
        rep.exhaustive = {"option": opt, "energy_j": e, "evaluations": sp.size,
                          "new_evaluations": ctx.full_lookups - before,
                          "same_pick": opt == fast.option, "rows": rows}
    rep.wall_time_s = time.perf_counter() - t0
    return rep


def _typed(v):
    """"8" -> 8, "1.5" -> 1.5, other strings unchanged (for a readable TOML file)."""
    if not isinstance(v, str):
        return v
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    return v


def chosen_run_config(rep: SearchReport, *, device: str, overrides=None):
    """The chosen configuration as a :class:`amssim.run.RunConfig`."""
    from ..run import RunConfig

    layers = rep.chosen_config
    first = next(iter(layers.values()), {})
    uniform = all(o == first for o in layers.values()) and "device" not in first
    glob = {k: _typed(v) for k, v in {**(overrides or {}), **(first if uniform else {})}.items()}
    layers = {n: {k: _typed(v) for k, v in o.items()} for n, o in layers.items()}
    meta = {"method": rep.chosen_method, "target_loss": rep.target_loss,
            "accuracy_norm": rep.chosen_accuracy_norm, "energy_j": rep.chosen_energy_j,
            "uniform_energy_j": rep.fast.energy_j, "full_evals": rep.full_evals,
            "trace": rep.trace}
    return RunConfig(device=device, overrides=glob, layers={} if uniform else layers, meta=meta)


__all__ = ["METHODS", "FastResult", "GaSettings", "Ladders", "LinearModel", "MixedResult", "Proxy",
           "SearchContext", "SearchReport", "SearchSpace", "chosen_run_config", "exhaustive_search",
           "fast_search", "fit_model", "genetic_search", "greedy_search", "mean_kl", "parse_space",
           "parse_target", "r_squared", "run_search"]
