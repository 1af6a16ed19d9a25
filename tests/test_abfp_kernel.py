"""abfp_matmul / block API against the slow reference (tests/reference/abfp_ref.py)."""

import os
import subprocess
import sys

import numpy as np
import pytest

from amssim import AbfpConfig, abfp_matmul
from amssim.signal import finalize, prepare_weights
from reference.abfp_ref import abfp_matmul_ref, bf16

RNG = np.random.default_rng(2024)
X = RNG.standard_normal((9, 70)).astype(np.float32)
W = RNG.laplace(size=(11, 70)).astype(np.float32)
INL8 = tuple(RNG.uniform(-0.4, 0.4, 255))

CASES = {
    "paper_noiseless": dict(noise="none"),
    "uniform": dict(noise="uniform", noise_lsb=0.5),
    "gaussian": dict(noise="gaussian", noise_lsb=2.0),
    "logistic": dict(noise="logistic", noise_lsb=0.7),
    "laplace": dict(noise="laplace", noise_lsb=0.7),
    "student_t": dict(noise="student_t", noise_lsb=0.5, noise_dof=3.0),
    "empirical": dict(noise="empirical", noise_edges_lsb=(-2.0, -0.5, 0.5, 3.0),
                      noise_probs=(0.2, 0.5, 0.3)),
    "fp32_scales": dict(scale_format="fp32"),
    "pow2_scales": dict(scale_format="pow2", noise="uniform"),
    "gain_error": dict(channel_gain_error=(0.01, -0.02, 0.03)),
    "offset": dict(channel_offset_lsb=(0.3, -0.2)),
    "dac_inl": dict(dac_inl_lsb=INL8),
    "adc_inl": dict(adc_inl_lsb=INL8, noise="uniform"),
    "weight_noise": dict(weight_noise_rel=0.02),
    "signal_noise": dict(signal_noise_var_lsb2=0.3, noise="gaussian", noise_lsb=0.5),
    "chip_like": dict(tile_width=7, input_bits=10, weight_bits=7, adc_bits=11, gain=1.86,
                      noise="gaussian", noise_lsb=2.0),
    "wide_fallback_f64": dict(tile_width=64, input_bits=12, weight_bits=12, adc_bits=12),
}


@pytest.mark.parametrize("tile", [1, 8, 16, 64])
@pytest.mark.parametrize("name", sorted(CASES))
def test_kernel_equals_reference(name, tile):
    kw = {"tile_width": tile, "gain": 4.0, **CASES[name]}
    cfg = AbfpConfig(**kw)
    y = abfp_matmul(X, W, cfg, seed=3, layer=2, row_offset=5)
    ref = abfp_matmul_ref(X, W, cfg, seed=3, layer=2, row_offset=5)
    assert y.dtype == np.float32 and y.shape == (9, 11)
    np.testing.assert_array_equal(y, ref)
    np.testing.assert_array_equal(y, bf16(y))  # holds bf16 values


def test_noise_changes_with_seed_and_layer():
    cfg = AbfpConfig(tile_width=16, gain=4.0, noise="uniform")
    a = abfp_matmul(X, W, cfg, seed=1)
    assert not np.array_equal(a, abfp_matmul(X, W, cfg, seed=2))
    assert not np.array_equal(a, abfp_matmul(X, W, cfg, seed=1, layer=1))
    np.testing.assert_array_equal(a, abfp_matmul(X, W, cfg, seed=1))


def test_ideal_is_float64_matmul():
    cfg = AbfpConfig(ideal=True, noise="gaussian")
    y = abfp_matmul(X, W, cfg)
    np.testing.assert_array_equal(y, (X.astype(np.float64) @ W.astype(np.float64).T).astype(np.float32))


def test_exact_representable_product():
    # one block, values on the code grid, G=1 and an ADC fine enough: Y is exact
    x = np.array([[1.0, -0.5, 0.25, 0.0]], np.float32)
    w = np.array([[1.0, 1.0, 1.0, 1.0], [0.5, -1.0, 0.0, 1.0]], np.float32)
    cfg = AbfpConfig(tile_width=4, input_bits=3, weight_bits=3, adc_bits=16, gain=1.0)
    # 3-bit grid is {0, +-1/3, +-2/3, +-1}: 0.25 -> 1/3, 0.5 -> 2/3 (tie 1.5 -> 2)
    xq = np.array([1.0, -2 / 3, 1 / 3, 0.0])
    wq = np.array([[1, 1, 1, 1], [2 / 3, -1, 0, 1]])
    expect = wq @ xq * np.array([1.0, 1.0])  # scales 1 and 1
    y = abfp_matmul(x, w, cfg)
    np.testing.assert_allclose(y[0], expect, rtol=2**-7)
    np.testing.assert_array_equal(y, abfp_matmul_ref(x, w, cfg))


def test_quantizer_ties_round_half_even():
    # fp32 scale s = 3 = L (3-bit inputs): code = rint(x * 3 / 3) = rint(x), ties to even
    x = np.array([[3.0, 2.5, 1.5, 0.5, -0.5, -1.5, -2.5, 0.0]], np.float32)
    w = np.eye(8, dtype=np.float32)
    cfg = AbfpConfig(tile_width=8, input_bits=3, weight_bits=16, adc_bits=16,
                     scale_format="fp32")
    y = abfp_matmul(x, w, cfg)
    np.testing.assert_allclose(y[0], [3, 2, 2, 0, 0, -2, -2, 0], rtol=2**-8, atol=1e-3)
    np.testing.assert_array_equal(y, abfp_matmul_ref(x, w, cfg))


def test_bf16_scale_can_exceed_max_and_clamps():
    # max|x| = 1.00390625 (exact float32, bf16 rounds it DOWN to 1.0): |x / s| > 1 -> clamped
    x = np.array([[1.00390625, -0.25]], np.float32)
    w = np.array([[1.0, 0.0]], np.float32)
    cfg = AbfpConfig(tile_width=2, input_bits=4, weight_bits=8, adc_bits=16)
    y = abfp_matmul(x, w, cfg)
    np.testing.assert_allclose(y[0, 0], 1.0, rtol=2**-8)  # code clamped to L -> xq = 1 -> s
    np.testing.assert_array_equal(y, abfp_matmul_ref(x, w, cfg))


def test_adc_tie_rounds_half_even_and_saturates():
    # 2-bit ADC: Ly = 1, LSB = n; one element blocks (n=1): v = G p with p = xq wq
    x = np.array([[1.0, 1.0, 1.0]], np.float32)
    w = np.array([[1.0], [1.0], [1.0]], np.float32).T.repeat(2, 0)  # (2, 3)
    cfg_half = AbfpConfig(tile_width=1, input_bits=8, weight_bits=8, adc_bits=2, gain=0.5)
    y = abfp_matmul(x, w, cfg_half)  # v = 0.5 per block -> rounds to 0 (even)
    np.testing.assert_array_equal(y, np.zeros((1, 2), np.float32))
    cfg_sat = AbfpConfig(tile_width=1, input_bits=8, weight_bits=8, adc_bits=2, gain=16.0)
    y = abfp_matmul(x, w, cfg_sat)  # v = 16 -> clamp at code 1 -> yq = n = 1, / G
    np.testing.assert_array_equal(y, np.full((1, 2), 3 / 16, np.float32))


def test_edge_shapes_match_reference():
    cfg = AbfpConfig(tile_width=32, gain=2.0, noise="uniform")
    for x, w in [
        (X[:1], W),                       # a single row
        (X[:, :5], W[:, :5]),             # K < n
        (X[:, :33], W[:, :33]),           # K not a multiple of n
        (np.zeros((3, 40), np.float32), W[:, :40]),  # zero blocks
    ]:
        np.testing.assert_array_equal(abfp_matmul(x, w, cfg, seed=4),
                                      abfp_matmul_ref(x, w, cfg, seed=4))
    x = X.copy()
    x[:, 32:64] = 0.0  # a zero block in the middle
    np.testing.assert_array_equal(abfp_matmul(x, W, cfg), abfp_matmul_ref(x, W, cfg))
    assert abfp_matmul(np.zeros((0, 70), np.float32), W, cfg).shape == (0, 11)


@pytest.mark.parametrize("tile", [7, 32])
def test_row_col_block_split_invariance(tile):
    cfg = AbfpConfig(tile_width=tile, gain=4.0, noise="gaussian", noise_lsb=1.0,
                     signal_noise_var_lsb2=0.1)
    full = abfp_matmul(X, W, cfg, seed=9, layer=1)
    np.testing.assert_array_equal(abfp_matmul(X[3:7], W, cfg, seed=9, layer=1, row_offset=3),
                                  full[3:7])
    prep = prepare_weights(W, cfg, seed=9, layer=1)
    T = prep.num_blocks
    acc = np.zeros((9, 11), np.float32)
    for r0, r1 in [(0, 2), (2, 9)]:
        for c0, c1 in [(0, 5), (5, 11)]:
            for t0, t1 in [(0, 1), (1, T // 2 + 1), (T // 2 + 1, T)]:
                prep.accumulate(X[r0:r1], acc[r0:r1], t0, t1, row_offset=r0,
                                col_start=c0, col_stop=c1)
    np.testing.assert_array_equal(finalize(acc), full)
    # narrow accumulator holding only the column range
    acc2 = np.zeros((9, 6), np.float32)
    prep.accumulate(X, acc2, 0, T, row_offset=0, col_start=5, col_stop=11)
    np.testing.assert_array_equal(finalize(acc2), full[:, 5:])


def test_large_chunked_blas_path_matches_reference(monkeypatch):
    import amssim.signal.abfp as A

    monkeypatch.setattr(A, "_ROW_ELEMS", 256)   # force several row and block chunks
    monkeypatch.setattr(A, "_BUF_ELEMS", 512)
    x = RNG.standard_normal((40, 300)).astype(np.float32)
    w = RNG.standard_normal((30, 300)).astype(np.float32)
    for tile in (8, 64):
        cfg = AbfpConfig(tile_width=tile, gain=8.0, noise="uniform")
        np.testing.assert_array_equal(abfp_matmul(x, w, cfg, seed=1),
                                      abfp_matmul_ref(x, w, cfg, seed=1))


_THREAD_SCRIPT = """
import numpy as np, sys
from amssim import AbfpConfig, abfp_matmul
rng = np.random.default_rng(0)
x = rng.standard_normal((64, 200)).astype(np.float32)
w = rng.standard_normal((48, 200)).astype(np.float32)
out = [abfp_matmul(x, w, AbfpConfig(tile_width=n, gain=4.0, noise="gaussian", noise_lsb=1.0), seed=5)
       for n in (8, 64)]
np.save(sys.argv[1], np.stack([o.ravel() for o in out]))
"""


def test_thread_count_invariance(tmp_path):
    res = []
    for threads in ("1", "2"):
        env = dict(os.environ, NUMBA_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads)
        f = tmp_path / f"y{threads}.npy"
        subprocess.run([sys.executable, "-c", _THREAD_SCRIPT, str(f)], env=env, check=True)
        res.append(np.load(f, allow_pickle=False))
    np.testing.assert_array_equal(res[0], res[1])
