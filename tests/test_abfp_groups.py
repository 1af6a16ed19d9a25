"""Stacked independent products (attention): one call == one call per product, bit for bit."""

import numpy as np
import pytest

from amssim import AbfpConfig, abfp_matmul
from amssim.errors import ConfigError
from amssim.signal import abfp_matmul_groups
from amssim.trace import AbfpBackend, Float32Backend, evaluate
from reference.abfp_ref import abfp_matmul_ref
from test_trace_executor import _graph

INL = tuple(np.linspace(-0.3, 0.3, 255))
CASES = {
    "uniform": dict(noise="uniform"),
    "none": dict(noise="none"),
    "gaussian": dict(noise="gaussian", noise_lsb=2.0),
    "student_t": dict(noise="student_t", noise_dof=3.0),
    "empirical": dict(noise="empirical", noise_edges_lsb=(-2.0, 0.0, 1.0), noise_probs=(0.4, 0.6)),
    "adc_inl_laplace": dict(adc_inl_lsb=INL, noise="laplace"),
    "signal_noise": dict(signal_noise_var_lsb2=0.3, noise="gaussian"),
    "channels": dict(channel_gain_error=(0.01, -0.02, 0.03), channel_offset_lsb=(0.3,)),
    "dac_inl": dict(dac_inl_lsb=INL),  # float path: falls back to one call per product
    "weight_noise": dict(weight_noise_rel=0.02),
    "wide_f64": dict(input_bits=12, weight_bits=12, adc_bits=12),
    "ideal": dict(ideal=True),
}


@pytest.mark.parametrize("tile", [1, 8, 32, 128])
@pytest.mark.parametrize("name", sorted(CASES))
def test_groups_equal_separate_calls(name, tile, rng):
    G, M, K, N = 5, 7, 75, 9
    x = rng.standard_normal((G, M, K)).astype(np.float32)
    w = rng.laplace(size=(G, N, K)).astype(np.float32)
    x[1, :, :3] = 0.0
    cfg = AbfpConfig(**{"tile_width": tile, "gain": 4.0, **CASES[name]})
    offs = [0, 7, 2**31 + 5, 21, 2**32 - M]
    y = abfp_matmul_groups(x, w, cfg, seed=3, layer=2, row_offsets=offs)
    assert y.shape == (G, M, N) and y.dtype == np.float32
    for g in range(G):
        np.testing.assert_array_equal(y[g], abfp_matmul(x[g], w[g], cfg, 3, layer=2, row_offset=offs[g]))


def test_groups_equal_reference(rng):
    x = rng.standard_normal((3, 4, 40)).astype(np.float32)
    w = rng.standard_normal((3, 6, 40)).astype(np.float32)
    cfg = AbfpConfig(tile_width=16, gain=2.0, noise="uniform")
    y = abfp_matmul_groups(x, w, cfg, seed=1, layer=5, row_offsets=[8, 12, 16])
    for g in range(3):
        np.testing.assert_array_equal(y[g], abfp_matmul_ref(x[g], w[g], cfg, seed=1, layer=5,
                                                            row_offset=8 + 4 * g))


def test_groups_validation(rng):
    cfg = AbfpConfig()
    x = np.zeros((2, 3, 4), np.float32)
    with pytest.raises(ConfigError, match="one entry per product"):
        abfp_matmul_groups(x, x, cfg, row_offsets=[0])
    with pytest.raises(ConfigError, match="same G and K"):
        abfp_matmul_groups(x, x[:, :, :3], cfg, row_offsets=[0, 3])
    with pytest.raises(ConfigError, match="2\\*\\*32"):
        abfp_matmul_groups(x, x, cfg, row_offsets=[0, 2**32 - 2])
    bad = x.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ConfigError, match="non-finite"):
        abfp_matmul_groups(bad, x, cfg, row_offsets=[0, 3])


class _OnlyGemm:
    """A backend without gemm_groups: the executor makes one call per (sample, head)."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.bf16_activations = inner.bf16_activations

    def gemm(self, x, w, **kw):
        return self.inner.gemm(x, w, **kw)


@pytest.mark.parametrize("make", [
    lambda: AbfpBackend(AbfpConfig(tile_width=8, gain=2.0, noise="gaussian", noise_lsb=1.0), seed=4),
    lambda: AbfpBackend(AbfpConfig(tile_width=128, gain=8.0, noise="uniform"), seed=1),
    lambda: Float32Backend(),
])
def test_executor_attention_batched_equals_per_product(make, rng):
    t, _ = _graph(rng)
    a = evaluate(t, make(), batch_size=3, keep_outputs=True)
    b = evaluate(t, _OnlyGemm(make()), batch_size=3, keep_outputs=True)
    np.testing.assert_array_equal(a.outputs, b.outputs)
    for la, lb in zip(a.layers, b.layers):
        assert (la.dy_mean, la.dy_std, la.rel_rms_error) == (lb.dy_mean, lb.dy_std, lb.rel_rms_error)
