"""Closed-form error variance vs measured error; the Appendix-A study and its trends."""

import numpy as np
import pytest

from amssim import AbfpConfig, abfp_error_variance, abfp_matmul
from amssim.signal import saturation_fraction
from amssim.studies import appendix_a_data, run_appendix_a
from reference.abfp_ref import saturated_fraction_ref


def _check(x, w, n, g, noise):
    cfg = AbfpConfig(tile_width=n, gain=g, noise="uniform" if noise else "none", noise_lsb=noise)
    sat = saturation_fraction(x, w, cfg)
    if sat >= 1e-3:
        return sat, None
    y = abfp_matmul(x, w, cfg, seed=1).astype(np.float64)
    measured = np.mean((y - x.astype(np.float64) @ w.astype(np.float64).T) ** 2)
    predicted = np.mean(abfp_error_variance(x, w, cfg))
    return sat, predicted / measured - 1.0


@pytest.mark.parametrize("n,g,noise", [(8, 1, 0.0), (8, 2, 0.5), (32, 4, 0.0), (128, 8, 0.5),
                                       (128, 16, 0.0)])
def test_variance_matches_measured_small(n, g, noise):
    x, w = appendix_a_data(rows=48, seed=3)
    sat, rel = _check(x, w, n, g, noise)
    assert sat < 1e-3 and abs(rel) < 0.03, (sat, rel)


@pytest.mark.slow
def test_variance_matches_measured_appendix_a():
    """Issue 2 item 5: every (n, G) of the paper with < 0.1 % saturated partials, 3 %."""
    x, w = appendix_a_data(rows=400, seed=0)
    checked = 0
    for n in (8, 32, 128):
        for g in (1, 2, 4, 8, 16):
            sat, rel = _check(x, w, n, g, 0.0)
            if rel is not None:
                checked += 1
                assert abs(rel) < 0.03, (n, g, sat, rel)
    assert checked >= 11  # n=8: G 1, 2; n=32: G <= 8; n=128: all


def test_saturation_fraction_against_reference():
    x, w = appendix_a_data(rows=8, seed=0)
    for n, g in [(8, 4.0), (8, 16.0), (32, 16.0), (128, 1.0)]:
        cfg = AbfpConfig(tile_width=n, gain=g)
        assert saturation_fraction(x, w, cfg) == saturated_fraction_ref(x, w, cfg)
    assert saturation_fraction(x, w, AbfpConfig(tile_width=8, gain=16.0)) > 0.3


def test_appendix_a_data_is_standard():
    x, w = appendix_a_data(rows=400, seed=0)
    assert x.shape == (400, 768) and w.shape == (768, 768)
    assert abs(x.std() - 1.0) < 0.01 and abs(np.abs(w).mean() - 1.0) < 0.01  # Laplace: E|w| = 1
    np.testing.assert_array_equal(x, appendix_a_data(rows=400, seed=0)[0])


def test_appendix_a_trends():
    """The paper's trends: n = 8 is best at G = 1 or 2; n = 128 improves up to G = 16."""
    pts = run_appendix_a(rows=64, seed=0, noises_lsb=(0.0, 0.5), predict=False)
    for a in (0.0, 0.5):
        err = {(p.tile_width, p.gain): p.rel_rms_error for p in pts if p.noise_lsb == a}
        best8 = min((1.0, 2.0, 4.0, 8.0, 16.0), key=lambda g: err[(8, g)])
        assert best8 in (1.0, 2.0)
        e128 = [err[(128, g)] for g in (1.0, 2.0, 4.0, 8.0, 16.0)]
        assert all(b < a_ for a_, b in zip(e128, e128[1:])), e128
        assert err[(128, 16.0)] < 0.2 * err[(128, 1.0)]
