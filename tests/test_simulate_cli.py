"""amssim simulate: the docs/architecture.md §13 JSON object, mode contracts, bad input (exit 2)."""

import json
import os

import pytest

from amssim.cli import main
from amssim.run import simulate

REPO = os.path.dirname(os.path.dirname(__file__))
DIGITS = os.path.join(REPO, "workloads", "digits-resnet")
RESNET_CSV = os.path.join(REPO, "workloads", "topologies", "resnet50.csv")
LIMIT = {"run.limit": "32"}

KEYS = {"trace", "device", "mode", "seed", "config_hash", "version", "metric", "accuracy",
        "fp32_accuracy", "cycles", "latency_s", "energy_j", "energy_breakdown_j", "macs", "tops",
        "tops_per_w", "layers"}
LAYER_KEYS = {"name", "macs", "cycles", "energy_j", "dy_mean", "dy_std", "rel_rms_error"}


def _json(capsys, argv):
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0
    return json.loads(out)


def test_json_object_has_design13_keys(capsys):
    d = _json(capsys, ["simulate", DIGITS, "--json", "--set", "run.limit=32", "--no-progress"])
    assert KEYS <= set(d)
    assert d["mode"] == "accuracy" and d["device"] == "abfp-paper" and d["num_samples"] == 32
    assert d["layers"] and all(LAYER_KEYS <= set(L) for L in d["layers"])
    assert d["macs"] == sum(L["macs"] for L in d["layers"])
    # per-inference energy is the sum of the components and of the layers
    assert sum(d["energy_breakdown_j"].values()) == pytest.approx(d["energy_j"], rel=1e-9)
    assert sum(L["energy_j"] for L in d["layers"]) == pytest.approx(d["energy_j"], rel=1e-9)
    assert d["tops"] == pytest.approx(2 * d["macs"] / d["latency_s"] / 1e12, rel=1e-9)


def test_accuracy_matches_executor_with_device_config():
    from amssim.config import load_device
    from amssim.trace import evaluate, load_trace
    from amssim.trace.backends import AbfpBackend

    res = simulate(DIGITS, "abfp-paper", seed=3, overrides={**LIMIT, "numerics.gain": "1"})
    tr = load_trace(DIGITS)
    from dataclasses import replace

    cfg = replace(load_device("abfp-paper").abfp_config(), gain=1.0)
    ev = evaluate(tr, AbfpBackend(cfg, 3), limit=32)
    assert res.accuracy == ev.accuracy
    assert [L.dy_std for L in res.layers] == [L.dy_std for L in ev.layers]


def test_modes_agree_full_accuracy_timing():
    # the per-layer error statistics are float64 sums in batch order: give both modes the
    # same executor batch so the summaries (not only the outputs) are comparable bit for bit
    kw = dict(seed=1, overrides={**LIMIT, "run.batch": "8", "run.eval_batch": "8",
                                 "numerics.tile_width": "32"})
    acc = simulate(DIGITS, "abfp-paper", mode="accuracy", **kw)
    full = simulate(DIGITS, "abfp-paper", mode="full", **kw)
    tim = simulate(DIGITS, "abfp-paper", mode="timing", **kw)
    # full and accuracy: bit-identical numerics
    assert full.accuracy == acc.accuracy
    assert [(L.dy_mean, L.dy_std, L.rel_rms_error) for L in full.layers] == \
        [(L.dy_mean, L.dy_std, L.rel_rms_error) for L in acc.layers]
    # full and timing: identical cycles and energy
    assert (full.cycles, full.energy_j, full.energy_breakdown_j) == \
        (tim.cycles, tim.energy_j, tim.energy_breakdown_j)
    assert tim.accuracy is None and tim.num_samples == 0


def test_gain_changes_result_and_hash():
    a = simulate(DIGITS, "abfp-paper", overrides={**LIMIT, "numerics.gain": "1",
                                                  "numerics.tile_width": "128"})
    b = simulate(DIGITS, "abfp-paper", overrides={**LIMIT, "numerics.gain": "8",
                                                  "numerics.tile_width": "128"})
    assert a.config_hash != b.config_hash
    assert [L.dy_std for L in a.layers] != [L.dy_std for L in b.layers]
    # the paper's trend at n = 128: G = 1 has a larger error than G = 8
    assert sum(L.rel_rms_error for L in a.layers) > sum(L.rel_rms_error for L in b.layers)


def test_digital_format_backend():
    fp32 = simulate(DIGITS, "abfp-paper", overrides={**LIMIT, "run.format": "fp32"})
    mx4 = simulate(DIGITS, "abfp-paper", overrides={**LIMIT, "run.format": "mxfp4_e2m1"})
    assert fp32.backend == "fp32" and all(L.dy_std == 0.0 for L in fp32.layers)
    assert all(L.dy_std > 0.0 for L in mx4.layers)


def test_scalesim_csv_timing_mode(capsys):
    d = _json(capsys, ["simulate", RESNET_CSV, "--mode", "timing", "--json",
                       "--device", "photonic-128-measured"])
    assert d["accuracy"] is None and d["cycles"] > 0
    assert d["macs"] == 4_089_184_256  # ResNet-50 224x224, see workloads/README.md


def test_out_dir_written(tmp_path, capsys):
    out = tmp_path / "res"
    main(["simulate", DIGITS, "--set", "run.limit=8", "--out", str(out), "--no-progress"])
    d = json.loads((out / "result.json").read_text())
    assert d["num_samples"] == 8
    assert (out / "layers.csv").read_text().splitlines()[0].startswith("name,macs")
    assert "top1" in capsys.readouterr().out


@pytest.mark.parametrize("argv, needle", [
    (["--set", "numerics.nope=3"], "nope"),
    (["--set", "numerics.gain=-1"], "gain"),
    (["--set", "run.batch=0"], "run.batch"),
    (["--set", "run.bogus=1"], "run.bogus"),
    (["--set", "novalue"], "KEY=VALUE"),
    (["--format", "fp_e0m0"], "fp_e0m0"),
    (["--device", "no-such-device"], "no-such-device"),
    (["--mode", "full", "--format", "int8"], "full"),
])
def test_bad_input_exit_2(argv, needle, capsys):
    code = main(["simulate", DIGITS, *argv, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2
    assert needle in err


def test_missing_trace_and_shape_only(tmp_path, capsys):
    assert main(["simulate", str(tmp_path / "nothing")]) == 2
    assert main(["simulate", RESNET_CSV]) == 2
    assert "shape-only" in capsys.readouterr().err
