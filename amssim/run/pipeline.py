"""One simulation run: trace + device + overrides -> :class:`~amssim.run.RunResult`.

This is the glue behind ``amssim simulate``, sweeps, search and reports:

* the functional model (:func:`amssim.trace.evaluate`) with a numeric backend:
  the ABFP analog tile of the device (default), a digital number format
  (``run.format``), or float32;
* the timing model (:func:`amssim.timing.simulate_timing`) and the energy model
  (:func:`amssim.energy.estimate_energy`) on the trace's GEMM shapes.

Modes (docs/architecture.md §2): ``accuracy`` runs both models side by side (the functional one
on whole layers); ``full`` lets the simpy model drive the functional one (each tile
job computes its numeric block; outputs are bit-identical to ``accuracy``);
``timing`` runs shapes only. Figures are per inference; the timing model runs
``run.batch`` inferences per weight load.

Overrides are the dotted keys of the device model file (``numerics.gain``,
``noise.kind``, ``arch.clock_hz`` ...) plus the run keys in :data:`RUN_KEYS`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from .. import __version__
from ..errors import ConfigError, short_repr
from .backends import make_backend
from .cost import timing_and_energy
from .device import resolve_device
from .layers import flat_layer_overrides, resolve_layers
from .options import MODES, vars_of
from .result import LayerResult, RunResult


def simulate(trace, device="abfp-paper", *, mode: str = "accuracy", seed: int = 0,
             overrides: Mapping[str, object] | None = None, progress: bool = False,
             layer_overrides: Mapping[str, Mapping[str, object]] | None = None) -> RunResult:
    """Simulate ``trace`` (a path or a loaded :class:`amssim.trace.Trace`) on ``device``
    (a registry name, a device file or a loaded device).

    ``layer_overrides`` maps GEMM op names to overrides for that op only
    (:mod:`amssim.run.layers`: ``[numerics]``, ``[noise]``, ``[converters]`` keys and
    ``run.format``/``run.weight_format``); accuracy and timing modes only.
    """
    from ..config import config_hash
    from ..trace import evaluate
    from ..trace.executor import fp32_accuracy

    t0 = time.perf_counter()
    if mode not in MODES:
        raise ConfigError(f"--mode {mode!r}: must be one of {', '.join(MODES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ConfigError(f"--seed {short_repr(seed)}: must be an integer in 0..2^64-1")
    overrides = {str(k): v for k, v in (overrides or {}).items()}
    dev, opts = resolve_device(device, overrides)
    tr = load_workload(trace)
    gemms = tr.gemm_ops()
    from ..timing.work_limits import check_timing_work

    check_timing_work(gemms, dev, opts.batch, job_by_job=mode == "full")  # before any planning or allocation
    setups = {}
    if layer_overrides:
        if mode == "full":
            raise ConfigError("per-layer configurations run in --mode accuracy or timing "
                              "(full mode times one device)")
        setups = resolve_layers(dev, opts, [g.name for g in gemms], layer_overrides)

    ev = None
    if mode != "timing":
        if not tr.has_values:
            raise ConfigError(f"trace {tr.name!r} is shape-only: use --mode timing")
        backend = make_backend(dev, opts, seed, mode=mode, gemms=gemms, setups=setups)
        # digital devices have no tile-driven full mode: same evaluation as accuracy mode
        full_tiles = mode == "full" and getattr(dev, "kind", "analog") != "digital" and not setups
        ebatch = opts.batch if full_tiles else opts.eval_batch
        ev = evaluate(tr, backend, batch_size=ebatch, limit=opts.limit or None, progress=progress)

    timing, energy = timing_and_energy(gemms, dev, opts.batch, setups)

    fp32 = None
    if ev is not None and ev.accuracy is not None:
        fp32 = tr.fp32_metric if not opts.limit else None
        if fp32 is None:
            fp32 = fp32_accuracy(tr, batch_size=opts.eval_batch, limit=opts.limit or None)

    b = opts.batch
    t_layers = {L.name: L for L in timing.layers}
    e_layers = {L.name: L for L in energy.layers}
    errs = {L.name: L for L in ev.layers} if ev is not None else {}
    layers = []
    for g in gemms:
        tl, el, er = t_layers.get(g.name), e_layers.get(g.name), errs.get(g.name)
        layers.append(LayerResult(
            name=g.name, kind=g.kind, macs=int(g.m * g.k * g.n * g.count),
            cycles=(tl.cycles / b if tl is not None else None),
            energy_j=(el.energy_j / b if el is not None else None),
            dy_mean=(er.dy_mean if er else None), dy_std=(er.dy_std if er else None),
            rel_rms_error=(er.rel_rms_error if er else None)))
    macs = sum(L.macs for L in layers)
    latency = timing.latency_s / b
    energy_j = energy.energy_j / b
    name = getattr(dev, "name", str(device))
    extra = {"trace": tr.name, "mode": mode, "run": vars_of(opts)}
    if setups:
        extra["layers"] = {n: {str(k): str(v) for k, v in layer_overrides[n].items()} for n in setups}
    chash = config_hash(dev, extra)
    kind = getattr(dev, "kind", "analog")
    kinds = {kind, *(getattr(s.device, "kind", "analog") for s in setups.values())}
    backend_name = opts.format
    if kind == "digital":
        backend_name = dev.numerics.format if dev.weight_format == dev.numerics.format else \
            f"{dev.numerics.format}/{dev.weight_format}"
    return RunResult(
        trace=tr.name, device=name, mode=mode, seed=seed, config_hash=chash, version=__version__,
        backend=backend_name, device_kind=(kinds.pop() if len(kinds) == 1 else "mixed"),
        metric=(ev.metric if ev else tr.metric),
        accuracy=(ev.accuracy if ev else None), fp32_accuracy=fp32,
        num_samples=(ev.num_samples if ev else 0), cycles=timing.cycles / b, latency_s=latency,
        energy_j=energy_j, energy_breakdown_j={k: v / b for k, v in energy.breakdown_j.items()},
        macs=macs, tops=energy.tops, tops_per_w=energy.tops_per_w,
        utilisation=dict(timing.utilisation), layers=layers,
        overrides={**overrides, **flat_layer_overrides(layer_overrides)},
        wall_time_s=time.perf_counter() - t0)


def load_workload(trace):
    """A loaded Trace, a trace directory, or a SCALE-Sim topology CSV (shape-only)."""
    import os

    from ..trace import load_trace
    from ..trace.loader import read_scalesim

    if not (isinstance(trace, str) or hasattr(trace, "__fspath__")):
        return trace
    path = os.fspath(trace)
    if path.lower().endswith(".csv") and os.path.isfile(path):
        return read_scalesim(path)
    return load_trace(path)


def run_point(trace: str, device, overrides: Mapping[str, object], seed: int,
              mode: str = "accuracy", layer_overrides: Mapping | None = None) -> dict:
    """One sweep point: :func:`simulate` as a JSON-ready dict."""
    return simulate(trace, device, mode=mode, seed=seed, overrides=overrides,
                    layer_overrides=layer_overrides).to_dict()
