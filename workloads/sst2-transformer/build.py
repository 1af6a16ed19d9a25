"""Train and export the ``sst2-transformer`` workload: a small pre-LN transformer encoder
on SST-2 (GLUE binary sentiment; Socher et al. 2013), evaluated on the 872-row dev set.

Data: ``<data>/sst2/train.tsv`` and ``dev.tsv`` (header ``label<TAB>sentence``, text
lower-cased and space-tokenised; copy from github.com/awake020/pytorch_Bert_sst2).

Tokens: word-level vocabulary from train.tsv, the most frequent words (ties broken
alphabetically) up to VOCAB_SIZE entries including ``[PAD]`` = 0, ``[CLS]`` = 1 and
``[UNK]`` = 2. A sentence becomes ``[CLS] w1 ... wn`` truncated/padded to MAX_LEN.

Model: token embedding + learned positions, LAYERS pre-LN encoder layers (multi-head
self-attention written with explicit matmuls so the trace shows QK^T and AV, key padding
mask by ``masked_fill(-inf)``, GELU feed-forward, residual adds), final LayerNorm, the
``[CLS]`` vector through a linear classifier. Every op maps to an amssim trace kind.

Usage (from the repository root)::

    /work/venv/bin/python workloads/sst2-transformer/build.py [--data ../shared/data] [--retrain]
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common as C  # noqa: E402

NAME = "sst2-transformer"
VOCAB_SIZE = 8000
MAX_LEN = 48  # [CLS] + up to 47 words (the longest dev sentence has 47 words)
D_MODEL = 128
HEADS = 4
D_FF = 512
LAYERS = 2
DROPOUT = 0.1
EPOCHS = 3
BATCH = 64
LR = 5e-4
PAD, CLS, UNK = 0, 1, 2


def read_tsv(path: Path):
    labels, texts = [], []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header[0] != "label":
            raise ValueError(f"{path}: unexpected header {header}")
        for ln, line in enumerate(f, start=2):
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2:
                raise ValueError(f"{path}:{ln}: expected 2 tab-separated fields, got {len(parts)}")
            labels.append(int(parts[0]))
            texts.append(parts[1].split())
    return texts, np.asarray(labels, dtype=np.int64)


def build_vocab(texts, size=VOCAB_SIZE):
    cnt = Counter(w for t in texts for w in t)
    words = sorted(cnt, key=lambda w: (-cnt[w], w))[: size - 3]
    return {w: i + 3 for i, w in enumerate(words)}


def encode(texts, vocab, max_len=MAX_LEN):
    ids = np.zeros((len(texts), max_len), dtype=np.int64)
    for i, t in enumerate(texts):
        row = [CLS] + [vocab.get(w, UNK) for w in t][: max_len - 1]
        ids[i, :len(row)] = row
    return ids


def make_model():
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class SelfAttention(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(D_MODEL, D_MODEL)
            self.k = nn.Linear(D_MODEL, D_MODEL)
            self.v = nn.Linear(D_MODEL, D_MODEL)
            self.o = nn.Linear(D_MODEL, D_MODEL)
            self.drop = nn.Dropout(DROPOUT)

        def heads(self, t):  # (B, L, D) -> (B, H, L, D/H)
            return t.reshape(t.shape[0], t.shape[1], HEADS, D_MODEL // HEADS).transpose(1, 2)

        def forward(self, x, pad_mask):  # pad_mask (B, 1, 1, L) bool, True = padding
            q = self.heads(self.q(x)) * (1.0 / math.sqrt(D_MODEL // HEADS))
            k, v = self.heads(self.k(x)), self.heads(self.v(x))
            s = torch.matmul(q, k.transpose(-1, -2)).masked_fill(pad_mask, float("-inf"))
            a = self.drop(torch.softmax(s, dim=-1))
            y = torch.matmul(a, v).transpose(1, 2)
            return self.o(y.reshape(y.shape[0], y.shape[1], D_MODEL))

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1 = nn.LayerNorm(D_MODEL)
            self.attn = SelfAttention()
            self.ln2 = nn.LayerNorm(D_MODEL)
            self.ff1 = nn.Linear(D_MODEL, D_FF)
            self.ff2 = nn.Linear(D_FF, D_MODEL)
            self.drop = nn.Dropout(DROPOUT)

        def forward(self, x, pad_mask):
            x = x + self.drop(self.attn(self.ln1(x), pad_mask))
            return x + self.drop(self.ff2(self.drop(F.gelu(self.ff1(self.ln2(x))))))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok = nn.Embedding(VOCAB_SIZE, D_MODEL)
            self.pos = nn.Parameter(torch.zeros(1, MAX_LEN, D_MODEL))
            nn.init.normal_(self.pos, std=0.02)
            nn.init.normal_(self.tok.weight, std=0.02)
            self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
            self.ln = nn.LayerNorm(D_MODEL)
            self.drop = nn.Dropout(DROPOUT)
            self.cls = nn.Linear(D_MODEL, 2)

        def forward(self, ids):  # ids (B, L) int64, L <= MAX_LEN
            pad_mask = (ids == PAD).unsqueeze(1).unsqueeze(2)
            pos = self.pos if ids.shape[1] == MAX_LEN else self.pos[:, : ids.shape[1]]
            x = self.drop(self.tok(ids) + pos)
            for layer in self.layers:
                x = layer(x, pad_mask)
            return self.cls(self.ln(x)[:, 0])

    return Encoder()


def batches(lengths, gen, batch=BATCH, chunk=50):
    """Length-bucketed batches: shuffle, sort each chunk of chunk*batch by length, shuffle batches."""
    import torch

    perm = torch.randperm(len(lengths), generator=gen).numpy()
    out = []
    for i in range(0, len(perm), batch * chunk):
        c = perm[i:i + batch * chunk]
        c = c[np.argsort(lengths[c], kind="stable")]
        out.extend(c[j:j + batch] for j in range(0, len(c), batch))
    order = torch.randperm(len(out), generator=gen).numpy()
    return [out[k] for k in order]


def train(model, ids, y, seed, log, dev=None):
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    lengths = (ids != PAD).sum(1)
    nb = len(batches(lengths, torch.Generator().manual_seed(0)))
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=LR, total_steps=EPOCHS * nb, pct_start=0.1)
    yt = torch.from_numpy(y)
    for ep in range(EPOCHS):
        model.train()
        t0 = time.perf_counter()
        tot = 0.0
        for bi in batches(lengths, g):
            L = int(lengths[bi].max())
            xb = torch.from_numpy(ids[bi, :L])
            loss = F.cross_entropy(model(xb), yt[bi])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            tot += loss.item() * len(bi)
        msg = f"epoch {ep + 1}/{EPOCHS} loss {tot / len(y):.4f} ({time.perf_counter() - t0:.1f} s)"
        if dev is not None:
            msg += f" dev acc {C.accuracy(C.torch_predict(model, dev[0]), dev[1]):.4f}"
        log(msg)


def main(argv=None):
    parser = C.make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--export-train", type=Path, metavar="OUT.npz",
                        help="only write the training split (arrays 'ids', 'labels') for "
                             "`amssim finetune --train-data` and stop (numpy only)")
    args = parser.parse_args(argv)
    tr_texts, ytr = read_tsv(Path(args.data) / "sst2" / "train.tsv")
    dv_texts, ydv = read_tsv(Path(args.data) / "sst2" / "dev.tsv")
    vocab = build_vocab(tr_texts)
    xtr, xdv = encode(tr_texts, vocab), encode(dv_texts, vocab)
    if args.export_train:
        np.savez(args.export_train, ids=xtr, labels=ytr)
        print(f"[{NAME}] wrote training split {args.export_train}: ids {xtr.shape}, labels {ytr.shape}")
        return 0
    C.seed_everything(args.seed, args.threads)
    unk = float(np.mean(xdv[xdv > CLS] == UNK))
    print(f"[{NAME}] train {xtr.shape}, dev {xdv.shape}, vocab {VOCAB_SIZE}, dev OOV rate {unk:.3f}")
    model = make_model()
    C.train_or_load(args, NAME, model,
                    lambda m: train(m, xtr, ytr, args.seed, lambda s: print(f"[{NAME}] {s}", flush=True), (xdv, ydv)))
    acc = C.accuracy(C.torch_predict(model, xdv), ydv)
    print(f"[{NAME}] torch float32 dev accuracy {acc:.4f} on {len(ydv)} sentences")
    if args.train_only:
        return 0
    tr = C.export(model, xdv[:2], xdv, ydv, args.out, name=NAME, cache_dir=args.cache_dir,
                  source=C.provenance(NAME, args, dataset="SST-2 (GLUE), copy from "
                                      "github.com/awake020/pytorch_Bert_sst2 commit ce2ab171",
                                      licence="no explicit licence from the authors (public research release, Socher et al. "
                                      "2013, nlp.stanford.edu/sentiment); redistributed in GLUE", split="dev.tsv (872 rows)",
                                      input=f"token ids (int64, {MAX_LEN}): [CLS]=1 w1..wn, [PAD]=0, [UNK]=2, "
                                      f"vocab {VOCAB_SIZE}"))
    print(f"[{NAME}] exported {args.out} ({C.dir_size_bytes(args.out) / 1e6:.2f} MB), fp32 metric {tr.manifest.get('fp32_metric')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
