"""Readers of calibration lab data with validation (errors name file and field).

Formats (see /work/notes/calibrate.md and ``amssim calibrate --help``):

* paired codes: ``.npz`` with arrays ``expected`` and ``observed`` of any equal
  shape (numeric, finite), or ``.csv`` with a header naming the columns
  ``expected``, ``observed`` and optionally ``channel`` (integer >= 0). The
  ``.npz`` members are streamed from the zip file in chunks (compressed or not),
  so files far larger than memory are fine.
* transfer sweeps: ``.npz`` with ``codes`` (P,) and ``observed`` (..., P), one
  curve per channel (leading axes flattened in C order).
* metadata: TOML with optional keys ``adc_bits``, ``gain``, ``tile_width``,
  ``channel_axis`` (axis of the paired arrays that indexes the output channel) and
  ``code_scale`` (observed code units per expected code unit; absent: fitted).
"""

from __future__ import annotations

import hashlib
import math
import os
import zipfile
from dataclasses import dataclass

import numpy as np

from ..errors import CalibrationError, short_repr
from ..limits import check_bytes, check_count
from ..signal.config import BITS_MAX, BITS_MIN, TILE_WIDTH_MAX

#: channels a calibration data set may declare (per-channel fits and arrays are kept in memory)
MAX_CHANNELS = 1_000_000

META_KEYS = {
    "adc_bits": "ADC bits b_Y (2..16): observed codes must lie in +-(2^(b-1) - 1)",
    "gain": "analog gain G of the measured chip (copied to [numerics] gain)",
    "tile_width": "tile width n of the measured chip (copied to [numerics] tile_width)",
    "channel_axis": "axis of the paired arrays that indexes the output channel (absent: one channel)",
    "code_scale": "observed code units per expected code unit (absent: median channel gain)",
    "description": "free text copied to the report",
}


@dataclass(frozen=True, kw_only=True)
class Metadata:
    """Optional metadata of a lab data set (``--meta FILE``)."""

    path: str = ""
    adc_bits: int | None = None
    gain: float | None = None
    tile_width: int | None = None
    channel_axis: int | None = None
    code_scale: float | None = None
    description: str = ""

    @property
    def full_scale(self) -> int | None:
        """Largest ADC code 2^(b-1) - 1 (amssim's symmetric ADC), None if bits unknown."""
        return None if self.adc_bits is None else 2 ** (self.adc_bits - 1) - 1


def load_meta(path: str | None) -> Metadata:
    if not path:
        return Metadata()
    from ..io_safety import read_toml

    if not os.path.exists(path):
        raise CalibrationError(f"{path}: no such metadata file")
    data = read_toml(path, "metadata file", error=CalibrationError)
    for k in data:
        if k not in META_KEYS:
            raise CalibrationError(f"{path}: unknown key {k!r} (known: {', '.join(META_KEYS)})")
    kw = {}

    def num(key, kind, lo=None, hi=None):
        if key not in data:
            return
        v = data[key]
        ok = isinstance(v, int) if kind is int else isinstance(v, (int, float))
        # ints are exact (no isfinite: float() of a 400-digit int overflows); floats must be finite
        finite = ok and (abs(v) < 2**63 if isinstance(v, int) else math.isfinite(v))
        if isinstance(v, bool) or not ok or not finite or (lo is not None and v < lo) \
                or (hi is not None and v > hi):
            rng = f" in {lo}..{hi}" if hi is not None else (f" >= {lo}" if lo is not None else "")
            raise CalibrationError(f"{path}: {key} = {short_repr(v)}: expected {kind.__name__}{rng}")
        kw[key] = kind(v)

    num("adc_bits", int, BITS_MIN, BITS_MAX)  # the device schema's bounds
    num("gain", float, 1e-300)
    num("tile_width", int, 1, TILE_WIDTH_MAX)
    num("channel_axis", int, -32, 31)
    num("code_scale", float, 1e-300)
    if "description" in data:
        kw["description"] = str(data["description"])
    return Metadata(path=str(path), **kw)


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _check_values(path, field, a, start, full_scale=None):
    """Finite and (optionally) within +-full_scale; ``start`` = flat index of a[0]."""
    bad = ~np.isfinite(a)
    if bad.any():
        j = int(np.argmax(bad))
        raise CalibrationError(f"{path}: field {field!r}: non-finite value {a[j]!r} at flat index "
                               f"{start + j} (NaN/inf codes are not allowed)")
    if full_scale is not None:
        out = np.abs(a) > full_scale
        if out.any():
            j = int(np.argmax(out))
            raise CalibrationError(f"{path}: field {field!r}: code {a[j]!r} at flat index {start + j} "
                                   f"outside the ADC range +-{full_scale} of the metadata's adc_bits")


# --------------------------------------------------------------------------- npz streaming
class _NpyStream:
    """One ``.npy`` member of an ``.npz`` read sequentially in chunks."""

    def __init__(self, zf: zipfile.ZipFile, key: str, path: str):
        names = [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
        if key not in names:
            raise CalibrationError(f"{path}: missing field {key!r} (arrays in file: {names or 'none'})")
        from ..io_safety import _zip_errors, npy_header

        self.path, self.key = path, key
        info = zf.getinfo(key + ".npy")
        if info.flag_bits & 0x1:
            raise CalibrationError(f"{path}: field {key!r}: the member is encrypted")
        try:
            self.fh = zf.open(info)
            # the header must declare exactly the member's (declared) uncompressed size; the
            # data are streamed in chunks, so the memory budget does not apply to the total
            start = self.fh.tell()
            self.shape, self.fortran, self.dtype = npy_header(
                self.fh, f"{path}: field {key!r}", error=CalibrationError, budget=False)[:3]
            hdr = self.fh.tell() - start
        except CalibrationError:
            raise
        except _zip_errors() as exc:
            raise CalibrationError(f"{path}: field {key!r}: not a readable array ({type(exc).__name__}: "
                                   f"{exc})") from exc
        declared = int(np.prod(self.shape, dtype=object)) * self.dtype.itemsize
        if declared != info.file_size - hdr:
            raise CalibrationError(f"{path}: field {key!r}: the .npy header declares {declared} data bytes, "
                                   f"the archive member holds {info.file_size - hdr}")
        if self.dtype.hasobject or self.dtype.kind not in "iuf":
            raise CalibrationError(f"{path}: field {key!r}: non-numeric dtype {self.dtype} "
                                   "(codes must be integers or floats)")
        self.size = int(np.prod(self.shape, dtype=np.int64))

    def read(self, n: int) -> np.ndarray:
        from ..io_safety import _zip_errors

        nbytes = n * self.dtype.itemsize
        try:
            buf = self.fh.read(nbytes)
        except _zip_errors() as exc:
            raise CalibrationError(f"field {self.key!r}: corrupt archive data ({type(exc).__name__}: "
                                   f"{exc})") from exc
        if len(buf) != nbytes:
            raise CalibrationError("truncated array data")
        return np.frombuffer(buf, dtype=self.dtype).astype(np.float64)


def _channel_of(flat: np.ndarray, shape, axis, fortran) -> np.ndarray:
    if axis is None:
        return np.zeros(flat.shape, np.int64)
    shp = tuple(reversed(shape)) if fortran else tuple(shape)
    ax = (len(shape) - 1 - axis) if fortran else axis
    inner = int(np.prod(shp[ax + 1:], dtype=np.int64))
    return (flat // inner) % shp[ax]


@dataclass(frozen=True, kw_only=True)
class PairedSource:
    """A re-iterable stream of (start, expected, observed, channel) flat float64 chunks."""

    path: str
    kind: str  # "npz" | "csv"
    shape: tuple
    n_channels: int
    channel_axis: int | None
    full_scale: int | None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def chunks(self, chunk_elements: int):
        if self.kind == "npz":
            yield from self._npz_chunks(chunk_elements)
        else:
            yield from _csv_chunks(self.path, chunk_elements, self.full_scale)

    def _npz_chunks(self, chunk):
        with zipfile.ZipFile(self.path) as zf:
            e, o = _NpyStream(zf, "expected", self.path), _NpyStream(zf, "observed", self.path)
            start = 0
            while start < self.size:
                n = min(chunk, self.size - start)
                try:
                    ce, co = e.read(n), o.read(n)
                except CalibrationError as exc:
                    raise CalibrationError(f"{self.path}: {exc}") from None
                _check_values(self.path, "expected", ce, start)
                _check_values(self.path, "observed", co, start, self.full_scale)
                flat = np.arange(start, start + n, dtype=np.int64)
                yield start, ce, co, _channel_of(flat, self.shape, self.channel_axis, e.fortran)
                start += n


def open_paired(path: str, meta: Metadata) -> PairedSource:
    """Open and check the header of a paired data file (data are checked while streaming)."""
    if not os.path.isfile(path):
        raise CalibrationError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise CalibrationError(f"{path}: empty file")
    fs = meta.full_scale
    if path.lower().endswith(".csv"):
        n, nch = _csv_scan(path)
        return PairedSource(path=path, kind="csv", shape=(n,), n_channels=nch, channel_axis=None,
                            full_scale=fs)
    from ..io_safety import _zip_errors

    try:
        zf = zipfile.ZipFile(path)
    except _zip_errors() as exc:
        raise CalibrationError(f"{path}: not an .npz (zip) file or .csv: {exc}") from None
    with zf:
        e, o = _NpyStream(zf, "expected", path), _NpyStream(zf, "observed", path)
        if e.shape != o.shape:
            raise CalibrationError(f"{path}: fields 'expected' {e.shape} and 'observed' {o.shape}: "
                                   "shapes differ (need equal shapes)")
        if e.fortran != o.fortran and len(e.shape) > 1:
            raise CalibrationError(f"{path}: fields 'expected' and 'observed' use different memory "
                                   "orders (save both C-ordered)")
        # streamed in chunks (memory stays small), but the declared size bounds the work
        check_bytes(e.size * e.dtype.itemsize + o.size * o.dtype.itemsize,
                    f"{path}: fields 'expected' + 'observed' (declared uncompressed sizes)")
        if e.size == 0:
            raise CalibrationError(f"{path}: fields 'expected'/'observed' are empty (shape {e.shape})")
        axis, nch = None, 1
        if meta.channel_axis is not None:
            nd = len(e.shape)
            if not -nd <= meta.channel_axis < nd:
                raise CalibrationError(f"{meta.path}: channel_axis = {meta.channel_axis}: out of range "
                                       f"for {path} field 'observed' of shape {e.shape}")
            axis = meta.channel_axis % nd
            nch = int(e.shape[axis])
            check_count(nch, MAX_CHANNELS, f"{path}: field 'observed' axis {axis}: the number of channels")
        return PairedSource(path=path, kind="npz", shape=tuple(e.shape), n_channels=nch,
                            channel_axis=axis, full_scale=fs)


# --------------------------------------------------------------------------- CSV
def _csv_header(path, fh):
    header = fh.readline()
    if not header.strip():
        raise CalibrationError(f"{path}: empty file (need a header line naming expected,observed)")
    cols = [c.strip().strip('"').lower() for c in header.split(",")]
    for need in ("expected", "observed"):
        if need not in cols:
            raise CalibrationError(f"{path}: missing field {need!r} in the CSV header {cols}")
    use = [cols.index("expected"), cols.index("observed")]
    if "channel" in cols:
        use.append(cols.index("channel"))
    return cols, use


def _csv_parse(path, lines, use, cols, line0):
    try:
        arr = np.loadtxt(lines, delimiter=",", usecols=use, ndmin=2, dtype=np.float64)
    except ValueError:
        for j, line in enumerate(lines):
            parts = line.split(",")
            for u in use:
                try:
                    float(parts[u])
                except (ValueError, IndexError):
                    val = parts[u].strip() if u < len(parts) else "<missing>"
                    raise CalibrationError(f"{path}: field {cols[u]!r}: non-numeric value {val!r} "
                                           f"on line {line0 + j}") from None
        raise
    return arr


def _csv_lines(path, chunk):
    with open(path, encoding="utf-8", errors="replace") as fh:
        cols, use = _csv_header(path, fh)
        lineno = 2
        while True:
            lines = [ln for ln in (fh.readline() for _ in range(chunk)) if ln]
            real = [ln for ln in lines if ln.strip()]
            if real:
                yield cols, use, real, lineno
            lineno += len(lines)
            if len(lines) < chunk:
                return


def _csv_scan(path):
    n, nch = 0, 1
    for cols, use, lines, line0 in _csv_lines(path, 100_000):
        arr = _csv_parse(path, lines, use, cols, line0)
        n += arr.shape[0]
        if arr.shape[1] > 2:
            ch = arr[:, 2]
            _check_values(path, "channel", ch, n - arr.shape[0])
            if (ch < 0).any() or (ch != np.rint(ch)).any():
                raise CalibrationError(f"{path}: field 'channel': needs integers >= 0")
            nch = max(nch, int(ch.max()) + 1)
            check_count(nch, MAX_CHANNELS, f"{path}: field 'channel': the number of channels")
    if n == 0:
        raise CalibrationError(f"{path}: no data rows (empty file)")
    return n, nch


def _csv_chunks(path, chunk, full_scale):
    start = 0
    for cols, use, lines, line0 in _csv_lines(path, chunk):
        arr = _csv_parse(path, lines, use, cols, line0)
        ce, co = arr[:, 0].copy(), arr[:, 1].copy()
        _check_values(path, "expected", ce, start)
        _check_values(path, "observed", co, start, full_scale)
        ch = arr[:, 2].astype(np.int64) if arr.shape[1] > 2 else np.zeros(len(ce), np.int64)
        yield start, ce, co, ch
        start += len(ce)


# --------------------------------------------------------------------------- transfer sweeps
@dataclass(frozen=True, kw_only=True)
class TransferSweep:
    path: str
    codes: np.ndarray  # (P,)
    observed: np.ndarray  # (C, P)
    shape: tuple  # original observed shape


def load_transfer(path: str, meta: Metadata) -> TransferSweep:
    if not os.path.isfile(path):
        raise CalibrationError(f"{path}: no such file")
    if os.path.getsize(path) == 0:
        raise CalibrationError(f"{path}: empty file")
    from ..io_safety import load_npz, npz_members

    files = npz_members(path, error=CalibrationError, what="transfer .npz file")
    arrays = load_npz(path, ("codes", "observed"), error=CalibrationError, what="transfer .npz file")
    for k in ("codes", "observed"):
        if k not in arrays:
            raise CalibrationError(f"{path}: missing field {k!r} (arrays in file: {files or 'none'})")
        if arrays[k].dtype.kind not in "iuf":
            raise CalibrationError(f"{path}: field {k!r}: non-numeric dtype {arrays[k].dtype}")
    codes = arrays["codes"].astype(np.float64)
    obs = arrays["observed"].astype(np.float64)
    if codes.ndim != 1 or codes.size == 0:
        raise CalibrationError(f"{path}: field 'codes' has shape {codes.shape}: need (P,), P >= 1")
    if obs.ndim < 1 or obs.shape[-1] != codes.size or obs.size == 0:
        raise CalibrationError(f"{path}: field 'observed' has shape {obs.shape}: need (..., "
                               f"{codes.size}) to match 'codes' {codes.shape}")
    _check_values(path, "codes", codes, 0)
    _check_values(path, "observed", obs.ravel(), 0, meta.full_scale)
    return TransferSweep(path=path, codes=codes, observed=obs.reshape(-1, codes.size),
                         shape=tuple(obs.shape))

