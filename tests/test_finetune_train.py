"""Torch trace interpreter, DNF/QAT training, export, CLI and bad input (amssim.finetune)."""

import json
import os
import types

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from amssim import AbfpConfig  # noqa: E402
from amssim.cli import main  # noqa: E402
from amssim.errors import ConfigError, TraceError  # noqa: E402
from amssim.finetune import device_accuracy, finetune  # noqa: E402
from amssim.finetune.numerics import QatNumerics  # noqa: E402
from amssim.finetune.torch_trace import TorchTrace, check_supported  # noqa: E402
from amssim.trace import AbfpBackend, Float32Backend, evaluate, load_trace, write_trace  # noqa: E402

REPO = os.path.dirname(os.path.dirname(__file__))
WORKLOADS = ["fsdd-cnn", "sst2-transformer", "digits-resnet"]
#: the degraded device of the tiny MLP: tile 128 at gain 1 (paper's collapse regime)
DEGRADED = {"numerics.gain": "1"}
K, C, SEP = 256, 8, 0.2


def tiny_mlp(root):
    """Closed-form 2-layer MLP (nearest-class-mean classifier through ReLU pairs) on 8 Gaussian
    classes in 256-D: 92.5 % in float32, ~67 % on ABFP tile 128 / gain 1. Returns (trace, train.npz)."""
    rng = np.random.default_rng(0)
    mu = (rng.standard_normal((C, K)) * SEP).astype(np.float32)

    def make(n):
        y = rng.integers(0, C, n)
        return (mu[y] + rng.standard_normal((n, K))).astype(np.float32), y

    xtr, ytr = make(2000)
    xte, yte = make(400)
    w1 = np.concatenate([mu, -mu])
    w2 = np.concatenate([np.eye(C), -np.eye(C)], 1).astype(np.float32)
    b2 = (-0.5 * (mu * mu).sum(1)).astype(np.float32)
    man = {"name": "tiny-mlp", "kind": "graph", "task": "classification", "metric": "top1",
           "inputs": [{"name": "x", "shape": [K], "dtype": "float32"}], "outputs": ["y"],
           "data": {"num_samples": 400, "inputs": {"x": "data/x.npy"}, "labels": "data/labels.npy"},
           "ops": [{"name": "fc1", "kind": "linear", "inputs": ["x"], "outputs": ["h"],
                    "params": {"weight": "tensors/fc1.w.npy"}, "attrs": {}},
                   {"name": "act", "kind": "relu", "inputs": ["h"], "outputs": ["a"], "params": {}, "attrs": {}},
                   {"name": "fc2", "kind": "linear", "inputs": ["a"], "outputs": ["y"],
                    "params": {"weight": "tensors/fc2.w.npy", "bias": "tensors/fc2.b.npy"}, "attrs": {}}]}
    tr = write_trace(os.path.join(root, "mlp"), man,
                     {"tensors/fc1.w.npy": w1, "tensors/fc2.w.npy": w2, "tensors/fc2.b.npy": b2},
                     {"data/x.npy": xte, "data/labels.npy": yte})
    path = os.path.join(root, "train.npz")
    np.savez(path, x=xtr, labels=ytr)
    return tr, path


@pytest.fixture(scope="module")
def mlp(tmp_path_factory):
    return tiny_mlp(str(tmp_path_factory.mktemp("mlp")))


def _acc(tr):
    return np.mean([device_accuracy(tr, overrides=DEGRADED, seed=s) for s in (0, 1)])


@pytest.mark.parametrize("name", WORKLOADS)
def test_interpreter_equals_float32_evaluate(name):
    tr = load_trace(os.path.join(REPO, "workloads", name))
    ev = evaluate(tr, Float32Backend(), limit=24, keep_outputs=True, differential=False)
    inp = {s["name"]: np.array(tr.data_input(s["name"])[:24]) for s in tr.inputs}
    with torch.no_grad():
        y = TorchTrace(tr)(inp).numpy()
    np.testing.assert_allclose(y, ev.outputs, rtol=1e-3, atol=2e-3)
    assert np.array_equal(y.argmax(1), ev.outputs.argmax(1))


@pytest.mark.parametrize("name", ["fsdd-cnn", "sst2-transformer"])
def test_qat_forward_equals_abfp_backend(name):
    """Whole network, noise off: the QAT forward is the ABFP executor bit for bit."""
    tr = load_trace(os.path.join(REPO, "workloads", name))
    cfg = AbfpConfig(tile_width=32, gain=4.0, noise="none")
    ev = evaluate(tr, AbfpBackend(cfg), limit=8, keep_outputs=True, differential=False)
    inp = {s["name"]: np.array(tr.data_input(s["name"])[:8]) for s in tr.inputs}
    with torch.no_grad():
        y = TorchTrace(tr, QatNumerics(cfg, noise=False))(inp).numpy()
    np.testing.assert_array_equal(y, ev.outputs)


def test_conv_rows_path_matches_numpy(rng, tmp_path):
    """conv1d/conv2d with stride, dilation and asymmetric padding: unfold rows == im2col."""
    from amssim.trace.ops import conv_f32
    from amssim.finetune.numerics import CaptureNumerics
    for nd, xs, ws, at in [(1, (2, 3, 17), (4, 3, 3), {"stride": [2], "padding": [1, 2], "dilation": [2]}),
                           (2, (2, 3, 9, 11), (5, 3, 3, 2),
                            {"stride": [2, 1], "padding": [0, 1, 2, 0], "dilation": [1, 2]})]:
        x = rng.standard_normal(xs).astype(np.float32)
        w = rng.standard_normal(ws).astype(np.float32)
        b = rng.standard_normal(ws[0]).astype(np.float32)
        ref = conv_f32(x, w, b, at)
        op = types.SimpleNamespace(name="c", kind=f"conv{nd}d", attrs=at)
        man = {"name": "c", "kind": "graph", "inputs": [{"name": "x", "shape": list(xs[1:]), "dtype": "float32"}],
               "outputs": ["y"], "data": {"num_samples": 2, "inputs": {"x": "data/x.npy"}},
               "ops": [{"name": "c", "kind": op.kind, "inputs": ["x"], "outputs": ["y"],
                        "params": {"weight": "tensors/w.npy", "bias": "tensors/b.npy"}, "attrs": at}]}
        tr = write_trace(str(tmp_path / f"c{nd}"), man, {"tensors/w.npy": w, "tensors/b.npy": b}, {"data/x.npy": x})
        for num in (None, CaptureNumerics()):
            with torch.no_grad():
                y = TorchTrace(tr, num)({"x": x}).numpy()
            np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("method", ["dnf", "qat"])
def test_finetuning_recovers_degraded_mlp(mlp, tmp_path, method):
    """ABFP at tile 128 / gain 1 costs the tiny MLP ~26 points; a 3-epoch run wins > 2 back."""
    tr, train = mlp
    before = _acc(tr)
    assert evaluate(tr, Float32Backend()).accuracy - before > 0.15
    out = str(tmp_path / method)
    res = finetune(tr, method, "abfp-paper", overrides=DEGRADED, out=out, train_data=train,
                   epochs=3, lr=3e-3, batch_size=64, seed=0)
    assert res.epochs == 3 and len(res.epoch_wall_s) == 3 and len(res.losses) == 3
    assert res.train_samples == 2000 and not res.warnings
    after = _acc(out)
    assert after - before > 0.02, (before, after)
    new = load_trace(out)
    assert new.manifest["source"]["finetune"]["method"] == method
    assert new.fp32_metric == evaluate(new, Float32Backend()).accuracy
    if method == "dnf":
        assert [L.name for L in res.layers] == ["fc1", "fc2"] and all(L.noisy for L in res.layers)
        assert res.layers[0].std > 0


def test_dnf_histograms_match_executor_differential_std(mlp):
    """Calibration on float32 inputs ~ the simulator's per-layer dy_std of the first layer
    (same input there: the graph input, bf16-rounded by the executor)."""
    from amssim.finetune.dnf import calibrate
    tr, _ = mlp
    cfg = AbfpConfig(tile_width=128, gain=1.0, noise="uniform")
    x = np.array(tr.data_input("x"))
    h = calibrate(TorchTrace(tr), {"x": torch.from_numpy(x)}, cfg, seed=0, bins=100, bin_offset=0.5)
    ev = evaluate(tr, AbfpBackend(cfg))
    assert h["fc1"].std == pytest.approx(ev.layers[0].dy_std, rel=0.05)


def test_cli_json_topk_and_optimistic_warning(mlp, tmp_path, capsys):
    tr, _ = mlp
    out = str(tmp_path / "cli")
    code = main(["finetune", tr.path, "--method", "dnf", "--set", "numerics.gain=1", "--epochs", "1",
                 "--lr", "1e-3", "--batch-size", "100", "--seed", "3", "--out", out,
                 "--dnf-layers", "top1", "--json"])
    cap = capsys.readouterr()
    assert code == 0
    d = json.loads(cap.out)
    assert d["method"] == "dnf" and d["epochs"] == 1 and len(d["losses"]) == 1
    assert [L["noisy"] for L in d["layers"]].count(True) == 1
    assert "optimistic" in cap.err and d["warnings"]
    assert main(["simulate", out, "--set", "numerics.gain=1", "--json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["trace"] == "tiny-mlp-dnf"


def test_bad_input_before_training(mlp, tmp_path, capsys):
    tr, train = mlp
    out = str(tmp_path / "x")
    with pytest.raises(ConfigError, match="no ABFP numerics"):
        finetune(tr, "dnf", overrides={"numerics.ideal": "true"}, train_data=train, out=out)
    with pytest.raises(ConfigError, match="not ABFP"):
        finetune(tr, "qat", overrides={"run.format": "int8"}, train_data=train, out=out)
    empty = str(tmp_path / "empty.npz")
    np.savez(empty, x=np.zeros((0, K), np.float32), labels=np.zeros(0, np.int64))
    with pytest.raises(ConfigError, match="empty"):
        finetune(tr, "dnf", train_data=empty, out=out)
    bad = str(tmp_path / "bad.npz")
    np.savez(bad, y=np.zeros((3, K), np.float32), labels=np.zeros(3, np.int64))
    with pytest.raises(ConfigError, match="missing"):
        finetune(tr, "dnf", train_data=bad, out=out)
    with pytest.raises(ConfigError):
        finetune(tr, "sgd", train_data=train, out=out)
    with pytest.raises(ConfigError):
        finetune(tr, "dnf", train_data=train, out=out, dnf_layers="top0")
    for opt, v in [("epochs", 10**6), ("epochs", 0), ("seed", 2**64), ("seed", -1), ("dnf_bins", 10**9),
                   ("threads", 10**6), ("batch_size", 2**63)]:
        with pytest.raises(ConfigError, match=opt):  # bounded before any work, never an overflow
            finetune(tr, "dnf", train_data=train, out=out, **{opt: v})
    fake = types.SimpleNamespace(name="f", has_values=True, ops=[types.SimpleNamespace(name="z", kind="fft", attrs={})])
    with pytest.raises(TraceError, match="cannot run"):
        check_supported(fake)
    assert not os.path.exists(out)
    assert main(["finetune", tr.path, "--method", "dnf", "--set", "numerics.ideal=true", "--out", out]) == 2
    assert main(["finetune", tr.path, "--method", "dnf", "--train-data", train, "--epochs", "9" * 30,
                 "--out", out]) == 2
    assert "epochs must be an integer in 1..100,000" in capsys.readouterr().err


def test_largest_seed_trains(mlp, tmp_path):
    """seed 2^64 - 1 is legal: the torch generators' seeds wrap modulo 2^64, never overflow."""
    tr, train = mlp
    res = finetune(tr, "qat", train_data=train, out=str(tmp_path / "s"), seed=2**64 - 1, epochs=1)
    assert len(res.losses) == 1 and np.isfinite(res.losses[0])


def test_onnx_model_input(tmp_path, rng):
    """An .onnx file is imported to a temporary trace (with --eval-data) and finetuned."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    w = rng.standard_normal((4, 12)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w"], ["h"], transB=1, name="fc"),
         helper.make_node("Relu", ["h"], ["y"], name="r")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", 12])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", 4])],
        initializer=[numpy_helper.from_array(w, "w")])
    path = str(tmp_path / "m.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    x = rng.standard_normal((40, 12)).astype(np.float32)
    ev = str(tmp_path / "ev.npz")
    np.savez(ev, x=x, labels=np.argmax(x[:, :4] @ w[:, :4].T, 1))
    with pytest.raises(ConfigError, match="evaluation data"):
        finetune(path, "qat", out=str(tmp_path / "o0"), train_data=ev)
    res = finetune(path, "qat", out=str(tmp_path / "o"), train_data=ev, eval_data=ev, epochs=1,
                   batch_size=20)
    assert res.epochs == 1 and load_trace(str(tmp_path / "o")).ops[0].kind == "linear"
