"""Train and export the ``digits-resnet`` workload: a small residual CNN on the 8x8
handwritten digits bundled with scikit-learn (the UCI "Optical Recognition of Handwritten
Digits" test set, 1,797 images; scikit-learn is needed at build time only).

Split: ``sklearn.model_selection.train_test_split(test_size=360, stratify=labels,
random_state=SPLIT_SEED)``: 1,437 training and 360 test images. Pixels (0..16) are
divided by 16; the trace's input is the (1, 8, 8) float32 image.

Model: conv 3x3 (32) + BN + ReLU, two residual blocks at 32 channels (8x8), a
down-sampling residual block to 64 channels (4x4, 1x1 stride-2 projection shortcut),
one residual block at 64 channels, global average pooling, linear 64 -> 10.
BatchNorm is folded into the convolutions at export.

Usage (from the repository root)::

    /work/venv/bin/python workloads/digits-resnet/build.py [--retrain]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common as C  # noqa: E402

NAME = "digits-resnet"
SPLIT_SEED = 0
TEST_SIZE = 360
EPOCHS = 40
BATCH = 64


def load_data():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images.astype(np.float32) / np.float32(16.0))[:, None]
    y = d.target.astype(np.int64)
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=TEST_SIZE, stratify=y, random_state=SPLIT_SEED)
    return xtr, ytr, xte, yte


def make_model():
    import torch.nn as nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.c1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
            self.b1 = nn.BatchNorm2d(cout)
            self.c2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
            self.b2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.short = None
            if stride != 1 or cin != cout:
                self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.b2(self.c2(self.relu(self.b1(self.c1(x)))))
            return self.relu(y + (x if self.short is None else self.short(x)))

    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU(),
        Block(32, 32), Block(32, 32), Block(32, 64, stride=2), Block(64, 64),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    )


def train(model, x, y, seed, log):
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-3)
    steps = EPOCHS * ((len(x) + BATCH - 1) // BATCH)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    for ep in range(EPOCHS):
        model.train()
        t0 = time.perf_counter()
        perm = torch.randperm(len(x), generator=g)
        tot = 0.0
        for i in range(0, len(x), BATCH):
            idx = perm[i:i + BATCH]
            # augmentation: shift the batch by up to one pixel in each direction (zero fill)
            dy, dx = (int(v) for v in torch.randint(-1, 2, (2,), generator=g))
            xb = F.pad(xt[idx], (1, 1, 1, 1))[:, :, 1 + dy:9 + dy, 1 + dx:9 + dx]
            loss = F.cross_entropy(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        if (ep + 1) % 5 == 0 or ep == 0:
            log(f"epoch {ep + 1}/{EPOCHS} loss {tot / len(x):.4f} ({time.perf_counter() - t0:.1f} s)")


def main(argv=None):
    args = C.make_parser(NAME, __doc__.splitlines()[0]).parse_args(argv)
    C.seed_everything(args.seed, args.threads)
    xtr, ytr, xte, yte = load_data()
    print(f"[{NAME}] train {xtr.shape}, test {xte.shape}")
    model = make_model()
    C.train_or_load(args, NAME, model, lambda m: train(m, xtr, ytr, args.seed, lambda s: print(f"[{NAME}] {s}")))
    acc = C.accuracy(C.torch_predict(model, xte), yte)
    print(f"[{NAME}] torch float32 test accuracy {acc:.4f} on {len(yte)} images")
    if args.train_only:
        return 0
    tr = C.export(model, xte[:2], xte, yte, args.out, name=NAME, fold_batchnorm=True, cache_dir=args.cache_dir,
                  source=C.provenance(NAME, args, dataset="scikit-learn load_digits (UCI Optical Recognition of "
                                      "Handwritten Digits, test part)", licence="CC BY 4.0 (UCI); BSD-3 (scikit-learn)",
                                      split=f"train_test_split(test_size={TEST_SIZE}, stratify=y, "
                                      f"random_state={SPLIT_SEED})", input="pixels / 16, (1, 8, 8)"))
    print(f"[{NAME}] exported {args.out} ({C.dir_size_bytes(args.out) / 1e6:.2f} MB), fp32 metric {tr.manifest.get('fp32_metric')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
