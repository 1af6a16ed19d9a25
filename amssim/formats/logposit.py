"""Logarithmic posits ``lp{n}_{es}_{rs}_{sf}`` (Ramachandran et al., DAC 2024,
arXiv:2403.05465), implemented from the definition (their released code is wrong).

Bit layout: exactly the posit layout of :mod:`amssim.formats.posit` (sign, regime
with run length capped at rs and no terminator after a run of rs, es exponent bits,
fb = remaining fraction bits F) but the fraction is read in the log domain:
value = (-1)^s 2^(2^es k + e + F / 2^fb - sf). Pattern 0 is zero; negative values
use the sign (the kernel works on magnitudes).

Rounding is the posit rule on the bit string, which for log-posits means rounding
log2|x| + sf on the code grid: the threshold between neighbours u < w is the
(n+1)-bit code "u followed by 1", i.e. the geometric midpoint whenever the cut bit
is a fraction bit. Those thresholds are irrational, so ties only happen for powers
of two (exponent/regime bits cut). Values beyond maxpos/minpos saturate (never 0).
``toward_zero`` truncates the exact log-domain bit string and ``stochastic`` uses the
float32 neighbours; in every mode a code's own float32 value maps to that code.
Decoded values 2^(irrational) are stored as the nearest float32 (correctly rounded:
numpy exp2 checked and, when within 4 ulp of a float32 rounding boundary, recomputed
with 60-digit decimal arithmetic). The kernel compares |x| with the smallest float32
>= each exact code value and threshold, which decides x > 2^q exactly for float32 x.
"""

from __future__ import annotations

import decimal
import numpy as np

from .posit import TaperedSpec

_CTX = decimal.Context(prec=60)


def _exact_pow2(num: int, den: int) -> decimal.Decimal:
    return _CTX.power(decimal.Decimal(2), _CTX.divide(decimal.Decimal(int(num)), decimal.Decimal(int(den))))


def _dec(f: np.float32) -> decimal.Decimal:
    return decimal.Decimal(float(f))


def pow2_f32(num: np.ndarray, fbits: int, how: str = "nearest") -> np.ndarray:
    """float32 nearest to (or the smallest float32 >=, how="ceil") 2^(num / 2^fbits)."""
    num = np.asarray(num, dtype=np.int64)
    den = 1 << int(fbits)
    with np.errstate(over="ignore", under="ignore"):
        v = np.exp2(num / den)
        f = v.astype(np.float32)
    up = np.nextafter(f, np.float32(np.inf))
    dn = np.nextafter(f, np.float32(0))
    ulp = np.spacing(v)
    if how == "nearest":
        amb = (np.abs(v - (f.astype(np.float64) + up) / 2) <= 4 * ulp) | (
            np.abs(v - (f.astype(np.float64) + dn) / 2) <= 4 * ulp)
    else:
        f = np.where(f.astype(np.float64) >= v, f, up)
        up = np.nextafter(f, np.float32(np.inf))
        dn = np.nextafter(f, np.float32(0))
        amb = (np.abs(v - f) <= 4 * ulp) | (np.abs(v - dn) <= 4 * ulp)
    exact = num % den == 0
    out = f.copy()
    with np.errstate(over="ignore", under="ignore"):
        out[exact] = np.ldexp(1.0, num[exact] // den).astype(np.float32)
    for i in np.flatnonzero(amb & ~exact & np.isfinite(v) & (v > 0)):
        d = _exact_pow2(int(num[i]), den)
        cands = [dn[i], f[i], up[i]]
        if how == "nearest":
            out[i] = min(cands, key=lambda c: abs(_dec(c) - d))
        else:
            out[i] = min(c for c in cands if _dec(c) >= d)
    return out


def make_logposit(n: int, es: int, rs: int, sf: int, name: str) -> TaperedSpec:
    return TaperedSpec(name=name, n=n, es=es, rs=rs, sf=sf, log_fraction=True)
