"""Device model files: strict loader, registry, presets and their sources, overrides, hash."""

import dataclasses
import json
import os
import tomllib

import pytest

from amssim.cli import main as cli_main
from amssim.config import (SECTIONS, apply_overrides, config_hash, device_from_dict, device_to_toml,
                           list_devices, load_device, load_device_file)
from amssim.config.registry import BUILTIN_DIR
from amssim.config.schema import section_fields
from amssim.errors import ConfigError, DeviceError

PRESETS = ("abfp-paper", "photonic-128-measured", "photonic-projected")


def _text(name="abfp-paper"):
    return (BUILTIN_DIR / f"{name}.toml").read_text()


def _write(tmp_path, text, name="dev.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_presets_load_and_are_listed():
    names = [d.name for d in list_devices()]
    for p in PRESETS:
        assert p in names
        d = load_device(p)
        assert d.name == p and d.path.endswith(f"{p}.toml")


def test_every_preset_number_has_a_source():
    for p in PRESETS:
        raw = tomllib.loads(_text(p))
        for sec, table in raw.items():
            per_key = table.get("sources", {})
            for key, val in table.items():
                if key in ("source", "sources") or isinstance(val, str):
                    continue
                src = per_key.get(key) or table.get("source", "")
                assert src.strip(), f"{p}: [{sec}] {key} has no source"


def test_measured_preset_published_figures():
    d = load_device("photonic-128-measured")
    assert (d.arch.tiles, d.tile_rows, d.tile_cols, d.arch.clock_hz) == (4, 128, 128, 5e8)
    n = d.numerics
    assert (n.input_bits, n.weight_bits, n.adc_bits, n.gain) == (10, 7, 11, 1.86)
    # logistic noise of 2 LSB rms: std = scale * pi / sqrt(3)
    assert d.noise.kind == "logistic"
    assert d.noise.lsb * 3.141592653589793 / 3 ** 0.5 == pytest.approx(2.0, rel=1e-12)
    assert 2 * d.peak_macs_per_s / 1e12 == pytest.approx(65.536)


def test_paper_preset_matches_paper_setting():
    n = load_device("abfp-paper").numerics
    z = load_device("abfp-paper").noise
    assert (n.tile_width, n.input_bits, n.weight_bits, n.adc_bits, n.gain) == (128, 8, 8, 8, 8.0)
    assert (z.kind, z.lsb) == ("uniform", 0.5)


@pytest.mark.parametrize("old,new,needle", [
    ("clock_hz = 1.0e9", "clock_hz = -1.0e9", "clock_hz"),
    ("tiles = 1", "tiles = 0", "tiles"),
    ("adc_bits = 8", "adc_bits = 17", "adc_bits"),
    ("input_bits = 8", "input_bits = 1", "input_bits"),
    ("dac_energy_j = 3.6e-12", "dac_energy = 3.6e-12", "dac_energy"),
    ("clock_hz = 1.0e9", "clock = 1.0e9", "clock"),
    ("tiles = 1", "tiles = 1\nbogus_key = 3", "bogus_key"),
    ("tiles = 1", "tiles = \"four\"", "tiles"),
    ("tiles = 1", "tiles = 1.5", "tiles"),
    ("gain = 8.0", "gain = 0.0", "gain"),
    ("kind = \"uniform\"", "kind = \"cauchy\"", "kind"),
    ("weight_buffers = 2", "weight_buffers = 3", "weight_buffers"),
    ("static_power_w = 0.0", "static_power_w = -1.0", "static_power_w"),
    ("laser_wall_plug_efficiency = 1.0", "laser_wall_plug_efficiency = 1.5", "laser_wall_plug_efficiency"),
    ("[converters]", "[converters]\ndac_inl_lsb = [1, \"x\"]", "dac_inl_lsb"),
    ("tiles = 1\n", "", "tiles"),
    ("[provenance]", "[whatever]\nx = 1\n[provenance]", "whatever"),
    ("tiles = 1", "tiles = " + "9" * 400, "tiles"),  # huge integers: refused, message stays short
    ("gain = 8.0", "gain = " + "9" * 400, "gain"),
    ("adc_bits = 8", "adc_bits = -" + "9" * 400, "adc_bits"),
    ("[converters]", "[converters]\ndac_inl_lsb = [1, " + "9" * 400 + "]", "dac_inl_lsb"),
])
def test_bad_device_file_names_file_and_key(tmp_path, old, new, needle):
    text = _text()
    assert old in text
    p = _write(tmp_path, text.replace(old, new, 1))
    with pytest.raises(DeviceError) as ei:
        load_device_file(p)
    msg = str(ei.value)
    assert str(p) in msg and needle in msg and "9" * 100 not in msg  # huge values are not echoed whole


def test_energy_key_without_unit_is_named(tmp_path):
    p = _write(tmp_path, _text().replace("[energy]\n", "[energy]\nadc_energy = 1e-12\n"))
    with pytest.raises(DeviceError, match=r"adc_energy .*unit suffix"):
        load_device_file(p)


def test_missing_section_and_bad_toml(tmp_path):
    raw = tomllib.loads(_text())
    del raw["energy"]
    with pytest.raises(DeviceError, match=r"x.toml: \[energy\]: missing section"):
        device_from_dict(raw, name="x", path="x.toml")
    raw = tomllib.loads(_text())
    del raw["noise"], raw["converters"], raw["provenance"]  # optional sections take defaults
    assert device_from_dict(raw, name="x").noise.kind == "none"
    p2 = _write(tmp_path, "[arch\n", "bad.toml")
    with pytest.raises(DeviceError, match="not valid TOML"):
        load_device_file(p2)
    with pytest.raises(DeviceError, match="no such"):
        load_device_file(tmp_path / "missing.toml")


def test_source_for_unknown_key_is_an_error(tmp_path):
    p = _write(tmp_path, _text().replace("[energy.sources]\n", "[energy.sources]\nnot_a_key = \"x\"\n"))
    with pytest.raises(DeviceError, match="not_a_key"):
        load_device_file(p)


def test_registry_by_name_path_and_env(tmp_path, monkeypatch):
    with pytest.raises(DeviceError, match="unknown device"):
        load_device("no-such-device")
    p = _write(tmp_path, _text().replace("gain = 8.0", "gain = 2.0"), "mine.toml")
    assert load_device(str(p)).numerics.gain == 2.0
    monkeypatch.setenv("AMSSIM_DEVICE_PATH", str(tmp_path))
    assert load_device("mine").numerics.gain == 2.0
    assert "mine" in [d.name for d in list_devices()]


def test_overrides_types_and_geometry():
    d = load_device("abfp-paper")
    d2 = apply_overrides(d, {"numerics.gain": "4", "numerics.tile_width": "32", "noise.kind": "gaussian",
                             "noise.lsb": "1.5", "arch.clock_hz": "2e9", "arch.weight_buffers": 1,
                             "converters.adc_inl_lsb": "[0.1, -0.1]", "numerics.ideal": "true"})
    assert d2.numerics.gain == 4.0 and isinstance(d2.numerics.tile_width, int)
    assert (d2.tile_rows, d2.tile_cols) == (32, 32)  # tile_cols follows the tile width
    assert d2.noise.kind == "gaussian" and d2.arch.clock_hz == 2e9 and d2.numerics.ideal is True
    assert d2.converters.adc_inl_lsb == (0.1, -0.1)
    assert d.numerics.gain == 8.0  # original untouched
    d3 = apply_overrides(d, {"arch.tile_cols": "64"})
    assert (d3.tile_rows, d3.tile_cols) == (128, 64)
    assert apply_overrides(d3, {"arch.tile_cols": "none"}).tile_cols == 128


@pytest.mark.parametrize("ov,needle", [
    ({"numerics.gainz": "4"}, "gainz"),
    ({"gain": "4"}, "section.key"),
    ({"numerix.gain": "4"}, "section.key"),
    ({"numerics.tile_width": "abc"}, "tile_width"),
    ({"numerics.tile_width": "12.5"}, "tile_width"),
    ({"numerics.adc_bits": "1"}, "adc_bits"),
    ({"arch.clock_hz": "-5"}, "clock_hz"),
    ({"noise.kind": "cauchy"}, "kind"),
    ({"numerics.ideal": "maybe"}, "ideal"),
])
def test_bad_overrides(ov, needle):
    with pytest.raises(ConfigError) as ei:
        apply_overrides(load_device("abfp-paper"), ov)
    assert needle in str(ei.value) and "--set" in str(ei.value)


def test_config_hash_stable_and_sensitive():
    d = load_device("abfp-paper")
    h = config_hash(d, {"mode": "timing"})
    assert h == config_hash(load_device("abfp-paper"), {"mode": "timing"})
    assert len(h) == 64
    assert h != config_hash(d, {"mode": "full"})
    assert h != config_hash(apply_overrides(d, {"numerics.gain": "4"}), {"mode": "timing"})
    # a value that equals the default after coercion hashes alike; sources do not matter
    assert h == config_hash(apply_overrides(d, {"numerics.gain": "8"}), {"mode": "timing"})
    d_src = dataclasses.replace(d, energy=dataclasses.replace(d.energy, source="other"))
    assert h == config_hash(d_src, {"mode": "timing"})


def test_dump_round_trip():
    for p in PRESETS:
        d = load_device(p)
        back = device_from_dict(tomllib.loads(device_to_toml(d)), name=d.name, path=d.path)
        assert back == d


def test_unknown_keys_rejected_for_every_section(tmp_path):
    for sec in SECTIONS:
        assert section_fields(SECTIONS[sec])  # every section declares its keys
    text = _text().replace("[noise]\n", "[noise]\nsigma = 1.0\n")
    with pytest.raises(DeviceError, match=r"\[noise\] sigma"):
        load_device_file(_write(tmp_path, text))


def test_abfp_config_mapping():
    pytest.importorskip("amssim.signal.config")
    from amssim.signal import AbfpConfig

    d = apply_overrides(load_device("photonic-128-measured"),
                        {"noise.kind": "student_t", "noise.dof": "3", "numerics.weight_noise_rel": "0.01",
                         "converters.channel_offset_lsb": "[0.5, -0.5]", "noise.signal_var_lsb2": "0.2"})
    c = d.abfp_config()
    assert isinstance(c, AbfpConfig)
    assert (c.tile_width, c.input_bits, c.weight_bits, c.adc_bits, c.gain) == (128, 10, 7, 11, 1.86)
    assert (c.noise, c.noise_lsb, c.noise_dof) == ("student_t", d.noise.lsb, 3.0)
    assert c.weight_noise_rel == 0.01 and c.channel_offset_lsb == (0.5, -0.5)
    assert c.signal_noise_var_lsb2 == 0.2 and c.scale_format == "bf16"
    # an INL table of the wrong length is caught by AbfpConfig and reported as a device error
    bad = apply_overrides(d, {"converters.adc_inl_lsb": "[0.1, 0.2]"})
    with pytest.raises(DeviceError, match="AbfpConfig"):
        bad.abfp_config()


def test_cli_devices(capsys, tmp_path):
    assert cli_main(["devices", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by = {r["name"]: r for r in rows}
    assert by["photonic-128-measured"]["peak_tops"] == pytest.approx(65.536)
    assert cli_main(["devices", "abfp-paper", "--json", "--set", "numerics.gain=4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["device"]["numerics"]["gain"] == 4.0
    assert out["config_hash"] == config_hash(apply_overrides(load_device("abfp-paper"), {"numerics.gain": "4"}))
    assert cli_main(["devices", "abfp-paper"]) == 0
    text = capsys.readouterr().out
    assert device_from_dict(tomllib.loads(text), name="abfp-paper") == dataclasses.replace(
        load_device("abfp-paper"), path="")
    assert cli_main(["devices", "nope"]) == 2
    assert cli_main(["devices", "abfp-paper", "--set", "numerics.adc_bits=17"]) == 2
    assert cli_main(["devices", "abfp-paper", "--set", "numerics.adc_bits"]) == 2
    assert cli_main(["devices", "--set", "numerics.gain=2"]) == 2
    p = _write(tmp_path, _text().replace("clock_hz = 1.0e9", "clock_hz = -1.0"))
    assert cli_main(["devices", str(p)]) == 2
    assert "clock_hz" in capsys.readouterr().err
    assert os.path.isdir(BUILTIN_DIR)


@pytest.mark.parametrize("name", ["a" * 5000, "x\x00y", "a" * 300 + ".toml", "x\x00y.toml", "/nonexist/" + "b" * 300])
def test_unusable_device_names_are_device_errors(name):
    """Found by the fuzz campaign: a 5000-character --device name was an OSError (exit 1)."""
    with pytest.raises(DeviceError) as e:
        load_device(name)
    assert len(str(e.value)) < 400
