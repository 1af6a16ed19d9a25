"""The device of a run: a registry name, a device file or a Device object, plus overrides."""

from __future__ import annotations

from collections.abc import Mapping

from .options import RunOptions, split_overrides


def is_device(obj) -> bool:
    """True for a loaded device (analog :class:`~amssim.config.Device` or digital)."""
    return hasattr(obj, "arch") and hasattr(obj, "energy")


def resolve_device(device, overrides: Mapping[str, object] | None):
    """``(device, RunOptions)``: ``device`` (a registry name, a .toml path or a loaded
    device object) with the device overrides applied, and the run options."""
    from ..config import apply_overrides, load_device

    dev_over, opts = split_overrides(overrides)
    base = device if is_device(device) else load_device(device)
    dev = apply_overrides(base, dev_over)
    return with_run_format(dev, opts), opts


def with_run_format(dev, opts: RunOptions):
    """A digital device runs its ``numerics.format``; ``run.format`` (when not the default
    "abfp") replaces it -- numerics, timing and energy alike. Analog devices unchanged."""
    if getattr(dev, "kind", "analog") != "digital" or opts.format == "abfp":
        return dev
    from ..config import apply_overrides

    return apply_overrides(dev, {"numerics.format": opts.format,
                                 "numerics.weight_format": opts.weight_format})


def validate_overrides(device, overrides: Mapping[str, object]) -> None:
    """Raise :class:`ConfigError` if any override key or value is invalid for ``device``."""
    resolve_device(device, overrides)
