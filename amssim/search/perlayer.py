"""Per-layer (mixed) configurations: a seeded genetic search and a greedy baseline.

Every GEMM op picks one option of the space. Per op the options are ranked by that op's
energy (its *ladder*, cheapest first); a genome holds one ladder position per op.

Fitness (lower is better), in the spirit of LPQ (Ramachandran et al., DAC 2024)::

    energy / reference energy
      + penalty * max(0, goal - predicted accuracy)      # global output divergence (R^2)
      + layer_weight * mean_l (relative rms error of op l)^2   # per-layer divergence

where the predicted normalised accuracy comes from R^2 of the proxy outputs through
the linear model fitted by the fast search. The GA (tournament selection, uniform
crossover, per-gene mutation of one ladder step, elitism; ``numpy.random.Generator``
seeded by the run seed) returns the cheapest genome predicted to meet the goal; a full
evaluation verifies it and, if it misses, the greedy repair raises the most sensitive
op (largest differential error) one ladder step at a time until a full evaluation
passes. The greedy baseline starts with every op on its cheapest option and does the
same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import SearchError


@dataclass(frozen=True, kw_only=True)
class GaSettings:
    population: int = 16
    """genomes per generation (>= 4)"""
    generations: int = 12
    """generations after the initial population (>= 1)"""
    crossover: float = 0.9
    """probability that two parents are recombined (uniform crossover), else the first is copied"""
    mutation: float = 0.0
    """per-gene probability of a one-step ladder move; 0 = 1 / number of ops"""
    elitism: int = 2
    """best genomes copied unchanged into the next generation"""
    tournament: int = 3
    """genomes drawn per tournament selection"""
    penalty: float = 10.0
    """fitness weight of the predicted shortfall below the goal (per unit normalised accuracy)"""
    layer_weight: float = 0.1
    """fitness weight of the mean squared per-layer relative error"""

    def __post_init__(self):
        if self.population < 4 or self.generations < 1 or not 0 <= self.elitism < self.population:
            raise SearchError(f"GA settings {self}: need population >= 4, generations >= 1, "
                              f"0 <= elitism < population")
        if not (0 <= self.crossover <= 1 and 0 <= self.mutation <= 1) or self.tournament < 1:
            raise SearchError(f"GA settings {self}: probabilities must lie in [0, 1], tournament >= 1")


@dataclass(frozen=True, kw_only=True)
class MixedResult:
    method: str  #: "genetic" or "greedy"
    config: dict  #: op name -> overrides
    energy_j: float
    accuracy_norm: float  #: verified by a full evaluation
    predicted: float  #: from the proxy
    proxy_evals: int
    history: list = field(default_factory=list)  #: per generation/step: best fitness, energy


class Ladders:
    """Per-op option ladders ordered by the op's energy."""

    def __init__(self, ctx, space):
        self.ctx, self.space = ctx, space
        self.grid = space.index_grid()
        self.options = [space.option(i) for i in self.grid]
        self.order = {}
        for name in ctx.names:
            e = [ctx.layer_energy_j(name, o) for o in self.options]
            self.order[name] = sorted(range(len(self.options)), key=lambda j: (e[j], j))

    def config(self, genome) -> dict:
        return {n: dict(self.options[self.order[n][g]]) for n, g in zip(self.ctx.names, genome)}

    def genome_of(self, option: dict) -> tuple:
        j = self.options.index(option)
        return tuple(self.order[n].index(j) for n in self.ctx.names)

    @property
    def top(self) -> int:
        return len(self.options) - 1


def _score(ctx, lad, genome, model, goal, ref_e, st: GaSettings):
    cfg = lad.config(genome)
    p = ctx.proxy(cfg)
    pred = model.predict(p.r2)
    e = ctx.energy_j(cfg)
    fit = e / ref_e + st.penalty * max(0.0, goal - pred) + st.layer_weight * p.layer_divergence
    return fit, e, pred


def greedy_raise(ctx, lad, genome, model, goal, *, verify: bool = True, history=None):
    """Raise the most sensitive op one ladder step until the goal is met (full evaluation)."""
    g = list(genome)
    for _ in range(len(g) * (lad.top + 1)):
        cfg = lad.config(g)
        p = ctx.proxy(cfg)
        pred = model.predict(p.r2)
        if history is not None:
            history.append({"genome": list(g), "energy_j": ctx.energy_j(cfg), "predicted": pred})
        known = ctx.known_full(cfg)
        if known is not None and known >= goal:
            return tuple(g), pred
        if pred >= goal and (not verify or ctx.full(cfg) >= goal):
            return tuple(g), pred
        raisable = [i for i, n in enumerate(ctx.names) if g[i] < lad.top]
        if not raisable:
            break
        i = max(raisable, key=lambda i: (p.layer_err.get(ctx.names[i], 0.0), -i))
        g[i] += 1
    raise SearchError(f"target unreachable: every op at its dearest option misses "
                      f"{100 * goal:.2f} % of float32 (proxy R^2 {p.r2:.4f})")


def greedy_search(ctx, space, target_loss: float, model, *, ladders=None) -> MixedResult:
    goal = 1.0 - target_loss
    lad = ladders or Ladders(ctx, space)
    start = ctx.proxy_evals
    hist: list = []
    genome, pred = greedy_raise(ctx, lad, (0,) * len(ctx.names), model, goal, history=hist)
    cfg = lad.config(genome)
    return MixedResult(method="greedy", config=cfg, energy_j=ctx.energy_j(cfg),
                       accuracy_norm=ctx.full(cfg), predicted=pred,
                       proxy_evals=ctx.proxy_evals - start, history=hist)


def genetic_search(ctx, space, target_loss: float, model, *, seed: int = 0,
                   settings: GaSettings = GaSettings(), seeds_genomes=(), ladders=None) -> MixedResult:
    goal = 1.0 - target_loss
    lad = ladders or Ladders(ctx, space)
    L, top = len(ctx.names), lad.top
    rng = np.random.default_rng([int(seed), 0x5EA2C4])
    start = ctx.proxy_evals
    ref_e = ctx.energy_j(lad.config((top,) * L)) or 1.0
    pm = settings.mutation or 1.0 / L
    cache: dict = {}

    def score(g):
        if g not in cache:
            cache[g] = _score(ctx, lad, g, model, goal, ref_e, settings)
        return cache[g]

    pop = [tuple(int(x) for x in s) for s in seeds_genomes][: settings.population]
    while len(pop) < settings.population:
        pop.append(tuple(int(x) for x in rng.integers(0, top + 1, size=L)))
    hist = []
    for gen in range(settings.generations + 1):
        ranked = sorted(pop, key=lambda g: (score(g)[0], g))
        b = score(ranked[0])
        hist.append({"generation": gen, "fitness": b[0], "energy_j": b[1], "predicted": b[2]})
        if gen == settings.generations:
            break
        nxt = ranked[: settings.elitism]
        while len(nxt) < settings.population:
            pa, pb = (min(rng.choice(len(pop), settings.tournament), key=lambda i: (score(pop[i])[0], i))
                      for _ in range(2))
            a, c = pop[pa], pop[pb]
            if rng.random() < settings.crossover:
                mask = rng.random(L) < 0.5
                child = [a[i] if mask[i] else c[i] for i in range(L)]
            else:
                child = list(a)
            for i in range(L):
                if rng.random() < pm:
                    child[i] = int(min(top, max(0, child[i] + (1 if rng.random() < 0.5 else -1))))
            nxt.append(tuple(child))
        pop = nxt
    def ok(g):
        known = ctx.known_full(lad.config(g))
        return known >= goal if known is not None else cache[g][2] >= goal

    feas = [g for g in cache if ok(g)]
    best = min(feas, key=lambda g: (cache[g][1], g)) if feas else min(cache, key=lambda g: (cache[g][0], g))
    genome, pred = greedy_raise(ctx, lad, best, model, goal)
    cfg = lad.config(genome)
    return MixedResult(method="genetic", config=cfg, energy_j=ctx.energy_j(cfg),
                       accuracy_norm=ctx.full(cfg), predicted=pred,
                       proxy_evals=ctx.proxy_evals - start, history=hist)
