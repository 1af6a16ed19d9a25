"""Integers beyond float range (TOML and JSON allow them) are bad input everywhere a number is
read, never an OverflowError (exit 1). Found by the fuzz campaigns (400-digit values)."""

from __future__ import annotations

import json
import math

import pytest

from amssim.errors import CalibrationError, ConfigError, TraceError

HUGE = 10**400


@pytest.mark.parametrize("kw", [{"gain": HUGE}, {"noise_lsb": HUGE}, {"dac_inl_lsb": (0.0, HUGE)},
                                {"adc_bits": HUGE}])
def test_abfp_config(kw):
    from amssim.signal import AbfpConfig

    with pytest.raises(ConfigError):
        AbfpConfig(**kw)


@pytest.mark.parametrize("line", [f"adc_bits = {HUGE}", f"gain = {HUGE}", f"code_scale = {HUGE}",
                                  f"tile_width = -{HUGE}"])
def test_calibration_metadata(tmp_path, line):
    from amssim.calibrate.loaders import load_meta

    p = tmp_path / "meta.toml"
    p.write_text(line + "\n")
    with pytest.raises(CalibrationError, match="meta.toml") as e:
        load_meta(p)
    assert "0" * 100 not in str(e.value)


def test_manifest_fp32_metric(tmp_path, rng):
    from amssim.trace import load_trace, write_trace
    from fuzz.corpus import tiny_arrays, tiny_manifest

    t, d = tiny_arrays(rng)
    write_trace(tmp_path / "t", tiny_manifest(), t, d)
    p = tmp_path / "t" / "manifest.json"
    m = json.loads(p.read_text())
    m["fp32_metric"] = HUGE
    p.write_text(json.dumps(m))
    with pytest.raises(TraceError, match="fp32_metric"):
        load_trace(tmp_path / "t")


def test_store_values_in_reports():
    from amssim.reporting.explorer import _f
    from amssim.reporting.figures import _num

    assert _f(HUGE) is None and _f(-HUGE) is None and _f(2.5) == 2.5
    assert _num(HUGE) == math.inf and _num(-HUGE) == -math.inf and _num(3) == 3.0


def test_budget_messages():
    from amssim.errors import ResourceLimitError
    from amssim.limits import check_bytes, check_count, fmt_bytes

    assert fmt_bytes(HUGE) == f"about 2^{HUGE.bit_length() - 1} bytes" and fmt_bytes(5 * 1024**3) == "5 GiB"
    for fn in (lambda: check_bytes(HUGE, "x"), lambda: check_count(HUGE, 5, "x")):
        with pytest.raises(ResourceLimitError) as e:
            fn()
        assert len(str(e.value)) < 200
