"""The built-in workloads under workloads/: committed traces, their build scripts, topologies.

Oracles: the float32 metric each manifest records (executed again here by amssim's
executor), the thresholds of issue 4, PyTorch's float32 outputs stored in each trace,
the documented generator of the Appendix-A layer, closed-form MAC counts of ResNet-50 and
BERT-Large, and -- when the public datasets are available -- the evaluation data rebuilt
from the raw datasets by the build scripts' own preprocessing.
"""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest

from amssim.trace import Float32Backend, evaluate, from_scalesim, load_trace

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WL = os.path.join(REPO, "workloads")
MAX_TRACE_BYTES = 8 * 1024 * 1024

# name -> (minimum float32 accuracy, evaluation-set size)
GRAPH = {
    "fsdd-cnn": (0.95, 300),
    "sst2-transformer": (0.78, 872),
    "digits-resnet": (0.97, 360),
}


def _build_module(name):
    """Import workloads/<name>/build.py (the directory names are not identifiers)."""
    path = os.path.join(WL, name, "build.py")
    spec = importlib.util.spec_from_file_location(f"_wl_build_{name.replace('-', '_')}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _topo_module():
    path = os.path.join(WL, "topologies", "make_topologies.py")
    spec = importlib.util.spec_from_file_location("_wl_make_topologies", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _dir_bytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)


@pytest.fixture(scope="module", params=sorted(GRAPH))
def graph_run(request):
    name = request.param
    tr = load_trace(os.path.join(WL, name))
    res = evaluate(tr, Float32Backend(), batch_size=128, keep_outputs=True)
    return name, tr, res


# --------------------------------------------------------------------------- graph traces

def test_graph_trace_reproduces_manifest_metric_exactly(graph_run):
    name, tr, res = graph_run
    assert tr.kind == "graph" and tr.metric == "top1"
    assert tr.num_samples == GRAPH[name][1]
    assert res.num_samples == GRAPH[name][1]
    assert isinstance(tr.fp32_metric, float)
    assert res.accuracy == tr.fp32_metric  # exact, not approximate


def test_graph_trace_meets_accuracy_threshold(graph_run):
    name, tr, res = graph_run
    assert res.accuracy >= GRAPH[name][0], (name, res.accuracy)
    # the same number recomputed from the outputs and the labels, independently of evaluate()
    y = np.asarray(res.outputs)
    acc = float(np.mean(np.argmax(y, axis=1) == np.asarray(tr.labels())))
    assert acc == res.accuracy


def test_graph_trace_matches_pytorch_outputs(graph_run):
    """The executor's float32 outputs equal PyTorch's stored float32 outputs to rounding."""
    name, tr, res = graph_run
    ref = tr.reference(tr.outputs[0])
    assert ref is not None, f"{name}: no stored PyTorch reference outputs"
    y = np.asarray(res.outputs)
    scale = float(np.max(np.abs(ref)))
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-5 * max(scale, 1.0))
    assert tr.manifest["source"]["torch_metric"] == tr.fp32_metric
    # no evaluation sample sits so close to a tie that float32 rounding could flip it
    s = np.sort(y, axis=1)
    assert np.min(s[:, -1] - s[:, -2]) > 1e-3


@pytest.mark.parametrize("name", sorted(GRAPH) + ["appendix-a"])
def test_trace_directory_is_small_and_documented(name):
    d = os.path.join(WL, name)
    assert _dir_bytes(d) <= MAX_TRACE_BYTES
    assert os.path.isfile(os.path.join(d, "build.py"))
    with open(os.path.join(d, "manifest.json"), encoding="utf-8") as f:
        m = json.load(f)
    assert m["name"] == name
    assert m["source"]["build_script"] == f"workloads/{name}/build.py"
    with open(os.path.join(WL, "README.md"), encoding="utf-8") as f:
        readme = f.read()
    assert f"`{name}`" in readme
    if m.get("fp32_metric") is not None:
        assert f"{100 * m['fp32_metric']:.2f} %" in readme  # README quotes the recorded metric


def test_sst2_trace_uses_real_attention_with_padding_mask():
    tr = load_trace(os.path.join(WL, "sst2-transformer"))
    kinds = [op.kind for op in tr.ops]
    for k in ("embedding", "layernorm", "gelu", "softmax", "masked_fill", "eq", "add"):
        assert k in kinds, k
    mm = [g for g in tr.gemm_ops() if g.kind == "matmul"]
    assert len(mm) == 4  # QK^T and AV in each of 2 layers
    heads = {g.count for g in mm}
    assert heads == {4} and all(not g.weights_static for g in mm)
    widths = {g.n for g in tr.gemm_ops() if g.kind == "linear"}
    assert 128 in widths and 512 in widths


def test_cnn_traces_have_folded_batchnorm():
    for name in ("fsdd-cnn", "digits-resnet"):
        tr = load_trace(os.path.join(WL, name))
        kinds = [op.kind for op in tr.ops]
        assert "batchnorm" not in kinds and "conv2d" in kinds
    kinds = [op.kind for op in load_trace(os.path.join(WL, "digits-resnet")).ops]
    assert kinds.count("add") == 4  # four residual blocks


# --------------------------------------------------------------------------- appendix-a

def test_appendix_a_is_the_documented_draw():
    b = _build_module("appendix-a")
    tr = load_trace(os.path.join(WL, "appendix-a"))
    assert tr.kind == "layer" and tr.metric is None and tr.num_samples == 400
    assert tr.manifest["source"]["seed"] == b.SEED
    w, x = b.generate(b.SEED)
    (op,) = tr.ops
    np.testing.assert_array_equal(tr.array(op.params["weight"]), w)
    np.testing.assert_array_equal(np.asarray(tr.data_input("x")), x)
    assert w.shape == (768, 768) and x.shape == (400, 768)
    # standard Laplace: mean 0, variance 2, mean |w| = 1; standard normal inputs
    assert abs(w.mean()) < 0.01 and abs(w.var() - 2.0) < 0.02 and abs(np.abs(w).mean() - 1.0) < 0.01
    assert abs(x.mean()) < 0.01 and abs(x.var() - 1.0) < 0.01
    g = tr.gemm_ops()
    assert [(s.m, s.k, s.n) for s in g] == [(1, 768, 768)] and tr.macs() * 400 == 400 * 768 * 768


def test_appendix_a_float32_execution_is_exact_matmul():
    tr = load_trace(os.path.join(WL, "appendix-a"))
    res = evaluate(tr, Float32Backend(), batch_size=200, keep_outputs=True)
    assert res.accuracy is None
    w = np.asarray(tr.array(tr.ops[0].params["weight"]), dtype=np.float64)
    x = np.asarray(tr.data_input("x"), dtype=np.float64)
    y64 = x @ w.T
    np.testing.assert_allclose(np.asarray(res.outputs), y64, rtol=0, atol=1e-3)


# --------------------------------------------------------------------------- topologies

def _resnet50_macs_closed_form():
    """ResNet-50 v1.5 at 224x224, convs + fc, written out stage by stage (He et al. Table 1)."""
    macs = 112 * 112 * 7 * 7 * 3 * 64  # conv1
    c_in, hw = 64, 56
    for blocks, w, stride in ((3, 64, 1), (4, 128, 2), (6, 256, 2), (3, 512, 2)):
        out_hw = hw // stride
        c_out = 4 * w
        # first block: 1x1 at input res, 3x3 (stride) to out res, 1x1 expand, 1x1 projection
        macs += hw * hw * c_in * w + out_hw * out_hw * 9 * w * w + out_hw * out_hw * w * c_out
        macs += out_hw * out_hw * c_in * c_out
        # remaining blocks at out res
        macs += (blocks - 1) * out_hw * out_hw * (c_out * w + 9 * w * w + w * c_out)
        c_in, hw = c_out, out_hw
    return macs + 2048 * 1000


def test_resnet50_topology_macs():
    tr = from_scalesim(os.path.join(WL, "topologies", "resnet50.csv"))
    assert tr.kind == "shape"
    convs = [g for g in tr.gemm_ops()]
    assert len(convs) == 54  # 53 convolutions (49 + 4 projections) + fc
    assert tr.macs() == _resnet50_macs_closed_form()
    assert abs(tr.macs() - 4.09e9) / 4.09e9 < 0.001  # torchvision's published 4.09 GFLOPS (MACs)
    # every layer's output grid is the real network's (no padding loss in SCALE-Sim's convention)
    m = {g.name: g.m for g in convs}
    assert m["conv1"] == 112 * 112 and m["layer1.0.conv2"] == 56 * 56
    assert m["layer2.0.conv2"] == m["layer2.0.downsample"] == 28 * 28 and m["layer4.2.conv3"] == 49


def test_bert_large_topology_macs():
    tr = from_scalesim(os.path.join(WL, "topologies", "bert_large.csv"))
    L, d, dff, layers, heads = 384, 1024, 4096, 24, 16
    closed = layers * (4 * L * d * d + 2 * L * d * dff + 2 * L * L * d)
    assert closed == 123_211_874_304
    assert tr.macs() == closed
    g = {s.name: s for s in tr.gemm_ops()}
    assert len(g) == layers * (6 + 2 * heads)
    q = g["enc0.head0.qk"]
    assert (q.m, q.n, q.k) == (L, L, d // heads)
    av = g["enc23.head15.av"]
    assert (av.m, av.n, av.k) == (L, d // heads, L)
    f1 = g["enc5.ffn1"]
    assert (f1.m, f1.n, f1.k) == (L, dff, d)


def test_topology_csvs_match_their_generator(tmp_path):
    mod = _topo_module()
    assert mod.main(["--out", str(tmp_path)]) == 0
    for f in ("resnet50.csv", "bert_large.csv"):
        with open(os.path.join(WL, "topologies", f), encoding="utf-8") as a:
            committed = a.read()
        assert (tmp_path / f).read_text(encoding="utf-8") == committed, f
        assert all(line.endswith(",") for line in committed.splitlines())  # SCALE-Sim's trailing comma


# --------------------------------------------------------------------------- build-script preprocessing

def test_fsdd_mel_filterbank_and_log_mel_on_a_tone():
    b = _build_module("fsdd-cnn")
    fb = b.mel_filterbank()
    assert fb.shape == (b.N_MELS, b.N_FFT // 2 + 1)
    assert np.all(fb >= 0) and np.all(fb.max(axis=1) > 0.5)  # every band sees at least one bin
    centres = np.argmax(fb, axis=1)
    assert np.all(np.diff(centres) >= 0)  # bands ordered by frequency
    # a 1 kHz tone: the loudest band is the one whose filter peaks nearest 1 kHz
    t = np.arange(6000) / b.SAMPLE_RATE_HZ
    tone = (8000 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.int16)
    f = b.log_mel(tone, fb)
    assert f.shape == (b.N_MELS, b.N_FRAMES)
    bin_1k = round(1000.0 * b.N_FFT / b.SAMPLE_RATE_HZ)
    assert np.argmax(f[:, 5]) == np.argmax(fb[:, bin_1k])
    # frames after the end of the recording are silence (the log floor)
    first_silent = -(-6000 // b.HOP)  # frame j reads samples [j * HOP, j * HOP + N_FFT)
    np.testing.assert_allclose(f[:, first_silent:], np.log(b.LOG_EPS))
    assert np.all(f[:, first_silent - 1] > np.log(b.LOG_EPS) + 1)


def test_sst2_tokeniser():
    b = _build_module("sst2-transformer")
    vocab = b.build_vocab([["a", "b", "a"], ["c", "a", "b"]], size=5)
    assert vocab == {"a": 3, "b": 4}  # frequency order, 3 specials + 2 words
    ids = b.encode([["a", "zz", "b"], ["b"] * 100], vocab, max_len=5)
    np.testing.assert_array_equal(ids, [[1, 3, 2, 4, 0], [1, 4, 4, 4, 4]])


def _shared_data():
    return os.environ.get("AMSSIM_SHARED_DATA",
                          os.path.join(os.path.dirname(REPO), "shared", "data"))


def test_fsdd_trace_inputs_rebuild_from_raw_audio():
    d = _shared_data()
    if not os.path.isfile(os.path.join(d, "fsdd", "fsdd.npz")):
        pytest.skip("Free Spoken Digit Dataset not available")
    b = _build_module("fsdd-cnn")
    _, _, xte, yte = b.load_features(d)
    tr = load_trace(os.path.join(WL, "fsdd-cnn"))
    np.testing.assert_array_equal(np.asarray(tr.data_input("input")), xte)
    np.testing.assert_array_equal(np.asarray(tr.labels()), yte)


def test_sst2_trace_inputs_rebuild_from_tsv():
    d = _shared_data()
    if not os.path.isfile(os.path.join(d, "sst2", "train.tsv")):
        pytest.skip("SST-2 not available")
    b = _build_module("sst2-transformer")
    tr_texts, _ = b.read_tsv(os.path.join(d, "sst2", "train.tsv"))
    dv_texts, ydv = b.read_tsv(os.path.join(d, "sst2", "dev.tsv"))
    ids = b.encode(dv_texts, b.build_vocab(tr_texts))
    tr = load_trace(os.path.join(WL, "sst2-transformer"))
    np.testing.assert_array_equal(np.asarray(tr.data_input("ids")), ids)
    np.testing.assert_array_equal(np.asarray(tr.labels()), ydv)


def test_digits_trace_inputs_rebuild_from_sklearn():
    pytest.importorskip("sklearn")
    b = _build_module("digits-resnet")
    _, _, xte, yte = b.load_data()
    tr = load_trace(os.path.join(WL, "digits-resnet"))
    np.testing.assert_array_equal(np.asarray(tr.data_input("input")), xte)
    np.testing.assert_array_equal(np.asarray(tr.labels()), yte)
