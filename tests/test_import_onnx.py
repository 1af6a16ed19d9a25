"""from_onnx: ONNX exports of the test models import to traces matching PyTorch and onnxruntime."""

import warnings

import numpy as np
import pytest
import torch

from amssim.errors import TraceError
from amssim.trace import Float32Backend, evaluate, from_onnx

from test_import_torch import ResCNN, TinyTransformer

ort = pytest.importorskip("onnxruntime")


def _export(model, example, path, dynamic):
    kw = dict(input_names=["x"], output_names=["y"], opset_version=17, dynamo=False)
    if dynamic:
        kw["dynamic_axes"] = {"x": {0: "batch"}, "y": {0: "batch"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), **kw)


def _run(trace):
    return evaluate(trace, Float32Backend(), batch_size=7, keep_outputs=True).outputs


@pytest.mark.parametrize("dynamic", [True, False])
def test_cnn_onnx(tmp_path, dynamic):
    torch.manual_seed(0)
    m = ResCNN().eval()
    with torch.no_grad():
        m.bn.running_var.uniform_(0.5, 2.0)
    x = np.random.default_rng(0).standard_normal((15, 1, 12, 12)).astype(np.float32)
    _export(m, torch.as_tensor(x[:1]), tmp_path / "m.onnx", dynamic)
    labels = np.arange(15) % 10
    t = from_onnx(tmp_path / "m.onnx", x, labels, tmp_path / "t", name="cnn", reference=dynamic)
    assert [o.kind for o in t.ops].count("conv2d") == 3
    y = _run(t)
    with torch.no_grad():
        want = m(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-5)
    assert np.array_equal(y.argmax(1), want.argmax(1))
    if dynamic:
        sess = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
        np.testing.assert_allclose(y, sess.run(None, {"x": x})[0], rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(t.reference(t.outputs[0]), sess.run(None, {"x": x})[0])


def test_transformer_onnx(tmp_path):
    torch.manual_seed(2)
    m = TinyTransformer().eval()
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 30, (12, 7))
    for i in range(12):
        ids[i, rng.integers(2, 8):] = 0
    _export(m, torch.as_tensor(ids[:2]), tmp_path / "tr.onnx", True)
    t = from_onnx(tmp_path / "tr.onnx", ids, None, tmp_path / "t", name="tr", metric=None)
    kinds = [o.kind for o in t.ops]
    assert "embedding" in kinds and kinds.count("matmul") >= 4
    y = _run(t)
    with torch.no_grad():
        want = m(torch.as_tensor(ids)).numpy()
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-5)


def test_unsupported_onnx_op(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Relu", ["x"], ["h"], name="r"),
                           helper.make_node("Hardmax", ["h"], ["y"], name="hm")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])])
    onnx.save(helper.make_model(g), str(tmp_path / "c.onnx"))
    with pytest.raises(TraceError, match=r"node 'hm' \(Hardmax\): unsupported ONNX operator 'Hardmax'"):
        from_onnx(tmp_path / "c.onnx", np.zeros((2, 4), np.float32), None, tmp_path / "t", metric=None)
    (tmp_path / "bad.onnx").write_bytes(b"not a model")
    with pytest.raises(TraceError, match="bad.onnx"):
        from_onnx(tmp_path / "bad.onnx", np.zeros((2, 4), np.float32), None, tmp_path / "t2", metric=None)
