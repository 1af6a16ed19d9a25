"""Maximum-likelihood fits of the additive error E (ADC LSB) over several families.

Families (location fixed at 0; offsets belong to the transfer fit): gaussian
(sigma), logistic (scale), laplace (scale), student_t (scale, dof), uniform
(half-width) via scipy.stats distributions minimised with scipy.optimize, and an
empirical histogram. If the observed codes are ADC outputs (integers) a residual
r = obs - mu only says E lies in [r - 1/2, r + 1/2] (obs = rint(mu + E)), so the
likelihood is interval censored: sum log(F(r + 1/2) - F(r - 1/2)). Goodness of
fit: KS statistic of the (randomised, for intervals) probability integral
transform u = F(lo) + V (F(hi) - F(lo)), which is exactly U(0, 1) under the model.
Model choice by AIC (2k - 2 lnL) or BIC (k ln n - 2 lnL).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from ..errors import CalibrationError, FitError
from .transfer import MAD_TO_SIGMA

TINY = 1e-300


@dataclass(frozen=True, kw_only=True)
class Data:
    """Residual sample: exact values (lo == hi) or intervals [lo, hi]."""

    lo: np.ndarray
    hi: np.ndarray
    censored: bool
    span_lo: np.ndarray | None = None  # outlier model: uniform residual on [span_lo, span_hi]
    span_hi: np.ndarray | None = None

    @staticmethod
    def make(r, censored: bool, half_width: float = 0.5, span=None) -> "Data":
        r = np.asarray(r, np.float64)
        sl, sh = (None, None) if span is None else (np.asarray(span[0], np.float64),
                                                     np.asarray(span[1], np.float64))
        if censored:
            return Data(lo=r - half_width, hi=r + half_width, censored=True, span_lo=sl, span_hi=sh)
        return Data(lo=r, hi=r, censored=False, span_lo=sl, span_hi=sh)

    @property
    def has_outlier_model(self) -> bool:
        return self.span_lo is not None

    def outlier_cdf(self, x):
        return np.clip((x - self.span_lo) / (self.span_hi - self.span_lo), 0.0, 1.0)

    @property
    def n(self) -> int:
        return len(self.lo)

    @property
    def mid(self) -> np.ndarray:
        return 0.5 * (self.lo + self.hi)

    def subset(self, idx) -> "Data":
        sp = (None, None) if self.span_lo is None else (self.span_lo[idx], self.span_hi[idx])
        return Data(lo=self.lo[idx], hi=self.hi[idx], censored=self.censored, span_lo=sp[0],
                    span_hi=sp[1])

    def scaled(self, w) -> "Data":
        sp = (None, None) if self.span_lo is None else (self.span_lo * w, self.span_hi * w)
        return Data(lo=self.lo * w, hi=self.hi * w, censored=self.censored, span_lo=sp[0],
                    span_hi=sp[1])

    def jitter(self, rng) -> np.ndarray:
        """A continuous sample consistent with the data (dequantised)."""
        if not self.censored:
            return self.lo.copy()
        return self.lo + rng.random(self.n) * (self.hi - self.lo)


@dataclass(frozen=True, kw_only=True)
class FamilyFit:
    family: str
    params: dict  # lsb, dof / edges_lsb, probs
    k: int
    loglik: float
    aic: float
    bic: float
    ks: float
    ks_pvalue: float
    converged: bool = True
    message: str = ""
    stderr: dict = field(default_factory=dict)

    def cdf(self, x):
        return family_dist(self.family, self.params).cdf(x)

    def pdf(self, x):
        return family_dist(self.family, self.params).pdf(x)

    def ppf(self, q):
        return family_dist(self.family, self.params).ppf(q)

    def to_dict(self) -> dict:
        d = {"family": self.family, "k": self.k, "loglik": self.loglik, "aic": self.aic,
             "bic": self.bic, "ks": self.ks, "ks_pvalue": self.ks_pvalue,
             "converged": self.converged, "message": self.message, "stderr": self.stderr}
        d["params"] = {k: (np.asarray(v).tolist() if isinstance(v, (tuple, np.ndarray)) else float(v))
                       for k, v in self.params.items()}
        return d

    def noise_section(self) -> dict:
        """Keys of the device [noise] section for this fit."""
        p = self.params
        if self.family == "empirical":
            return {"kind": "empirical", "lsb": 0.0, "edges_lsb": tuple(p["edges_lsb"]),
                    "probs": tuple(p["probs"])}
        out = {"kind": self.family, "lsb": float(p["lsb"])}
        if self.family == "student_t":
            out["dof"] = float(p["dof"])
        return out


class _Hist:
    """Piecewise-uniform distribution on edges with bin probabilities (scipy-like API)."""

    def __init__(self, edges, probs):
        self.e = np.asarray(edges, np.float64)
        self.p = np.asarray(probs, np.float64)
        self.cum = np.concatenate([[0.0], np.cumsum(self.p)])
        self.cum /= self.cum[-1]

    def cdf(self, x):
        return np.interp(x, self.e, self.cum)

    def sf(self, x):
        return 1.0 - self.cdf(x)

    def pdf(self, x):
        x = np.asarray(x, np.float64)
        j = np.clip(np.searchsorted(self.e, x, side="right") - 1, 0, len(self.p) - 1)
        d = self.p[j] / np.diff(self.e)[j]
        return np.where((x >= self.e[0]) & (x <= self.e[-1]), d, 0.0)

    def logpdf(self, x):
        with np.errstate(divide="ignore"):
            return np.log(self.pdf(x))

    def ppf(self, q):
        return np.interp(q, self.cum, self.e)


def family_dist(family: str, p: dict):
    if family == "gaussian":
        return stats.norm(0.0, p["lsb"])
    if family == "logistic":
        return stats.logistic(0.0, p["lsb"])
    if family == "laplace":
        return stats.laplace(0.0, p["lsb"])
    if family == "student_t":
        return stats.t(p["dof"], 0.0, p["lsb"])
    if family == "uniform":
        return stats.uniform(-p["lsb"], 2.0 * p["lsb"])
    if family == "empirical":
        return _Hist(p["edges_lsb"], p["probs"])
    raise ValueError(family)


def loglik_terms(dist, data: Data, eps: float = 0.0) -> np.ndarray:
    """Per-sample log-likelihood of (1 - eps) F + eps U(span) (eps = outlier fraction)."""
    if not data.censored:
        if eps <= 0:
            return dist.logpdf(data.lo)
        pr = (1 - eps) * dist.pdf(data.lo) + eps / (data.span_hi - data.span_lo)
        return np.log(np.maximum(pr, TINY))
    upper = data.lo > 0
    pr = np.empty(data.n)
    pr[upper] = dist.sf(data.lo[upper]) - dist.sf(data.hi[upper])
    pr[~upper] = dist.cdf(data.hi[~upper]) - dist.cdf(data.lo[~upper])
    if eps > 0:
        pr = (1 - eps) * pr + eps * (data.outlier_cdf(data.hi) - data.outlier_cdf(data.lo))
    return np.log(np.maximum(pr, TINY))


def loglik(family, params, data) -> float:
    eps = float(params.get("outlier_fraction", 0.0))
    return float(np.sum(loglik_terms(family_dist(family, params), data, eps)))


def pit(dist, data: Data, rng, eps: float = 0.0) -> np.ndarray:
    def F(x):
        f = dist.cdf(x)
        return f if eps <= 0 else (1 - eps) * f + eps * data.outlier_cdf(x)

    lo = F(data.lo)
    if not data.censored:
        return lo
    return lo + rng.random(data.n) * (F(data.hi) - lo)


# ------------------------------------------------------------------ per-family MLE
_NAMES = {"gaussian": ("lsb",), "logistic": ("lsb",), "laplace": ("lsb",),
          "student_t": ("lsb", "dof"), "uniform": ("lsb",)}


def _init_scale(family, sigma):
    return {"gaussian": sigma, "logistic": sigma * math.sqrt(3) / math.pi,
            "laplace": sigma / math.sqrt(2), "student_t": sigma}[family]


def _mle_parametric(family, data: Data, cfg, sigma0: float):
    names = _NAMES[family]
    lo_s = math.log(cfg.min_scale_lsb)
    if family == "uniform":
        ends = np.maximum(np.abs(data.lo), np.abs(data.hi))
        amin = max(float(np.max(np.maximum(data.lo, -data.hi))), cfg.min_scale_lsb)
        amax = max(float(ends.max()), amin)
        if not data.censored or amax <= amin * (1 + 1e-12):
            return {"lsb": amin if not data.censored else amax}, True, "closed form"
        res = optimize.minimize_scalar(lambda a: -loglik("uniform", {"lsb": a}, data),
                                       bounds=(amin, amax), method="bounded")
        return {"lsb": float(res.x)}, bool(res.success), str(res.message)
    x0 = [math.log(max(_init_scale(family, sigma0), cfg.min_scale_lsb * 2))]
    bounds = [(lo_s, math.log(1e9))]
    if family == "student_t":
        x0.append(math.log(5.0))
        bounds.append((math.log(0.05), math.log(cfg.max_dof)))
    if data.has_outlier_model:
        names = names + ("outlier_fraction",)
        x0.append(math.log(cfg.outlier_fraction_init))
        bounds.append((math.log(cfg.outlier_fraction_min), math.log(cfg.outlier_fraction_max)))

    def unpack(th):
        return dict(zip(names, np.exp(th)))

    def nll(th):
        v = -loglik(family, unpack(th), data)
        return v / data.n if np.isfinite(v) else 1e300

    res = optimize.minimize(nll, np.array(x0), method="L-BFGS-B", bounds=bounds)
    return unpack(res.x), bool(res.success) and bool(np.isfinite(res.fun)), str(res.message)


def _names(family, data):
    extra = ("outlier_fraction",) if data.has_outlier_model and family != "uniform" else ()
    return _NAMES[family] + extra


def _fisher_stderr(family, params, data) -> dict:
    names = _names(family, data)
    th = np.array([params[n] for n in names], np.float64)
    h = 1e-4 * np.maximum(np.abs(th), 1e-6)

    def f(t):
        return -loglik(family, dict(zip(names, t)), data)

    k = len(th)
    H = np.empty((k, k))
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
            H[i, j] = (f(th + ei + ej) - f(th + ei - ej) - f(th - ei + ej) + f(th - ei - ej)) / (4 * h[i] * h[j])
    try:
        cov = np.linalg.inv(H)
        d = np.diag(cov)
        return {n: (float(math.sqrt(v)) if v > 0 else None) for n, v in zip(names, d)}
    except np.linalg.LinAlgError:
        return {n: None for n in names}


def empirical_edges(sample: np.ndarray, nbins: int) -> np.ndarray:
    e = np.unique(np.quantile(sample, np.linspace(0.0, 1.0, nbins + 1)))
    if len(e) < 2:
        c = float(sample[0]) if sample.size else 0.0
        e = np.array([c - 0.5, c + 0.5])
    return e


def fit_family(family, data: Data, cfg, rng, *, hist=None) -> FamilyFit:
    """ML fit of one family (``hist`` = (edges, probs) fixes the empirical histogram)."""
    n = data.n
    mid = data.mid
    sigma0 = MAD_TO_SIGMA * float(np.median(np.abs(mid - np.median(mid)))) or float(np.std(mid)) or 1.0
    if family == "empirical":
        if hist is None:
            z = data.jitter(rng)
            edges = empirical_edges(z, cfg.empirical_bins)
            edges[0], edges[-1] = min(edges[0], data.lo.min()), max(edges[-1], data.hi.max())
            counts = np.histogram(np.clip(z, edges[0], edges[-1]), edges)[0]
            probs = counts / counts.sum()
        else:
            edges, probs = (np.asarray(a, np.float64) for a in hist)
        probs = _normalise(probs)
        params, ok, msg, k = {"edges_lsb": edges, "probs": probs}, True, "histogram", len(probs) - 1
    else:
        params, ok, msg = _mle_parametric(family, data, cfg, sigma0)
        k = len(_names(family, data))
    ll = loglik(family, params, data)
    dist = family_dist(family, params)
    ks = stats.kstest(pit(dist, data, rng, float(params.get("outlier_fraction", 0.0))), "uniform")
    ok = ok and math.isfinite(ll)
    return FamilyFit(family=family, params=params, k=k, loglik=ll, aic=2 * k - 2 * ll,
                     bic=k * math.log(n) - 2 * ll, ks=float(ks.statistic),
                     ks_pvalue=float(ks.pvalue), converged=ok, message=msg)


def _normalise(p):
    p = np.maximum(np.asarray(p, np.float64), 0.0)
    p = p / p.sum()
    p[-1] = max(0.0, 1.0 - math.fsum(p[:-1]))
    return p / math.fsum(p)


def fit_all(data: Data, cfg, *, hist=None) -> tuple[list[FamilyFit], FamilyFit]:
    """Fit every configured family; return (fits, chosen by cfg.criterion)."""
    if data.n < 10:
        raise CalibrationError(f"only {data.n} usable residuals: too few for a noise fit")
    rng = np.random.default_rng(cfg.seed)
    fits = []
    for fam in cfg.families:
        try:
            fits.append(fit_family(fam, data, cfg, rng, hist=hist))
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            fits.append(FamilyFit(family=fam, params={}, k=0, loglik=-math.inf, aic=math.inf,
                                  bic=math.inf, ks=1.0, ks_pvalue=0.0, converged=False,
                                  message=str(exc)))
    good = [f for f in fits if f.converged and math.isfinite(getattr(f, cfg.criterion))]
    if not good:
        raise FitError("no noise family converged: " + "; ".join(f"{f.family}: {f.message}" for f in fits))
    best = min(good, key=lambda f: getattr(f, cfg.criterion))
    return fits, best


def uncertainty(best: FamilyFit, data: Data, cfg) -> dict:
    """Standard errors of the chosen family's parameters (Fisher or bootstrap)."""
    if cfg.uncertainty == "none" or best.family == "empirical":
        return {}
    if cfg.uncertainty == "fisher":
        if best.family == "uniform":
            return {"lsb": None}  # support parameter: no regular Fisher information
        return _fisher_stderr(best.family, best.params, data)
    rng = np.random.default_rng(cfg.seed + 1)
    m = min(data.n, cfg.bootstrap_size)
    vals = {n: [] for n in _names(best.family, data)}
    sigma0 = float(best.params["lsb"])
    for _ in range(cfg.bootstrap_reps):
        sub = data.subset(rng.integers(0, data.n, m))
        p, ok, _ = _mle_parametric(best.family, sub, cfg, sigma0)
        if ok:
            for n in vals:
                vals[n].append(p[n])
    return {n: (float(np.std(v, ddof=1)) if len(v) > 1 else None) for n, v in vals.items()}


# ------------------------------------------------------------------ signal-dependent variance
def fit_signal_variance(signal, resid, cfg) -> dict:
    """sigma^2 = a + b |signal| by robust least squares on binned IQR variances."""
    s = np.abs(np.asarray(signal, np.float64))
    r = np.asarray(resid, np.float64)
    qs = np.unique(np.quantile(s, np.linspace(0, 1, cfg.signal_bins + 1)))
    if len(qs) < 3:
        raise CalibrationError("signal-dependent variance: |signal| takes fewer than 3 distinct bins")
    j = np.clip(np.searchsorted(qs, s, side="right") - 1, 0, len(qs) - 2)
    xs, vs, ns = [], [], []
    for b in range(len(qs) - 1):
        rb = r[j == b]
        if rb.size >= 20:
            q1, q3 = np.quantile(rb, [0.25, 0.75])
            xs.append(float(s[j == b].mean()))
            vs.append(((q3 - q1) / 1.349) ** 2)  # IQR of a normal = 1.349 sigma
            ns.append(rb.size)
    xs, vs = np.array(xs), np.array(vs)
    if len(xs) < 3:
        raise CalibrationError("signal-dependent variance: fewer than 3 bins with >= 20 residuals")
    res = optimize.least_squares(lambda p: (p[0] + p[1] * xs - vs) / max(vs.mean(), TINY),
                                 [max(vs.min(), TINY), 0.0], bounds=([0, 0], [np.inf, np.inf]),
                                 loss="soft_l1")
    if res.status <= 0:
        raise FitError(f"signal-dependent variance fit did not converge: {res.message}")
    a, b = (float(v) for v in res.x)
    return {"a_lsb2": a, "b_lsb2": b, "bin_signal_lsb": xs.tolist(), "bin_var_lsb2": vs.tolist(),
            "bin_count": ns}
