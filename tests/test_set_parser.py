"""The one ``--set KEY=VALUE`` parser (issue 16): CLI commands and sweeps agree, empty values included."""

from __future__ import annotations

import pytest

from amssim.cli._common import parse_sets as cli_parse_sets
from amssim.config import apply_overrides, load_device
from amssim.config.overrides import parse_set, parse_sets
from amssim.errors import ConfigError
from amssim.sweep import parse_set_arg


def test_one_parser_everywhere():
    assert cli_parse_sets is parse_sets
    for text in ("numerics.gain=4", " noise.kind = gaussian ", "run.format=mxfp8_e4m3", "a.b=x=y"):
        assert parse_set_arg(text) == parse_set(text)
    assert parse_set("a.b=x=y") == ("a.b", "x=y")
    assert parse_sets(["numerics.gain=2", "numerics.gain=4", "noise.lsb=0.5"]) == {
        "numerics.gain": "4", "noise.lsb": "0.5"}


@pytest.mark.parametrize("bad", ["numerics.gain", "=4", " =4", "numerics..gain=4", ".gain=4", "num erics.gain=4"])
def test_malformed_is_rejected_naming_the_argument(bad):
    for parse in (parse_set, parse_set_arg):
        with pytest.raises(ConfigError, match=r"^--set '"):
            parse(bad)


def test_empty_value_is_the_keys_empty_setting():
    # parsed the same by every command: an empty string, whitespace stripped
    assert parse_set("converters.adc_inl_lsb=") == ("converters.adc_inl_lsb", "")
    assert parse_set_arg("arch.tile_cols=  ") == ("arch.tile_cols", "")
    dev = apply_overrides(load_device("abfp-paper"), {"arch.tile_cols": "64", "converters.adc_inl_lsb": "[0.5]"})
    assert dev.arch.tile_cols == 64 and dev.converters.adc_inl_lsb == (0.5,)
    cleared = apply_overrides(dev, parse_sets(["arch.tile_cols=", "converters.adc_inl_lsb="]))
    assert cleared.arch.tile_cols is None and cleared.tile_cols == cleared.numerics.tile_width
    assert cleared.converters.adc_inl_lsb == ()
    # a key that needs a value says so, naming the key
    with pytest.raises(ConfigError, match=r"\[numerics\] gain = '': expected a number"):
        apply_overrides(dev, parse_sets(["numerics.gain="]))
