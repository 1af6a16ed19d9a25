"""Trace format: writer/loader round trip and every bad-input path (TraceError naming file+field)."""

import json
import os
import pickle

import numpy as np
import pytest

from amssim.errors import TraceError
from amssim.trace import build_trace, load_trace, round_bf16, write_trace
from fuzz.corpus import tiny_arrays, tiny_manifest


# the tiny 2-layer MLP trace the fuzz corpus mutates too (one definition)
small_manifest = tiny_manifest
small_arrays = tiny_arrays


@pytest.fixture
def trace_dir(tmp_path, rng):
    t, d = small_arrays(rng)
    write_trace(tmp_path / "t", small_manifest(), t, d)
    return tmp_path / "t"


def _edit(trace_dir, fn):
    p = trace_dir / "manifest.json"
    m = json.loads(p.read_text())
    fn(m)
    p.write_text(json.dumps(m))


def test_round_trip(trace_dir, rng):
    t = load_trace(trace_dir)
    assert (t.name, t.kind, t.metric, t.num_samples) == ("mlp", "graph", "top1", 6)
    assert [o.kind for o in t.ops] == ["linear", "relu", "linear"]
    w = t.params(t.ops[0])["weight"]
    assert w.dtype == np.float32 and w.shape == (5, 4)
    g = t.gemm_ops()
    assert [(x.name, x.layer, x.m, x.k, x.n, x.count, x.weights_static) for x in g] == [
        ("fc1", 0, 1, 4, 5, 1, True), ("fc2", 2, 1, 5, 3, 1, True)]
    assert t.macs() == 20 + 15
    # loading via the manifest path works too
    assert load_trace(trace_dir / "manifest.json").name == "mlp"


def test_writer_refuses_existing_dir_and_overwrites_on_request(trace_dir, rng):
    t, d = small_arrays(rng)
    from amssim.errors import OutputPathError

    with pytest.raises(OutputPathError, match="exists"):
        write_trace(trace_dir, small_manifest(), t, d)
    write_trace(trace_dir, small_manifest(), t, d, overwrite=True)
    np.testing.assert_array_equal(load_trace(trace_dir).params(load_trace(trace_dir).ops[0])["weight"],
                                  np.float32(t["tensors/fc1.weight.npy"]))


def test_writer_rejects_nan_and_bad_keys(tmp_path, rng):
    t, d = small_arrays(rng)
    t["tensors/fc1.weight.npy"][0, 0] = np.nan
    with pytest.raises(TraceError, match="fc1.weight.*non-finite"):
        write_trace(tmp_path / "a", small_manifest(), t, d)
    t, d = small_arrays(rng)
    t["../evil.npy"] = np.zeros(1)
    with pytest.raises(TraceError, match="evil"):
        write_trace(tmp_path / "b", small_manifest(), t, d)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("edit, field", [
    (lambda m: m.update(version=2), "version"),
    (lambda m: m.update(format="other"), "format"),
    (lambda m: m.pop("ops"), "ops"),
    (lambda m: m.update(bogus=1), "bogus"),
    (lambda m: m["ops"][1].update(kind="frobnicate"), "ops[1] (act).kind"),
    (lambda m: m["ops"][0].update(kind=["linear"]), "ops[0] (fc1).kind"),  # unhashable (fuzz campaign)
    (lambda m: m["ops"][0].update(kind={"a": 1}), "ops[0] (fc1).kind"),
    (lambda m: m["ops"][0]["params"].update(weight="tensors/missing.npy"), "ops[0] (fc1).params.weight"),
    (lambda m: m["ops"][0].update(inputs=["a"]), "ops[0] (fc1).inputs"),  # not topological
    (lambda m: m["ops"][1].update(attrs={"alpha": 1}), "ops[1] (act).attrs.alpha"),
    (lambda m: m["files"]["tensors/fc2.weight.npy"].update(shape=[3, 4]), "shape"),
    (lambda m: m["inputs"][0].update(shape=[5]), "ops[0] (fc1)"),
    (lambda m: m.update(metric="top5"), "metric"),
    (lambda m: m["data"].update(num_samples=7), "data.inputs.x"),
    (lambda m: m["files"].update({"tensors/../../x.npy": {"shape": [1], "dtype": "float32"}}), "files"),
])
def test_bad_manifest_names_file_and_field(trace_dir, edit, field):
    _edit(trace_dir, edit)
    with pytest.raises(TraceError) as e:
        load_trace(trace_dir)
    assert "manifest.json" in str(e.value) or ".npy" in str(e.value)
    assert field in str(e.value)


def test_truncated_manifest(trace_dir):
    p = trace_dir / "manifest.json"
    p.write_text(p.read_text()[:50])
    with pytest.raises(TraceError, match=r"manifest\.json: invalid JSON"):
        load_trace(trace_dir)


def test_missing_dir_and_manifest(tmp_path):
    with pytest.raises(TraceError, match="not a trace directory"):
        load_trace(tmp_path / "nope")
    with pytest.raises(TraceError, match="manifest.json: cannot read"):
        load_trace(tmp_path)


def test_missing_tensor_file(trace_dir):
    os.remove(trace_dir / "tensors" / "fc2.weight.npy")
    with pytest.raises(TraceError, match=r"files\['tensors/fc2.weight.npy'\].*missing"):
        load_trace(trace_dir)


def test_nan_in_weights_file(trace_dir):
    p = trace_dir / "tensors" / "fc1.weight.npy"
    a = np.load(p)
    a[1, 2] = np.inf
    np.save(p, a)
    with pytest.raises(TraceError, match=r"fc1.weight.npy: values: non-finite value inf at flat index 6"):
        load_trace(trace_dir)


def test_wrong_shape_file(trace_dir):
    np.save(trace_dir / "tensors" / "fc1.bias.npy", np.zeros(4, np.float32))
    with pytest.raises(TraceError, match=r"fc1.bias.npy: shape: file holds shape \[4\]"):
        load_trace(trace_dir)


def test_wrong_dtype_file(trace_dir):
    np.save(trace_dir / "tensors" / "fc1.bias.npy", np.zeros(5, np.float64))
    with pytest.raises(TraceError, match=r"fc1.bias.npy: dtype: file holds float64"):
        load_trace(trace_dir)


def test_pickled_npy_is_refused(trace_dir):
    p = trace_dir / "tensors" / "fc1.bias.npy"
    np.save(p, np.array([{"a": 1}] * 5, dtype=object), allow_pickle=True)
    with pytest.raises(TraceError, match=r"fc1.bias.npy: contents: .*pickle"):
        load_trace(trace_dir)
    with open(p, "wb") as f:  # a raw pickle instead of an .npy
        pickle.dump(np.zeros(5, np.float32), f)
    with pytest.raises(TraceError, match=r"fc1.bias.npy: contents"):
        load_trace(trace_dir)


def test_truncated_npy(trace_dir):
    p = trace_dir / "tensors" / "fc1.weight.npy"
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(TraceError, match=r"fc1.weight.npy: contents"):
        load_trace(trace_dir)


def test_labels_out_of_range(trace_dir):
    np.save(trace_dir / "data" / "labels.npy", np.array([0, 1, 2, 0, 1, 3]))
    with pytest.raises(TraceError, match=r"data.labels: .*outside \[0, 3\)"):
        load_trace(trace_dir)


def test_batch_axis_misuse_is_rejected(rng):
    m = small_manifest()
    m["ops"].append({"name": "sm", "kind": "softmax", "inputs": ["y"], "outputs": ["z"], "attrs": {"axis": 0}})
    m["outputs"] = ["z"]
    t, d = small_arrays(rng)
    arrays = {k: np.asarray(v, np.float32 if "labels" not in k else np.int64) for k, v in {**t, **d}.items()}
    m["files"] = {p: {"shape": list(a.shape), "dtype": str(a.dtype)} for p, a in arrays.items()}
    m.update(format="amssim-trace", version=1)
    with pytest.raises(TraceError, match=r"ops\[3\] \(sm\).attrs.axis: axis 0 is the batch axis"):
        build_trace(m, arrays)


def _grouped_manifest(groups, wshape):
    return {"format": "amssim-trace", "version": 1, "name": "g", "kind": "shape", "metric": None,
            "inputs": [{"name": "x", "shape": [4, 8, 8], "dtype": "float32"}], "outputs": ["y"],
            "ops": [{"name": "c", "kind": "conv2d", "inputs": ["x"], "outputs": ["y"],
                     "params": {"weight": "tensors/w.npy"}, "attrs": {"groups": groups}}],
            "files": {"tensors/w.npy": {"shape": wshape, "dtype": "float32"}}}


def test_grouped_conv_gemm_shapes_and_mismatch():
    # 2 groups of (2 channels x 3x3) -> 3 outputs each: 2 GEMMs of K=18, N=3 on 36 positions
    t = build_trace(_grouped_manifest(2, [6, 2, 3, 3]), {})
    (g,) = t.gemm_ops()
    assert (g.m, g.k, g.n, g.count) == (36, 18, 3, 2)
    assert t.macs() == 36 * 18 * 6
    with pytest.raises(TraceError, match=r"ops\[0\] \(c\): conv2d: input channels 4 != weight channels 2 x groups 1"):
        build_trace(_grouped_manifest(1, [4, 2, 3, 3]), {})
    with pytest.raises(TraceError, match=r"groups=3 must divide"):
        build_trace(_grouped_manifest(3, [6, 2, 3, 3]), {})


def test_round_bf16_matches_ml_dtypes(rng):
    ml_dtypes = pytest.importorskip("ml_dtypes")
    x = np.concatenate([rng.standard_normal(10000).astype(np.float32) * 10.0 ** rng.integers(-30, 30, 10000),
                        np.array([0.0, -0.0, 1.0, 3.0e38, -3.0e38, 1e-40, np.float32(1 + 2**-8)], np.float32)])
    x = x.astype(np.float32)
    want = x.astype(ml_dtypes.bfloat16).astype(np.float32)
    np.testing.assert_array_equal(round_bf16(x), want)
