"""Calibration fits recover known synthetic models (heavy tails, clipping, outliers).

Tolerances are stated per test; data are seeded so results are deterministic.
"""

import json
import math

import numpy as np
import pytest
from scipy import stats

from amssim.calibrate import (ArraySource, CalibrateConfig, SyntheticModel, calibrate,
                              simulate_residuals, write_synthetic)
from amssim.calibrate.loaders import Metadata
from amssim.calibrate.synthetic import make_sweep

META8 = Metadata(adc_bits=8)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    d = tmp_path_factory.mktemp("syn")
    paths = write_synthetic(str(d), seed=0)
    res = calibrate(paths["paired"], meta=paths["meta"])
    return paths, res, json.load(open(paths["truth"]))


def test_transfer_recovered(synth):
    # 131k paired samples, 16 channels, Student-t noise: gains to 0.3 %, offsets to 0.1 LSB,
    # nonlinearity coefficients to 0.003 (true q2 = 0.02, q3 = -0.03), global scale to 1 %
    _, res, truth = synth
    tf = res.converters_fit
    m = truth["model"]
    a_true = m["scale"] * (1 + np.array(truth["gain_error"]))
    np.testing.assert_allclose(tf.gains, a_true, rtol=3e-3)
    np.testing.assert_allclose(tf.offsets_lsb, truth["offset_lsb"], atol=0.1)
    np.testing.assert_allclose(tf.poly, m["poly"], atol=3e-3)
    assert abs(tf.scale / m["scale"] - 1) < 0.01
    assert tf.n_excluded_clipped > 0  # full-scale codes were present and excluded


def test_heavy_tailed_noise_recovered(synth):
    # true Student-t scale 0.8 LSB, dof 4, outliers 1e-3: scale to 5 %, dof to 20 %,
    # chosen by AIC with the smallest KS statistic
    _, res, truth = synth
    assert res.best.family == "student_t"
    p = res.best.params
    assert abs(p["lsb"] / 0.8 - 1) < 0.05
    assert abs(p["dof"] / 4.0 - 1) < 0.2
    assert 2e-4 < p["outlier_fraction"] < 3e-3
    assert res.best.ks == min(f.ks for f in res.fits)
    # Fisher standard errors: positive, true value within 4 sigma
    assert abs(p["dof"] - 4.0) < 4 * res.stderr["dof"]
    assert res.reproduction["pvalue"] > 1e-3


def test_simulator_reproduces_input_errors(synth):
    # residuals drawn through amssim.signal.sample_noise for the fitted config (rounded,
    # clipped like the ADC) vs the input residuals: two-sample KS p > 1e-3 at n = 5e4;
    # a 20 % wrong scale is rejected (p < 1e-3)
    _, res, _ = synth
    nr = res.noise_res
    sim = simulate_residuals(res, nr.mu, seed=5)
    assert stats.ks_2samp(nr.raw, sim).pvalue > 1e-3
    from dataclasses import replace

    wrong = replace(res.best, params=dict(res.best.params, lsb=res.best.params["lsb"] * 1.2))
    res2 = replace(res, best=wrong)
    assert stats.ks_2samp(nr.raw, simulate_residuals(res2, nr.mu, seed=5)).pvalue < 1e-3


def test_gaussian_continuous_chosen_by_bic():
    # continuous (unquantised) residuals, sigma 1.3: sigma within 2 %, gaussian wins BIC
    rng = np.random.default_rng(1)
    x = rng.uniform(-100, 100, 60_000)
    obs = 1.02 * x - 0.7 + rng.normal(0, 1.3, x.size)
    res = calibrate(source=ArraySource(x, obs), meta=META8,
                    cfg=CalibrateConfig(criterion="bic", poly_degree=0, outlier_model=False))
    assert not res.noise_res.quantized
    assert res.best.family == "gaussian"
    assert abs(res.best.params["lsb"] / 1.3 - 1) < 0.02
    assert abs(res.converters_fit.offsets_lsb[0] + 0.7) < 0.05


@pytest.mark.parametrize("family,scale", [("laplace", 0.9), ("logistic", 0.6)])
def test_other_families_identified(family, scale):
    # quantised codes (interval-censored likelihood) with sub-LSB noise: scale within 5 %;
    # BIC (logistic ~ Student-t with dof ~ 9: AIC's penalty is too weak to separate them)
    rng = np.random.default_rng(2)
    x = rng.uniform(-100, 100, 20_000)
    e = {"laplace": rng.laplace, "logistic": rng.logistic}[family](0, scale, x.size)
    obs = np.rint(x + 0.3 + e)
    res = calibrate(source=ArraySource(x, obs), meta=META8,
                    cfg=CalibrateConfig(poly_degree=0, criterion="bic",
                                        families=("gaussian", "logistic", "laplace", "student_t")))
    assert res.noise_res.quantized
    assert res.best.family == family
    assert abs(res.best.params["lsb"] / scale - 1) < 0.05


def test_empirical_chosen_for_bimodal_noise():
    # a two-level (random telegraph) error is none of the parametric families
    rng = np.random.default_rng(3)
    x = rng.uniform(-100, 100, 60_000)
    e = rng.choice([-2.0, 2.0], x.size) + rng.normal(0, 0.3, x.size)
    res = calibrate(source=ArraySource(x, x + e), meta=META8,
                    cfg=CalibrateConfig(poly_degree=0, quantized="no"))
    assert res.best.family == "empirical"
    z = res.noise_section()
    assert z["kind"] == "empirical" and len(z["edges_lsb"]) == len(z["probs"]) + 1
    assert res.reproduction["pvalue"] > 1e-3


def test_signal_dependent_variance():
    # sigma^2 = 0.5 + 0.02 |signal|: b within 20 %
    rng = np.random.default_rng(4)
    x = rng.uniform(-120, 120, 80_000)
    obs = x + rng.normal(0, 1, x.size) * np.sqrt(0.5 + 0.02 * np.abs(x))
    res = calibrate(source=ArraySource(x, obs), meta=META8,
                    cfg=CalibrateConfig(poly_degree=0, signal_dependent=True, quantized="no"))
    sv = res.noise_res.signal_var
    assert abs(sv["b_lsb2"] / 0.02 - 1) < 0.2
    assert res.noise_section()["signal_var_lsb2"] == pytest.approx(sv["b_lsb2"])
    assert abs(res.best.params["lsb"] / math.sqrt(0.5) - 1) < 0.1


def test_transfer_sweep_only(tmp_path):
    # sweeps without outliers: gains to 0.5 %, offsets to 0.3 LSB, bootstrap stderr > 0
    m = SyntheticModel(channels=8, sweep_points=256)
    codes, obs, t = make_sweep(m, seed=1)
    p = tmp_path / "sweep.npz"
    np.savez(p, codes=codes, observed=obs)
    res = calibrate(transfer=str(p), meta=META8,
                    cfg=CalibrateConfig(uncertainty="bootstrap", bootstrap_reps=5, bootstrap_size=2000,
                                        families=("gaussian", "student_t")))
    tf = res.converters_fit
    np.testing.assert_allclose(tf.gains, m.scale * (1 + t["gain_error"]), rtol=5e-3)
    np.testing.assert_allclose(tf.offsets_lsb, t["offset_lsb"], atol=0.3)
    assert all(v is None or v > 0 for v in res.stderr.values())


def test_dead_or_inverted_channel_and_too_few_points_are_bad_input():
    """Properties of the lab data, not failed runs: CalibrationError (exit 2), naming the channel."""
    from amssim.calibrate.transfer import fit_transfer
    from amssim.errors import CalibrationError, RunFailure

    rng = np.random.default_rng(0)
    x = np.tile(np.linspace(-50, 50, 41), 3)
    ch = np.repeat(np.arange(3), 41)
    gain = np.array([1.0, 1.1, -0.9])  # channel 2 is inverted
    obs = np.rint(gain[ch] * x + rng.normal(0, 0.5, x.size))
    cfg = CalibrateConfig()
    with pytest.raises(CalibrationError, match=r"inverted or dead channel \(channel 2\)") as e:
        fit_transfer(x, obs, ch, 3, 127, cfg)
    assert not isinstance(e.value, RunFailure)
    with pytest.raises(CalibrationError, match="usable points"):
        fit_transfer(x[:3], obs[:3], np.array([0, 1, 2]), 3, 127, cfg)
