"""QAT forward (amssim.finetune.qat) against amssim.abfp_matmul: bit-exact with noise off."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from amssim import AbfpConfig, abfp_matmul  # noqa: E402
from amssim.finetune.qat import abfp_matmul_torch, bf16_round, bf16_ste, ste_matmul  # noqa: E402
from amssim.trace.ops import round_bf16  # noqa: E402

SHAPES = [(5, 9, 4), (7, 300, 5), (16, 128, 33), (3, 600, 12)]


def _xw(rng, M, K, N, xscale=1.0):
    x = (rng.standard_normal((M, K)) * xscale).astype(np.float32)
    w = rng.laplace(size=(N, K)).astype(np.float32)
    if K > 40:
        x[:, 8:40] = 0.0  # zero blocks (scale 1) at small tile widths
        x[0, :] = 0.0
    return x, w


def _same(x, w, cfg):
    a = abfp_matmul(x, w, cfg)
    b = abfp_matmul_torch(torch.from_numpy(x), torch.from_numpy(w), cfg).numpy()
    assert b.dtype == np.float32
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("M,K,N", SHAPES)
@pytest.mark.parametrize("n", [8, 32, 128])
@pytest.mark.parametrize("gain", [1.0, 8.0, 64.0])  # 64: heavy ADC saturation
def test_equals_abfp_matmul(rng, M, K, N, n, gain):
    x, w = _xw(rng, M, K, N, xscale=rng.uniform(0.01, 30))
    _same(x, w, AbfpConfig(tile_width=n, gain=gain, noise="none"))


@pytest.mark.parametrize("fmt", ["fp32", "pow2"])
@pytest.mark.parametrize("bits", [(8, 8, 8), (6, 6, 8), (10, 7, 11)])
def test_equals_abfp_matmul_formats_bits(rng, fmt, bits):
    x, w = _xw(rng, 9, 200, 7)
    _same(x, w, AbfpConfig(tile_width=32, gain=4.0, input_bits=bits[0], weight_bits=bits[1],
                           adc_bits=bits[2], scale_format=fmt, noise="none"))


def test_equals_abfp_matmul_deterministic_nonidealities(rng):
    """Channel gain/offset and DAC/ADC INL tables are deterministic: still exact."""
    x, w = _xw(rng, 11, 150, 6)
    b = 6
    L = 2 ** b - 1
    cfg = AbfpConfig(tile_width=32, gain=2.0, input_bits=b, weight_bits=6, adc_bits=b, noise="none",
                     channel_gain_error=(0.01, -0.02, 0.005), channel_offset_lsb=(0.3, -0.2),
                     dac_inl_lsb=tuple(rng.uniform(-0.3, 0.3, L)),
                     adc_inl_lsb=tuple(rng.uniform(-0.4, 0.4, L)))
    _same(x, w, cfg)


def test_ideal_and_batched(rng):
    x, w = _xw(rng, 6, 70, 5)
    ideal = AbfpConfig(ideal=True)
    np.testing.assert_array_equal(abfp_matmul(x, w, ideal),
                                  abfp_matmul_torch(torch.from_numpy(x), torch.from_numpy(w), ideal).numpy())
    cfg = AbfpConfig(tile_width=16, gain=2.0, noise="none")
    xs = rng.standard_normal((2, 3, 6, 40)).astype(np.float32)
    ws = rng.standard_normal((2, 3, 5, 40)).astype(np.float32)
    y = abfp_matmul_torch(torch.from_numpy(xs), torch.from_numpy(ws), cfg).numpy()
    for i in range(2):
        for j in range(3):
            np.testing.assert_array_equal(y[i, j], abfp_matmul(xs[i, j], ws[i, j], cfg))


def test_noise_on_matches_device_noise_statistics(rng):
    """With noise on, the error std matches the simulator's (same distribution, other draws)."""
    x, w = _xw(rng, 64, 256, 32)
    cfg = AbfpConfig(tile_width=128, gain=1.0, noise="uniform", noise_lsb=0.5)
    quiet = AbfpConfig(tile_width=128, gain=1.0, noise="none")
    d_sim = np.concatenate([abfp_matmul(x, w, cfg, seed=s) - abfp_matmul(x, w, quiet) for s in range(4)])
    g = torch.Generator().manual_seed(0)
    d_t = np.concatenate([abfp_matmul_torch(torch.from_numpy(x), torch.from_numpy(w), cfg, noise=True,
                                            generator=g).numpy() - abfp_matmul(x, w, quiet)
                          for _ in range(4)])
    assert np.std(d_t) == pytest.approx(np.std(d_sim), rel=0.05)


def test_bf16_round_matches_numpy(rng):
    a = (rng.standard_normal(100_000) * 10.0 ** rng.integers(-40, 38, 100_000)).astype(np.float32)
    a[:4] = [0.0, -0.0, 3.4e38, -1e-45]
    np.testing.assert_array_equal(bf16_round(torch.from_numpy(a)).numpy(), round_bf16(a))
    t = torch.tensor([1.0, float("-inf")], requires_grad=True)
    y = bf16_ste(t)
    y[0].backward()
    assert torch.isinf(y[1]) and t.grad.tolist() == [1.0, 0.0]


def test_straight_through_gradient(rng):
    """y = y_fp + (y_abfp - y_fp).detach(): forward is ABFP, gradient that of x @ w^T."""
    x, w = _xw(rng, 8, 100, 6)
    cfg = AbfpConfig(tile_width=32, gain=2.0, noise="none")
    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    y = ste_matmul(xt, wt, cfg)
    np.testing.assert_array_equal(y.detach().numpy(), abfp_matmul(x, w, cfg))
    g = torch.from_numpy(rng.standard_normal(y.shape).astype(np.float32))
    (y * g).sum().backward()
    np.testing.assert_allclose(xt.grad.numpy(), g.numpy() @ w, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wt.grad.numpy(), g.numpy().T @ x, rtol=1e-5, atol=1e-5)
