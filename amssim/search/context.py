"""What a search measures: energy per layer, the fast accuracy proxy, full evaluations.

A *configuration* is a mapping ``{op name: overrides}`` (every GEMM op of the trace
present; a uniform configuration gives every op the same overrides).

* Energy (:meth:`SearchContext.energy_j`): per inference, from the timing and energy
  models, summed over ops; each (op, overrides) pair is timed once and cached.
* Proxy (:meth:`SearchContext.proxy`): Hill et al.'s fast check -- run the first
  ``proxy_inputs`` samples (10 by default) and compare the last layer's outputs with
  float32 by R^2; also the mean KL divergence of the softmax outputs and every GEMM
  op's differential error (relative rms, same float32 input), the per-layer divergence
  in the spirit of LPQ. Cached per configuration.
* Full evaluation (:meth:`SearchContext.full`): ``amssim.run.simulate`` on the whole
  evaluation set, averaged over the noise seeds; counted, and appended to the sweep
  store when one is given (a re-run reuses stored results, so a killed search resumes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import SearchError


@dataclass(frozen=True, kw_only=True)
class Proxy:
    r2: float  #: R^2 of the last layer's outputs against float32 (1 = identical)
    kl: float  #: mean KL(softmax(float32) || softmax(run)) over the proxy inputs (nats)
    layer_err: dict  #: op name -> relative rms differential error

    @property
    def layer_divergence(self) -> float:
        """Mean squared per-layer relative error (the LPQ-style per-layer term)."""
        v = list(self.layer_err.values())
        return float(np.mean(np.square(v))) if v else 0.0


def _key(config: Mapping[str, Mapping]) -> tuple:
    return tuple(sorted((n, tuple(sorted((k, str(v)) for k, v in o.items()))) for n, o in config.items()))


def r_squared(y: np.ndarray, y_ref: np.ndarray) -> float:
    """Coefficient of determination of ``y`` as a prediction of ``y_ref`` (all elements)."""
    y = np.asarray(y, np.float64).ravel()
    r = np.asarray(y_ref, np.float64).ravel()
    ss_tot = float(np.sum((r - r.mean()) ** 2))
    ss_res = float(np.sum((y - r) ** 2))
    if not math.isfinite(ss_res):
        return -math.inf
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else -math.inf)


def mean_kl(y: np.ndarray, y_ref: np.ndarray) -> float:
    """Mean KL(softmax(y_ref) || softmax(y)) over rows (last axis = classes)."""
    from scipy.special import log_softmax

    a = log_softmax(np.asarray(y_ref, np.float64).reshape(len(y_ref), -1), axis=1)
    b = log_softmax(np.asarray(y, np.float64).reshape(len(y), -1), axis=1)
    kl = np.sum(np.exp(a) * (a - b), axis=1)
    return float(np.mean(kl)) if np.all(np.isfinite(kl)) else math.inf


class SearchContext:
    """A trace on a device with global overrides; caches energies, proxies and evaluations."""

    def __init__(self, trace, device: str = "abfp-paper", *, overrides: Mapping | None = None,
                 proxy_inputs: int = 10, seeds: Sequence[int] = (0,), store=None):
        from ..run import load_workload, resolve_device
        from ..trace import Float32Backend, evaluate

        self.trace_arg = trace
        self.device_arg = device
        self.base_overrides = {str(k): v for k, v in (overrides or {}).items()}
        self.dev, self.opts = resolve_device(device, self.base_overrides)
        self.trace = load_workload(trace)
        if not self.trace.has_values:
            raise SearchError(f"trace {self.trace.name!r} is shape-only: a search needs values")
        if self.trace.metric is None or self.trace.labels() is None:
            raise SearchError(f"trace {self.trace.name!r} has no labels/metric: a search needs a "
                              f"task metric to hold")
        self.gemms = self.trace.gemm_ops()
        self.names = [g.name for g in self.gemms]
        if isinstance(proxy_inputs, bool) or not isinstance(proxy_inputs, int) or proxy_inputs < 1:
            raise SearchError(f"proxy inputs = {proxy_inputs!r}: must be an integer >= 1")
        self.proxy_inputs = min(proxy_inputs, self.trace.num_samples)
        self.seeds = tuple(int(s) for s in seeds)
        if not self.seeds:
            raise SearchError("at least one noise seed is needed")
        self.store = store
        ref = evaluate(self.trace, Float32Backend(), limit=self.proxy_inputs, keep_outputs=True,
                       differential=False)
        self.ref_outputs = ref.outputs
        from ..trace.executor import fp32_accuracy

        self.fp32_accuracy = self.trace.fp32_metric
        if self.fp32_accuracy is None:
            self.fp32_accuracy = fp32_accuracy(self.trace, batch_size=self.opts.eval_batch)
        if not self.fp32_accuracy:
            raise SearchError(f"trace {self.trace.name!r}: float32 accuracy is 0; nothing to hold")
        self._energy: dict = {}
        self._proxy: dict = {}
        self._full: dict = {}
        self._prepared: dict = {}
        self.full_evals = 0  #: full evaluations run (not served from the store)
        self.full_lookups = 0  #: distinct configurations fully evaluated or read from the store
        self.proxy_evals = 0

    # ------------------------------------------------------------------ helpers
    def uniform(self, option: Mapping) -> dict:
        return {n: dict(option) for n in self.names}

    def _setups(self, config: Mapping[str, Mapping]):
        from ..run import resolve_layers

        return resolve_layers(self.dev, self.opts, self.names, config, where="search")

    # ------------------------------------------------------------------- energy
    def layer_energy_j(self, name: str, option: Mapping) -> float:
        """Energy per inference of op ``name`` with ``option`` applied (cached)."""
        key = (name, tuple(sorted((k, str(v)) for k, v in option.items())))
        hit = self._energy.get(key)
        if hit is None:
            from ..run import timing_and_energy

            g = [x for x in self.gemms if x.name == name]
            setups = self._setups({name: option})
            _, e = timing_and_energy(g, self.dev, self.opts.batch, setups)
            hit = self._energy[key] = e.energy_j / self.opts.batch
        return hit

    def energy_j(self, config: Mapping[str, Mapping]) -> float:
        return float(sum(self.layer_energy_j(n, config.get(n, {})) for n in self.names))

    # -------------------------------------------------------------------- proxy
    def proxy(self, config: Mapping[str, Mapping]) -> Proxy:
        key = _key(config)
        hit = self._proxy.get(key)
        if hit is not None:
            return hit
        from ..run import make_backend
        from ..trace import evaluate

        backend = make_backend(self.dev, self.opts, self.seeds[0], setups=self._setups(config),
                               prepared_cache=self._prepared)
        ev = evaluate(self.trace, backend, limit=self.proxy_inputs, keep_outputs=True,
                      batch_size=self.proxy_inputs)
        self.proxy_evals += 1
        y = ev.outputs
        hit = Proxy(r2=r_squared(y, self.ref_outputs), kl=mean_kl(y, self.ref_outputs),
                    layer_err={L.name: float(L.rel_rms_error) for L in ev.layers})
        self._proxy[key] = hit
        return hit

    # --------------------------------------------------------------------- full
    def best_full(self) -> float:
        """The best normalised accuracy fully evaluated so far (0 if none)."""
        return max(self._full.values(), default=0.0)

    def known_full(self, config: Mapping[str, Mapping]) -> float | None:
        """The normalised accuracy of ``config`` if it was fully evaluated already."""
        return self._full.get(_key(config))

    def full(self, config: Mapping[str, Mapping]) -> float:
        """Normalised accuracy (accuracy / float32 accuracy), mean over the noise seeds."""
        key = _key(config)
        hit = self._full.get(key)
        if hit is not None:
            return hit
        from ..run import flat_layer_overrides, simulate
        from ..sweep.store import make_row, point_key

        self.full_lookups += 1
        opts = [dict(config.get(n, {})) for n in self.names]
        # a uniform option naming a device runs as per-layer devices (--set keys target the
        # global device only)
        uniform = all(o == opts[0] for o in opts) and "device" not in opts[0]
        if uniform:  # stored and simulated as plain global overrides
            overrides, layers = {**self.base_overrides, **opts[0]}, None
        else:
            overrides, layers = self.base_overrides, config
        flat = {k: str(v) for k, v in overrides.items()}
        if layers:  # one short, unique key for the per-layer part (full table kept in the row)
            import hashlib
            import json

            blob = json.dumps(flat_layer_overrides(layers), sort_keys=True, default=str).encode()
            flat["layers"] = "mixed-" + hashlib.sha256(blob).hexdigest()[:8]
        trace_name = str(self.trace_arg) if isinstance(self.trace_arg, str) else self.trace.name
        accs = []
        for seed in self.seeds:
            pk = point_key(trace=trace_name, device=self.device_arg, mode="accuracy", overrides=flat)
            row = self.store.get((pk, seed)) if self.store is not None else None
            if row is None:
                res = simulate(self.trace, self.device_arg, seed=seed, overrides=overrides,
                               layer_overrides=layers).to_dict()
                if layers:
                    res["layer_config"] = {n: dict(o) for n, o in layers.items()}
                self.full_evals += 1
                if self.store is not None:
                    self.store.append(make_row(trace=trace_name, device=self.device_arg,
                                               mode="accuracy", overrides=flat, seed=seed, result=res))
                acc = res["accuracy"]
            else:
                acc = row["result"]["accuracy"]
            accs.append(float(acc))
        hit = self._full[key] = float(np.mean(accs)) / self.fp32_accuracy
        return hit
