"""The one backend factory of a run: which numeric backend executes each GEMM op.

A uniform run is the case with no per-layer setups. Analog devices run the ABFP tile
(``run.format = "abfp"``, the default; in ``full`` mode the timing model drives it tile
by tile), float32 or a digital format; digital devices run their own format. With
per-layer setups, ops that differ get their own backend behind a
:class:`~amssim.trace.MixedBackend`.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError
from .layers import LayerSetup
from .options import RunOptions


def _digital(d) -> bool:
    return getattr(d, "kind", "analog") == "digital"


def digital_backend(dev, seed: int):
    """The numeric backend of a digital device: its formats, float32 accumulation."""
    from ..trace.backends import DigitalBackend, Float32Backend

    fx, fw = dev.numerics.format, dev.weight_format
    if fx == "fp32" and fw == "fp32":
        return Float32Backend()
    return DigitalBackend(fx, fw, seed=seed)


def _format_backend(o: RunOptions, seed: int):
    from ..trace.backends import DigitalBackend, Float32Backend

    if o.format == "fp32":
        return Float32Backend()
    return DigitalBackend(o.format, o.weight_format or o.format, seed=seed)


def make_backend(dev, opts: RunOptions, seed: int, *, mode: str = "accuracy", gemms=(),
                 setups: Mapping[str, LayerSetup] | None = None, prepared_cache: dict | None = None):
    """The executor backend of a run (see the module docstring)."""
    from ..trace.backends import AbfpBackend, MixedBackend

    setups = dict(setups or {})
    if mode == "full" and not _digital(dev):
        if setups:
            raise ConfigError("per-layer configurations run in --mode accuracy or timing "
                              "(full mode times one device)")
        if opts.format != "abfp":
            raise ConfigError(f"mode 'full' needs the analog ABFP backend; run.format={opts.format!r} "
                              f"is digital (use --mode accuracy)")
        from ..timing import TimedAbfpBackend

        return TimedAbfpBackend(dev, seed, gemm_shapes=gemms)

    def formats(d):
        return (d.numerics.format, d.weight_format)

    abfp_cfgs = {n: s.device.abfp_config() for n, s in setups.items()
                 if not _digital(s.device) and s.opts.format == "abfp"}
    if _digital(dev):
        default = digital_backend(dev, seed)  # full mode too: same numerics, shapes timed alike
    elif opts.format == "abfp":
        default = AbfpBackend(dev.abfp_config(), seed, layer_cfgs=abfp_cfgs, prepared_cache=prepared_cache)
    else:
        default = _format_backend(opts, seed)
    special = {}
    for n, s in setups.items():
        if _digital(s.device):
            if not _digital(dev) or formats(s.device) != formats(dev):
                special[n] = digital_backend(s.device, seed)
        elif s.opts.format == "abfp":
            if _digital(dev) or opts.format != "abfp":
                base = abfp_cfgs[n] if _digital(dev) else dev.abfp_config()
                special[n] = AbfpBackend(base, seed, layer_cfgs={n: abfp_cfgs[n]}, prepared_cache=prepared_cache)
        elif _digital(dev) or (s.opts.format, s.opts.weight_format) != (opts.format, opts.weight_format):
            special[n] = _format_backend(s.opts, seed)
    return default if not special else MixedBackend(default, special)
