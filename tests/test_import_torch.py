"""from_torch: float32 execution of the imported trace matches PyTorch."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from amssim.errors import TraceError
from amssim.trace import Float32Backend, evaluate, from_torch, load_trace


class ResCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.c0 = nn.Conv2d(1, 8, 3, padding=1)
        self.c1 = nn.Conv2d(8, 8, 3, padding="same", bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.c2 = nn.Conv2d(8, 6, 3, stride=2)
        self.ap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 10)

    def forward(self, x):
        h = F.relu(self.c0(x))
        h = F.relu(self.bn(self.c1(h)) + h)
        h = torch.tanh(self.c2(self.pool(h)))
        return self.fc(torch.flatten(self.ap(h), 1))


class Conv1dNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv1d(3, 5, 5, padding=2)
        self.bn = nn.BatchNorm1d(5)
        self.fc = nn.Linear(5 * 8, 4)

    def forward(self, x):
        h = F.avg_pool1d(torch.sigmoid(self.bn(self.c(x))), 2)
        return self.fc(h.view(h.size(0), -1))


class Attn(nn.Module):
    """Explicit batch-first attention (the built-in transformer's style)."""

    def __init__(self, d=16, h=2):
        super().__init__()
        self.h, self.d = h, d
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)

    def forward(self, x, mask):
        b, s, _ = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, self.h, self.d // self.h).permute(2, 0, 3, 1, 4)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.d // self.h) + mask
        return self.o((att.softmax(-1) @ v).transpose(1, 2).reshape(b, s, self.d))


class TinyTransformer(nn.Module):
    def __init__(self, vocab=30, d=16, seq=7):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(1, seq, d) * 0.1)
        self.a1 = Attn(d)
        self.ln1 = nn.LayerNorm(d)
        self.ff = nn.Sequential(nn.Linear(d, 32), nn.GELU(), nn.Linear(32, d))
        self.ln2 = nn.LayerNorm(d)
        self.mha = nn.MultiheadAttention(d, 2, batch_first=True)
        self.head = nn.Linear(d, 2)

    def forward(self, ids):
        pad = ids == 0
        mask = torch.zeros_like(pad, dtype=torch.float32).masked_fill(pad, float("-inf"))[:, None, None, :]
        x = self.emb(ids) + self.pos
        x = self.ln1(x + self.a1(x, mask))
        x = self.ln2(x + self.ff(x))
        a, _ = self.mha(x, x, x, key_padding_mask=pad, need_weights=False)
        x = x + a
        keep = (~pad).float().unsqueeze(-1)
        return self.head((x * keep).sum(1) / keep.sum(1))


def _check(trace, model, inputs, rtol=1e-5, atol=1e-5):
    r = evaluate(trace, Float32Backend(), batch_size=7, keep_outputs=True)
    with torch.no_grad():
        want = model(torch.as_tensor(inputs)).numpy()
    np.testing.assert_allclose(r.outputs, want, rtol=rtol, atol=atol)
    assert np.array_equal(np.argmax(r.outputs, 1), np.argmax(want, 1))
    return r


@pytest.fixture(scope="module")
def cnn():
    torch.manual_seed(0)
    m = ResCNN().eval()
    with torch.no_grad():
        m.bn.running_mean.uniform_(-0.5, 0.5)
        m.bn.running_var.uniform_(0.5, 2.0)
        m.bn.weight.uniform_(0.5, 1.5)
    x = np.random.default_rng(0).standard_normal((30, 1, 12, 12)).astype(np.float32)
    return m, x


@pytest.mark.parametrize("fold", [False, True])
def test_cnn_with_batchnorm_and_residual(tmp_path, cnn, fold):
    m, x = cnn
    labels = np.random.default_rng(1).integers(0, 10, len(x))
    t = from_torch(m, torch.as_tensor(x[:2]), x, labels, tmp_path / "cnn", name="cnn", fold_batchnorm=fold)
    kinds = [o.kind for o in t.ops]
    assert ("batchnorm" in kinds) != fold
    assert kinds.count("conv2d") == 3 and "pool" in kinds and "add" in kinds
    r = _check(t, m, x, rtol=1e-4 if fold else 1e-5, atol=1e-4 if fold else 1e-5)
    t2 = load_trace(tmp_path / "cnn")
    assert t2.fp32_metric == r.accuracy == t2.manifest["source"]["torch_metric"]
    np.testing.assert_array_equal(t2.reference("linear"), m(torch.as_tensor(x)).detach().numpy())
    g = {s.name: s for s in t2.gemm_ops()}
    assert (g["conv2d"].m, g["conv2d"].k, g["conv2d"].n) == (144, 9, 8)


def test_conv1d_net(tmp_path):
    torch.manual_seed(1)
    m = Conv1dNet().eval()
    x = np.random.default_rng(0).standard_normal((9, 3, 16)).astype(np.float32)
    t = from_torch(m, torch.as_tensor(x[:1]), x, None, tmp_path / "c1", name="c1", metric=None)
    assert t.metric is None and "conv1d" in [o.kind for o in t.ops]
    _check(t, m, x, rtol=1e-4, atol=1e-5)


def test_tiny_transformer_with_attention_and_padding(tmp_path):
    torch.manual_seed(2)
    m = TinyTransformer().eval()
    rng = np.random.default_rng(3)
    ids = rng.integers(1, 30, (20, 7))
    for i in range(20):
        ids[i, rng.integers(2, 8):] = 0  # padded tails
    t = from_torch(m, torch.as_tensor(ids[:4]), ids, rng.integers(0, 2, 20), tmp_path / "tr", name="tr")
    assert t.inputs[0]["dtype"] == "int64"
    kinds = [o.kind for o in t.ops]
    assert kinds.count("matmul") == 4 and "embedding" in kinds and "layernorm" in kinds
    _check(t, m, ids)
    mm = [g for g in t.gemm_ops() if g.kind == "matmul"]
    assert all((g.count, g.weights_static) == (2, False) for g in mm)
    assert {(g.m, g.k, g.n) for g in mm} == {(7, 8, 7), (7, 7, 8)}


class Weird(nn.Module):
    def forward(self, x):
        return torch.sort(x, 1).values


def test_unsupported_op_names_op_and_node(tmp_path):
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(TraceError, match=r"node 'sort'.*unsupported operator 'sort'"):
        from_torch(Weird(), torch.zeros(2, 3), x, None, tmp_path / "w", name="w", metric=None)
    assert not (tmp_path / "w").exists()


def test_grouped_and_transposed_conv_match_torch(tmp_path):
    m = nn.Sequential(nn.Conv2d(4, 6, 3, groups=2), nn.ReLU(), nn.ConvTranspose2d(6, 4, 3, stride=2, groups=2),
                      nn.Conv2d(4, 4, 3, groups=4, padding=1), nn.Flatten()).eval()
    x = np.random.default_rng(0).standard_normal((3, 4, 7, 7)).astype(np.float32)
    tr = from_torch(m, torch.as_tensor(x[:2]), x, None, tmp_path / "g", name="g", metric=None)
    with torch.no_grad():
        ref = m(torch.as_tensor(x)).numpy()
    y = evaluate(tr, Float32Backend(), keep_outputs=True).outputs
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
    assert [(g.count, g.k, g.n) for g in tr.gemm_ops()] == [(2, 18, 3), (2, 27, 2), (4, 9, 1)]


def test_bad_eval_inputs(tmp_path, cnn):
    m, x = cnn
    with pytest.raises(TraceError, match="per-sample shape"):
        from_torch(m, torch.as_tensor(x[:2]), x[:, :, :10], None, tmp_path / "b", name="b", metric=None)
    with pytest.raises(TraceError, match="labels must be 30 integers"):
        from_torch(m, torch.as_tensor(x[:2]), x, np.zeros(29, int), tmp_path / "b", name="b")
