"""Noise samplers against scipy.stats (KS test) and the numpy reference draws."""

import numpy as np
import pytest
from scipy import stats

from amssim import AbfpConfig
from amssim._rng import Stream, stream_key
from amssim.signal import sample_noise
from reference.abfp_ref import output_noise

KEYS = np.array([*stream_key(11, Stream.OUTPUT_NOISE, 0), *stream_key(11, Stream.OUTPUT_NOISE_2, 0)],
                np.uint32)
# 40 000 draws: the KS statistic of a correct sampler is < 0.0086 with 99 % probability;
# we require p > 1e-3 (a wrong family or scale gives p ~ 0 at this size)
ROWS, COLS = 200, 200

EMP = dict(noise_edges_lsb=(-3.0, -1.0, 0.0, 0.5, 4.0), noise_probs=(0.1, 0.4, 0.3, 0.2))


def _emp_cdf(v):
    e, p = np.array(EMP["noise_edges_lsb"]), np.array(EMP["noise_probs"])
    cum = np.concatenate([[0.0], np.cumsum(p)])
    return np.interp(v, e, cum)


@pytest.mark.parametrize("kw,dist", [
    (dict(noise="uniform", noise_lsb=0.5), stats.uniform(-0.5, 1.0).cdf),
    (dict(noise="gaussian", noise_lsb=2.0), stats.norm(0, 2.0).cdf),
    (dict(noise="logistic", noise_lsb=0.7), stats.logistic(0, 0.7).cdf),
    (dict(noise="laplace", noise_lsb=1.5), stats.laplace(0, 1.5).cdf),
    (dict(noise="student_t", noise_lsb=0.5, noise_dof=3.5), stats.t(3.5, 0, 0.5).cdf),
    (dict(noise="student_t", noise_lsb=1.0, noise_dof=0.8), stats.t(0.8).cdf),
    (dict(noise="empirical", **EMP), _emp_cdf),
])
def test_sampler_distribution(kw, dist):
    cfg = AbfpConfig(**kw)
    e = sample_noise(cfg, KEYS, ROWS, COLS, t=3)
    assert stats.kstest(e.ravel(), dist).pvalue > 1e-3
    # and the numba draws equal the reference's (same hash, same C math)
    a, b = np.meshgrid(np.arange(ROWS // 10), np.arange(COLS), indexing="ij")
    np.testing.assert_array_equal(e[: ROWS // 10], output_noise(cfg, 11, 0, a, b, 3))


def test_wrong_scale_is_detected():
    e = sample_noise(AbfpConfig(noise="gaussian", noise_lsb=2.0), KEYS, ROWS, COLS)
    assert stats.kstest(e.ravel(), stats.norm(0, 2.1).cdf).pvalue < 1e-3


def test_draws_independent_across_blocks_and_noise_none():
    cfg = AbfpConfig(noise="gaussian", noise_lsb=1.0)
    a, b = sample_noise(cfg, KEYS, 100, 100, t=0), sample_noise(cfg, KEYS, 100, 100, t=1)
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.03
    assert not sample_noise(AbfpConfig(noise="none"), KEYS, 4, 4).any()
