"""Format names, specs, list_formats, the `amssim formats` command and every error path."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from amssim.cli import main
from amssim.errors import ConfigError, FormatError
from amssim.formats import (NonFiniteInputError, RoundingMode, get_format, list_formats, quantize)

F32 = np.float32

VALID = {
    "fp_e6m7": 14, "fp_e4m3_b10": 8, "fp_e1m0": 2, "fp_e7m8": 16, "fp8_e4m3": 8, "fp8_e5m2": 8,
    "bf16": 16, "fp32": 32, "int8": 8, "int2": 2, "int4_pc": 4, "bfp_m4_g16": 5.5, "bfp_m1_g1": 10,
    "mxfp8_e4m3": 8.25, "mxfp8_e5m2": 8.25, "mxfp6_e3m2": 6.25, "mxfp6_e2m3": 6.25, "mxfp4_e2m1": 4.25,
    "mxint8": 8.25, "mxint8_g64": 8.125, "posit8_1": 8, "posit16_2": 16, "posit2_0": 2, "posit8_4": 8,
    "lp8_1_3_2": 8, "lp8_0_7_-3": 8, "abfp_8_n128": 8.125, "abfp_6_n8": 8,
}


@pytest.mark.parametrize("name,bits", VALID.items())
def test_valid_names(name, bits):
    spec = get_format(name)
    assert spec.name == name and spec.bits_per_element == bits
    assert get_format(name.upper()) == spec  # case-insensitive
    assert get_format(spec) is spec
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"
    x = np.linspace(-3, 3, 64, dtype=F32).reshape(2, 32)
    q = quantize(x, name)
    assert q.shape == x.shape and q.dtype == F32 and np.all(np.isfinite(q))
    np.testing.assert_array_equal(quantize(q, name), q)  # idempotent


def test_format_parameters():
    s = get_format("fp_e5m2_b10")
    assert (s.exp_bits, s.man_bits, s.bias, s.emin) == (5, 2, 10, -9)
    assert s.max_value == 2.0 ** (31 - 10) * 1.75
    m = get_format("mxfp4_e2m1_g16")
    assert (m.element, m.group, m.emax_elem, m.element_max) == ("fp4_e2m1", 16, 2, 6.0)


MALFORMED = ["", "fp8", "fp_e4", "fp_e4m3_b", "mxfp8", "mxfp5_e2m2", "posit8", "posit_8_1", "lp8_1_3",
             "bfp_m4", "abfp_8", "int", "int8x", "float32", "e4m3", "int8_pc_pc", "mxint4"]


@pytest.mark.parametrize("name", MALFORMED)
def test_malformed_names_list_valid_patterns(name):
    with pytest.raises(FormatError) as exc:
        get_format(name)
    msg = str(exc.value)
    assert repr(name) in msg
    for fam in list_formats():
        assert fam.pattern in msg
    assert isinstance(exc.value, ConfigError)


IMPOSSIBLE = ["fp_e0m0", "fp_e0m3", "fp_e9m2", "fp_e4m24", "fp_e8m7", "fp_e5m2_b200", "fp_e5m2_b-200",
              "int1", "int0", "int25", "bfp_m0_g16", "bfp_m24_g16", "bfp_m4_g0", "mxfp8_e4m3_g0",
              "posit1_0", "posit8_8", "posit8_9", "posit32_2", "posit16_4", "abfp_1_n8", "abfp_8_n0",
              "abfp_25_n8", "lp8_1_0_0", "lp8_1_8_0", "lp8_8_3_0"]


@pytest.mark.parametrize("name", IMPOSSIBLE)
def test_impossible_bit_counts(name):
    with pytest.raises(FormatError):
        get_format(name)


def test_non_string_format():
    with pytest.raises(FormatError, match="name string"):
        get_format(8)


@pytest.mark.parametrize("name", ["fp8_e4m3", "fp32", "int8", "int8_pc", "bfp_m4_g8", "mxfp6_e2m3",
                                  "posit8_1", "lp8_1_3_2", "abfp_8_n16"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_rejected(name, bad):
    x = np.ones((3, 20), F32)
    x[2, 7] = bad
    with pytest.raises(NonFiniteInputError, match=r"x contains 1 non-finite.*\(2, 7\)"):
        quantize(x, name)


def test_argument_errors():
    x = np.ones((2, 8), F32)
    with pytest.raises(ConfigError, match="rounding='up'"):
        quantize(x, "int8", rounding="up")
    with pytest.raises(ConfigError, match="axis=2"):
        quantize(x, "mxint8", axis=2)
    with pytest.raises(ConfigError, match="axis"):
        quantize(x, "mxint8", axis=1.0)
    with pytest.raises(ConfigError, match="0-d"):
        quantize(np.float32(1.0), "bfp_m4_g8")
    with pytest.raises(ConfigError, match="dtype"):
        quantize(np.array(["a"]), "int8")
    with pytest.raises(ConfigError, match="dtype"):
        quantize(np.ones(2, complex), "fp8_e4m3")
    with pytest.raises(ConfigError, match="index_offset"):
        quantize(x, "int8", index_offset=-1)
    with pytest.raises(ConfigError, match="salt"):
        quantize(x, "int8", salt=2**32)
    assert RoundingMode.parse("Nearest-Away") is RoundingMode.NEAREST_AWAY
    assert RoundingMode.parse(RoundingMode.STOCHASTIC) is RoundingMode.STOCHASTIC


def test_edge_shapes_and_dtypes():
    assert quantize(np.zeros((0, 4), F32), "mxfp8_e4m3").shape == (0, 4)
    assert quantize(np.zeros((3, 0), F32), "int8_pc").shape == (3, 0)
    assert quantize(np.zeros(0), "posit8_1").shape == (0,)
    assert quantize(np.float32(1.1), "posit8_2").shape == ()
    np.testing.assert_array_equal(quantize(np.arange(8), "int4"), np.arange(8))  # ints accepted
    x64 = np.array([1.0 + 2.0**-30])
    assert quantize(x64, "fp32")[0] == 1.0  # float64 input is first rounded to float32


def test_cli_lists_every_family(capsys):
    assert main(["formats", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["pattern"] for r in rows] == [f.pattern for f in list_formats()]
    for r in rows:
        get_format(r["example"])  # every example is valid
    assert main(["formats"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(rows) + 2


def test_cli_resolves_names_and_rejects_bad_ones(capsys):
    assert main(["formats", "--json", "mxfp4_e2m1", "posit8_1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["bits_per_element"]) for r in rows] == [("mxfp4_e2m1", 4.25), ("posit8_1", 8.0)]
    assert main(["formats", "fp_e0m0"]) == 2
    assert "E0M0" in capsys.readouterr().err
