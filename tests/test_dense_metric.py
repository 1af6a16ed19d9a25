"""Metric top1_dense (token classification / segmentation): hand-computed accuracies,
ignored labels, batch splits, limits, importers, and rejection of malformed labels."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from amssim.cli import main
from amssim.errors import TraceError
from amssim.trace import Float32Backend, build_trace, evaluate, from_torch, load_trace, write_trace

# logits for 4 samples x 3 positions, 3 classes: PRED[s, p] is the argmax (class axis 1)
PRED = np.array([[0, 1, 2],
                 [2, 2, 2],
                 [1, 0, 1],
                 [0, 0, 0]])
LABELS = np.array([[0, 1, 1],          # 2 of 3 right
                   [2, -100, -100],    # 1 of 1 (two ignored)
                   [0, -1, 1],         # 1 of 2 (one ignored, any negative label is ignored)
                   [-100, -100, 0]])   # 1 of 1
# pooled over the set: (2 + 1 + 1 + 1) / (3 + 1 + 2 + 1) = 5/7; the mean of per-sample
# accuracies would be (2/3 + 1 + 1/2 + 1) / 4 = 19/24, so this tells the two apart
WANT = 5 / 7


def _logits(pred, c=3):
    """(N, C, ...) logits whose argmax over axis 1 is ``pred``, distinct values per class."""
    rng = np.random.default_rng(3)
    y = rng.uniform(-1, 0, (pred.shape[0], c) + pred.shape[1:]).astype(np.float32)
    np.put_along_axis(y, pred[:, None], 2.0, axis=1)
    return y


def _manifest(x, labels, metric="top1_dense"):
    """outputs[0] = x * 1 (exact in float32): the logits are the data."""
    arrays = {"data/x.npy": x, "data/y.npy": np.asarray(labels, np.int64)}
    m = {"format": "amssim-trace", "version": 1, "name": "dense", "kind": "graph", "metric": metric,
         "inputs": [{"name": "x", "shape": list(x.shape[1:]), "dtype": "float32"}], "outputs": ["y"],
         "ops": [{"name": "id", "kind": "mul", "inputs": ["x"], "outputs": ["y"], "attrs": {"scalar": 1.0}}],
         "files": {p: {"shape": list(a.shape), "dtype": str(a.dtype)} for p, a in arrays.items()},
         "data": {"num_samples": x.shape[0], "inputs": {"x": "data/x.npy"}, "labels": "data/y.npy"}}
    return m, arrays


def test_dense_accuracy_hand_computed_with_ignored_labels_and_batch_splits():
    t = build_trace(*_manifest(_logits(PRED), LABELS))
    assert t.metric == "top1_dense"
    for bs in (1, 2, 3, 4, 64):
        r = evaluate(t, Float32Backend(), batch_size=bs)
        assert r.metric == "top1_dense"
        assert r.accuracy == pytest.approx(WANT, abs=0), f"batch_size {bs}"
    # limit: the first two samples only -> (2 + 1) / (3 + 1)
    assert evaluate(t, Float32Backend(), batch_size=1, limit=2).accuracy == 3 / 4
    # the third sample alone is 1 of 2 ignoring its -1 label: limit 3 -> 4 / 6
    assert evaluate(t, Float32Backend(), batch_size=2, limit=3).accuracy == 4 / 6


def test_dense_accuracy_2d_segmentation_maps():
    pred = np.array([[[0, 1], [1, 1]],
                     [[3, 3], [0, 2]]])
    lab = np.array([[[0, 1], [0, -100]],   # 2 of 3
                    [[3, 2], [0, 2]]])     # 3 of 4
    t = build_trace(*_manifest(_logits(pred, c=4), lab))
    for bs in (1, 2):
        assert evaluate(t, Float32Backend(), batch_size=bs).accuracy == 5 / 7


def test_top1_dense_on_class_only_outputs_ignores_negative_labels():
    """(N, C) outputs with (N,) labels: top1 with ignored samples."""
    pred = np.array([0, 2, 1, 1])
    t = build_trace(*_manifest(_logits(pred), np.array([0, -100, 2, 1])))
    assert evaluate(t, Float32Backend(), batch_size=3).accuracy == 2 / 3
    # the same data scored by plain top1 (labels must be in range there): unchanged behaviour
    t1 = build_trace(*_manifest(_logits(pred), np.array([0, 0, 2, 1]), metric="top1"))
    assert evaluate(t1, Float32Backend(), batch_size=3).accuracy == 2 / 4


def test_all_ignored_labels_in_the_evaluated_samples_are_an_error():
    t = build_trace(*_manifest(_logits(PRED), LABELS))
    lab = LABELS.copy()
    lab[:2] = -100
    t = build_trace(*_manifest(_logits(PRED), lab))
    with pytest.raises(TraceError, match="no labelled position"):
        evaluate(t, Float32Backend(), limit=2)


@pytest.mark.parametrize("labels, needle", [
    (np.array([0, 1, 2, 0]), r"data\.labels: data/y\.npy must be integer with shape \[4, 3\]"),
    (np.zeros((4, 2), np.int64), r"data\.labels: .*shape \[4, 3\]"),
    (np.zeros((4, 3, 1), np.int64), r"data\.labels: .*shape \[4, 3\]"),
    (np.zeros((4, 3), np.float32), r"data\.labels: .*must be integer"),
    (np.full((4, 3), 3), r"data\.labels: .*labels >= 3 classes"),
    (np.full((4, 3), -100), r"data\.labels: .*no labelled position"),
])
def test_malformed_dense_labels_are_rejected(labels, needle):
    m, arrays = _manifest(_logits(PRED), LABELS)
    arrays["data/y.npy"] = labels
    m["files"]["data/y.npy"] = {"shape": list(labels.shape), "dtype": str(labels.dtype)}
    with pytest.raises(TraceError, match=needle):
        build_trace(m, arrays)


def test_dense_metric_needs_a_class_axis():
    m, arrays = _manifest(_logits(PRED), LABELS)
    m["ops"].append({"name": "s", "kind": "sum", "inputs": ["y"], "outputs": ["z"], "attrs": {"axes": [1, 2]}})
    m["outputs"] = ["z"]
    with pytest.raises(TraceError, match=r"outputs\[0\]: metric top1_dense needs \(batch, classes, \.\.\.\)"):
        build_trace(m, arrays)


def test_top1_still_needs_one_label_per_sample():
    m, arrays = _manifest(_logits(PRED), LABELS, metric="top1")
    with pytest.raises(TraceError, match=r"outputs\[0\]: metric top1 needs \(batch, classes\)"):
        build_trace(m, arrays)


def test_simulate_reports_dense_metric_and_exits_2_on_wrong_label_shape(tmp_path, capsys):
    m, arrays = _manifest(_logits(PRED), LABELS)
    d = tmp_path / "dense"
    write_trace(d, {k: v for k, v in m.items() if k != "files"}, {}, arrays)
    assert load_trace(d).metric == "top1_dense"
    capsys.readouterr()
    assert main(["simulate", str(d), "--no-progress", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["metric"] == "top1_dense" and doc["accuracy"] == doc["fp32_accuracy"] == WANT
    np.save(d / "data" / "y.npy", np.zeros(4, np.int64), allow_pickle=False)
    mpath = d / "manifest.json"
    doc = json.loads(mpath.read_text())
    doc["files"]["data/y.npy"]["shape"] = [4]
    mpath.write_text(json.dumps(doc))
    with pytest.raises(TraceError, match="data.labels"):
        load_trace(d)
    capsys.readouterr()
    assert main(["simulate", str(d), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "data.labels" in err and os.path.join(str(d), "manifest.json") in err


class TokenTagger(torch.nn.Module):
    """Embedding -> linear over (N, L, C), returned as (N, C, L) (class axis 1)."""

    def __init__(self, vocab=11, dim=8, classes=5):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.emb = torch.nn.Embedding(vocab, dim)
        self.fc = torch.nn.Linear(dim, classes)
        with torch.no_grad():
            self.emb.weight.copy_(torch.randn(vocab, dim, generator=g))
            self.fc.weight.copy_(torch.randn(classes, dim, generator=g))

    def forward(self, ids):
        return self.fc(self.emb(ids)).transpose(1, 2)


def test_from_torch_token_classification_records_dense_metrics(tmp_path):
    rng = np.random.default_rng(5)
    ids = rng.integers(0, 11, (6, 7))
    model = TokenTagger().eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(ids)).numpy()
    pred = logits.argmax(1)
    labels = np.where(rng.random((6, 7)) < 0.5, pred, rng.integers(0, 5, (6, 7)))
    labels[:, -2:] = -100  # padding positions
    keep = labels >= 0
    want = np.sum((pred == labels) & keep) / np.sum(keep)
    assert 0 < want < 1
    t = from_torch(model, torch.from_numpy(ids[:2]), ids, labels, tmp_path / "tagger", name="tagger",
                   metric="top1_dense", task="token-classification")
    assert t.metric == "top1_dense"
    assert t.fp32_metric == pytest.approx(want, abs=0)
    assert t.manifest["source"]["torch_metric"] == pytest.approx(want, abs=0)
    assert evaluate(t, Float32Backend(), batch_size=4).accuracy == t.fp32_metric
    with pytest.raises(TraceError, match=r"labels for metric 'top1_dense' must be integers of shape \(6, \.\.\.\)"):
        from_torch(model, torch.from_numpy(ids[:2]), ids, labels[:5], tmp_path / "bad", name="t",
                   metric="top1_dense")
    with pytest.raises(TraceError, match=r"data\.labels: .*shape \[6, 7\]"):
        from_torch(model, torch.from_numpy(ids[:2]), ids, labels[:, :6], tmp_path / "bad2", name="t",
                   metric="top1_dense")
    assert not (tmp_path / "bad2").exists()


def test_export_trace_cli_metric_top1_dense(tmp_path):
    """`amssim export-trace model.pt2 --metric top1_dense`: dense labels through the CLI."""
    rng = np.random.default_rng(6)
    ids = rng.integers(0, 11, (6, 7))
    model = TokenTagger().eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(ids)).numpy().argmax(1)
    labels = np.where(rng.random((6, 7)) < 0.5, pred, rng.integers(0, 5, (6, 7)))
    labels[:, -1] = -100
    keep = labels >= 0
    want = np.sum((pred == labels) & keep) / np.sum(keep)
    ep = torch.export.export(model, (torch.from_numpy(ids[:2]),),
                             dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(ep, str(tmp_path / "tagger.pt2"))
    np.savez(tmp_path / "eval.npz", x=ids, labels=labels)
    rc = main(["export-trace", str(tmp_path / "tagger.pt2"), "--data", str(tmp_path / "eval.npz"),
               "--metric", "top1_dense", "--out", str(tmp_path / "t")])
    assert rc == 0
    t = load_trace(tmp_path / "t")
    assert t.metric == "top1_dense" and t.fp32_metric == pytest.approx(want, abs=0)
    # the default metric refuses (N, L) labels with a message naming the labels
    rc = main(["export-trace", str(tmp_path / "tagger.pt2"), "--data", str(tmp_path / "eval.npz"),
               "--out", str(tmp_path / "t2")])
    assert rc == 2 and not (tmp_path / "t2").exists()
