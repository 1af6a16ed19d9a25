"""Run options (``--set run.KEY=VALUE``) and the run modes: how a trace is executed, not the device."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from ..errors import ConfigError, short_repr

#: the run modes (docs/architecture.md §2): numerics and timing side by side, the timing
#: model driving the numerics tile by tile, or shapes only
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
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_RUN_BATCH:
                raise ConfigError(f"run.{key} = {short_repr(v)}: must be an integer in 1..{MAX_RUN_BATCH}")
        if isinstance(self.limit, bool) or not isinstance(self.limit, int) or not 0 <= self.limit < 2**63:
            raise ConfigError(f"run.limit = {short_repr(self.limit)}: must be an integer in 0..2^63-1")


#: largest run.batch / run.eval_batch (a 32-bit count; more inferences per weight load
#: than any memory could hold, and keeps cycle and byte counts far from float overflow)
MAX_RUN_BATCH = 2**31 - 1


RUN_KEYS = {"format": str, "weight_format": str, "batch": int, "limit": int, "eval_batch": int}


def check_format(name: str, key: str) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``name`` is "fp32" or a known format."""
    if name == "fp32":
        return
    from ..formats import get_format

    try:
        get_format(name)
    except ConfigError as exc:
        raise ConfigError(f"--set {key}={name!r}: {exc}") from None


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
        check_format(opts.format, "run.format")
    if opts.weight_format:
        check_format(opts.weight_format, "run.weight_format")
    return dev, opts


def vars_of(opts: RunOptions) -> dict:
    """The run options as a plain dict (results, config hashes)."""
    return asdict(opts)
