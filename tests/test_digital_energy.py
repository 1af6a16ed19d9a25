"""Digital MAC datapath model against Horowitz's table; digital devices in runs, mixed
analog/digital per-layer runs, device files, stored fronts across kinds (issue 17)."""

import json
import tomllib

import pytest

from amssim.config import apply_overrides, device_from_dict, device_to_toml, list_devices, load_device
from amssim.config.registry import BUILTIN_DIR
from amssim.energy import estimate_energy
from amssim.energy.digital import DatapathModel, mac_area_um2, mac_energy_j, operand
from amssim.errors import ConfigError, DeviceError
from amssim.timing import GemmShape, simulate_timing

PRESETS = ("digital-int8-128", "digital-bf16-128", "digital-mxfp8-128", "digital-mxint8-128",
           "digital-posit8-128")
PJ = 1e-12
# Horowitz, ISSCC 2014, 45 nm (the table): an independent copy for the oracle
H = {"add8": 0.03, "add32": 0.1, "mul8": 0.2, "mul32": 3.1, "fadd16": 0.4, "fmul16": 1.1,
     "fadd32": 0.9, "fmul32": 3.7}


def _mac(name, fw=None):
    dev = load_device("digital-int8-128")
    e = DatapathModel(dev.datapath).mac(name, fw, accumulator_bits=32)
    return e, sum(v for k, v in e.items() if k != "output_scale") / PJ


def test_primitives_reproduce_and_predict_the_table():
    m = DatapathModel(load_device("digital-bf16-128").datapath)
    # anchors reproduced exactly
    assert m.add(8) / PJ == pytest.approx(H["add8"]) and m.add(32) / PJ == pytest.approx(H["add32"])
    assert m.mul(8, 8) / PJ == pytest.approx(H["mul8"])
    assert m.fadd(24) / PJ == pytest.approx(H["fadd32"]) and m.fmul(24, 8) / PJ == pytest.approx(H["fmul32"])
    # held out: 32-bit multiply from the (bits)^2 law, fp16 add and multiply
    assert m.mul(32, 32) / PJ == pytest.approx(H["mul32"], rel=0.05)
    assert m.fadd(11) / PJ == pytest.approx(H["fadd16"], rel=0.05)
    assert m.fmul(11, 5) / PJ == pytest.approx(H["fmul16"], rel=0.15)
    # the multiplier array grows as (mantissa bits + 1)^2
    assert m.mul(8, 8) / m.mul(4, 4) == pytest.approx(4.0)


def test_mac_energy_ordering_and_ratios():
    int8, e_int8 = _mac("int8")
    _, e_fp32 = _mac("fp32")
    bf16, e_bf16 = _mac("bf16")
    mxfp8, e_mxfp8 = _mac("mxfp8_e4m3")
    mxint8, e_mxint8 = _mac("mxint8")
    _, e_posit = _mac("posit8_1")
    # table: int8 MAC = 8-bit multiply + 32-bit add; fp32 MAC = fp32 multiply + add
    assert e_int8 == pytest.approx(H["mul8"] + H["add32"])
    assert e_fp32 == pytest.approx(H["fmul32"] + H["fadd32"])
    assert e_fp32 / e_int8 == pytest.approx((3.7 + 0.9) / (0.2 + 0.1))
    assert max(e_int8, e_mxint8) < e_mxfp8 < e_bf16 < e_fp32
    assert e_mxint8 == pytest.approx(e_int8, rel=0.05)
    assert e_bf16 < e_posit  # decoders + a float multiply + fp32 accumulate
    # per-block shared scale: one 8-bit exponent add + one fp32 accumulate per 32 MACs
    assert mxint8["block_scale"] / PJ == pytest.approx((H["add8"] + H["fadd32"]) / 32)
    assert mxfp8["align_norm"] > 0 and mxint8["align_norm"] == 0  # float elements align
    assert bf16["accumulator"] / PJ == pytest.approx(H["fadd32"])
    assert int8["output_scale"] / PJ == pytest.approx(H["fmul32"])  # one dequantise per output
    # narrower float elements: cheaper multiplier
    assert _mac("fp8_e4m3")[0]["multiplier"] < bf16["multiplier"]


def test_area_follows_the_same_model():
    d = load_device("digital-int8-128")
    fp32 = apply_overrides(d, {"numerics.format": "fp32", "numerics.weight_format": ""})
    assert mac_area_um2(fp32) == pytest.approx(7700 + 4184)
    a8 = mac_area_um2(apply_overrides(d, {"numerics.weight_format": ""}))
    assert a8 == pytest.approx(282 + 137 + mac_area_um2(fp32) * 0 + DatapathModel(d.datapath, "area").fmul(24, 8) / 128)


def test_operand_fields():
    assert (operand("bf16").sig_bits, operand("bf16").exp_bits) == (8, 8)
    assert (operand("mxfp8_e4m3").family, operand("mxfp8_e4m3").block) == ("mx_float", 32)
    assert operand("mxint8").family == "mx_int" and operand("bfp_m4_g16").block == 16
    assert operand("abfp_8_n128").block == 128 and operand("lp8_1_3_2").family == "logposit"


def test_presets_listed_sourced_and_round_trip():
    names = {d.name: d for d in list_devices()}
    for p in PRESETS:
        d = names[p]
        assert d.kind == "digital" and (d.arch.array_rows, d.arch.array_cols) == (128, 128)
        assert d.datapath.node_nm == 45.0 and d.arch.clock_hz == 1e9
        raw = tomllib.loads((BUILTIN_DIR / f"{p}.toml").read_text())
        for sec, table in raw.items():
            per_key = table.get("sources", {})
            for key, val in table.items():
                if key in ("source", "sources") or isinstance(val, str):
                    continue
                assert (per_key.get(key) or table.get("source", "")).strip(), f"{p}: [{sec}] {key}"
        back = device_from_dict(tomllib.loads(device_to_toml(d)), name=d.name, path=d.path)
        assert back == d
    assert {"digital-int8-128", "digital-bf16-128", "digital-mxfp8-128", "digital-mxint8-128"} <= set(names)


def test_cli_devices_lists_digital_presets(capsys):
    from amssim.cli import main

    assert main(["devices", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    r = rows["digital-int8-128"]
    assert r["device_kind"] == "digital" and r["mac_energy_pj"] == pytest.approx(0.3)
    assert r["peak_tops"] == pytest.approx(2 * 128 * 128 * 1e9 / 1e12)
    assert rows["abfp-paper"]["device_kind"] == "analog"
    assert main(["devices"]) == 0
    assert "digital WS mxfp8_e4m3" in capsys.readouterr().out


@pytest.mark.parametrize("old,new,needle", [
    ('format = "int8"', 'format = "int9x"', "format"),
    ('dataflow = "ws"', 'dataflow = "rs"', "dataflow"),
    ("array_rows = 128", "array_rows = 0", "array_rows"),
    ('kind = "digital"', 'kind = "quantum"', "kind"),
    ("int_add_32b_energy_j = 1.0e-13", "int_add_32b_energy = 1.0e-13", "int_add_32b_energy"),
    ("int_add_32b_energy_j = 1.0e-13", "int_add_32b_energy_j = 1.0e-14", "int_add_32b_energy_j"),
    ("[datapath]", "[converters]\nadc_enob_loss_bits = 1.0\n\n[datapath]", "converters"),
])
def test_bad_digital_device_file(tmp_path, old, new, needle):
    text = (BUILTIN_DIR / "digital-int8-128.toml").read_text()
    assert old in text
    p = tmp_path / "bad.toml"
    p.write_text(text.replace(old, new, 1))
    from amssim.config import load_device_file

    with pytest.raises(DeviceError) as ei:
        load_device_file(p)
    assert needle in str(ei.value) and "bad.toml" in str(ei.value)


def test_overrides_on_digital_devices():
    d = load_device("digital-mxfp8-128")
    assert apply_overrides(d, {"numerics.format": "mxint8"}).numerics.format == "mxint8"
    with pytest.raises(ConfigError, match="numerics.tile_width"):
        apply_overrides(d, {"numerics.tile_width": "32"})
    with pytest.raises(ConfigError, match="kind"):
        apply_overrides(d, {"arch.kind": "analog"})
    with pytest.raises(ConfigError, match="noise"):
        apply_overrides(d, {"noise.kind": "none"})


def test_digital_energy_pricing_by_hand():
    d = load_device("digital-mxfp8-128")
    t = simulate_timing([GemmShape(name="a", layer=0, m=100, k=300, n=200),
                         GemmShape(name="b", layer=1, m=7, k=64, n=7, count=3, weights_static=False)],
                        d, batch=2)
    e = estimate_energy(t, d)
    A, mac = t.actions, mac_energy_j(d)
    assert A["macs"] == 2 * (100 * 300 * 200 + 3 * 7 * 64 * 7)
    assert e.breakdown_j["multiplier"] == pytest.approx(A["macs"] * mac["multiplier"])
    assert e.breakdown_j["accumulator"] == pytest.approx(A["macs"] * mac["accumulator"])
    # blocks of 32 along K: a 300-long reduction has ceil(300/32) = 10 blocks per output
    assert A["block_ops"] == 2 * (100 * 200 * 10 + 3 * 7 * 7 * 2)
    assert e.breakdown_j["block_scale"] == pytest.approx(A["block_ops"] * mac["block_scale"] * 32)
    assert e.breakdown_j["sram"] == pytest.approx(
        (A["sram_read_bytes"] + A["sram_write_bytes"]) * d.energy.sram_read_energy_j_per_byte)
    assert e.breakdown_j["static"] == pytest.approx(d.energy.static_power_w * t.latency_s)
    assert e.energy_j == pytest.approx(sum(L.energy_j for L in e.layers))
    assert e.energy_j == pytest.approx(sum(e.breakdown_j.values()))


def test_digital_run_and_format_override():
    from amssim.run import simulate

    r = simulate("workloads/fsdd-cnn", "digital-mxint8-128", mode="timing")
    assert r.device_kind == "digital" and r.backend == "mxint8" and r.accuracy is None
    # run.format on a digital device replaces its format: numerics, timing and energy
    r2 = simulate("workloads/fsdd-cnn", "digital-mxint8-128", mode="timing",
                  overrides={"run.format": "bf16"})
    rb = simulate("workloads/fsdd-cnn", "digital-mxint8-128", mode="timing",
                  overrides={"numerics.format": "bf16"})
    assert r2.backend == "bf16" and r2.energy_j == rb.energy_j > r.energy_j
    assert r2.cycles == r.cycles  # same array, same shapes


@pytest.mark.slow
def test_digital_full_mode_matches_accuracy_mode():
    from amssim.run import simulate

    ov = {"run.limit": 16}
    a = simulate("workloads/fsdd-cnn", "digital-int8-128", overrides=ov)
    f = simulate("workloads/fsdd-cnn", "digital-int8-128", mode="full", overrides=ov)
    assert a.accuracy == f.accuracy and a.energy_j == f.energy_j and a.cycles == f.cycles
    assert [L.rel_rms_error for L in a.layers] == [L.rel_rms_error for L in f.layers]


def test_mixed_analog_digital_per_layer_energy_is_the_sum_of_layers():
    """Each op priced on its own device: total = sum of layers, and each layer equals
    that op timed and priced alone on its device (an independent computation)."""
    from amssim.run import RunOptions, simulate
    from amssim.trace import load_trace

    tr = load_trace("workloads/fsdd-cnn")
    gemms = tr.gemm_ops()
    layers = {gemms[0].name: {"device": "digital-int8-128"},
              gemms[-1].name: {"device": "digital-mxfp8-128"},
              gemms[1].name: {"numerics.gain": 4}}
    r = simulate(tr, "abfp-paper", mode="timing", layer_overrides=layers)
    assert r.device_kind == "mixed"
    assert r.energy_j == pytest.approx(sum(L.energy_j for L in r.layers), rel=1e-12)
    assert r.energy_j == pytest.approx(sum(r.energy_breakdown_j.values()), rel=1e-12)
    b = RunOptions().batch
    for g, L in zip(gemms, r.layers):
        over = layers.get(g.name, {})
        dev = load_device(over.get("device", "abfp-paper"))
        if "numerics.gain" in over:
            dev = apply_overrides(dev, {"numerics.gain": "4"})
        alone = estimate_energy(simulate_timing([g], dev, batch=b), dev)
        assert L.energy_j == pytest.approx(alone.energy_j / b, rel=1e-12), g.name
    # digital layers bring their own components into the breakdown
    assert r.energy_breakdown_j["multiplier"] > 0 and r.energy_breakdown_j["adc"] > 0


@pytest.mark.slow
def test_mixed_run_accuracy_uses_each_layers_numerics():
    from amssim.run import simulate

    tr = "workloads/fsdd-cnn"
    ov = {"run.limit": 24}
    first = "conv2d"
    mixed = simulate(tr, "abfp-paper", overrides=ov, layer_overrides={first: {"device": "digital-int8-128"}})
    # the same numerics through the analog device's per-layer digital format (energy aside)
    fmt = simulate(tr, "abfp-paper", overrides=ov,
                   layer_overrides={first: {"run.format": "int8", "run.weight_format": "int8_pc"}})
    digital = simulate(tr, "digital-int8-128", overrides=ov)
    err = {n: [L.rel_rms_error for L in r.layers] for n, r in (("m", mixed), ("f", fmt), ("d", digital))}
    assert err["m"] == err["f"] and mixed.accuracy == fmt.accuracy
    assert err["m"][0] == err["d"][0]  # the first op sees the same input on both
    assert mixed.energy_j != fmt.energy_j  # but is priced on the digital array


def test_run_config_file_with_layer_devices(tmp_path):
    from amssim.run import load_run_config

    dev = tmp_path / "mine.toml"
    dev.write_text((BUILTIN_DIR / "digital-int8-128.toml").read_text())
    p = tmp_path / "cfg.toml"
    p.write_text('device = "abfp-paper"\n[layers.conv2d]\ndevice = "mine.toml"\n'
                 '[layers.linear]\ndevice = "digital-bf16-128"\n')
    cfg = load_run_config(p)
    assert cfg.layers["conv2d"]["device"] == str(dev)
    from amssim.run import simulate

    r = simulate("workloads/fsdd-cnn", cfg.device, mode="timing", layer_overrides=cfg.layers)
    assert r.device_kind == "mixed"
    bad = tmp_path / "bad.toml"
    bad.write_text('[layers.conv2d]\ndevice = "no-such-device"\n')
    with pytest.raises(ConfigError, match="no-such-device"):
        simulate("workloads/fsdd-cnn", "abfp-paper", mode="timing",
                 layer_overrides=load_run_config(bad).layers)


@pytest.mark.slow
def test_front_across_kinds_from_stored_results_only(tmp_path, monkeypatch):
    """Analog and digital points in one store; the front and the kinds come from the
    stored rows alone (the simulator is disabled while the front is computed)."""
    from amssim.run import simulate
    from amssim.sweep.pareto import pareto_front
    from amssim.sweep.store import ResultStore, make_row
    from amssim.sweep.summary import load_summaries

    path = tmp_path / "s.jsonl"
    store = ResultStore(path, writable=True)
    ov = {"run.limit": "20"}
    for dev, extra in (("abfp-paper", {"numerics.gain": "1"}), ("abfp-paper", {"numerics.gain": "8"}),
                       ("digital-int8-128", {}), ("digital-bf16-128", {})):
        o = {**ov, **extra}
        res = simulate("workloads/fsdd-cnn", dev, overrides=o).to_dict()
        store.append(make_row(trace="workloads/fsdd-cnn", device=dev, mode="accuracy", overrides=o,
                              seed=0, result=res))
    store.close()

    import amssim.run

    def boom(*a, **k):
        raise AssertionError("the front must not simulate")

    monkeypatch.setattr(amssim.run, "simulate", boom)
    summaries, _ = load_summaries(str(path))
    kinds = {s["device"]: s["device_kind"] for s in summaries}
    assert kinds == {"abfp-paper": "analog", "digital-int8-128": "digital", "digital-bf16-128": "digital"}
    front = [summaries[i] for i in pareto_front(summaries)]
    # oracle: non-dominated by (energy min, accuracy max), straight from the rows
    rows = [(s["energy_j"], s["accuracy"]) for s in summaries]
    expect = [s for s, (e, a) in zip(summaries, rows)
              if not any(e2 <= e and a2 >= a and (e2, a2) != (e, a) for e2, a2 in rows)]
    assert [s["point_key"] for s in front] == [s["point_key"] for s in expect]


def test_search_prices_digital_layers():
    from amssim.run import RunOptions
    from amssim.search import SearchContext, parse_space
    from amssim.trace import load_trace

    sp = parse_space(["device=abfp-paper,digital-int8-128,digital-mxfp8-128"], "abfp-paper", per_layer=True)
    assert sp.values == (("abfp-paper", "digital-int8-128", "digital-mxfp8-128"),)
    from amssim.errors import SearchError

    with pytest.raises(SearchError, match="nope"):
        parse_space(["device=abfp-paper,nope"], "abfp-paper", per_layer=True)
    ctx = SearchContext("workloads/fsdd-cnn", "abfp-paper", proxy_inputs=4)
    g = load_trace("workloads/fsdd-cnn").gemm_ops()[1]
    b = RunOptions().batch
    for name in ("digital-int8-128", "digital-mxfp8-128"):
        d = load_device(name)
        alone = estimate_energy(simulate_timing([g], d, batch=b), d).energy_j / b
        assert ctx.layer_energy_j(g.name, {"device": name}) == pytest.approx(alone, rel=1e-12)
    cfg = ctx.uniform({})
    cfg[g.name] = {"device": "digital-int8-128"}
    assert ctx.energy_j(cfg) == pytest.approx(
        ctx.energy_j(ctx.uniform({})) - ctx.layer_energy_j(g.name, {}) + ctx.layer_energy_j(
            g.name, {"device": "digital-int8-128"}))
    assert 0 < ctx.proxy(cfg).r2 <= 1
