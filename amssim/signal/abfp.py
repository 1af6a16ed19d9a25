"""ABFP matrix product on an analog tile: validated wrappers around the kernels.

Public API::

    y = abfp_matmul(x, w, cfg, seed=0, *, layer=0, row_offset=0)
    prep = prepare_weights(w, cfg, seed=0, layer=0)
    prep.accumulate(x_rows, acc, t_start, t_stop, row_offset=..., col_start=..., col_stop=...)
    y = finalize(acc)

Noise of partial p[m, i, t] uses ``stream_key(seed, OUTPUT_NOISE, layer)`` (and
OUTPUT_NOISE_2, SIGNAL_NOISE) at coordinates (row_offset + m, i, t); weight
programming noise uses WEIGHT_PROGRAMMING at (i, k). Hence any split of rows,
columns or blocks (in increasing t) gives bit-identical results.
"""

from __future__ import annotations

import numbers
import threading
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from .._rng import Stream, stream_key
from ..errors import ConfigError
from . import _blas
from . import _kernels as K
from .config import AbfpConfig, NoiseKind
from .noise import noise_tables

#: elements of one row chunk's input codes / one dot-product buffer (memory bound)
_ROW_ELEMS = 1 << 20
_BUF_ELEMS = 1 << 22
#: tile widths up to this use the fused numba dot-product kernel instead of BLAS
_FUSED_MAX_N = 16
#: rows sharing each weight row in the fused kernel
_FUSED_ROWS = 8
#: BLAS path: rows x columns x blocks of S per batched product. Measured on the shared
#: 2-core machine (benchmarks/bench_abfp_matmul.py, 1 thread): few large products beat
#: L2-sized ones (256 x 256 x 4) by 10-15 % at n = 128, tiles narrower than 64 prefer
#: 256-row chunks
_BLAS_ROWS = 1024
_BLAS_ROWS_NARROW = 256
_BLAS_COLS = 1 << 20
_BLAS_ELEMS = 1 << 22
_BLAS_ELEMS_NARROW = 1 << 18
#: own worker threads (numba threads > 1): rows per chunk at least, chunks per worker,
#: and the smallest product (rows x blocks x n x columns) worth the hand-off
_THREAD_MIN_ROWS = 16
_CHUNKS_PER_WORKER = 4
_THREAD_MIN_WORK = 1 << 22
#: element-wise kernels below this many elements run on the calling thread
_SERIAL_ELEMS = 1 << 18


def _check_int(name, v, lo=0):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or int(v) < lo:
        raise ConfigError(f"{name} must be an integer >= {lo}, got {v!r}")
    return int(v)


def _check_matrix(name, a, cols=None):
    a = a0 = np.asarray(a)
    if a.dtype.kind not in "fiu":
        raise ConfigError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    if a.ndim != 2:
        raise ConfigError(f"{name} must be 2-D, got shape {a.shape}")
    if cols is not None and a.shape[1] != cols:
        raise ConfigError(f"{name} has {a.shape[1]} columns, expected {cols} (shape {a.shape})")
    for arr, note in ((a, ""), (None, " (overflows float32)")):
        if arr is None and a0.dtype == np.float32:
            a = np.ascontiguousarray(a0)
            break
        if arr is None:
            with np.errstate(over="ignore"):
                a = np.ascontiguousarray(a, dtype=np.float32)
            arr = a
        if not np.isfinite(arr).all():
            bad = tuple(int(b) for b in np.argwhere(~np.isfinite(arr))[0])
            val = float(np.asarray(arr)[bad]) if not note else float(np.asarray(a0)[bad])
            raise ConfigError(f"{name} contains a non-finite value {val!r} at {bad}{note}")
    return a


def _check_cfg(cfg):
    if not isinstance(cfg, AbfpConfig):
        raise ConfigError(f"cfg must be an AbfpConfig, got {type(cfg).__name__}")


def _channel(values, N):
    """Per-column array from a channel tuple (column i uses values[i % len])."""
    if not values:
        return None
    v = np.asarray(values, np.float64)
    return v[np.arange(N) % len(v)]


def _levels(cfg):
    return (2 ** (cfg.input_bits - 1) - 1, 2 ** (cfg.weight_bits - 1) - 1,
            2 ** (cfg.adc_bits - 1) - 1)


def _tile_constants(cfg, N, seed, layer):
    """Per-column gain numerators and offsets, den, kappa, noise keys and tables."""
    n = cfg.tile_width
    Lx, Lw, Ly = _levels(cfg)
    G = cfg.gain
    gains = _channel(cfg.channel_gain_error, N)
    num = (np.full(N, G) if gains is None else G * (1.0 + gains)) * Ly
    off = _channel(cfg.channel_offset_lsb, N)
    off = np.zeros(N) if off is None else off
    keys = np.array([*stream_key(seed, Stream.OUTPUT_NOISE, layer),
                     *stream_key(seed, Stream.OUTPUT_NOISE_2, layer),
                     *stream_key(seed, Stream.SIGNAL_NOISE, layer)], np.uint32)
    cdf, edges = noise_tables(cfg)
    return (num, off, float(n * Lx * Lw), n / (Ly * G), keys, cdf, edges,
            np.asarray(cfg.adc_inl_lsb, np.float64))


class AbfpPrepared:
    """Weights programmed into tiles: scales, codes (+ programming noise) and keys.

    Attributes: ``cfg``, ``seed``, ``layer``, ``num_rows`` (N), ``k`` (K),
    ``num_blocks`` (T), ``weight_scales`` (T, N) float64.
    """

    def __init__(self, w, cfg: AbfpConfig, seed: int = 0, layer: int = 0):
        _check_cfg(cfg)
        if cfg.ideal:
            raise ConfigError(
                "prepare_weights: cfg.ideal=True has no block decomposition; call abfp_matmul")
        self.seed = _check_int("seed", seed)
        self.layer = _check_int("layer", layer)
        w = _check_matrix("w", w)
        if w.shape[1] == 0:
            raise ConfigError(f"w must have at least one column (K >= 1), got shape {w.shape}")
        self.cfg = cfg
        n = cfg.tile_width
        N, Kd = w.shape
        T = -(-Kd // n)
        self.num_rows, self.k, self.num_blocks, self.n = N, Kd, T, n
        self._kr = Kd - (T - 1) * n  # columns of the last block that are not zero padding
        self.Lx, self.Lw, self.Ly = _levels(cfg)
        bound = n * self.Lx * self.Lw
        if bound >= 2**53:
            raise ConfigError(
                f"tile_width={n} with {cfg.input_bits}/{cfg.weight_bits} bits: dot products "
                "exceed 2**53 and cannot be exact")
        self.float_path = bool(cfg.dac_inl_lsb) or cfg.weight_noise_rel > 0.0
        code_dtype = np.float32 if bound < 2**24 else np.float64
        self.code_dtype = code_dtype
        codes = np.empty((T, N, n), code_dtype)
        sw = np.empty((N, T), np.float64)
        _quantize(w, n, 0, self.Lw, int(cfg.scale_kind), codes, sw)
        self.weight_scales = np.ascontiguousarray(sw.T)
        # programmed weights, layout (T, n, N): block t is the B matrix of x_t @ B
        if self.float_path:
            kw0, kw1 = stream_key(self.seed, Stream.WEIGHT_PROGRAMMING, self.layer)
            self._wT = K.weight_effective(codes, float(cfg.weight_noise_rel), kw0, kw1, n)
            self._dac_inl = np.asarray(cfg.dac_inl_lsb, np.float64)
        else:
            self._wT = np.ascontiguousarray(codes.transpose(0, 2, 1))
        del codes
        #: narrow float32 tiles: dot products fused into the epilogue kernel (no BLAS)
        self.fused = (not self.float_path) and code_dtype == np.float32 and n <= _FUSED_MAX_N
        (self._num, self._off, self._den, self._kappa, self._keys, self._cdf, self._edges,
         self._adc_inl) = _tile_constants(cfg, N, self.seed, self.layer)

    # ------------------------------------------------------------------
    def accumulate(self, x_rows, acc, t_start: int, t_stop: int, *, row_offset: int,
                   col_start: int, col_stop: int) -> None:
        """Add the bf16 partial outputs of blocks [t_start, t_stop) to ``acc`` in place.

        ``x_rows`` (R, K) are input rows whose global index starts at
        ``row_offset``. ``acc`` is float32 (R, N) (columns [col_start, col_stop)
        are updated) or (R, col_stop - col_start). Blocks are added in increasing t.
        """
        N, T, n = self.num_rows, self.num_blocks, self.n
        x = _check_matrix("x_rows", x_rows, cols=self.k)
        R = x.shape[0]
        t_start = _check_int("t_start", t_start)
        t_stop = _check_int("t_stop", t_stop)
        if not t_start <= t_stop <= T:
            raise ConfigError(f"t range [{t_start}, {t_stop}) must lie in [0, {T}]")
        c0 = _check_int("col_start", col_start)
        c1 = _check_int("col_stop", col_stop)
        if not c0 <= c1 <= N:
            raise ConfigError(f"column range [{c0}, {c1}) must lie in [0, {N}]")
        row0 = _check_int("row_offset", row_offset)
        if row0 + R > 2**32:
            raise ConfigError(f"row_offset + rows must be <= 2**32, got {row0 + R}")
        if not isinstance(acc, np.ndarray) or acc.dtype != np.float32 or acc.ndim != 2:
            raise ConfigError(f"acc must be a 2-D float32 numpy array, got {_describe(acc)}")
        if acc.shape[0] != R or acc.shape[1] not in (N, c1 - c0):
            raise ConfigError(
                f"acc has shape {acc.shape}, expected ({R}, {N}) or ({R}, {c1 - c0})")
        acc_c0 = c0 if acc.shape[1] == N else 0
        nc, tq = c1 - c0, t_stop - t_start
        if R == 0 or nc == 0 or tq == 0:
            return
        cfg = self.cfg
        rc = max(1, min(R, _ROW_ELEMS // max(tq * n, nc)))
        tc = max(1, min(tq, _BUF_ELEMS // (rc * nc)))
        sdtype = np.float64 if self.float_path else self.code_dtype
        buf = np.empty(tc * rc * nc if self.float_path else 0, sdtype)
        xcodes_buf = np.empty(tq * rc * n, self.code_dtype)
        sx_buf = np.empty(rc * tq, np.float64)
        kind = int(cfg.noise_kind)
        common = (self._num, self._off, self._den, self._kappa, self.Ly)
        noise = (kind, float(cfg.noise_lsb), float(cfg.noise_dof), self._cdf, self._edges,
                 self._keys, float(cfg.signal_noise_var_lsb2), self._adc_inl)
        blas = not (self.fused or self.float_path)
        workers = _workers(R, tq * n * nc) if blas else 1
        if workers > 1:
            _accumulate_threads(self, x, acc, t_start, t_stop, row0, c0, c1, acc_c0, workers)
            return
        if blas:  # cache blocking: one (row chunk x column chunk) of S stays in L2
            rc = min(rc, _BLAS_ROWS if n >= 64 else _BLAS_ROWS_NARROW)
            cc = min(nc, _BLAS_COLS)
            tc = max(1, min(tq, (_BLAS_ELEMS if n >= 64 else _BLAS_ELEMS_NARROW) // (rc * cc)))
            buf = np.empty(tc * rc * cc, sdtype)
        nc2 = nc if kind in (int(NoiseKind.GAUSSIAN), int(NoiseKind.EMPIRICAL)) else 0
        # small products (e.g. one per sample and head in full mode): kernels on this
        # thread; waking a thread pool costs more than the work (and competes with BLAS)
        small = R * tq * n * nc < _THREAD_MIN_WORK
        quantize = K.quantize_blocks_serial if small else K.quantize_blocks
        hashes = K.row_col_hashes_serial if small else K.row_col_hashes
        epilogue = K.epilogue_serial if small else K.epilogue
        if not self.fused:
            hb1_buf = np.empty(rc * nc, np.uint32)
            hb2_buf = np.empty(rc * nc2, np.uint32)
        for r0 in range(0, R, rc):
            r1 = min(R, r0 + rc)
            rr = r1 - r0
            xc = xcodes_buf[: tq * rr * n].reshape(tq, rr, n)
            sx = sx_buf[: rr * tq].reshape(rr, tq)
            quantize(x[r0:r1], n, t_start, self.Lx, int(cfg.scale_kind), xc, sx)
            if self.fused:
                K.fused(xc, sx, self._wT, self.weight_scales, t_start, c0, nc, *common,
                        acc[r0:r1], acc_c0, row0 + r0, *noise, _FUSED_ROWS)
                continue
            hb1 = hb1_buf[: rr * nc].reshape(rr, nc)
            hb2 = hb2_buf[: rr * nc2].reshape(rr, nc2)
            hashes(kind, self._keys, row0 + r0, c0, hb1, hb2)
            if blas:
                # integer codes: every S is exact in float32, so BLAS's summation order
                # is irrelevant; blocks still reach the accumulator in increasing t
                for ca in range(c0, c1, cc):
                    cb = min(c1, ca + cc)
                    for ta in range(t_start, t_stop, tc):
                        tb = min(t_stop, ta + tc)
                        S = buf[: (tb - ta) * rr * (cb - ca)].reshape(tb - ta, rr, cb - ca)
                        _block_products(xc[ta - t_start: tb - t_start], self._wT[ta:tb, :, ca:cb],
                                        S, self._kr if tb == T else n)
                        epilogue(S, sx, ta - t_start, self.weight_scales, ta, ca, *common,
                                   acc[r0:r1], acc_c0 + (ca - c0), row0 + r0, *noise, hb1, hb2,
                                   ca - c0)
                continue
            xc = K.input_effective(xc, self._dac_inl, self.Lx)
            for ta in range(t_start, t_stop, tc):
                tb = min(t_stop, ta + tc)
                S = buf[: (tb - ta) * rr * nc].reshape(tb - ta, rr, nc)
                K.dot_f64(xc, ta - t_start, self._wT, ta, c0, S)
                epilogue(S, sx, ta - t_start, self.weight_scales, ta, c0, *common,
                           acc[r0:r1], acc_c0, row0 + r0, *noise, hb1, hb2, 0)


def _quantize(x, n, t0, L, fmt, codes, scales):
    """K.quantize_blocks, on this thread when small (a parallel region costs a wake-up of
    every pool thread, milliseconds each on a loaded machine)."""
    small = codes.size < _SERIAL_ELEMS
    (K.quantize_blocks_serial if small else K.quantize_blocks)(x, n, t0, L, fmt, codes, scales)


def _bf16(a):
    (K.bf16_inplace_serial if a.size < _SERIAL_ELEMS else K.bf16_inplace)(a)


def _workers(rows, work_per_row):
    """Worker threads for a BLAS-path product (1: use the numba thread pool directly)."""
    nt = numba.get_num_threads()
    if nt <= 1 or rows < 2 * _THREAD_MIN_ROWS or rows * work_per_row < _THREAD_MIN_WORK:
        return 1
    if not _blas.available():
        return 1
    return nt


_POOLS: dict = {}
_TLS = threading.local()


def _pool(workers):
    p = _POOLS.get(workers)
    if p is None:
        p = _POOLS.setdefault(workers, ThreadPoolExecutor(workers, thread_name_prefix="amssim-abfp"))
    return p


def _single_blas_thread():
    if not getattr(_TLS, "blas1", False):
        _blas.set_local_threads(1)
        _TLS.blas1 = True


def _block_products(xc, wT, S, kr):
    """S[t] = xc[t] @ wT[t] (exact integer codes), the last block over its ``kr`` real
    columns only: its zero padding adds nothing to an exact sum, so skipping it is
    bit-identical and saves up to n/kr of that block's work (K = 9 convs, heads of 32)."""
    n = xc.shape[-1]
    if kr >= n:
        np.matmul(xc, wT, out=S)
        return
    if S.shape[0] > 1:
        np.matmul(xc[:-1], wT[:-1], out=S[:-1])
    np.matmul(xc[-1][..., :kr], wT[-1][..., :kr, :], out=S[-1])


def _accumulate_threads(self, x, acc, t_start, t_stop, row0, c0, c1, acc_c0, workers):
    """BLAS path on ``workers`` threads of our own, each with single-threaded OpenBLAS and
    serial numba kernels, taking row chunks as they finish (no competing thread pools,
    and a descheduled thread on a shared machine delays one chunk, not every product).
    Same per-element arithmetic and block order as the single-pool path."""
    R = x.shape[0]
    n, T = self.n, self.num_blocks
    tq, nc = t_stop - t_start, c1 - c0
    cfg = self.cfg
    rows = max(_THREAD_MIN_ROWS, min(_BLAS_ROWS, -(-R // (_CHUNKS_PER_WORKER * workers))))
    tc = max(1, min(tq, (_BLAS_ELEMS if n >= 64 else _BLAS_ELEMS_NARROW) // (rows * nc)))
    kind = int(cfg.noise_kind)
    nc2 = nc if kind in (int(NoiseKind.GAUSSIAN), int(NoiseKind.EMPIRICAL)) else 0
    fmt = int(cfg.scale_kind)
    common = (self._num, self._off, self._den, self._kappa, self.Ly)
    noise = (kind, float(cfg.noise_lsb), float(cfg.noise_dof), self._cdf, self._edges,
             self._keys, float(cfg.signal_noise_var_lsb2), self._adc_inl)
    wT = self._wT[:, :, c0:c1]

    def work(r0):
        _single_blas_thread()
        r1 = min(R, r0 + rows)
        rr = r1 - r0
        xc = np.empty((tq, rr, n), self.code_dtype)
        sx = np.empty((rr, tq), np.float64)
        K.quantize_blocks_serial(x[r0:r1], n, t_start, self.Lx, fmt, xc, sx)
        hb1 = np.empty((rr, nc), np.uint32)
        hb2 = np.empty((rr, nc2), np.uint32)
        K.row_col_hashes_serial(kind, self._keys, row0 + r0, c0, hb1, hb2)
        S = np.empty((tc, rr, nc), self.code_dtype)
        for ta in range(t_start, t_stop, tc):
            tb = min(t_stop, ta + tc)
            Sv = S[: tb - ta]
            _block_products(xc[ta - t_start: tb - t_start], wT[ta:tb], Sv, self._kr if tb == T else n)
            K.epilogue_serial(Sv, sx, ta - t_start, self.weight_scales, ta, c0, *common,
                              acc[r0:r1], acc_c0, row0 + r0, *noise, hb1, hb2, 0)

    for _ in _pool(workers).map(work, range(0, R, rows)):
        pass



def _describe(a):
    if isinstance(a, np.ndarray):
        return f"array of dtype {a.dtype} and shape {a.shape}"
    return type(a).__name__


def prepare_weights(w, cfg: AbfpConfig, seed: int = 0, layer: int = 0) -> AbfpPrepared:
    """Program weights ``w`` (N, K) into tiles (scales, codes, programming noise)."""
    return AbfpPrepared(w, cfg, seed, layer)


def finalize(acc) -> np.ndarray:
    """Round a float32 accumulator to bfloat16 (nearest even): returns a new float32 array."""
    if not isinstance(acc, np.ndarray) or acc.dtype != np.float32:
        raise ConfigError(f"acc must be a float32 numpy array, got {_describe(acc)}")
    out = np.ascontiguousarray(acc).copy()
    _bf16(out)
    return out


def abfp_matmul(x, w, cfg: AbfpConfig, seed: int = 0, *, layer: int = 0,
                row_offset: int = 0) -> np.ndarray:
    """Y = X W^T on analog ABFP tiles (docs/architecture.md §3). x (M, K), w (N, K) -> (M, N) float32 (bf16 values).

    ``ideal=True`` returns the float64 product as float32.
    """
    _check_cfg(cfg)
    seed = _check_int("seed", seed)
    x = _check_matrix("x", x)
    w = _check_matrix("w", w)
    if x.shape[1] != w.shape[1]:
        raise ConfigError(
            f"x and w must share the reduction dimension K: x {x.shape}, w {w.shape}")
    if cfg.ideal:
        _check_int("layer", layer)
        _check_int("row_offset", row_offset)
        return (x.astype(np.float64) @ w.astype(np.float64).T).astype(np.float32)
    prep = AbfpPrepared(w, cfg, seed, layer)
    acc = np.zeros((x.shape[0], w.shape[0]), np.float32)
    prep.accumulate(x, acc, 0, prep.num_blocks, row_offset=row_offset, col_start=0,
                    col_stop=prep.num_rows)
    _bf16(acc)
    return acc


#: elements of S (blocks x rows x columns) per stacked-products chunk
_GROUP_ELEMS = 1 << 22


def abfp_matmul_groups(x, w, cfg: AbfpConfig, seed: int = 0, *, layer: int = 0,
                       row_offsets) -> np.ndarray:
    """G independent products at once: x (G, M, K), w (G, N, K) -> (G, M, N) float32.

    Bit-identical to ``abfp_matmul(x[g], w[g], cfg, seed, layer=layer,
    row_offset=row_offsets[g])`` for every g (each product programs its own weights),
    without a Python call per product (attention: one product per sample and head).
    """
    _check_cfg(cfg)
    seed = _check_int("seed", seed)
    layer = _check_int("layer", layer)
    x = np.asarray(x)
    w = np.asarray(w)
    if x.ndim != 3 or w.ndim != 3 or x.shape[0] != w.shape[0] or x.shape[2] != w.shape[2]:
        raise ConfigError(f"x must be (G, M, K) and w (G, N, K) with the same G and K, got "
                          f"shapes {x.shape} and {w.shape}")
    G, M, Kd = x.shape
    N = w.shape[1]
    offs = [_check_int("row_offsets[g]", o) for o in np.asarray(row_offsets).reshape(-1).tolist()]
    if len(offs) != G:
        raise ConfigError(f"row_offsets must have one entry per product ({G}), got {len(offs)}")
    if any(o + M > 2**32 for o in offs):
        raise ConfigError(f"row_offset + rows must be <= 2**32, got {max(offs) + M}")
    n = cfg.tile_width
    Lx, Lw, Ly = _levels(cfg)
    simple_path = (not cfg.ideal and not cfg.dac_inl_lsb and cfg.weight_noise_rel == 0.0
                   and n * Lx * Lw < 2**24 and Kd > 0)
    if not simple_path or G * M * N == 0:
        out = np.empty((G, M, N), np.float32)
        for g in range(G):
            out[g] = abfp_matmul(x[g], w[g], cfg, seed, layer=layer, row_offset=offs[g])
        return out
    x2 = _check_matrix("x", x.reshape(G * M, Kd))
    w2 = _check_matrix("w", w.reshape(G * N, Kd))
    T = -(-Kd // n)
    num, off, den, kappa, keys, cdf, edges, adc_inl = _tile_constants(cfg, N, seed, layer)
    kind = int(cfg.noise_kind)
    fmt = int(cfg.scale_kind)
    wc = np.empty((T, G * N, n), np.float32)
    sw = np.empty((G * N, T), np.float64)
    _quantize(w2, n, 0, Lw, fmt, wc, sw)
    wc = wc.reshape(T, G, N, n).swapaxes(2, 3)  # (T, G, n, N) view
    swG = np.ascontiguousarray(sw.reshape(G, N, T).transpose(0, 2, 1))  # (G, T, N)
    arow_all = (np.asarray(offs, np.int64)[:, None] + np.arange(M)).astype(np.uint32).reshape(-1)
    out = np.zeros((G, M, N), np.float32)
    nc2 = N if kind in (int(NoiseKind.GAUSSIAN), int(NoiseKind.EMPIRICAL)) else 0
    gc = max(1, min(G, _GROUP_ELEMS // max(1, T * M * max(N, n))))
    for g0 in range(0, G, gc):
        g1 = min(G, g0 + gc)
        R = (g1 - g0) * M
        xc = np.empty((T, R, n), np.float32)
        sx = np.empty((R, T), np.float64)
        _quantize(x2[g0 * M:g1 * M], n, 0, Lx, fmt, xc, sx)
        # integer codes: S is exact in float32 whatever BLAS's summation order
        S = np.empty((T, g1 - g0, M, N), np.float32)
        _block_products(xc.reshape(T, g1 - g0, M, n), wc[:, g0:g1], S, Kd - (T - 1) * n)
        S = S.reshape(T, R, N)
        arow = arow_all[g0 * M:g1 * M]
        hb1 = np.empty((R, N), np.uint32)
        hb2 = np.empty((R, nc2), np.uint32)
        small = S.size < _SERIAL_ELEMS
        (K.row_col_hashes_rows_serial if small else K.row_col_hashes_rows)(kind, keys, arow, 0, hb1, hb2)
        acc = out[g0:g1].reshape(R, N)
        (K.epilogue_groups_serial if small else K.epilogue_groups)(S, sx, swG[g0:g1], M, num, off, den, kappa, Ly, acc, arow, kind,
                          float(cfg.noise_lsb), float(cfg.noise_dof), cdf, edges, keys,
                          float(cfg.signal_noise_var_lsb2), adc_inl, hb1, hb2)
    _bf16(out)
    return out
