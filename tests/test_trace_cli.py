"""amssim export-trace: CSV, ONNX and .pt2 sources; bad input exits 2."""

import warnings

import numpy as np
import torch
import torch.nn as nn

from amssim.cli import main
from amssim.trace import load_trace


def test_export_csv(tmp_path):
    p = tmp_path / "bert.csv"
    p.write_text("Layer, M, N, K,\nQKV, 384, 3072, 1024,\n\n")
    assert main(["export-trace", str(p), "--out", str(tmp_path / "t")]) == 0
    t = load_trace(tmp_path / "t")
    assert t.kind == "shape" and t.macs() == 384 * 3072 * 1024


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 25, 3)).eval()


def test_export_onnx_and_pt2(tmp_path):
    m = _model()
    x = np.random.default_rng(0).standard_normal((10, 1, 5, 5)).astype(np.float32)
    y = np.arange(10) % 3
    np.savez(tmp_path / "d.npz", x=x, labels=y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(m, (torch.as_tensor(x[:1]),), str(tmp_path / "m.onnx"), dynamo=False,
                          input_names=["x"], output_names=["y"], dynamic_axes={"x": {0: "b"}, "y": {0: "b"}})
    assert main(["export-trace", str(tmp_path / "m.onnx"), "--data", str(tmp_path / "d.npz"),
                 "--out", str(tmp_path / "o"), "--limit", "8"]) == 0
    t = load_trace(tmp_path / "o")
    assert t.num_samples == 8 and t.metric == "top1"
    want = float(np.mean(m(torch.as_tensor(x[:8])).detach().numpy().argmax(1) == y[:8]))
    assert t.fp32_metric == want
    ep = torch.export.export(m, (torch.as_tensor(x[:2]),), dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(ep, str(tmp_path / "m.pt2"))
    assert main(["export-trace", str(tmp_path / "m.pt2"), "--data", str(tmp_path / "d.npz"),
                 "--out", str(tmp_path / "p"), "--name", "small"]) == 0
    t = load_trace(tmp_path / "p")
    assert t.name == "small" and t.num_samples == 10
    assert t.fp32_metric == float(np.mean(m(torch.as_tensor(x)).detach().numpy().argmax(1) == y))


def test_bad_inputs_exit_2(tmp_path, capsys):
    assert main(["export-trace", str(tmp_path / "none.onnx"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "m.txt").write_text("x")
    assert main(["export-trace", str(tmp_path / "m.txt"), "--out", str(tmp_path / "o")]) == 2
    (tmp_path / "m.onnx").write_text("x")
    assert main(["export-trace", str(tmp_path / "m.onnx"), "--out", str(tmp_path / "o")]) == 2
    np.savez(tmp_path / "d.npz", z=np.zeros(3))
    assert main(["export-trace", str(tmp_path / "m.onnx"), "--data", str(tmp_path / "d.npz"),
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "no array 'x'" in err and "unknown source type" in err
