"""The one TOML value/key writer (issue 16): everything it writes reads back through tomllib unchanged."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amssim.config import device_to_toml, load_device
from amssim.config.registry import device_from_dict
from amssim.config.toml_writer import toml_key, toml_value
from amssim.errors import ConfigError
from amssim.run.layers import RunConfig, dump_run_config

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)  # any scalar value
_scalar = st.one_of(st.booleans(), st.integers(-(2**63), 2**63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), _text)
_value = st.one_of(_scalar, st.lists(_scalar, max_size=4))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_text, _value, max_size=6))
def test_round_trip_through_tomllib(table):
    text = "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in table.items())
    back = tomllib.loads(text)
    assert back == table
    for k, v in table.items():  # -0.0 keeps its sign, floats stay floats
        if isinstance(v, float):
            assert isinstance(back[k], float) and math.copysign(1, back[k]) == math.copysign(1, v)


def test_awkward_strings_and_keys():
    odd = ['a"b\\c', "tab\there\nnew\rline", "\x00\x1f\x7f", "caf\u00e9", "\U0001f600", "a.b", "", " "]
    for s in odd:
        assert tomllib.loads(f"{toml_key(s)} = {toml_value(s)}\n") == {s: s}
    assert toml_value("caf\u00e9") == '"caf\\u00e9"'  # ASCII output, as device files were written
    assert toml_value([1, 2.5, True]) == "[1, 2.5, true]"
    assert toml_value((np.int64(3), np.float64(0.1))) == "[3, 0.1]"


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, None, {"a": 1}, "\ud800"])
def test_unwritable_values_are_config_errors(bad):
    with pytest.raises(ConfigError):
        toml_value(bad)


def test_device_and_run_config_writers_round_trip():
    dev = load_device("photonic-128-measured")
    d = {sec: {k: v for k, v in body.items() if v is not None} for sec, body in dev.to_dict().items()}
    d["provenance"]["description"] = 'quote " backslash \\ newline \n caf\u00e9 \U0001f600'
    odd = device_from_dict(d, name="odd", path="")
    back = device_from_dict(tomllib.loads(device_to_toml(odd, header="h1\nh2")), name="odd", path="")
    assert back == odd
    rc = RunConfig(device="abfp-paper", overrides={"numerics.gain": 2.5, "run.format": "fp32"},
                   layers={'fc"1\n': {"numerics.adc_bits": 6}}, meta={"method": "fast", "energy_j": 1e-9})
    data = tomllib.loads(dump_run_config(rc, header="x"))
    assert data == {"device": "abfp-paper", "set": {"numerics.gain": 2.5, "run.format": "fp32"},
                    "layers": {'fc"1\n': {"numerics.adc_bits": 6}},
                    "search": {"method": "fast", "energy_j": 1e-9}}
