"""Finetuning for the device (issue 8; needs the ``torch`` extra): Differential Noise
Finetuning (DNF) and quantisation-aware training (QAT) of a trace's GEMM weights.

>>> from amssim.finetune import finetune
>>> res = finetune("workloads/fsdd-cnn", method="dnf", device="abfp-paper",
...                overrides={"numerics.gain": 2}, epochs=3, lr=1e-4, out="/tmp/fsdd-dnf",
...                train_data="fsdd-train.npz")
>>> res.epoch_wall_s, res.losses

torch is imported lazily: importing this package does not need it.
"""

from __future__ import annotations

from .config import FinetuneConfig, FinetuneResult, LayerNoise


def finetune(*args, **kwargs):
    """See :func:`amssim.finetune.train.finetune`."""
    from .train import finetune as f

    return f(*args, **kwargs)


def device_accuracy(*args, **kwargs):
    """See :func:`amssim.finetune.train.device_accuracy`."""
    from .train import device_accuracy as f

    return f(*args, **kwargs)


__all__ = ["FinetuneConfig", "FinetuneResult", "LayerNoise", "finetune", "device_accuracy"]
