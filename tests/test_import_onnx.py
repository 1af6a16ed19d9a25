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


# ---------------------------------------------------------------- single operators vs onnxruntime
# Small graphs built with onnx.helper (dynamic batch "N"); onnxruntime is the oracle.

def _graph_model(nodes, x_shape, inits=(), opset=18, x_type=None, out_rank=None):
    from onnx import TensorProto, helper, numpy_helper

    xt = TensorProto.FLOAT if x_type is None else x_type
    out = None if out_rank is None else ["N"] + [f"d{i}" for i in range(1, out_rank)]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", xt, ["N", *x_shape])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out)],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])


def _against_ort(tmp_path, model, x, rtol=1e-5, atol=1e-5):
    import onnx

    p = tmp_path / "op.onnx"
    onnx.save(model, str(p))
    want = ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]
    t = from_onnx(p, x, None, tmp_path / "t", metric=None, overwrite=True)
    y = _run(t)
    assert y.shape == want.shape
    np.testing.assert_allclose(y, want, rtol=rtol, atol=atol)
    return t


def _n(op, ins, outs, **kw):
    from onnx import helper

    return helper.make_node(op, ins, outs, name=f"{op}_{outs[0]}", **kw)


F32 = np.float32
I64 = np.int64
_R = np.random.default_rng(7)
IMG = _R.standard_normal((3, 4, 6, 6)).astype(F32)


def _cases():
    """name -> (nodes, per-sample input shape, initializers, input, expected kinds)."""
    w_dw = _R.standard_normal((4, 1, 3, 3)).astype(F32)
    w_g = _R.standard_normal((6, 2, 3, 3)).astype(F32)
    w_t = _R.standard_normal((4, 3, 3, 3)).astype(F32)  # ConvTranspose (C_in, C_out/g, k, k), group 2
    return {
        "pad-constant": ([_n("Pad", ["x", "p", "v"], ["y"], mode="constant")], (4, 6, 6),
                         [("p", np.array([0, 0, 1, 2, 0, 0, 2, 1], I64)), ("v", np.array(1.5, F32))], IMG, {"pad"}),
        "pad-reflect": ([_n("Pad", ["x", "p"], ["y"], mode="reflect")], (4, 6, 6),
                        [("p", np.array([0, 0, 2, 1, 0, 0, 1, 2], I64))], IMG, {"pad"}),
        "pad-edge": ([_n("Pad", ["x", "p"], ["y"], mode="edge")], (4, 6, 6),
                     [("p", np.array([0, 0, 1, 1, 0, 0, 3, 0], I64))], IMG, {"pad"}),
        "depthwise-conv": ([_n("Conv", ["x", "w"], ["y"], group=4, pads=[1, 1, 1, 1], strides=[2, 2])], (4, 6, 6),
                           [("w", w_dw)], IMG, {"conv2d"}),
        "grouped-conv": ([_n("Conv", ["x", "w"], ["y"], group=2, dilations=[2, 1], pads=[2, 1, 2, 1])], (4, 6, 6),
                         [("w", w_g)], IMG, {"conv2d"}),
        "conv-transpose": ([_n("ConvTranspose", ["x", "w", "b"], ["y"], group=2, strides=[2, 2], pads=[1, 1, 1, 1],
                               output_padding=[1, 1])], (4, 6, 6),
                           [("w", w_t), ("b", np.arange(6, dtype=F32))], IMG, {"conv2d"}),
        "conv-transpose-output-shape": ([_n("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], output_shape=[13, 12])],
                                        (4, 6, 6), [("w", w_t.reshape(2, 6, 3, 3)[:, :3].repeat(2, 0))], IMG,
                                        {"conv2d"}),
        "conv-transpose-same-lower": ([_n("ConvTranspose", ["x", "w"], ["y"], strides=[2, 2], auto_pad="SAME_LOWER")],
                                      (4, 6, 6), [("w", w_t)], IMG, {"conv2d"}),
        "same-padding": ([_n("Conv", ["x", "w"], ["c"], group=4, strides=[2, 2], auto_pad="SAME_UPPER"),
                          _n("MaxPool", ["c"], ["m"], kernel_shape=[2, 2], auto_pad="SAME_LOWER"),
                          _n("AveragePool", ["m"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])], (4, 6, 6),
                         [("w", w_dw)], IMG, {"conv2d", "pool"}),
        "rank-raising-scalar": ([_n("Add", ["x", "c5"], ["a"]), _n("Squeeze", ["a", "z"], ["y"])], (4, 6, 6),
                                [("c5", np.full((1, 1, 1, 1, 1), 0.5, F32)), ("z", np.array([0], I64))], IMG, {"add"}),
        "prelu-pixel-shuffle": ([_n("PRelu", ["x", "sl"], ["p"]), _n("DepthToSpace", ["p"], ["d"], blocksize=2),
                                 _n("DepthToSpace", ["p"], ["c"], blocksize=2, mode="CRD"),
                                 _n("Add", ["d", "c"], ["a"]), _n("SpaceToDepth", ["a"], ["y"], blocksize=3)],
                                (4, 6, 6), [("sl", _R.uniform(0, 0.5, (4, 1, 1)).astype(F32))], IMG,
                                {"where", "transpose"}),
        "resize-nearest": ([_n("Resize", ["x", "", "s"], ["y"], mode="nearest",
                               coordinate_transformation_mode="asymmetric", nearest_mode="floor")], (4, 6, 6),
                           [("s", np.array([1, 1, 2, 2], F32))], IMG, {"resize"}),
        "resize-bilinear": ([_n("Resize", ["x", "", "", "sz"], ["y"], mode="linear",
                                coordinate_transformation_mode="half_pixel")], (4, 6, 6),
                            [("sz", np.array([3, 4, 12, 9], I64))], IMG, {"resize"}),
        "resize-align-corners": ([_n("Resize", ["x", "", "s"], ["y"], mode="linear",
                                     coordinate_transformation_mode="align_corners")], (4, 6, 6),
                                 [("s", np.array([1, 1, 2, 0.5], F32))], IMG, {"resize"}),
        "maxpool-unpool": ([_n("MaxPool", ["x"], ["p", "i"], kernel_shape=[2, 2], strides=[2, 2]),
                            _n("Relu", ["p"], ["r"]),
                            _n("MaxUnpool", ["r", "i"], ["y"], kernel_shape=[2, 2], strides=[2, 2])], (4, 6, 6),
                           [], IMG, {"max_pool_indices", "max_unpool"}),
        "where-compare": ([_n("Greater", ["x", "c"], ["g"]), _n("LessOrEqual", ["h", "x"], ["l"]),
                           _n("Or", ["g", "l"], ["o"]), _n("Not", ["o"], ["no"]), _n("Neg", ["x"], ["nx"]),
                           _n("Where", ["no", "x", "nx"], ["y"])], (4, 6, 6),
                          [("c", np.array(0.3, F32)), ("h", np.full((6, 6), 1.2, F32))], IMG, {"where"}),
        "casts": ([_n("Mul", ["x", "k"], ["m"]), _n("Cast", ["m"], ["i"], to=7), _n("Cast", ["i"], ["f"], to=1),
                   _n("Cast", ["x"], ["b"], to=9), _n("Cast", ["b"], ["bf"], to=1), _n("Add", ["f", "bf"], ["y"])],
                  (4, 6, 6), [("k", np.array(3.0, F32))], IMG, {"cast"}),
        "instance-norm": ([_n("InstanceNormalization", ["x", "s", "b"], ["y"], epsilon=1e-3)], (4, 6, 6),
                          [("s", _R.standard_normal(4).astype(F32)), ("b", _R.standard_normal(4).astype(F32))],
                          IMG, {"groupnorm"}),
        "reductions": ([_n("ReduceMax", ["x", "a"], ["mx"], keepdims=0), _n("ReduceMin", ["x", "a"], ["mn"], keepdims=0),
                        _n("ReduceL2", ["x", "a"], ["l2"], keepdims=0), _n("ArgMax", ["x"], ["am"], axis=2, keepdims=0),
                        _n("Cast", ["am"], ["amf"], to=1), _n("Sum", ["mx", "mn", "l2", "amf"], ["y"])], (4, 6, 6),
                       [("a", np.array([2], I64))], IMG, {"max", "min", "argmax"}),
        "cumsum-trilu": ([_n("CumSum", ["x", "ax"], ["c"]), _n("Trilu", ["c"], ["y"], upper=0)], (4, 6, 6),
                         [("ax", np.array(3, I64))], IMG, {"cumsum"}),
        "activations": ([_n("Clip", ["x", "lo", "hi"], ["a"]), _n("HardSigmoid", ["x"], ["b"], alpha=1 / 6),
                         _n("HardSwish", ["x"], ["c"]), _n("Softplus", ["x"], ["d"]),
                         _n("LeakyRelu", ["x"], ["e"], alpha=0.2), _n("Elu", ["x"], ["f"]),
                         _n("Sin", ["x"], ["g"]), _n("Cos", ["x"], ["h"]), _n("Abs", ["x"], ["ab"]),
                         _n("Add", ["ab", "one"], ["ab1"]), _n("Log", ["ab1"], ["i"]), _n("Sqrt", ["ab1"], ["j"]),
                         _n("Reciprocal", ["ab1"], ["k"]), _n("Pow", ["x", "two"], ["l"]),
                         _n("Pow", ["two", "x"], ["m"]), _n("Sub", ["one", "x"], ["n"]), _n("Div", ["one", "ab1"], ["o"]),
                         _n("Exp", ["x"], ["p"]), _n("HardSigmoid", ["x"], ["q"]),  # ONNX default alpha 0.2
                         _n("Sum", list("abcdefghijklmnopq"), ["y"])], (4, 6, 6),
                        [("lo", np.array(0, F32)), ("hi", np.array(6, F32)), ("one", np.array(1, F32)),
                         ("two", np.array(2, F32))], IMG * 3, {"clamp", "hardsigmoid", "hardswish", "softplus"}),
        "gather-slice-tile": ([_n("Gather", ["x", "gi"], ["g"], axis=3), _n("Slice", ["g", "st", "en", "ax", "sp"], ["s"]),
                               _n("Tile", ["s", "rep"], ["y"])], (4, 6, 6),
                              [("gi", np.array([[5, -1], [0, 2]], I64)), ("st", np.array([-1], I64)),
                               ("en", np.array([-100], I64)), ("ax", np.array([2], I64)), ("sp", np.array([-2], I64)),
                               ("rep", np.array([1, 2, 1, 1, 1], I64))], IMG, {"take", "concat"}),
        "gather-elements": ([_n("ArgMax", ["x"], ["am"], axis=1, keepdims=1),
                             _n("GatherElements", ["x", "am"], ["y"], axis=1)], (4, 6, 6), [], IMG, {"gather"}),
        "expand-to-batch": ([_n("Shape", ["x"], ["sh"]), _n("Slice", ["sh", "z", "o"], ["b"]),
                             _n("Concat", ["b", "rest"], ["tgt"], axis=0), _n("Expand", ["c", "tgt"], ["e"]),
                             _n("Add", ["x", "e"], ["y"])], (4, 6, 6),
                            [("z", np.array([0], I64)), ("o", np.array([1], I64)), ("rest", np.array([4, 6, 6], I64)),
                             ("c", _R.standard_normal((1, 4, 1, 6)).astype(F32))], IMG, {"constant"}),
    }


@pytest.mark.parametrize("case", sorted(_cases()))
def test_single_operator_matches_onnxruntime(tmp_path, case):
    nodes, shape, inits, x, kinds = _cases()[case]
    t = _against_ort(tmp_path, _graph_model(nodes, shape, inits), x)
    got = {o.kind for o in t.ops}
    assert kinds <= got, (kinds, got)


def test_if_with_constant_condition_is_inlined(tmp_path):
    """TorchScript exports keep shape checks as If nodes: a condition known at import selects
    its branch (which reads outer-scope values); a data-dependent condition is refused."""
    from onnx import TensorProto, helper

    def branch(op, name):
        return helper.make_graph([_n(op, ["h"], [name])], f"g_{name}", [],
                                 [helper.make_tensor_value_info(name, TensorProto.FLOAT, None)])

    def model(cond_nodes):
        return _graph_model([_n("Relu", ["x"], ["r"]), _n("Sub", ["x", "r"], ["h"]), *cond_nodes,
                             _n("If", ["c"], ["y"], then_branch=branch("Neg", "tn"), else_branch=branch("Sin", "es"))],
                            (4, 6, 6), [("k", np.array(4, I64))])

    from onnx import numpy_helper
    shape_cond = [_n("Shape", ["x"], ["s"]), _n("Gather", ["s", "one"], ["d"], axis=0), _n("Equal", ["d", "k"], ["c"])]
    m = model(shape_cond)
    m.graph.initializer.append(numpy_helper.from_array(np.array(1, I64), "one"))
    t = _against_ort(tmp_path, m, IMG)
    assert [o.kind for o in t.ops][-1] == "neg"
    m = model([_n("ReduceMax", ["x", "ax"], ["mx"], keepdims=0), _n("Greater", ["mx", "z"], ["c"])])
    m.graph.initializer.extend([numpy_helper.from_array(np.array(0.0, F32), "z"),
                                numpy_helper.from_array(np.array([1, 2, 3], I64), "ax")])
    import onnx

    onnx.save(m, str(tmp_path / "dd.onnx"))
    with pytest.raises(TraceError, match=r"\(If\): unsupported ONNX operator 'If'"):
        from_onnx(tmp_path / "dd.onnx", IMG, None, tmp_path / "t2", metric=None)


def test_batch_dependent_values_refused(tmp_path):
    """A value that depends on the batch size other than by broadcasting (here the sample
    index) cannot be a trace constant: refused naming the node."""
    nodes = [_n("Shape", ["x"], ["sh"]), _n("Gather", ["sh", "z"], ["b"], axis=0),
             _n("Range", ["z", "b", "one"], ["r"]), _n("Cast", ["r"], ["rf"], to=1),
             _n("Unsqueeze", ["rf", "ax"], ["ru"]), _n("Add", ["x", "ru"], ["y"])]
    m = _graph_model(nodes, (4,), [("z", np.array(0, I64)), ("one", np.array(1, I64)), ("ax", np.array([1], I64))])
    import onnx

    onnx.save(m, str(tmp_path / "r.onnx"))
    with pytest.raises(TraceError, match=r"node 'Add_y' \(Add\): value 'ru' depends on the batch size"):
        from_onnx(tmp_path / "r.onnx", np.zeros((3, 4), F32), None, tmp_path / "t", metric=None)


def test_export_trace_cli_onnx(tmp_path, capsys):
    """`amssim export-trace` on .onnx: a translated model writes a trace; an unsupported
    operator exits 2 with one line naming the operator and the node."""
    import onnx

    from amssim.cli import main

    nodes, shape, inits, x, _ = _cases()["maxpool-unpool"]
    onnx.save(_graph_model(nodes, shape, inits, out_rank=4), str(tmp_path / "u.onnx"))
    np.savez(tmp_path / "d.npz", x=x)
    assert main(["export-trace", str(tmp_path / "u.onnx"), "--data", str(tmp_path / "d.npz"),
                 "--out", str(tmp_path / "t")]) == 0
    assert "wrote" in capsys.readouterr().out
    bad = _graph_model([_n("Relu", ["x"], ["h"]), _n("Hardmax", ["h"], ["y"])], shape, out_rank=4)
    onnx.save(bad, str(tmp_path / "bad.onnx"))
    assert main(["export-trace", str(tmp_path / "bad.onnx"), "--data", str(tmp_path / "d.npz"),
                 "--out", str(tmp_path / "t2")]) == 2
    err = capsys.readouterr().err
    assert "node 'Hardmax_y' (Hardmax): unsupported ONNX operator 'Hardmax'" in err
    assert not (tmp_path / "t2").exists()
