"""ONNX models the checker accepts but whose shapes do not fit together: every one must be a
TraceError naming the file and the node (exit 2), never a bare ValueError/TypeError (exit 1)."""

from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from amssim.errors import TraceError  # noqa: E402
from amssim.trace.import_onnx import from_onnx  # noqa: E402


def _model(nodes, inits, in_shape, out_shape):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])


N = helper.make_node
F = np.float32
CASES = {  # name: (nodes, initialisers, input shape, node named in the message)
    "matmul": ([N("MatMul", ["x", "w"], ["y"])], {"w": np.ones((5, 3), F)}, ["N", 4], "'y' (MatMul)"),
    "gemm": ([N("Gemm", ["x", "w", "b"], ["y"], transB=1)], {"w": np.ones((3, 5), F), "b": np.ones(7, F)},
             ["N", 4], "'y' (Gemm)"),
    "add": ([N("Add", ["x", "c"], ["y"])], {"c": np.ones(3, F)}, ["N", 4], "'y' (Add)"),
    "reshape": ([N("Reshape", ["x", "s"], ["y"])], {"s": np.array([-1, 3], np.int64)}, ["N", 4], "'y' (Reshape)"),
    "conv": ([N("Conv", ["x", "w"], ["y"])], {"w": np.ones((2, 5, 3, 3), F)}, ["N", 4, 8, 8], "'y' (Conv)"),
    "concat": ([N("Concat", ["x", "c"], ["y"], axis=1)], {"c": np.ones((1, 3, 2), F)}, ["N", 4], "'y' (Concat)"),
    "fold_add": ([N("Add", ["a", "b"], ["c"]), N("Add", ["x", "c"], ["y"])],
                 {"a": np.ones(3, F), "b": np.ones(2, F)}, ["N", 4], "'c' (Add)"),
    "fold_reshape": ([N("Reshape", ["a", "s"], ["c"]), N("Add", ["x", "c"], ["y"])],
                     {"a": np.ones(3, F), "s": np.array([2, 2], np.int64)}, ["N", 4], "'c' (Reshape)"),
    "fold_gather": ([N("Shape", ["x"], ["s"]), N("Gather", ["s", "i"], ["g"]), N("Reshape", ["x", "g"], ["y"])],
                    {"i": np.array([5], np.int64)}, ["N", 4], "'g' (Gather)"),
    "fold_matmul": ([N("MatMul", ["a", "b"], ["c"]), N("Add", ["x", "c"], ["y"])],
                    {"a": np.ones((3, 2), F), "b": np.ones((3, 4), F)}, ["N", 4], "'c' (MatMul)"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_inconsistent_model_is_a_trace_error(tmp_path, name):
    nodes, inits, shape, node = CASES[name]
    m = _model(nodes, inits, shape, shape)
    onnx.checker.check_model(m)  # the checker does not see the problem
    p = tmp_path / "m.onnx"
    onnx.save(m, str(p))
    x = np.ones([2] + shape[1:], F)
    with pytest.raises(TraceError) as e:
        from_onnx(str(p), {"x": x}, np.zeros(2, np.int64), str(tmp_path / "t"))
    assert "m.onnx" in str(e.value) and node in str(e.value), str(e.value)
    assert not (tmp_path / "t").exists()  # nothing half-written


@pytest.mark.parametrize("where", ["initializer", "constant"])
def test_tensor_whose_data_disagrees_with_its_dims_is_a_trace_error(tmp_path, where):
    # raw data of 3 floats declared as shape (2,): onnx's to_array raises a bare ValueError
    bad = numpy_helper.from_array(np.ones(3, F), "b")
    del bad.dims[:]
    bad.dims.append(2)
    w = numpy_helper.from_array(np.ones((2, 4), F), "w")
    if where == "initializer":
        nodes, inits = [N("Gemm", ["x", "w", "b"], ["y"], transB=1)], [w, bad]
    else:
        nodes = [N("Constant", [], ["b"], value=bad), N("Gemm", ["x", "w", "b"], ["y"], transB=1)]
        inits = [w]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2])], inits)
    p = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), str(p))
    with pytest.raises(TraceError, match="m.onnx") as e:
        from_onnx(str(p), {"x": np.ones((2, 4), F)}, np.zeros(2, np.int64), str(tmp_path / "t"))
    assert "'b'" in str(e.value) and "malformed" in str(e.value), str(e.value)
    assert not (tmp_path / "t").exists()
