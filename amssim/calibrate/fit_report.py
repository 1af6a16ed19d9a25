"""Calibration report: figures and summary.json in a directory.

* ``error_hist.png``: residual histogram (all samples, density, log scale) with
  the pdf of every fitted family;
* ``qq.png``: quantiles of the residual sample against the chosen family;
* ``transfer.png``: transfer curves (sweep data, or a paired-data sample) with the fit;
* ``residuals_channel.png``: per-channel residual mean +- std, gain error, offset;
* ``summary.json``: inputs, fits (AIC, BIC, KS, parameters, uncertainties),
  transfer fit, moments, reproduction check.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from ..io_safety import atomic_path, atomic_write, check_output_dir, write_error

MAX_CURVES = 8  #: channels drawn in the transfer figure


def _fig(w=6.4, h=4.2):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), layout="constrained")


def _clean(o):
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, np.ndarray)):
        return [_clean(v) for v in (o.tolist() if isinstance(o, np.ndarray) else o)]
    if isinstance(o, (np.floating, float)):
        return float(o) if math.isfinite(o) else None
    if isinstance(o, np.integer):
        return int(o)
    return o


def summary(result) -> dict:
    nr = result.noise_res
    return _clean({
        "date": result.date, "inputs": result.inputs, "run_sha256": result.run_hash,
        "metadata": {k: getattr(result.meta, k) for k in ("adc_bits", "gain", "tile_width",
                                                           "channel_axis", "code_scale", "description")},
        "adc_bits": result.adc_bits, "quantized": nr.quantized, "criterion": result.cfg.criterion,
        "chosen": result.best.family, "noise_section": result.noise_section(),
        "uncertainty": {"method": result.cfg.uncertainty, "stderr": result.stderr},
        "fits": [f.to_dict() | ({"params": {"bins": len(f.params.get("probs", []))}}
                                if f.family == "empirical" else {}) for f in result.fits],
        "samples": {"total": nr.n_total, "used": nr.n_used, "clipped": nr.n_clipped,
                    "mle_sample": nr.data.n},
        "residual_moments": nr.moments, "residual_per_channel": nr.channels,
        "signal_dependent_variance": nr.signal_var,
        "transfer_noise_source": nr.transfer.to_dict(),
        "transfer_converters": result.converters_fit.to_dict(),
        "reproduction": result.reproduction,
    })


def _savefig(fig, out):
    with atomic_path(out, option="--report") as tmp:
        fig.savefig(tmp, dpi=120, format=os.path.splitext(out)[1][1:] or "png")


def write_report(result, out_dir: str) -> dict:
    check_output_dir(out_dir, "--report")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, out_dir, "--report") from exc
    s = summary(result)
    figs = {"error_hist": _hist(result, os.path.join(out_dir, "error_hist.png")),
            "qq": _qq(result, os.path.join(out_dir, "qq.png")),
            "transfer": _transfer(result, os.path.join(out_dir, "transfer.png")),
            "residuals_channel": _channels(result, os.path.join(out_dir, "residuals_channel.png"))}
    s["figures"] = {k: os.path.basename(v) for k, v in figs.items()}
    atomic_write(os.path.join(out_dir, "summary.json"), json.dumps(s, indent=1, allow_nan=False),
                 option="--report")
    return s


def _hist(result, out):
    nr = result.noise_res
    e, c = nr.hist_edges, nr.hist_counts
    dens = c / max(c.sum(), 1) / np.diff(e)
    fig = _fig()
    ax = fig.add_subplot()
    ax.stairs(np.where(dens > 0, dens, np.nan), e, color="k", label=f"data (n={nr.n_used})")
    lim = np.quantile(nr.data.mid, [0.0005, 0.9995]) if nr.data.n else (e[0], e[-1])
    width = max(abs(lim[0]), abs(lim[1])) * 1.5 + 1
    xs = np.linspace(-width, width, 801)
    for f in result.fits:
        if not f.converged or not f.params:
            continue
        lab = f"{f.family} (KS {f.ks:.3f}{', chosen' if f is result.best else ''})"
        ax.plot(xs, f.pdf(xs), lw=2 if f is result.best else 1, label=lab)
    ax.set_yscale("log")
    pos = dens[dens > 0]
    ax.set_ylim(max(pos.min() / 3, 1e-12) if pos.size else 1e-6, (pos.max() * 3) if pos.size else 1)
    ax.set_xlim(-width, width)
    ax.set_xlabel("residual error (ADC LSB" + (", dequantised)" if nr.quantized else ")"))
    ax.set_ylabel("density")
    ax.legend(fontsize=7)
    _savefig(fig, out)
    return out


def _qq(result, out):
    nr = result.noise_res
    z = np.sort(nr.data.jitter(np.random.default_rng(result.cfg.seed + 5)))
    q = (np.arange(z.size) + 0.5) / z.size
    fig = _fig(4.8, 4.8)
    ax = fig.add_subplot()
    th = result.best.ppf(q)
    ax.plot(th, z, ".", ms=2, label=f"data vs {result.best.family}")
    lo, hi = float(np.nanmin(th)), float(np.nanmax(th))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel(f"{result.best.family} quantile (LSB)")
    ax.set_ylabel("residual quantile (LSB)")
    ax.legend(fontsize=7)
    _savefig(fig, out)
    return out


def _transfer(result, out):
    tf = result.converters_fit
    fig = _fig(7.2, 4.6)
    ax, axr = fig.subplots(1, 2)
    if result.sweep is not None:
        codes, obs = result.sweep.codes, result.sweep.observed
        for c in range(min(MAX_CURVES, obs.shape[0])):
            ch = np.full(codes.size, c)
            fit = np.clip(tf.predict(codes, ch), -tf.full_scale, tf.full_scale)
            ax.plot(codes, obs[c], ".", ms=3)
            ax.plot(codes, fit, "-", lw=1,
                    color=ax.lines[-1].get_color())
            axr.plot(codes, obs[c] - fit, ".-", ms=2, lw=0.5)
        ax.set_xlabel("programmed code")
    else:
        x, obs, ch, mu = result.noise_res.sample_xy
        for c in range(min(MAX_CURVES, tf.n_channels)):
            m = ch == c
            if not m.any():
                continue
            ax.plot(x[m], obs[m], ".", ms=1, alpha=0.4)
            xs = np.linspace(x[m].min(), x[m].max(), 200)
            ax.plot(xs, np.clip(tf.predict(xs, np.full(200, c)), -tf.full_scale, tf.full_scale), "-",
                    lw=1, color=ax.lines[-1].get_color())
            axr.plot(x[m], obs[m] - mu[m], ".", ms=1, alpha=0.4)
        ax.set_xlabel("expected code")
    ax.set_ylabel("observed code")
    ax.set_title(f"transfer fit (first {MAX_CURVES} channels)", fontsize=9)
    axr.set_xlabel(ax.get_xlabel())
    axr.set_ylabel("observed - fit (LSB)")
    _savefig(fig, out)
    return out


def _channels(result, out):
    st = result.noise_res.channels
    mean = np.array([np.nan if v is None else v for v in st["mean_lsb"]])
    sd = np.array([np.nan if v is None else v for v in st["std_lsb"]])
    tf = result.converters_fit
    fig = _fig(7.2, 5.0)
    a1, a2 = fig.subplots(2, 1, sharex=True)
    idx = np.arange(mean.size)
    a1.errorbar(idx, mean, yerr=sd, fmt="o", ms=3, capsize=2)
    a1.axhline(0, color="k", lw=0.5)
    a1.set_ylabel("residual mean +- std (LSB)")
    k = np.arange(tf.n_channels)
    a2.plot(k, 100 * tf.gain_error, "o-", ms=3, label="gain error (%)")
    a2.plot(k, tf.offsets_filled, "s-", ms=3, label="offset (LSB)")
    a2.legend(fontsize=7)
    a2.set_xlabel("channel")
    _savefig(fig, out)
    return out
