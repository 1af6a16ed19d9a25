"""``finetune()``: DNF or QAT on a trace for a device, exported as a new trace."""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from dataclasses import asdict


from ..errors import ConfigError
from ..limits import MAX_SEED
from ._torch import require_torch
from .config import FinetuneConfig, FinetuneResult, LayerNoise

#: torch.Generator seed offsets: independent streams derived from the run seed
_SHUFFLE_STREAM = 0
_NOISE_STREAM = 1
_CALIB_STREAM = 2
OPTIMISTIC = "trace evaluation data (optimistic: trained and evaluated on the same samples)"


def resolve_abfp(device, overrides):
    """(device name, AbfpConfig) of ``device`` + ``overrides``; ConfigError without ABFP numerics."""
    from ..run import resolve_device

    dev, opts = resolve_device(device, overrides)  # a name, a device file or a device object
    name = getattr(dev, "name", str(device))
    if opts.format != "abfp":
        raise ConfigError(f"finetuning targets the analog ABFP tile; run.format={opts.format!r} is not ABFP")
    if getattr(dev, "kind", "analog") == "digital":
        raise ConfigError(f"device {name!r} is digital: finetuning targets an analog ABFP tile")
    cfg = dev.abfp_config()
    if cfg.ideal:
        raise ConfigError(f"device {name!r} has no ABFP numerics (numerics.ideal = true): nothing to finetune for")
    return name, cfg


def load_input(trace, eval_data=None, workdir=None):
    """A Trace from a Trace, a trace directory or an ``.onnx`` file (imported to ``workdir``)."""
    from ..trace import Trace, from_onnx, load_trace

    if isinstance(trace, Trace):
        return trace
    path = os.fspath(trace)
    if path.lower().endswith(".onnx"):
        if eval_data is None:
            raise ConfigError(f"{path}: an ONNX model needs evaluation data (eval_data / --eval-data "
                              "FILE.npz with one array per input and labels)")
        from ..io_safety import load_npz

        z = load_npz(eval_data, error=ConfigError, what="--eval-data .npz file")
        labels = z.get("labels")
        if labels is None:
            raise ConfigError(f"{eval_data}: needs a 'labels' array")
        ins = [a for k, a in z.items() if k != "labels"]  # in the model's input order
        out = os.path.join(workdir or tempfile.mkdtemp(prefix="amssim-ft-"), "imported")
        return from_onnx(path, ins if len(ins) > 1 else ins[0], labels, out, overwrite=True)
    return load_trace(path)


def finetune(trace, method: str = "dnf", device="abfp-paper", *, overrides=None, out=None,
             train_data=None, eval_data=None, overwrite: bool = False, log=None,
             **options) -> FinetuneResult:
    """Finetune ``trace`` (Trace, trace dir or .onnx) for ``device`` with DNF or QAT.

    ``options`` are :class:`FinetuneConfig` fields (epochs, lr, batch_size, seed,
    dnf_layers, dnf_refresh_epochs, ...). ``train_data``: .npz with one array per trace
    input and ``labels``; without it the trace's own data is used (a warning: accuracy
    then is optimistic). ``out``: directory of the finetuned trace (None: not written).
    Every input is checked before training starts.
    """
    t_start = time.perf_counter()
    torch = require_torch()
    cfg = FinetuneConfig(method=method, **options)
    log = log or (lambda s: None)
    dev_name, acfg = resolve_abfp(device, overrides)
    from .data import check_classification, load_train_data, trace_data
    from .torch_trace import TorchTrace, check_supported

    tr = load_input(trace, eval_data)
    check_supported(tr)
    check_classification(tr)
    notes = []
    if train_data is not None:
        inputs, labels = load_train_data(train_data, tr)
        source = os.path.basename(os.fspath(train_data))
    else:
        inputs, labels = trace_data(tr)
        source = OPTIMISTIC
        msg = (f"no training data given: finetuning on trace {tr.name!r}'s own evaluation data; "
               "accuracy measured on it afterwards will be optimistic")
        warnings.warn(msg, UserWarning, stacklevel=2)
        notes.append(msg)
    n = len(labels)
    if n == 0:
        raise ConfigError("training data is empty (0 samples): nothing to calibrate or train on")
    if out is not None:
        from ..io_safety import check_output_dir

        check_output_dir(out, "--out", trace=True, overwrite=overwrite)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)

    gens = [torch.Generator().manual_seed((cfg.seed * 3 + s) % (MAX_SEED + 1)) for s in (_SHUFFLE_STREAM, _NOISE_STREAM,
                                                                       _CALIB_STREAM)]
    model = TorchTrace(tr)
    tin = {k: torch.from_numpy(v) for k, v in inputs.items()}
    tlab = torch.from_numpy(labels)
    layers, calib_s = [], 0.0
    if cfg.method == "dnf":
        from .dnf import calibrate, select_layers
        from .numerics import DnfNumerics

        calib_idx = torch.randperm(n, generator=gens[2])[: (cfg.calib_samples or cfg.batch_size)]

        def make_hists():
            batch = {k: v[calib_idx] for k, v in tin.items()}
            h = calibrate(model, batch, acfg, seed=cfg.seed, bins=cfg.dnf_bins,
                          bin_offset=cfg.dnf_bin_offset)
            return h, select_layers(h, cfg.dnf_layers)

        t0 = time.perf_counter()
        hists, noisy = make_hists()
        calib_s = time.perf_counter() - t0
        layers = [LayerNoise(name=h.name, layer=h.layer, std=h.std, mean=h.mean, noisy=h.name in noisy)
                  for h in sorted(hists.values(), key=lambda h: h.layer)]
        log(f"DNF calibration on {len(calib_idx)} samples ({calib_s:.2f} s): " + ", ".join(
            f"{L.name} std {L.std:.3g}{'' if L.noisy else ' (no noise)'}" for L in layers))
        model.numerics = DnfNumerics(noisy, gens[1])
    else:
        from .numerics import QatNumerics

        model.numerics = QatNumerics(acfg, gens[1], noise=True)

    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    epoch_s, losses = [], []
    for ep in range(cfg.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=gens[0])
        tot = 0.0
        for i in range(0, n, cfg.batch_size):
            idx = perm[i:i + cfg.batch_size]
            logits = model({k: v[idx] for k, v in tin.items()})
            loss = torch.nn.functional.cross_entropy(logits.reshape(len(idx), -1), tlab[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            tot += float(loss.detach()) * len(idx)
        epoch_s.append(time.perf_counter() - t0)
        losses.append(tot / n)
        log(f"epoch {ep + 1}/{cfg.epochs}: loss {losses[-1]:.4f} ({epoch_s[-1]:.2f} s)")
        if (cfg.method == "dnf" and cfg.dnf_refresh_epochs and (ep + 1) % cfg.dnf_refresh_epochs == 0
                and ep + 1 < cfg.epochs):
            hists, noisy = make_hists()
            model.numerics = DnfNumerics(noisy, gens[1])
            log(f"DNF histograms refreshed after epoch {ep + 1}")

    fp32_after, out_path = None, None
    if out is not None:
        from .export import write_finetuned

        meta = {"method": cfg.method, "device": dev_name, "overrides": dict(overrides or {}),
                "config": asdict(cfg), "train_data": source, "train_samples": n,
                "losses": losses, "epoch_wall_s": epoch_s}
        new = write_finetuned(tr, model.trained_arrays(), out, meta=meta, overwrite=overwrite)
        fp32_after, out_path = new.fp32_metric, os.fspath(out)
        log(f"wrote {out_path} (float32 metric {fp32_after})")
    return FinetuneResult(
        trace=tr.name, method=cfg.method, device=dev_name, config=asdict(cfg), train_samples=n,
        train_data=source, epochs=cfg.epochs, epoch_wall_s=epoch_s, losses=losses,
        calibration_wall_s=calib_s, total_wall_s=time.perf_counter() - t_start, out=out_path,
        fp32_accuracy_before=tr.fp32_metric, fp32_accuracy_after=fp32_after, layers=layers,
        warnings=notes)


def device_accuracy(trace, device="abfp-paper", *, overrides=None, seed: int = 0,
                    limit: int | None = None) -> float:
    """Task metric of ``trace`` on the device's ABFP backend (what ``amssim simulate`` reports)."""
    from ..trace import AbfpBackend, evaluate, load_trace

    _, acfg = resolve_abfp(device, overrides)
    tr = trace if hasattr(trace, "ops") else load_trace(trace)
    return evaluate(tr, AbfpBackend(acfg, seed), limit=limit, differential=False).accuracy
