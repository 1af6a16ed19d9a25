"""Per-layer configurations and the configuration search (issue 9)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from amssim import AbfpConfig, abfp_matmul
from amssim.cli import main
from amssim.errors import ConfigError, SearchError
from amssim.run import RunConfig, dump_run_config, load_run_config, write_run_config
from amssim.run import simulate
from amssim.search import (GaSettings, SearchContext, exhaustive_search, fast_search, fit_model,
                           genetic_search, greedy_search, mean_kl, parse_space, parse_target,
                           r_squared, run_search)
from amssim.sweep import ResultStore
from amssim.trace import write_trace


def _mlp(tmp_path, n=96, seed=3):
    """A 3-layer MLP whose labels are its own float32 predictions (fp32 accuracy = 1), on the
    inputs with the clearest margins (so accuracy falls gradually as the numerics get worse)."""
    rng = np.random.default_rng(seed)
    w1 = rng.standard_normal((48, 40)).astype(np.float32) / 6
    w2 = rng.standard_normal((32, 48)).astype(np.float32) / 7
    w3 = rng.standard_normal((6, 32)).astype(np.float32) / 5
    x = rng.standard_normal((20 * n, 40)).astype(np.float32)
    y = np.maximum(np.maximum(x @ w1.T, 0) @ w2.T, 0) @ w3.T
    top2 = np.sort(y, axis=1)[:, -2:]
    keep = np.sort(np.argsort(top2[:, 1] - top2[:, 0])[-n:])
    x, y = x[keep], y[keep]
    m = {"name": "mlp3", "kind": "graph", "task": "classification", "metric": "top1",
         "inputs": [{"name": "x", "shape": [40], "dtype": "float32"}], "outputs": ["y"],
         "ops": [
             {"name": "fc1", "kind": "linear", "inputs": ["x"], "outputs": ["h1"],
              "params": {"weight": "tensors/fc1.npy"}},
             {"name": "r1", "kind": "relu", "inputs": ["h1"], "outputs": ["a1"]},
             {"name": "fc2", "kind": "linear", "inputs": ["a1"], "outputs": ["h2"],
              "params": {"weight": "tensors/fc2.npy"}},
             {"name": "r2", "kind": "relu", "inputs": ["h2"], "outputs": ["a2"]},
             {"name": "fc3", "kind": "linear", "inputs": ["a2"], "outputs": ["y"],
              "params": {"weight": "tensors/fc3.npy"}}],
         "data": {"num_samples": n, "inputs": {"x": "data/x.npy"}, "labels": "data/labels.npy"}}
    write_trace(tmp_path / "mlp3", m, {"tensors/fc1.npy": w1, "tensors/fc2.npy": w2, "tensors/fc3.npy": w3},
                {"data/x.npy": x, "data/labels.npy": np.argmax(y, axis=1).astype(np.int64)})
    return str(tmp_path / "mlp3"), (x, w1, w2, w3)


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    return _mlp(tmp_path_factory.mktemp("search"))


BASE = {"numerics.tile_width": 16}


# ----------------------------------------------------------------- run configuration files
def test_run_config_round_trip(tmp_path):
    rc = RunConfig(device="abfp-paper", overrides={"numerics.tile_width": 32, "noise.kind": "uniform"},
                   layers={"fc1": {"numerics.gain": 4.0, "run.format": "int8"}, "fc 2": {"numerics.adc_bits": 6}},
                   meta={"method": "greedy", "energy_j": 1.5e-6})
    write_run_config(tmp_path / "c.toml", rc, header="test")
    back = load_run_config(tmp_path / "c.toml")
    assert back == rc
    assert "amssim simulate" in dump_run_config(rc)


@pytest.mark.parametrize("text, match", [
    ('bogus = 1\n', "unknown key"),
    ('[layers.fc1]\n"arch.clock_hz" = 1e9\n', "whole chip"),
    ('[layers.fc1]\n"run.batch" = 2\n', "per layer"),
    ('[set]\n"numerics.gain" = nan\n', "not finite"),
    ('[set\n', "not valid TOML"),
])
def test_run_config_rejects(tmp_path, text, match):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_run_config(p)


def test_simulate_config_cli_errors(tmp_path, mlp):
    trace, _ = mlp
    p = tmp_path / "c.toml"
    p.write_text('[layers.nope]\n"numerics.gain" = 2\n')
    assert main(["simulate", trace, "--config", str(p), "--no-progress"]) == 2
    p.write_text('[layers.fc1]\n"numerics.gain" = -2\n')
    assert main(["simulate", trace, "--config", str(p), "--no-progress"]) == 2
    assert main(["simulate", trace, "--config", str(tmp_path / "missing.toml")]) == 2


# ----------------------------------------------------------------- per-layer execution
def test_per_layer_outputs_match_layerwise_abfp(mlp):
    """Oracle: the network computed by hand with abfp_matmul, each layer with its own config."""
    trace, (x, w1, w2, w3) = mlp
    from amssim.trace import evaluate, load_trace
    from amssim.run import make_backend, resolve_layers
    from amssim.run import resolve_device
    from amssim.trace.ops import round_bf16

    dev, opts = resolve_device("abfp-paper", BASE)
    layers = {"fc1": {"numerics.gain": "4"}, "fc3": {"numerics.adc_bits": "6", "noise.kind": "none"}}
    setups = resolve_layers(dev, opts, ["fc1", "fc2", "fc3"], layers)
    tr = load_trace(trace)
    out = evaluate(tr, make_backend(dev, opts, 7, setups=setups), keep_outputs=True, batch_size=40).outputs
    base = dev.abfp_config()
    c1 = AbfpConfig(**{**base.__dict__, "gain": 4.0})
    c3 = AbfpConfig(**{**base.__dict__, "adc_bits": 6, "noise": "none"})
    ops = [op.index for op in tr.ops if op.kind == "linear"]
    h = abfp_matmul(round_bf16(x), w1, c1, seed=7, layer=ops[0])  # graph inputs enter as bf16
    h = round_bf16(np.maximum(h, 0))
    h = abfp_matmul(h, w2, base, seed=7, layer=ops[1])
    h = round_bf16(np.maximum(h, 0))
    y = abfp_matmul(h, w3, c3, seed=7, layer=ops[2])
    np.testing.assert_array_equal(out, y)


def test_uniform_layer_overrides_equal_global_overrides(mlp):
    trace, _ = mlp
    over = {"numerics.gain": "2", "numerics.adc_bits": "7"}
    a = simulate(trace, overrides={**BASE, **over}, seed=1)
    b = simulate(trace, overrides=BASE, seed=1, layer_overrides={n: over for n in ("fc1", "fc2", "fc3")})
    assert a.accuracy == b.accuracy
    assert b.energy_j == pytest.approx(a.energy_j, rel=1e-12)
    assert b.cycles == a.cycles
    assert [L.dy_std for L in a.layers] == [L.dy_std for L in b.layers]


def test_mixed_energy_is_sum_of_layer_energies(mlp):
    """Oracle: each op timed alone on its own device with the closed-form engine."""
    trace, _ = mlp
    from amssim.config import apply_overrides, load_device
    from amssim.energy import estimate_energy
    from amssim.timing import simulate_timing
    from amssim.trace import load_trace

    layers = {"fc1": {"numerics.adc_bits": "6"}, "fc2": {"numerics.gain": "8"}}
    r = simulate(trace, overrides=BASE, layer_overrides=layers, mode="timing")
    dev = apply_overrides(load_device("abfp-paper"), BASE)
    total = 0.0
    for g in load_trace(trace).gemm_ops():
        d = apply_overrides(dev, layers.get(g.name, {}))
        t = simulate_timing([g], d, batch=8, engine="closed_form")
        total += estimate_energy(t, d).energy_j / 8
    assert r.energy_j == pytest.approx(total, rel=1e-9)
    assert r.overrides["layers.fc1.numerics.adc_bits"] == "6"


def test_per_layer_digital_format(mlp):
    trace, _ = mlp
    r = simulate(trace, overrides=BASE, layer_overrides={"fc2": {"run.format": "fp32"}}, seed=0)
    err = {L.name: L.rel_rms_error for L in r.layers}
    # fp32 product, then the bf16 activation rounding only (relative error <= 2^-9)
    assert 0 < err["fc2"] <= 2.0 ** -9 < err["fc1"] and err["fc3"] > 2.0 ** -9
    with pytest.raises(ConfigError, match="full"):
        simulate(trace, overrides=BASE, layer_overrides={"fc2": {"run.format": "fp32"}}, mode="full")


# ----------------------------------------------------------------- proxy statistics
def test_r_squared_and_kl_closed_form():
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((10, 5))
    assert r_squared(ref, ref) == 1.0
    assert r_squared(np.full_like(ref, ref.mean()), ref) == pytest.approx(0.0, abs=1e-12)
    noisy = ref + 0.1 * rng.standard_normal(ref.shape)
    expect = 1 - np.sum((noisy - ref) ** 2) / np.sum((ref - ref.mean()) ** 2)
    assert r_squared(noisy, ref) == pytest.approx(expect, rel=1e-12)
    assert mean_kl(ref, ref) == pytest.approx(0.0, abs=1e-12)
    # two classes, logits (0, 0) vs (log 3, 0): KL(1/2,1/2 || 3/4,1/4) = 0.5 ln(2/3) + 0.5 ln 2
    kl = mean_kl(np.array([[np.log(3.0), 0.0]]), np.array([[0.0, 0.0]]))
    assert kl == pytest.approx(0.5 * np.log(2 / 3) + 0.5 * np.log(2), rel=1e-12)


def test_fit_model_matches_polyfit():
    x = np.array([0.1, 0.5, 0.9, 0.99])
    y = np.array([0.2, 0.55, 0.93, 0.98])
    m = fit_model(x, y)
    slope, icpt = np.polyfit(x, y, 1)
    assert (m.slope, m.intercept) == pytest.approx((slope, icpt), rel=1e-10)
    assert m.predict(5.0) == 1.0 and m.predict(-50.0) == 0.0 and m.predict(float("nan")) == 0.0


def test_parse_target_and_space_errors():
    assert parse_target("1%") == pytest.approx(0.01) and parse_target("0.02") == 0.02
    for bad in ("x", "150%", "-1"):
        with pytest.raises(SearchError):
            parse_target(bad)
    with pytest.raises(SearchError, match="empty"):
        parse_space([], "abfp-paper")
    with pytest.raises(SearchError, match="unknown key"):
        parse_space(["numerics.gian=1,2"], "abfp-paper")
    with pytest.raises(SearchError, match="numerics.gain"):
        parse_space(["numerics.gain=1,-2"], "abfp-paper")
    with pytest.raises(SearchError, match="whole chip"):
        parse_space(["arch.clock_hz=1e9,2e9"], "abfp-paper", per_layer=True)
    sp = parse_space(["numerics.gain=1,2,4", "numerics.adc_bits=6,8"], "abfp-paper")
    assert sp.size == 6 and sorted(sp.neighbours((1, 0))) == [(0, 0), (1, 1), (2, 0)]


# ----------------------------------------------------------------- the searches
SPACE = ["numerics.gain=1,2,4", "numerics.adc_bits=4,5,6"]


@pytest.fixture(scope="module")
def ctx(mlp):
    trace, _ = mlp
    return SearchContext(trace, overrides=BASE, proxy_inputs=10)


def test_fast_search_matches_exhaustive_with_fewer_evaluations(ctx):
    sp = parse_space(SPACE, "abfp-paper", base_overrides=BASE)
    fast = fast_search(ctx, sp, 0.02, calib_points=3)
    used = ctx.full_lookups
    opt, e, rows = exhaustive_search(ctx, sp, 0.02)
    assert used < sp.size
    assert fast.option == opt and fast.energy_j == e
    assert fast.accuracy_norm >= 0.98
    # the pick is the cheapest passing option of the exhaustive table
    passing = [r for r in rows if r["accuracy_norm"] >= 0.98]
    assert min(r["energy_j"] for r in passing) == fast.energy_j


def test_genetic_and_greedy_meet_target_and_are_seeded(ctx):
    sp = parse_space(SPACE, "abfp-paper", base_overrides=BASE, per_layer=True)
    fast = fast_search(ctx, sp, 0.02, calib_points=3)
    ga = GaSettings(population=8, generations=3)
    a = genetic_search(ctx, sp, 0.02, fast.model, seed=5, settings=ga)
    b = genetic_search(ctx, sp, 0.02, fast.model, seed=5, settings=ga)
    assert a.config == b.config and a.history == b.history
    g = greedy_search(ctx, sp, 0.02, fast.model)
    for r in (a, g):
        assert r.accuracy_norm >= 0.98  # verified by a full evaluation
        assert set(r.config) == {"fc1", "fc2", "fc3"}
        assert r.energy_j == pytest.approx(ctx.energy_j(r.config))
    # the dearest uniform configuration bounds every answer
    dear = max(ctx.energy_j(ctx.uniform(sp.option(i))) for i in sp.index_grid())
    assert a.energy_j <= dear and g.energy_j <= dear


def test_unreachable_target_raises(mlp):
    trace, _ = mlp
    with pytest.raises(SearchError, match="unreachable"):
        run_search(trace, space=["numerics.adc_bits=2,3"], overrides={**BASE, "numerics.gain": 16},
                   target_loss=0.0, methods=("fast",), calib_points=2)


def test_search_cli_end_to_end(tmp_path, mlp):
    trace, _ = mlp
    out = tmp_path / "pick.toml"
    rc = main(["search", trace, "--space", SPACE[0], "--space", SPACE[1], "--set", "numerics.tile_width=16",
               "--target-loss", "2%", "--population", "6", "--generations", "2", "--calib-points", "3",
               "--out", str(out)])
    assert rc == 0
    summary = json.loads((tmp_path / "pick.json").read_text())
    chosen = load_run_config(out)
    r = simulate(trace, chosen.device, overrides=chosen.overrides, layer_overrides=chosen.layers or None)
    assert r.energy_j == pytest.approx(summary["chosen_energy_j"], rel=1e-9)
    assert r.accuracy / r.fp32_accuracy == pytest.approx(summary["chosen_accuracy_norm"])
    assert r.accuracy / r.fp32_accuracy >= 0.98
    rows = ResultStore(tmp_path / "pick.jsonl").rows
    assert len(rows) == summary["full_evals"] and all(row["result"]["accuracy"] is not None for row in rows)
    # a second run resumes from the store: no new full evaluations
    assert main(["search", trace, "--space", SPACE[0], "--space", SPACE[1], "--set", "numerics.tile_width=16",
                 "--target-loss", "2%", "--population", "6", "--generations", "2", "--calib-points", "3",
                 "--out", str(out)]) == 0
    assert len(ResultStore(tmp_path / "pick.jsonl").rows) == len(rows)
    assert main(["pareto", str(tmp_path / "pick.jsonl"), "--out", str(tmp_path / "p.png")]) == 0


@pytest.mark.parametrize("args", [
    [],  # empty space
    ["--space", "numerics.nope=1,2"],
    ["--space", "numerics.gain=1,2", "--target-loss", "abc"],
    ["--space", "numerics.adc_bits=2", "--set", "numerics.gain=16", "--target-loss", "0",
     "--method", "fast", "--calib-points", "2"],
])
def test_search_cli_bad_input_exit_2(tmp_path, mlp, args):
    trace, _ = mlp
    assert main(["search", trace, "--set", "numerics.tile_width=16", "--out", str(tmp_path / "x.toml"),
                 *args]) == 2
    assert not (tmp_path / "x.toml").exists()
