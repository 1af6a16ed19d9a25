"""AbfpConfig validation and every error path of the ABFP wrappers."""

import dataclasses

import numpy as np
import pytest

from amssim import AbfpConfig, abfp_error_variance, abfp_matmul
from amssim.errors import ConfigError
from amssim.signal import NoiseKind, ScaleFormat, finalize, prepare_weights

X = np.ones((3, 10), np.float32)
W = np.ones((4, 10), np.float32)


def test_defaults_and_enums():
    cfg = AbfpConfig()
    assert (cfg.tile_width, cfg.input_bits, cfg.weight_bits, cfg.adc_bits) == (128, 8, 8, 8)
    assert cfg.noise_kind is NoiseKind.NONE and cfg.scale_kind is ScaleFormat.BF16
    assert AbfpConfig(noise=NoiseKind.GAUSSIAN).noise == "gaussian"
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.gain = 2.0
    with pytest.raises(TypeError):
        AbfpConfig(128)  # keyword-only


@pytest.mark.parametrize("field,value,match", [
    ("tile_width", 0, "tile_width"), ("tile_width", 2.5, "tile_width"),
    ("tile_width", True, "tile_width"),
    ("input_bits", 1, "input_bits"), ("weight_bits", 17, "weight_bits"),
    ("adc_bits", 0, "adc_bits"),
    ("gain", 0.0, "gain"), ("gain", -1.0, "gain"), ("gain", float("inf"), "gain"),
    ("gain", float("nan"), "gain"), ("gain", "8", "gain"),
    ("noise_lsb", -0.1, "noise_lsb"), ("weight_noise_rel", -1e-3, "weight_noise_rel"),
    ("signal_noise_var_lsb2", -1.0, "signal_noise_var_lsb2"), ("noise_dof", 0.0, "noise_dof"),
    ("noise", "pink", "uniform, gaussian"), ("scale_format", "fp8", "scale_format"),
    ("ideal", 1, "ideal"),
    ("channel_gain_error", (0.1, -1.0), "channel_gain_error"),
    ("channel_offset_lsb", (float("nan"),), "channel_offset_lsb"),
    ("channel_offset_lsb", "abc", "channel_offset_lsb"),
    ("dac_inl_lsb", (0.0,) * 10, "dac_inl_lsb"), ("adc_inl_lsb", (0.0,) * 254, "adc_inl_lsb"),
])
def test_bad_fields_raise_config_error(field, value, match):
    with pytest.raises(ConfigError, match=match) as e:
        AbfpConfig(**{field: value})
    assert not isinstance(e.value, ValueError) and e.value.exit_code == 2  # bad input, never a generic ValueError
    assert repr(value)[:6] in str(e.value) or field in ("noise", "dac_inl_lsb", "adc_inl_lsb")


@pytest.mark.parametrize("edges,probs", [
    ((), ()), ((0.0, 1.0), (0.5, 0.5)), ((1.0, 0.0), (1.0,)), ((0.0, 1.0), (0.9,)),
    ((0.0, 1.0, 2.0), (-0.5, 1.5)),
])
def test_bad_empirical_noise(edges, probs):
    with pytest.raises(ConfigError, match="noise_"):
        AbfpConfig(noise="empirical", noise_edges_lsb=edges, noise_probs=probs)


def test_from_mapping():
    cfg = AbfpConfig.from_mapping({"tile_width": 32, "gain": 4, "noise": "gaussian",
                                   "channel_offset_lsb": [0.1, 0.2]})
    assert cfg.gain == 4.0 and cfg.channel_offset_lsb == (0.1, 0.2)
    assert AbfpConfig.from_mapping(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="'tile'"):
        AbfpConfig.from_mapping({"tile": 32})
    with pytest.raises(ConfigError, match="dev.toml"):
        AbfpConfig.from_mapping({"bogus": 1}, where="dev.toml [numerics]")
    with pytest.raises(ConfigError):
        AbfpConfig.from_mapping([("tile_width", 3)])


def test_noise_variance():
    assert AbfpConfig(noise="uniform", noise_lsb=0.5).noise_variance_lsb2 == pytest.approx(1 / 12)
    assert AbfpConfig(noise="laplace", noise_lsb=1.0).noise_variance_lsb2 == 2.0
    assert AbfpConfig(noise="student_t", noise_dof=2.0).noise_variance_lsb2 == float("inf")
    emp = AbfpConfig(noise="empirical", noise_edges_lsb=(-1.0, 1.0), noise_probs=(1.0,))
    assert emp.noise_variance_lsb2 == pytest.approx(1 / 3)


CFG = AbfpConfig(tile_width=4)


@pytest.mark.parametrize("x,w,match", [
    (np.ones((3, 9), np.float32), W, "K"),
    (np.ones(10, np.float32), W, "x must be 2-D"),
    (X, np.ones((4, 10, 1), np.float32), "w must be 2-D"),
    (np.where(np.eye(3, 10) > 0, np.nan, 1.0), W, r"x contains a non-finite value nan"),
    (X, np.full((4, 10), np.inf), r"w contains a non-finite value inf"),
    (np.full((3, 10), 1e39), W, "x contains a non-finite"),  # overflows float32
    (X.astype(complex), W, "x must be a real"),
    (X, np.ones((4, 0), np.float32), "K"),
])
def test_bad_arrays(x, w, match):
    with pytest.raises(ConfigError, match=match):
        abfp_matmul(x, w, CFG)


def test_bad_call_arguments():
    with pytest.raises(ConfigError, match="cfg must be an AbfpConfig"):
        abfp_matmul(X, W, {"tile_width": 4})
    for kw, match in [({"seed": -1}, "seed"), ({"layer": -2}, "layer"),
                      ({"row_offset": -1}, "row_offset"), ({"seed": 1.5}, "seed"),
                      ({"row_offset": 2**32}, "row_offset")]:
        with pytest.raises(ConfigError, match=match):
            abfp_matmul(X, W, CFG, **kw)


def test_block_api_errors():
    prep = prepare_weights(W, CFG)
    acc = np.zeros((3, 4), np.float32)
    ok = dict(row_offset=0, col_start=0, col_stop=4)
    with pytest.raises(ConfigError, match="t range"):
        prep.accumulate(X, acc, 2, 1, **ok)
    with pytest.raises(ConfigError, match="t range"):
        prep.accumulate(X, acc, 0, 4, **ok)
    with pytest.raises(ConfigError, match="column range"):
        prep.accumulate(X, acc, 0, 1, row_offset=0, col_start=3, col_stop=5)
    with pytest.raises(ConfigError, match="acc must be a 2-D float32"):
        prep.accumulate(X, acc.astype(np.float64), 0, 1, **ok)
    with pytest.raises(ConfigError, match="acc has shape"):
        prep.accumulate(X, np.zeros((2, 4), np.float32), 0, 1, **ok)
    with pytest.raises(ConfigError, match="x_rows has 9 columns"):
        prep.accumulate(X[:, :9], acc, 0, 1, **ok)
    with pytest.raises(ConfigError, match="ideal"):
        prepare_weights(W, AbfpConfig(ideal=True))
    with pytest.raises(ConfigError, match="acc must be a float32"):
        finalize(np.zeros(3))


def test_variance_rejects_uncovered_switches():
    for kw in [dict(channel_gain_error=(0.1,)), dict(weight_noise_rel=0.1),
               dict(noise="student_t", noise_dof=1.5), dict(ideal=True)]:
        with pytest.raises(ConfigError):
            abfp_error_variance(X, W, AbfpConfig(tile_width=4, **kw))
