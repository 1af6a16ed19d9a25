"""Posits ``posit{n}_{es}`` (Posit Standard 2022) and the tapered-format machinery
shared with logarithmic posits (:mod:`amssim.formats.logposit`).

Bit layout of an n-bit pattern (two's complement for negatives, as in the standard;
the kernel works on magnitudes): sign | regime | exponent (es bits) | fraction.
The regime is a run of identical bits ended by the opposite bit; its run length is
capped at ``rs`` (posits: rs = n-1, i.e. uncapped) and a run of length rs has no
terminator. A run of r ones means k = r-1, a run of r zeros k = -r. Exponent bits cut
off by the end of the pattern are 0. Posit value: 2^(k 2^es + e) (1 + f).

Rounding (Posit Standard 2022, section on rounding): values above maxpos become
maxpos, nonzero values below minpos become minpos (never 0 or NaR); otherwise the
exact value's bit string is rounded to n bits to nearest with ties to the pattern
whose last bit is 0 (the midpoint between neighbours u < w is the (n+1)-bit posit
"u followed by 1"). ``nearest_away`` breaks those ties toward the larger magnitude,
``toward_zero`` truncates the bit string, ``stochastic`` rounds up with probability
(|x| - u) / (w - u). NaR has no float32 counterpart: NaN/Inf input is rejected.

Supported: 2 <= n <= 16, 0 <= es < n, and every value must be a float32 normal
number ((n-2) 2^es <= 126), so posit16_4 or posit8_5 are rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import FormatError
from . import _kernels as K
from .spec import FormatSpec, RunContext

MAX_TAPERED_BITS = 16


def decode_fields(n: int, es: int, rs: int):
    """(k, e, F, fb) of every positive pattern p in [0, 2^(n-1)) (p = 0 is zero)."""
    nb = n - 1
    p = np.arange(2**nb, dtype=np.int64)
    r0 = (p >> (nb - 1)) & 1
    run = np.zeros_like(p)
    still = np.ones(p.shape, dtype=bool)
    for i in range(min(rs, nb)):
        bit = (p >> (nb - 1 - i)) & 1
        still &= bit == r0
        run += still
    term = (run < rs).astype(np.int64)
    used = run + term
    k = np.where(r0 == 1, run - 1, -run)
    rem = nb - used
    eb = np.minimum(es, rem)
    rest = p & ((np.int64(1) << rem) - 1)
    e = (rest >> (rem - eb)) << (es - eb)
    fb = rem - eb
    frac = rest & ((np.int64(1) << fb) - 1)
    return k, e, frac, fb


@dataclass(frozen=True, kw_only=True)
class TaperedSpec(FormatSpec):
    """Posit-like tapered format; ``log_fraction`` selects the logarithmic posit."""

    #: total bits n (2..16)
    n: int
    #: exponent bits es (0 .. n-1)
    es: int
    #: maximum regime run length rs (1 .. n-1; posits use n-1)
    rs: int
    #: scale-factor bias sf (integer; posits use 0)
    sf: int = 0
    #: False: posit (linear fraction); True: log-posit (fraction in the log domain)
    log_fraction: bool = False

    @property
    def family(self) -> str:  # type: ignore[override]
        return "logposit" if self.log_fraction else "posit"

    def __post_init__(self) -> None:
        n, es, rs = self.n, self.es, self.rs
        kind = "log-posit" if self.log_fraction else "posit"
        if not (2 <= n <= MAX_TAPERED_BITS):
            raise FormatError(f"format {self.name!r}: {kind} width n must be 2..{MAX_TAPERED_BITS} (got {n})")
        if not (0 <= es < n):
            raise FormatError(f"format {self.name!r}: {kind} needs 0 <= es < n (got es={es}, n={n})")
        if not (1 <= rs <= n - 1):
            raise FormatError(f"format {self.name!r}: regime cap rs must be 1..n-1 (got rs={rs}, n={n})")
        if abs(self.sf) > 1000:
            raise FormatError(f"format {self.name!r}: scale-factor bias sf out of range (got {self.sf})")
        vals = self.table()
        lo, hi = float(vals[1]), float(vals[-1])
        if not (lo >= 2.0**-126 and np.isfinite(hi)):
            raise FormatError(
                f"format {self.name!r}: values span [{lo:g}, {hi:g}], outside float32's normal "
                "range [2^-126, 3.4e38]; use a smaller es/rs or shift sf"
            )

    def table(self) -> np.ndarray:
        """float32 magnitude of every positive pattern (index = pattern, 0 -> 0)."""
        return _table(self.n, self.es, self.rs, self.sf, self.log_fraction)

    @property
    def maxpos(self) -> float:
        return float(self.table()[-1])

    @property
    def minpos(self) -> float:
        return float(self.table()[1])

    @property
    def bits_per_element(self) -> float:
        return float(self.n)

    def describe(self) -> str:
        if self.log_fraction:
            return (f"log-posit n={self.n} es={self.es} rs={self.rs} sf={self.sf}: "
                    f"2^(2^es k + e + f - sf), range [{self.minpos:.3g}, {self.maxpos:.3g}]")
        return f"posit n={self.n} es={self.es}, range [{self.minpos:.3g}, {self.maxpos:.3g}]"

    def _run_flat(self, x: np.ndarray, ctx: RunContext):
        t = kernel_tables(self.n, self.es, self.rs, self.sf, self.log_fraction)
        out = np.empty_like(x)
        nbad = K.tapered_kernel(x, x.view(np.uint32), out, (1 << (self.n - 1)) - 1,
                                int(self.log_fraction), t["vals"], t["valc"], t["thr"], t["exact"],
                                t["lut"], t["off"], t["shf"], int(ctx.mode), ctx.k0, ctx.k1,
                                ctx.index_offset, ctx.salt)
        return out, nbad


def _exponents(n: int, es: int, rs: int, sf: int):
    """(integer scale I, fraction numerator F, fraction bits fb) per pattern."""
    k, e, frac, fb = decode_fields(n, es, rs)
    return (k << es) + e - sf, frac, fb


@lru_cache(maxsize=64)
def kernel_tables(n: int, es: int, rs: int, sf: int, log_fraction: bool) -> dict:
    """Lookup tables of :func:`amssim.formats._kernels.tapered_kernel`."""
    from .logposit import pow2_f32

    maxpat = (1 << (n - 1)) - 1
    vals = _table(n, es, rs, sf, log_fraction)
    scale, frac, fb = _exponents(n, es, rs, sf)
    # thresholds: value of the (n+1)-bit pattern 2p+1 (regime cap: n for posits, rs for lp)
    rs1 = n if not log_fraction else rs
    s1, f1, fb1 = _exponents(n + 1, es, rs1, sf)
    odd = 2 * np.arange(maxpat + 1, dtype=np.int64) + 1
    s1, f1, fb1 = s1[odd], f1[odd], fb1[odd]
    if log_fraction:
        fbm = int(max(fb.max(), fb1.max()))
        num = scale * (1 << fbm) + (frac << (fbm - fb))
        valc = pow2_f32(num, fbm, how="ceil").astype(np.float64)
        num1 = s1 * (1 << fbm) + (f1 << (fbm - fb1))
        thr = pow2_f32(num1, fbm, how="ceil").astype(np.float64)
        exact = (f1 == 0).astype(np.uint8)
    else:
        valc = vals.astype(np.float64)
        thr = np.ldexp(1.0 + f1 / np.ldexp(1.0, fb1), s1)
        exact = np.ones(maxpat + 1, dtype=np.uint8)
    valc[0] = 0.0
    valc = np.append(valc, np.inf)
    thr[0] = 0.0
    thr[maxpat] = np.inf
    # buckets per float32 exponent field: 2^t buckets, t = fraction bits of the binade + 1
    # (codes are >= ln2 * 2^(S - fb) apart, so a bucket holds at most one code)
    fbs = np.full(256, -2, dtype=np.int64)
    for p in range(1, maxpat + 1):
        ef = int(scale[p]) + 127
        if 1 <= ef <= 254:
            fbs[ef] = max(fbs[ef], int(fb[p]))
    tb = np.clip(fbs + 1, 0, 23)
    tb[0] = 0
    off = np.zeros(256, dtype=np.int64)
    off[1:] = np.cumsum(1 << tb)[:-1]
    starts = []
    for ef in range(256):
        if ef == 0 or ef == 255:
            starts.append(np.zeros(1 << int(tb[ef])))
            continue
        j = np.arange(1 << int(tb[ef]), dtype=np.float64)
        starts.append(np.ldexp(1.0 + j / (1 << int(tb[ef])), ef - 127))
    starts_all = np.concatenate(starts)
    lut = (np.searchsorted(valc[: maxpat + 1], starts_all, side="right") - 1).astype(np.uint16)
    shf = (23 - tb).astype(np.int64)
    vals_ext = np.append(vals, np.float32(np.inf))
    # every threshold and ceiling is a float32 (or inf): store compactly (cache footprint)
    assert np.all(valc.astype(np.float32) == valc) and np.all(thr.astype(np.float32) == thr)
    out = dict(vals=vals_ext, valc=valc.astype(np.float32), thr=thr.astype(np.float32), exact=exact,
               lut=lut, off=off, shf=shf)
    for a in out.values():
        a.setflags(write=False)
    return out


@lru_cache(maxsize=64)
def _table(n: int, es: int, rs: int, sf: int, log_fraction: bool) -> np.ndarray:
    k, e, frac, fb = decode_fields(n, es, rs)
    if log_fraction:
        from .logposit import pow2_f32

        # exponent = (k 2^es + e - sf) + frac / 2^fb, as one fraction over 2^fbmax
        fbmax = int(fb.max())
        num = ((k << es) + e - sf) * (np.int64(1) << fbmax) + (frac << (fbmax - fb))
        vals = pow2_f32(num, fbmax)
    else:
        scale = (k << es) + e
        with np.errstate(over="ignore", under="ignore"):
            vals = np.ldexp(1.0 + frac / np.ldexp(1.0, fb), scale)
        vals = np.where(np.abs(scale) > 1000, np.where(scale > 0, np.inf, 0.0), vals)
        with np.errstate(over="ignore"):
            vals = vals.astype(np.float32)
    vals[0] = 0.0
    vals.setflags(write=False)
    return vals


def make_posit(n: int, es: int, name: str) -> TaperedSpec:
    return TaperedSpec(name=name, n=n, es=es, rs=max(n - 1, 1), sf=0, log_fraction=False)
