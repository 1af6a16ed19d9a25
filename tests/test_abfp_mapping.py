"""The one device-sections -> AbfpConfig mapping (issue 16 item 2).

Oracles: the field lists of the two dataclasses (every ABFP field reachable, every device key
accounted for), and an enumeration of boundary values fed to both schemas independently: the
device section dataclasses and AbfpConfig must accept and reject exactly the same values.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from amssim.config import ConvertersConfig, NoiseConfig, NumericsConfig, load_device
from amssim.config.abfp_mapping import ABFP_FIELD_OF, NOT_ABFP, abfp_config_from_sections
from amssim.config.schema import section_fields
from amssim.errors import ConfigError, DeviceError
from amssim.signal.config import AbfpConfig, NoiseKind, ScaleFormat

SECTION_CLASSES = {"numerics": NumericsConfig, "noise": NoiseConfig, "converters": ConvertersConfig}


def test_every_field_mapped_once_and_every_key_accounted_for():
    abfp_fields = {f.name for f in dataclasses.fields(AbfpConfig)}
    assert sorted(ABFP_FIELD_OF.values()) == sorted(abfp_fields)  # each field exactly once
    device_keys = {f"{sec}.{k}" for sec, cls in SECTION_CLASSES.items() for k in section_fields(cls)}
    device_keys -= {f"{sec}.source" for sec in SECTION_CLASSES}
    assert set(ABFP_FIELD_OF) | NOT_ABFP == device_keys
    assert not set(ABFP_FIELD_OF) & NOT_ABFP


@pytest.mark.parametrize("section,key", [("noise", "sigma"), ("numerics", "noise_lsb"), ("arch", "tiles")])
def test_unknown_key_is_rejected_by_name(section, key):
    with pytest.raises(DeviceError, match=rf"dev\.toml: \[{section}\] {key}: no AbfpConfig field"):
        abfp_config_from_sections({section: {key: 1}}, where="dev.toml")


def test_device_and_calibration_use_the_mapping():
    dev = load_device("photonic-128-measured")
    c = dev.abfp_config()
    # field by field against the sections, independent of the mapping table
    assert (c.tile_width, c.adc_bits, c.noise, c.noise_lsb) == (
        dev.numerics.tile_width, dev.numerics.adc_bits, dev.noise.kind, dev.noise.lsb)
    assert c.signal_noise_var_lsb2 == dev.noise.signal_var_lsb2
    # a partial mapping keeps AbfpConfig defaults; None (absent optional key) too
    got = abfp_config_from_sections({"numerics": {"adc_bits": 6}, "noise": {
        "kind": "gaussian", "lsb": 0.3, "dof": None, "signal_var_lsb2": 0.0, "source": "fit"}})
    assert got == AbfpConfig(adc_bits=6, noise="gaussian", noise_lsb=0.3)
    with pytest.raises(DeviceError, match="calib: .*AbfpConfig"):
        abfp_config_from_sections({"noise": {"kind": "student_t", "dof": 0.0}}, where="calib")


def test_allowed_names_come_from_the_enums():
    kinds = section_fields(NoiseConfig)["kind"].metadata["choices"]
    formats = section_fields(NumericsConfig)["scale_format"].metadata["choices"]
    assert list(kinds) == [k.name.lower() for k in NoiseKind]
    assert list(formats) == [f.name.lower() for f in ScaleFormat]


_TINY = 5e-324
# (section, key, boundary values): ranges' ends, one step either side, non-finite, wrong kind
BOUNDARIES = [
    ("numerics", "tile_width", [-1, 0, 1, 2, 4095, 4096, 4097, 10**6]),
    *[("numerics", k, [0, 1, 2, 3, 15, 16, 17]) for k in ("input_bits", "weight_bits", "adc_bits")],
    ("numerics", "gain", [-1.0, -0.0, 0.0, _TINY, 1.0, 1e300, math.inf, math.nan]),
    ("numerics", "weight_noise_rel", [-1.0, -_TINY, -0.0, 0.0, _TINY, 2.0, math.inf, math.nan]),
    ("numerics", "scale_format", [*(f.name.lower() for f in ScaleFormat), "BF16", "fp16", ""]),
    ("numerics", "ideal", [True, False]),
    ("noise", "kind", [*(k.name.lower() for k in NoiseKind), "normal", "Gaussian", ""]),
    ("noise", "lsb", [-1.0, -_TINY, 0.0, _TINY, 0.5, math.inf, math.nan]),
    ("noise", "dof", [-1.0, 0.0, _TINY, 2.0, 1e300, math.inf, math.nan]),
    ("noise", "signal_var_lsb2", [-1.0, -_TINY, 0.0, _TINY, 3.0, math.inf, math.nan]),
    ("noise", "edges_lsb", [(-1.0, 0.0, 1.0), (-1.0, math.inf, 1.0), (math.nan, 0.0, 1.0)]),
    ("converters", "channel_gain_error",
     [(), (0.0,), (-1.0,), (-1.0 + 1e-12,), (-2.0, 0.0), (0.5, math.inf), (math.nan,)]),
    ("converters", "channel_offset_lsb", [(), (0.0, -3.0), (1e300,), (math.inf,), (math.nan,)]),
]
# values that keep cross-field rules satisfied in both schemas (student_t / empirical need them)
_NOISE_BASE = {"kind": "empirical", "dof": 4.0, "edges_lsb": (-1.0, 0.0, 1.0), "probs": (0.5, 0.5)}


def _device_accepts(section, key, value):
    dev = load_device("abfp-paper")
    base = getattr(dev, section)
    extra = {k: v for k, v in _NOISE_BASE.items() if k != key} if section == "noise" else {}
    try:
        dataclasses.replace(base, **extra, **{key: value})
    except DeviceError:
        return False
    return True


def _abfp_accepts(section, key, value):
    extra = {}
    if section == "noise":
        extra = {ABFP_FIELD_OF[f"noise.{k}"]: v for k, v in _NOISE_BASE.items() if k != key}
    try:
        AbfpConfig(**extra, **{ABFP_FIELD_OF[f"{section}.{key}"]: value})
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("section,key,values", BOUNDARIES, ids=[f"{s}.{k}" for s, k, _ in BOUNDARIES])
def test_both_schemas_have_the_same_bounds(section, key, values):
    verdicts = [(v, _device_accepts(section, key, v), _abfp_accepts(section, key, v)) for v in values]
    assert [(v, d) for v, d, _ in verdicts] == [(v, a) for v, _, a in verdicts]
    # the enumeration is not vacuous: each list has an accepted and (bar ideal) a rejected value
    assert any(d for _, d, _ in verdicts)
    assert key == "ideal" or not all(d for _, d, _ in verdicts)


def test_tile_width_bound_is_the_documented_one():
    assert _device_accepts("numerics", "tile_width", 4096) and not _device_accepts("numerics", "tile_width", 4097)
