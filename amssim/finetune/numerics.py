"""How a :class:`~amssim.finetune.torch_trace.TorchTrace` runs its GEMM ops.

Protocol: ``fast_conv`` (bool: convolutions may use ``F.conv*`` instead of unfold rows),
``gemm(op, x, w, bias)`` (x (..., M, K), w (N, K) or (..., N, K) -> x w^T + bias),
``post_gemm(op, y)`` (applied to a GEMM op's full output), ``act(y)`` (applied to graph
inputs and every float output; bf16 rounding on the device).
"""

from __future__ import annotations

from ._torch import require_torch


class Float32Numerics:
    """Plain float32 (the reference; matches :class:`amssim.trace.Float32Backend`)."""

    fast_conv = True

    def gemm(self, op, x, w, bias):
        torch = require_torch()
        y = torch.matmul(x, w.transpose(-1, -2))
        return y if bias is None else y + bias

    def post_gemm(self, op, y):
        return y

    def act(self, y):
        return y


class CaptureNumerics(Float32Numerics):
    """Float32, recording every GEMM call's operands (DNF calibration)."""

    fast_conv = False

    def __init__(self):
        self.calls = {}  # op name -> list of (x, w, bias) detached tensors

    def gemm(self, op, x, w, bias):
        self.calls.setdefault(op.name, []).append(
            (x.detach(), w.detach(), None if bias is None else bias.detach()))
        return super().gemm(op, x, w, bias)


class DnfNumerics(Float32Numerics):
    """Float32 plus noise drawn from each noisy layer's differential histogram."""

    def __init__(self, hists: dict, generator, enabled: bool = True):
        self.hists = hists  # op name -> DiffHistogram
        self.generator = generator
        self.enabled = enabled

    def post_gemm(self, op, y):
        h = self.hists.get(op.name)
        if not self.enabled or h is None:
            return y
        return y + h.sample(tuple(y.shape), self.generator).to(y.dtype)


class QatNumerics:
    """ABFP forward with straight-through gradients and bf16 activations (QAT)."""

    fast_conv = False

    def __init__(self, cfg, generator=None, noise: bool = True):
        from .qat import TorchAbfp

        self.tcfg = TorchAbfp(cfg)
        self.generator = generator
        self.noise = noise

    def gemm(self, op, x, w, bias):
        from .qat import bf16_ste, ste_matmul

        y = ste_matmul(x, w, self.tcfg, noise=self.noise, generator=self.generator)
        if bias is not None:
            y = bf16_ste(y + bias)  # the digital bias add, rounded like the executor
        return y

    def post_gemm(self, op, y):
        return y

    def act(self, y):
        from .qat import bf16_ste

        return bf16_ste(y)
