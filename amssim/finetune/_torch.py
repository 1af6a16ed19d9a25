"""Lazy PyTorch import for the ``torch`` extra (docs/architecture.md §3): a clear ConfigError if missing."""

from __future__ import annotations

from ..errors import ConfigError


def require_torch():
    """Return the ``torch`` module or raise :class:`ConfigError` naming the extra."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError("finetuning needs PyTorch: install the torch extra "
                          f"(pip install 'amssim[torch]'); import failed: {exc}") from None
    return torch
