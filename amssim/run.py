"""One simulation run: trace + device + overrides -> :class:`~amssim.result.RunResult`.

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
from dataclasses import dataclass

from . import __version__
from .errors import ConfigError
from .result import LayerResult, RunResult

MODES = ("accuracy", "full", "timing")


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """Run keys (``--set run.KEY=VALUE``): how the trace is executed, not the device."""

    format: str = "abfp"
    """numeric backend: "abfp" (the device's analog tile), "fp32", or a digital format
    name (``amssim formats``) used for inputs and, unless weight_format is set, weights"""
    weight_format: str = ""
    """digital format of the weights ("" = same as format)"""
    batch: int = 8
    """inferences per weight load on the accelerator (timing/energy), and the executor
    batch in ``full`` mode; >= 1"""
    limit: int = 0
    """evaluate only the first N samples of the trace (0 = all)"""
    eval_batch: int = 64
    """samples per executor batch in ``accuracy`` mode (memory only; results do not
    depend on it)"""

    def __post_init__(self):
        for key in ("batch", "eval_batch"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"run.{key} = {v!r}: must be an integer >= 1")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or self.limit < 0:
            raise ConfigError(f"run.limit = {self.limit!r}: must be an integer >= 0")


RUN_KEYS = {"format": str, "weight_format": str, "batch": int, "limit": int, "eval_batch": int}


def split_overrides(overrides: Mapping[str, object] | None) -> tuple[dict, RunOptions]:
    """Separate ``run.*`` keys from device keys; parse and validate the run keys."""
    dev: dict = {}
    run: dict = {}
    for key, value in (overrides or {}).items():
        key = str(key)
        if key.startswith("run."):
            sub = key[4:]
            if sub not in RUN_KEYS:
                raise ConfigError(f"--set {key}: unknown run key (valid: "
                                  f"{', '.join('run.' + k for k in RUN_KEYS)})")
            typ = RUN_KEYS[sub]
            try:
                run[sub] = typ(value) if not isinstance(value, typ) else value
            except (TypeError, ValueError):
                raise ConfigError(f"--set {key}={value!r}: expected {typ.__name__}") from None
        else:
            dev[key] = value
    opts = RunOptions(**run)
    if opts.format != "abfp":
        _check_format(opts.format, "run.format")
    if opts.weight_format:
        _check_format(opts.weight_format, "run.weight_format")
    return dev, opts


def _check_format(name: str, key: str) -> None:
    if name == "fp32":
        return
    from .formats import get_format

    try:
        get_format(name)
    except ConfigError as exc:
        raise ConfigError(f"--set {key}={name!r}: {exc}") from None


def resolve_device(device: str, overrides: Mapping[str, object] | None):
    """Load ``device`` (registry name or path) and apply the device overrides."""
    from .config import apply_overrides, load_device

    dev_over, opts = split_overrides(overrides)
    dev = apply_overrides(load_device(device), dev_over)
    return with_run_format(dev, opts), opts


def with_run_format(dev, opts: RunOptions):
    """A digital device runs its ``numerics.format``; ``run.format`` (when not the default
    "abfp") replaces it -- numerics, timing and energy alike. Analog devices unchanged."""
    if getattr(dev, "kind", "analog") != "digital" or opts.format == "abfp":
        return dev
    from .config import apply_overrides

    return apply_overrides(dev, {"numerics.format": opts.format,
                                 "numerics.weight_format": opts.weight_format})


def digital_backend(dev, seed: int):
    """The numeric backend of a digital device: its formats, float32 accumulation."""
    from .trace.backends import DigitalBackend, Float32Backend

    fx, fw = dev.numerics.format, dev.weight_format
    if fx == "fp32" and fw == "fp32":
        return Float32Backend()
    return DigitalBackend(fx, fw, seed=seed)


def validate_overrides(device: str, overrides: Mapping[str, object]) -> None:
    """Raise :class:`ConfigError` if any override key or value is invalid for ``device``."""
    resolve_device(device, overrides)


def _backend(dev, opts: RunOptions, seed: int, mode: str, gemms):
    from .trace.backends import AbfpBackend, DigitalBackend, Float32Backend

    if getattr(dev, "kind", "analog") == "digital":
        return digital_backend(dev, seed)  # full mode: same numerics, shapes timed alike
    if opts.format == "abfp":
        if mode == "full":
            from .timing import TimedAbfpBackend

            return TimedAbfpBackend(dev, seed, gemm_shapes=gemms)
        return AbfpBackend(dev.abfp_config(), seed)
    if mode == "full":
        raise ConfigError(f"mode 'full' needs the analog ABFP backend; run.format={opts.format!r} "
                          f"is digital (use --mode accuracy)")
    if opts.format == "fp32":
        return Float32Backend()
    return DigitalBackend(opts.format, opts.weight_format or opts.format, seed=seed)


def simulate(trace, device: str = "abfp-paper", *, mode: str = "accuracy", seed: int = 0,
             overrides: Mapping[str, object] | None = None, progress: bool = False,
             layer_overrides: Mapping[str, Mapping[str, object]] | None = None) -> RunResult:
    """Simulate ``trace`` (a path or a loaded :class:`amssim.trace.Trace`) on ``device``.

    ``layer_overrides`` maps GEMM op names to overrides for that op only
    (:mod:`amssim.layerconfig`: ``[numerics]``, ``[noise]``, ``[converters]`` keys and
    ``run.format``/``run.weight_format``); accuracy and timing modes only.
    """
    from .config import config_hash
    from .energy import estimate_energy
    from .timing import simulate_timing
    from .trace import evaluate
    from .trace.executor import fp32_accuracy

    t0 = time.perf_counter()
    if mode not in MODES:
        raise ConfigError(f"--mode {mode!r}: must be one of {', '.join(MODES)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"--seed {seed!r}: must be an integer >= 0")
    overrides = {str(k): v for k, v in (overrides or {}).items()}
    dev, opts = resolve_device(device, overrides)
    tr = _load(trace)
    gemms = tr.gemm_ops()
    from .limits import check_timing_work

    check_timing_work(gemms, dev, opts.batch)  # before any planning or allocation
    setups = {}
    if layer_overrides:
        from .mixed import resolve_layers

        if mode == "full":
            raise ConfigError("per-layer configurations run in --mode accuracy or timing "
                              "(full mode times one device)")
        setups = resolve_layers(dev, opts, [g.name for g in gemms], layer_overrides)

    ev = None
    if mode != "timing":
        if not tr.has_values:
            raise ConfigError(f"trace {tr.name!r} is shape-only: use --mode timing")
        if setups:
            from .mixed import layer_backend

            backend = layer_backend(dev, opts, seed, setups)
        else:
            backend = _backend(dev, opts, seed, mode, gemms)
        # digital devices have no tile-driven full mode: same evaluation as accuracy mode
        full_tiles = mode == "full" and getattr(dev, "kind", "analog") != "digital" and not setups
        ebatch = opts.batch if full_tiles else opts.eval_batch
        ev = evaluate(tr, backend, batch_size=ebatch, limit=opts.limit or None, progress=progress)

    if setups:
        from .mixed import mixed_timing_energy

        timing, energy = mixed_timing_energy(gemms, dev, setups, opts.batch)
    else:
        timing = simulate_timing(gemms, dev, batch=opts.batch)
        energy = estimate_energy(timing, dev)

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
        overrides={**overrides, **_flat_layers(layer_overrides)},
        wall_time_s=time.perf_counter() - t0)


def _load(trace):
    """A loaded Trace, a trace directory, or a SCALE-Sim topology CSV (shape-only)."""
    import os

    from .trace import load_trace
    from .trace.loader import read_scalesim

    if not (isinstance(trace, str) or hasattr(trace, "__fspath__")):
        return trace
    path = os.fspath(trace)
    if path.lower().endswith(".csv") and os.path.isfile(path):
        return read_scalesim(path)
    return load_trace(path)


def _flat_layers(layer_overrides) -> dict:
    """Per-layer overrides as flat ``layers.OP.section.key`` entries (for results and stores)."""
    return {f"layers.{n}.{k}": v for n, over in (layer_overrides or {}).items() for k, v in over.items()}


def vars_of(opts: RunOptions) -> dict:
    from dataclasses import asdict

    return asdict(opts)


def run_point(trace: str, device: str, overrides: Mapping[str, object], seed: int,
              mode: str = "accuracy", layer_overrides: Mapping | None = None) -> dict:
    """One sweep point: :func:`simulate` as a JSON-ready dict."""
    return simulate(trace, device, mode=mode, seed=seed, overrides=overrides,
                    layer_overrides=layer_overrides).to_dict()
