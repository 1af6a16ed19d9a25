"""from_scalesim: SCALE-Sim topology CSVs (conv and GEMM layouts) -> shape-only traces."""

import pytest

from amssim.errors import TraceError
from amssim.trace import evaluate, Float32Backend, from_scalesim, load_trace

CONV = """Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
Conv1, 230, 230, 7, 7, 3, 64, 2,

CB2a_1, 56, 56, 1, 1, 64, 64, 1,
FC1000, 1, 1, 1, 1, 2048, 1000, 1,

"""

GEMM = """Layer, M, N, K,
QKV, 384, 3072, 1024,
FF1, 384, 4096, 1024,
"""


def test_conv_layout(tmp_path):
    p = tmp_path / "resnet.csv"
    p.write_text(CONV)
    t = from_scalesim(p)
    assert t.kind == "shape" and t.path is None and t.name == "resnet"
    g = [(s.name, s.kind, s.m, s.k, s.n) for s in t.gemm_ops()]
    # Conv1: (230-7)//2+1 = 112 -> 112*112 rows, K = 7*7*3
    assert g == [("Conv1", "conv2d", 112 * 112, 147, 64), ("CB2a_1", "conv2d", 56 * 56, 64, 64),
                 ("FC1000", "conv2d", 1, 2048, 1000)]
    with pytest.raises(TraceError, match="shape-only"):
        evaluate(t, Float32Backend())


def test_gemm_layout_written_and_reloaded(tmp_path):
    p = tmp_path / "bert.csv"
    p.write_text(GEMM)
    from_scalesim(p, tmp_path / "bert")
    t = load_trace(tmp_path / "bert")
    assert [(s.m, s.k, s.n, s.count) for s in t.gemm_ops()] == [(384, 1024, 3072, 1), (384, 1024, 4096, 1)]
    assert t.macs() == 384 * 1024 * (3072 + 4096)


@pytest.mark.parametrize("text, msg", [
    ("Foo, Bar\n1, 2\n", "line 1: header"),
    ("Layer, M, N, K,\nA, 3, x, 4,\n", "line 2: column 'N': expected a positive integer, got 'x'"),
    ("Layer, M, N, K,\nA, 3, 4\n", "line 2: expected 4 columns"),
    ("Layer, M, N, K,\nA, 3, inf, 4,\n", "line 2: column 'N': expected a positive integer, got 'inf'"),
    ("Layer, M, N, K,\nA, 1e400, 2, 4,\n", "line 2: column 'M': expected a positive integer, got '1e400'"),
    ("Layer, M, N, K,\nA, 3, nan, 4,\n", "line 2: column 'N': expected a positive integer, got 'nan'"),
    ("Layer, M, N, K,\nA, 3, 4, 5\nA, 3, 4, 5\n", "line 3: duplicate layer name 'A'"),
    ("\n\n", "empty topology"),
    ("Layer, M, N, K,\n\n", "no layers"),
    ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides\n"
     "c, 3, 3, 5, 5, 1, 1, 1\n", "line 2: filter 5x5 larger than IFMAP 3x3"),
])
def test_bad_csv(tmp_path, text, msg):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(TraceError, match=msg.replace("(", r"\(").replace(")", r"\)")) as e:
        from_scalesim(p)
    assert "bad.csv" in str(e.value)


def test_missing_file(tmp_path):
    with pytest.raises(TraceError, match="cannot read"):
        from_scalesim(tmp_path / "nope.csv")
