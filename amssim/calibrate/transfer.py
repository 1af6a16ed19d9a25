"""Per-channel gain/offset + shared smooth nonlinearity by robust least squares.

Model of an observed (noise-free) code for input ``x`` on channel ``c``::

    y = a[c] * x + o[c]                          (gain a[c] includes the global scale)
    h(y) = y + FS * sum_{k=2..d} q[k] (y / FS)^k  (shared ADC nonlinearity, FS = full scale)

fitted with ``scipy.optimize.least_squares`` (robust loss, sparse analytic
Jacobian, trust-region reflective with LSMR) so hundreds of channels and 1e5+
points stay cheap. The global scale ``s`` is the metadata's ``code_scale`` or the
median channel gain; the device stores ``channel_gain_error = a / s - 1``,
``channel_offset_lsb = o`` and ``adc_inl_lsb[code] = h(code) - code``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, sparse

from ..errors import CalibrationError, FitError

MAD_TO_SIGMA = 1.4826  # sigma of a normal = 1.4826 x median absolute deviation


@dataclass(frozen=True, kw_only=True)
class TransferFit:
    full_scale: int
    gains: np.ndarray  # (C,) absolute a[c] (NaN: channel without usable data)
    offsets_lsb: np.ndarray  # (C,)
    poly: np.ndarray  # (d-1,) q[2..d]
    scale: float  # global scale s
    scale_source: str  # "metadata" | "median channel gain"
    residual_sigma_lsb: float  # MAD sigma of the fit residuals
    n_used: int
    n_excluded_clipped: int
    nfev: int
    status: int
    stats: dict = field(default_factory=dict)

    @property
    def n_channels(self) -> int:
        return len(self.gains)

    @property
    def gain_error(self) -> np.ndarray:
        g = self.gains / self.scale - 1.0
        return np.where(np.isfinite(g), g, 0.0)

    @property
    def offsets_filled(self) -> np.ndarray:
        return np.where(np.isfinite(self.offsets_lsb), self.offsets_lsb, 0.0)

    def nonlin(self, y: np.ndarray) -> np.ndarray:
        fs = float(self.full_scale)
        out = np.zeros_like(np.asarray(y, np.float64))
        for k, q in enumerate(self.poly, start=2):
            out += fs * q * (y / fs) ** k
        return out

    def predict(self, x: np.ndarray, ch: np.ndarray) -> np.ndarray:
        y = np.nan_to_num(self.gains, nan=self.scale)[ch] * x + self.offsets_filled[ch]
        return y + self.nonlin(y)

    def inl_table(self) -> tuple:
        """ADC INL per output code -FS..FS (LSB), empty if no nonlinearity is fitted."""
        if not len(self.poly):
            return ()
        codes = np.arange(-self.full_scale, self.full_scale + 1, dtype=np.float64)
        return tuple(float(v) for v in self.nonlin(codes))

    def to_dict(self) -> dict:
        return {"full_scale": self.full_scale, "scale": self.scale, "scale_source": self.scale_source,
                "gain_error": self.gain_error.tolist(), "offset_lsb": self.offsets_filled.tolist(),
                "poly_q2_up": self.poly.tolist(), "residual_sigma_lsb": self.residual_sigma_lsb,
                "n_used": self.n_used, "n_excluded_clipped": self.n_excluded_clipped,
                "nfev": self.nfev, "status": self.status, **self.stats}


def _initial(x, obs, ch, nch):
    """Per-channel ordinary least squares line (closed form from bincount sums)."""
    n = np.bincount(ch, minlength=nch).astype(np.float64)
    sx, sy = np.bincount(ch, x, nch), np.bincount(ch, obs, nch)
    sxx, sxy = np.bincount(ch, x * x, nch), np.bincount(ch, x * obs, nch)
    with np.errstate(invalid="ignore", divide="ignore"):
        den = n * sxx - sx * sx
        a = np.where(den > 0, (n * sxy - sx * sy) / np.where(den > 0, den, 1), np.nan)
        a_med = np.nanmedian(a) if np.isfinite(a).any() else 1.0
        a = np.where(np.isfinite(a), a, a_med)
        o = np.where(n > 0, (sy - a * sx) / np.maximum(n, 1), 0.0)
    return a, o


def fit_transfer(x, obs, ch, n_channels: int, full_scale: int, cfg, *, code_scale=None,
                 where: str = "transfer") -> TransferFit:
    """Robust fit of (x, obs, channel) triples; clipped codes (|obs| >= FS) are excluded."""
    x, obs = np.asarray(x, np.float64), np.asarray(obs, np.float64)
    ch = np.asarray(ch, np.int64)
    clipped = np.abs(obs) >= full_scale
    keep = ~clipped
    present = np.bincount(ch[keep], minlength=n_channels) > 0
    if keep.sum() < 2:
        raise CalibrationError(f"{where}: fewer than 2 unclipped points, nothing to fit")
    idx = np.cumsum(present) - 1  # compact channel index
    deg = int(cfg.poly_degree)
    npoly = max(deg - 1, 0)
    fs = float(full_scale)

    def run(mask, p0, f_scale, loss):
        xm, om, cm = x[mask], obs[mask], idx[ch[mask]]
        m, C = len(xm), int(present.sum())
        rows = np.arange(m)

        def unpack(p):
            return p[:C], p[C:2 * C], p[2 * C:]

        def resid(p):
            a, o, q = unpack(p)
            y = a[cm] * xm + o[cm]
            return y + sum(fs * qk * (y / fs) ** k for k, qk in enumerate(q, 2)) - om

        def jac(p):
            a, o, q = unpack(p)
            y = a[cm] * xm + o[cm]
            dh = np.ones(m) + sum(k * qk * (y / fs) ** (k - 1) for k, qk in enumerate(q, 2))
            cols = [cm, C + cm] + [np.full(m, 2 * C + j) for j in range(len(q))]
            vals = [dh * xm, dh] + [fs * (y / fs) ** k for k in range(2, 2 + len(q))]
            return sparse.csr_matrix((np.concatenate(vals), (np.tile(rows, 2 + len(q)),
                                                             np.concatenate(cols))),
                                     shape=(m, 2 * C + len(q)))

        if m < len(p0):
            # the data cannot determine the model: bad input (exit 2), not a failed run
            raise CalibrationError(f"{where}: {m} usable points for {len(p0)} parameters")
        try:
            res = optimize.least_squares(resid, p0, jac=jac, loss=loss, f_scale=f_scale,
                                         method="trf", tr_solver="lsmr", x_scale="jac",
                                         max_nfev=cfg.max_nfev * max(len(p0), 10))
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise FitError(f"{where}: least-squares fit failed: {exc}") from None
        if res.status <= 0 or not np.all(np.isfinite(res.x)):
            raise FitError(f"{where}: least-squares fit did not converge ({res.message}, "
                           f"{res.nfev} evaluations)")
        return res, unpack(res.x), resid(res.x)

    a0, o0 = _initial(x[keep], obs[keep], ch[keep], n_channels)
    p0 = np.concatenate([a0[present], o0[present], np.zeros(npoly)])
    # stage 1: plain fit gives the residual scale; stage 2: robust fit
    _, _, r1 = run(keep, p0, 1.0, "linear")
    sig1 = MAD_TO_SIGMA * float(np.median(np.abs(r1 - np.median(r1))))
    f_scale = cfg.robust_scale_lsb or max(2.0 * sig1, cfg.robust_scale_floor_lsb)
    res, (a, o, q), r = run(keep, p0, f_scale, cfg.robust_loss)
    # drop points whose noise-free code is near full scale (their noise may be clipped); refit
    y = a[idx[ch]] * x + o[idx[ch]]
    pred = y + sum(fs * qk * (y / fs) ** k for k, qk in enumerate(q, 2))
    keep2 = keep & (np.abs(pred) < fs - cfg.clip_guard_lsb)
    if keep2.sum() < keep.sum():
        res, (a, o, q), r = run(keep2, res.x, f_scale, cfg.robust_loss)
    gains = np.full(n_channels, np.nan)
    offs = np.full(n_channels, np.nan)
    gains[present], offs[present] = a, o
    if np.any(a <= 0):
        # a property of the data (the code does not rise with the input): bad input (exit 2)
        raise CalibrationError(f"{where}: fitted channel gain <= 0 ({a.min():.3g}): inverted or dead channel "
                               f"(channel {int(np.flatnonzero(present)[int(np.argmin(a))])})")
    scale, src = (float(code_scale), "metadata") if code_scale else (float(np.median(a)),
                                                                      "median channel gain")
    sig = MAD_TO_SIGMA * float(np.median(np.abs(r - np.median(r))))
    return TransferFit(full_scale=int(full_scale), gains=gains, offsets_lsb=offs, poly=np.asarray(q),
                       scale=scale, scale_source=src, residual_sigma_lsb=sig,
                       n_used=int(keep2.sum()), n_excluded_clipped=int(clipped.sum()),
                       nfev=int(res.nfev), status=int(res.status),
                       stats={"robust_loss": cfg.robust_loss, "f_scale_lsb": f_scale,
                              "n_excluded_near_full_scale": int((keep & ~keep2).sum()),
                              "channels_without_data": int((~present).sum())})


def usable_mask(obs, pred, full_scale, cfg) -> np.ndarray:
    """Points used for the noise fit: observed not clipped, prediction away from full scale."""
    return (np.abs(obs) < full_scale) & (np.abs(pred) < full_scale - cfg.clip_guard_lsb)
