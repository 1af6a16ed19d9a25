"""The calibration pipeline: load -> transfer fit -> residuals -> noise fits.

Paired data are read twice in chunks (bounded memory for any size):

1. pass 1 keeps a uniform reservoir of (expected, observed, channel) triples and
   checks every value; the transfer model is fitted on the reservoir;
2. pass 2 computes every residual and accumulates moments, per-channel
   statistics and the histogram (the empirical family) over all samples.

The maximum-likelihood fits and KS statistics use a random subsample of the
reservoir (``cfg.mle_size``). Any re-iterable chunk source works (see
:class:`ArraySource` and :class:`GeneratorSource`).
"""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from ..errors import CalibrationError
from .config import CalibrateConfig
from .loaders import Metadata, TransferSweep, file_sha256, load_meta, load_transfer, open_paired
from .noise_fit import Data, FamilyFit, fit_all, fit_signal_variance, uncertainty
from .streaming import ChannelStats, Moments, Reservoir, StreamHistogram
from .transfer import TransferFit, fit_transfer, usable_mask


@dataclass(frozen=True, kw_only=True)
class GeneratorSource:
    """Chunks from ``factory()`` (called once per pass): iterables of (expected,
    observed) or (expected, observed, channel) 1-D arrays."""

    factory: object
    n_channels: int = 1
    path: str = "<generator>"
    full_scale: int | None = None

    def chunks(self, chunk_elements: int):
        start = 0
        for item in self.factory():
            e, o = np.asarray(item[0], np.float64).ravel(), np.asarray(item[1], np.float64).ravel()
            ch = (np.asarray(item[2], np.int64).ravel() if len(item) > 2
                  else np.zeros(e.size, np.int64))
            if e.shape != o.shape or ch.shape != e.shape:
                raise CalibrationError(f"{self.path}: chunk at {start}: expected {e.shape} and "
                                       f"observed {o.shape} differ in shape")
            if not (np.isfinite(e).all() and np.isfinite(o).all()):
                raise CalibrationError(f"{self.path}: chunk at {start}: non-finite codes")
            yield start, e, o, ch
            start += e.size


def ArraySource(expected, observed, channel=None, *, n_channels=None, path="<arrays>",
                full_scale=None) -> GeneratorSource:
    """In-memory arrays as a one-chunk source."""
    e, o = np.asarray(expected, np.float64).ravel(), np.asarray(observed, np.float64).ravel()
    ch = np.zeros(e.size, np.int64) if channel is None else np.asarray(channel, np.int64).ravel()
    nch = n_channels or (int(ch.max()) + 1 if ch.size else 1)
    return GeneratorSource(factory=lambda: [(e, o, ch)], n_channels=nch, path=path,
                           full_scale=full_scale)


@dataclass(kw_only=True)
class Residuals:
    """Outcome of transfer fit + residual statistics of one data source."""

    transfer: TransferFit
    data: Data  # residual sample of the MLE fits (whitened if signal-dependent)
    raw: np.ndarray  # unwhitened residuals of that sample (observed - mu)
    mu: np.ndarray  # fitted noise-free codes of that sample
    hist_edges: np.ndarray
    hist_counts: np.ndarray
    moments: dict
    channels: dict
    n_total: int
    n_used: int
    n_clipped: int
    quantized: bool
    signal_var: dict | None
    whiten: tuple | None  # (a, b) of sigma^2 = a + b|mu|
    sample_xy: tuple  # (x, observed, channel, mu) reservoir triples for plots


@dataclass(kw_only=True)
class CalibrationResult:
    cfg: CalibrateConfig
    meta: Metadata
    inputs: list  # [{"role", "path", "sha256"}]
    date: str
    adc_bits: int
    noise_res: Residuals
    converters_fit: TransferFit
    sweep: TransferSweep | None
    fits: list
    best: FamilyFit
    stderr: dict
    reproduction: dict = field(default_factory=dict)

    @property
    def full_scale(self) -> int:
        return 2 ** (self.adc_bits - 1) - 1

    @property
    def run_hash(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for i in self.inputs:
            h.update(f"{i['role']}:{i['sha256']};".encode())
        return h.hexdigest()

    def noise_section(self) -> dict:
        d = self.best.noise_section()
        d["signal_var_lsb2"] = float(self.noise_res.whiten[1]) if self.noise_res.whiten else 0.0
        return d

    def abfp_config(self, base=None):
        """AbfpConfig of the fitted noise (adc_bits of the data; other fields default)."""
        from ..config.abfp_mapping import abfp_config_from_sections

        sections = {"numerics": {"adc_bits": self.adc_bits}, "noise": self.noise_section()}
        return abfp_config_from_sections(sections, where="calibration fit")


def _infer_bits(max_abs: float, base_bits: int) -> int:
    if max_abs <= 2 ** (base_bits - 1) - 1:
        return base_bits
    for b in range(2, 17):
        if max_abs <= 2 ** (b - 1) - 1:
            return b
    raise CalibrationError(f"observed codes reach {max_abs:g}: beyond a 16-bit ADC")


def analyse(source, meta: Metadata, cfg: CalibrateConfig, *, base_bits: int,
            where: str = "paired") -> tuple[Residuals, int]:
    """Two streaming passes over ``source``; returns (residuals, adc_bits)."""
    res = Reservoir(cfg.reservoir_size, cfg.seed)
    n, max_abs, all_int, nch = 0, 0.0, True, source.n_channels
    for _, e, o, ch in source.chunks(cfg.chunk_elements):
        res.add(x=e, obs=o, ch=ch)
        n += e.size
        if e.size:
            max_abs = max(max_abs, float(np.abs(o).max()))
            all_int = all_int and bool(np.all(o == np.rint(o)))
            nch = max(nch, int(ch.max()) + 1)
    if n == 0:
        raise CalibrationError(f"{source.path}: no samples (empty input)")
    bits = meta.adc_bits or _infer_bits(max_abs, base_bits)
    fs = 2 ** (bits - 1) - 1
    quantized = {"yes": True, "no": False}.get(cfg.quantized, all_int)
    x, obs, ch = res.get("x"), res.get("obs"), res.get("ch")
    tf = fit_transfer(x, obs, ch, nch, fs, cfg, code_scale=meta.code_scale, where=f"{source.path}")
    mu = tf.predict(x, ch)
    ok = usable_mask(obs, mu, fs, cfg)
    if ok.sum() < 10:
        raise CalibrationError(f"{source.path}: only {int(ok.sum())} unclipped residuals")
    rng = np.random.default_rng(cfg.seed + 2)
    idx = np.flatnonzero(ok)
    if idx.size > cfg.mle_size:
        idx = np.sort(rng.choice(idx, cfg.mle_size, replace=False))
    r_s, mu_s = obs[idx] - mu[idx], mu[idx]
    signal_var, whiten = None, None
    if cfg.signal_dependent:
        signal_var = fit_signal_variance(mu[ok], obs[ok] - mu[ok], cfg)
        if signal_var["a_lsb2"] > 0:
            whiten = (signal_var["a_lsb2"], signal_var["b_lsb2"])

    def wfac(m):
        return 1.0 if whiten is None else np.sqrt(whiten[0] / (whiten[0] + whiten[1] * np.abs(m)))

    span = (-fs - mu_s - 0.5, fs - mu_s + 0.5) if cfg.outlier_model else None
    data = Data.make(r_s, quantized, span=span).scaled(wfac(mu_s))
    edges = data.jitter(np.random.default_rng(cfg.seed + 3))
    from .noise_fit import empirical_edges

    hist = StreamHistogram(empirical_edges(edges, cfg.empirical_bins))
    mom, chs = Moments(), ChannelStats(nch)
    n_used = n_clip = 0
    jit = np.random.default_rng(cfg.seed + 4)
    for _, e, o, c in source.chunks(cfg.chunk_elements):
        m = tf.predict(e, c)
        keep = usable_mask(o, m, fs, cfg)
        n_clip += int((np.abs(o) >= fs).sum())
        r = (o - m)[keep]
        n_used += r.size
        mom.add(r)
        chs.add(c[keep], r)
        z = r + (jit.random(r.size) - 0.5) if quantized else r
        hist.add(z * wfac(m[keep]))
    sub = rng.choice(len(x), min(len(x), 20_000), replace=False)
    return Residuals(transfer=tf, data=data, raw=r_s, mu=mu_s, hist_edges=hist.final_edges(),
                     hist_counts=hist.counts, moments=mom.summary(), channels=chs.summary(),
                     n_total=n, n_used=n_used, n_clipped=n_clip, quantized=quantized,
                     signal_var=signal_var, whiten=whiten,
                     sample_xy=(x[sub], obs[sub], ch[sub], mu[sub])), bits


def sweep_source(sw: TransferSweep, full_scale) -> GeneratorSource:
    C, P = sw.observed.shape
    x = np.tile(sw.codes, C)
    ch = np.repeat(np.arange(C), P)
    return ArraySource(x, sw.observed.ravel(), ch, n_channels=C, path=sw.path, full_scale=full_scale)


def calibrate(paired: str | None = None, *, transfer: str | None = None, meta: str | Metadata | None = None,
              cfg: CalibrateConfig | None = None, base_bits: int = 8, source=None) -> CalibrationResult:
    """Fit noise and transfer models. ``paired``: file path; ``source``: a chunk source instead."""
    cfg = cfg or CalibrateConfig()
    md = meta if isinstance(meta, Metadata) else load_meta(meta)
    if paired is None and transfer is None and source is None:
        raise CalibrationError("nothing to calibrate: give paired codes and/or --transfer sweeps")
    inputs = []
    sw = load_transfer(transfer, md) if transfer else None
    if sw is not None:
        inputs.append({"role": "transfer", "path": str(transfer), "sha256": file_sha256(transfer)})
    if paired is not None:
        source = open_paired(paired, md)
        inputs.append({"role": "paired", "path": str(paired), "sha256": file_sha256(paired)})
    if md.path:
        inputs.append({"role": "meta", "path": md.path, "sha256": file_sha256(md.path)})
    if source is None and sw is not None:
        src_bits = md.adc_bits or _infer_bits(float(np.abs(sw.observed).max()), base_bits)
        source = sweep_source(sw, 2 ** (src_bits - 1) - 1)
    nres, bits = analyse(source, md, cfg, base_bits=base_bits)
    conv = nres.transfer
    if sw is not None and source.path != sw.path:
        sres, _ = analyse(sweep_source(sw, None), md, cfg, base_bits=bits)
        conv = sres.transfer
    hist_probs = nres.hist_counts / max(nres.hist_counts.sum(), 1)
    fits, best = fit_all(nres.data, cfg, hist=(nres.hist_edges, hist_probs))
    err = uncertainty(best, nres.data, cfg)
    out = CalibrationResult(cfg=cfg, meta=md, inputs=inputs,
                            date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                            adc_bits=bits, noise_res=nres, converters_fit=conv, sweep=sw, fits=fits,
                            best=best, stderr=err)
    out.reproduction = reproduce_check(out, seed=cfg.seed)
    return out


def simulate_residuals(result: CalibrationResult, mu: np.ndarray, seed: int = 0) -> np.ndarray:
    """Residuals the simulator's ADC model produces for noise-free codes ``mu``.

    E is drawn by :func:`amssim.signal.sample_noise` for the fitted [noise] config
    (plus sqrt(b |mu|) z signal noise), added to mu, rounded (if the data were ADC
    codes) and clipped; clipped results are dropped like in the fit.
    """
    from .._rng import Stream, stream_key
    from ..signal import sample_noise

    cfg = result.abfp_config()
    mu = np.asarray(mu, np.float64)
    cols = 1024
    rows = max(1, math.ceil(mu.size / cols))
    keys = np.array([*stream_key(seed, Stream.OUTPUT_NOISE, 0),
                     *stream_key(seed, Stream.OUTPUT_NOISE_2, 0)], np.uint32)
    E = sample_noise(cfg, keys, rows, cols).ravel()[: mu.size]
    if cfg.signal_noise_var_lsb2 > 0:
        z = np.random.default_rng([seed, int(Stream.SIGNAL_NOISE)]).standard_normal(mu.size)
        E = E + np.sqrt(cfg.signal_noise_var_lsb2 * np.abs(mu)) * z
    v = mu + E
    if result.noise_res.quantized:
        v = np.rint(v)
    fs = result.full_scale
    keep = np.abs(v) < fs
    return (v - mu)[keep]


def reproduce_check(result: CalibrationResult, seed: int = 0) -> dict:
    """Two-sample KS of input residuals vs residuals simulated with the fitted model."""
    nr = result.noise_res
    sim = simulate_residuals(result, nr.mu, seed=seed + 17)
    ks = stats.ks_2samp(nr.raw, sim)
    return {"ks_2samp": float(ks.statistic), "pvalue": float(ks.pvalue), "n_input": int(nr.raw.size),
            "n_simulated": int(sim.size)}
