"""Train and export the ``fsdd-cnn`` workload: a CNN on log-mel features of the
Free Spoken Digit Dataset (github.com/Jakobovski/free-spoken-digit-dataset, CC BY-SA 4.0).

Split (the dataset's own convention): takes 0-4 of every speaker and digit are the test
set (300 recordings), takes 5-49 train (2,700 recordings).

Features (computed here with numpy so the simulator never needs audio code):
each recording is scaled to peak 1, cropped/zero-padded to 8,320 samples (1.04 s at
8 kHz), framed with a 256-sample Hann window and 128-sample hop (64 frames), |rfft|^2
is projected onto 40 triangular HTK-mel bands (0-4 kHz), log(. + 1e-6) is taken and the
result standardised with the TRAINING set's global mean and standard deviation.
The trace's input is this (1, 40, 64) float32 tensor.

Usage (from the repository root)::

    /work/venv/bin/python workloads/fsdd-cnn/build.py [--data ../shared/data] [--retrain]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import _common as C  # noqa: E402

NAME = "fsdd-cnn"
SAMPLE_RATE_HZ = 8000
N_FFT = 256
HOP = 128
N_FRAMES = 64
N_MELS = 40
N_SAMPLES = N_FFT + (N_FRAMES - 1) * HOP  # 8320
LOG_EPS = 1e-6
EPOCHS = 30
BATCH = 64


def hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(sr=SAMPLE_RATE_HZ, n_fft=N_FFT, n_mels=N_MELS):
    """(n_mels, n_fft//2+1) triangular HTK-mel filters between 0 Hz and sr/2."""
    freqs = np.arange(n_fft // 2 + 1) * sr / n_fft
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (freqs[None, :] - lo) / (mid - lo)
    down = (hi - freqs[None, :]) / (hi - mid)
    return np.maximum(0.0, np.minimum(up, down))


def log_mel(audio_i16: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """(N_MELS, N_FRAMES) float64 log-mel energies of one int16 recording."""
    x = audio_i16.astype(np.float64)
    peak = np.max(np.abs(x))
    if peak > 0:
        x = x / peak
    buf = np.zeros(N_SAMPLES)
    n = min(len(x), N_SAMPLES)
    buf[:n] = x[:n]
    frames = np.lib.stride_tricks.sliding_window_view(buf, N_FFT)[::HOP]  # (64, 256)
    spec = np.abs(np.fft.rfft(frames * np.hanning(N_FFT + 2)[1:-1], axis=1)) ** 2
    return np.log(spec @ fb.T + LOG_EPS).T


def load_features(data_root: Path):
    """(x_train, y_train, x_test, y_test) float32 features (N, 1, 40, 64) and int64 labels."""
    path = Path(data_root) / "fsdd" / "fsdd.npz"
    d = np.load(path, allow_pickle=False)
    audio, off = d["audio"], d["offsets"]
    labels = d["labels"].astype(np.int64)
    test = d["take"] < 5
    fb = mel_filterbank()
    feats = np.stack([log_mel(audio[off[i]:off[i + 1]], fb) for i in range(len(labels))])
    mu = feats[~test].mean()
    sd = feats[~test].std()
    feats = ((feats - mu) / sd).astype(np.float32)[:, None]
    return feats[~test], labels[~test], feats[test], labels[test]


def make_model():
    import torch.nn as nn

    def block(cin, cout, pool=True):
        layers = [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        if pool:
            layers.append(nn.MaxPool2d(2))
        return layers

    return nn.Sequential(
        *block(1, 16), *block(16, 32), *block(32, 64), *block(64, 64, pool=False),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, 10),
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
            xb = xt[idx]
            # augmentation: random circular time shift of up to +-8 frames
            shift = int(torch.randint(-8, 9, (1,), generator=g))
            xb = torch.roll(xb, shifts=shift, dims=3)
            loss = F.cross_entropy(model(xb), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        log(f"epoch {ep + 1}/{EPOCHS} loss {tot / len(x):.4f} ({time.perf_counter() - t0:.1f} s)")


def main(argv=None):
    parser = C.make_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--export-train", type=Path, metavar="OUT.npz",
                        help="only write the training split (arrays 'input', 'labels') for "
                             "`amssim finetune --train-data` and stop (numpy only)")
    args = parser.parse_args(argv)
    if args.export_train:
        xtr, ytr, _, _ = load_features(args.data)
        np.savez(args.export_train, input=xtr, labels=ytr)
        print(f"[{NAME}] wrote training split {args.export_train}: input {xtr.shape}, labels {ytr.shape}")
        return 0
    C.seed_everything(args.seed, args.threads)
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = load_features(args.data)
    print(f"[{NAME}] features: train {xtr.shape}, test {xte.shape} ({time.perf_counter() - t0:.1f} s)")
    model = make_model()
    C.train_or_load(args, NAME, model, lambda m: train(m, xtr, ytr, args.seed, lambda s: print(f"[{NAME}] {s}")))
    acc = C.accuracy(C.torch_predict(model, xte), yte)
    print(f"[{NAME}] torch float32 test accuracy {acc:.4f} on {len(yte)} recordings")
    if args.train_only:
        return 0
    tr = C.export(model, xte[:1], xte, yte, args.out, name=NAME, fold_batchnorm=True, cache_dir=args.cache_dir,
                  source=C.provenance(NAME, args, dataset="Free Spoken Digit Dataset, "
                                      "github.com/Jakobovski/free-spoken-digit-dataset commit 26eb9aaf",
                                      licence="CC BY-SA 4.0", split="test = takes 0-4 of every speaker/digit",
                                      input="standardised log-mel (1, 40 mels, 64 frames)"))
    print(f"[{NAME}] exported {args.out} ({C.dir_size_bytes(args.out) / 1e6:.2f} MB), fp32 metric {tr.manifest.get('fp32_metric')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
