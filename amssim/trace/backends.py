"""Numeric backends: how a GEMM op's product runs.

Protocol (:class:`Backend`, typed; :class:`GroupedBackend` adds the optional method)::

    backend.name: str
    backend.bf16_activations: bool   # non-GEMM ops take bf16 inputs and return bf16
    backend.gemm(x, w, *, layer, row_offset, op_name) -> y
    backend.gemm_groups(x3, w3, *, layer, row_offsets, op_name) -> y3   # optional

``gemm_groups`` runs G independent products at once (attention: one per sample and
head), x3 (G, M, K), w3 (G, N, K) -> (G, M, N), and must equal G ``gemm`` calls with
``row_offset=row_offsets[g]`` bit for bit; backends without it get those G calls.

Optional too (:class:`SupportsStaticGroups`), for grouped and depthwise convolutions::

    backend.gemm_static_groups(x3, w3, *, layers, row_offset, op_name) -> y3

x3 (G, M, K) float32 (may be a strided view of the im2col rows), w3 (G, N, K) static
weights (the same array object every batch, so programmed weights can be cached per op
and layer), product g with layer ``layers[g]`` and the SAME ``row_offset`` (the groups
share their rows); must equal G ``gemm(x3[g], w3[g], layer=layers[g], ...)`` calls bit for
bit. :func:`gemm_static_groups` falls back to those calls (through :func:`gemm_call`)
for backends without it and resolves a :class:`MixedBackend` to the op's backend.

A backend whose results depend on which rows share a call (per-tensor INT scales)
declares ``uses_sample_rows = True`` and accepts ``gemm(..., sample_rows=R)``: x then
holds whole samples of R rows each (:func:`gemm_call` passes it only to such backends).

``x`` is (M, K) float32 (rows = input vectors), ``w`` is (N, K) float32 (weights, or
the second activation of an attention matmul), ``y`` is (M, N) float32. ``layer``
is the op's index in the trace; ``row_offset`` is the GLOBAL index of row 0 of ``x``
in the evaluation run, so random draws keyed by (layer, row, column, block) do not
depend on the batch size (see :mod:`amssim.trace.executor` for how rows are numbered).

- :class:`Float32Backend`: the float32 reference (numpy BLAS), no bf16 anywhere; the
  paper's float32 baseline.
- :class:`AbfpBackend`: the ABFP analog tile, ``amssim.abfp_matmul``; non-GEMM ops in
  float32 from bf16 inputs with bf16 outputs (docs/architecture.md §3).
- :class:`DigitalBackend`: a digital number format on both operands with float32
  accumulation, ``amssim.formats.digital_matmul``; bf16 at non-GEMM boundaries too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from ..signal.config import AbfpConfig


@runtime_checkable
class Backend(Protocol):
    """What the executor needs of a numeric backend (docs/architecture.md §14).

    Structural: any object with these members is a backend; nothing subclasses this.
    ``isinstance(obj, Backend)`` checks that the members exist (not their signatures).
    """

    #: short label for results and progress bars ("fp32", "abfp", a format name, "mixed")
    name: str
    #: True: graph inputs and every non-GEMM op's output are rounded to bfloat16
    bf16_activations: bool

    def gemm(self, x: np.ndarray, w: np.ndarray, *, layer: int, row_offset: int,
             op_name: str) -> np.ndarray:
        """Y = X W^T: x (M, K) float32, w (N, K) float32 -> (M, N) float32."""
        ...


@runtime_checkable
class GroupedBackend(Backend, Protocol):
    """A backend that also runs G independent products in one call (see :func:`gemm_groups`)."""

    def gemm_groups(self, x: np.ndarray, w: np.ndarray, *, layer: int, row_offsets: Sequence[int],
                    op_name: str) -> np.ndarray:
        """x (G, M, K), w (G, N, K) -> (G, M, N); equal to G ``gemm`` calls bit for bit."""
        ...


@runtime_checkable
class SupportsStaticGroups(Backend, Protocol):
    """A backend that runs the G groups of a grouped convolution in one call
    (see :func:`gemm_static_groups`)."""

    def gemm_static_groups(self, x: np.ndarray, w: np.ndarray, *, layers: Sequence[int], row_offset: int,
                           op_name: str) -> np.ndarray:
        """x (G, M, K), static w (G, N, K) -> (G, M, N); product g with layer ``layers[g]``;
        equal to G ``gemm`` calls bit for bit."""
        ...


class Float32Backend:
    """Exact float32 GEMMs; activations stay float32 (the reference run)."""

    name = "fp32"
    bf16_activations = False

    def gemm(self, x: np.ndarray, w: np.ndarray, *, layer: int, row_offset: int, op_name: str) -> np.ndarray:
        return np.matmul(x, w.T)

    def gemm_groups(self, x: np.ndarray, w: np.ndarray, *, layer: int, row_offsets: Sequence[int],
                    op_name: str) -> np.ndarray:
        # numpy runs a stacked matmul as one BLAS call per product, the same call as gemm
        return np.matmul(x, np.swapaxes(w, -1, -2))

    def gemm_static_groups(self, x: np.ndarray, w: np.ndarray, *, layers: Sequence[int], row_offset: int,
                           op_name: str) -> np.ndarray:
        # one BLAS call per group inside numpy, the same call as gemm on each group's rows
        # (strided rows included: BLAS takes the row stride as its leading dimension)
        return np.matmul(x, np.swapaxes(w, -1, -2))

    def __repr__(self) -> str:
        return "Float32Backend()"


class AbfpBackend:
    """ABFP analog tile (docs/architecture.md §3) for every GEMM op; per-op overrides by op name.

    Static weights (the same array object passed again for the same op, as the
    executor does for linear/conv weights) are programmed once and reused
    (``amssim.signal.prepare_weights``), which is bit-identical to calling
    ``abfp_matmul`` every time and models weights staying in the tiles.
    """

    bf16_activations = True

    def __init__(self, cfg, seed: int = 0, layer_cfgs: dict | None = None, *,
                 prepared_cache: dict | None = None):
        self.cfg = cfg
        self.seed = int(seed)
        self.layer_cfgs = dict(layer_cfgs or {})
        self.name = "abfp"
        self._prepared: dict = {}  # (op name, layer) -> (weight object, cfg, prepared tiles)
        # optional cache shared by backends running the SAME trace (searches): programmed
        # weights keyed by (op name, layer, cfg, seed), so the weight objects may differ
        self._shared = prepared_cache
        # (op name, layers of the groups) -> (weights object, cfg, grouped or per-group prepared)
        self._groups: dict = {}

    def cfg_for(self, op_name: str) -> AbfpConfig:
        return self.layer_cfgs.get(op_name, self.cfg)

    def gemm(self, x: np.ndarray, w: np.ndarray, *, layer: int, row_offset: int, op_name: str) -> np.ndarray:
        cfg = self.cfg_for(op_name)
        if getattr(cfg, "ideal", False):
            from ..signal import abfp_matmul

            return abfp_matmul(x, w, cfg, self.seed, layer=layer, row_offset=row_offset)
        from ..signal import finalize

        # same work abfp_matmul does; remembered in case the same weights come back
        prep = self._prepared_for(w, cfg, op_name, layer)
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != prep.k:
            raise ValueError(f"x must be (M, {prep.k}), got shape {x.shape}")
        acc = np.zeros((x.shape[0], prep.num_rows), np.float32)
        prep.accumulate(x, acc, 0, prep.num_blocks, row_offset=int(row_offset), col_start=0,
                        col_stop=prep.num_rows)
        return finalize(acc)

    def gemm_groups(self, x: np.ndarray, w: np.ndarray, *, layer: int, row_offsets: Sequence[int],
                    op_name: str) -> np.ndarray:
        """G products whose weights are activations (programmed per product): one call."""
        from ..signal import abfp_matmul_groups

        return abfp_matmul_groups(x, w, self.cfg_for(op_name), self.seed, layer=layer,
                                  row_offsets=row_offsets)

    def _prepared_for(self, w: np.ndarray, cfg: AbfpConfig, op_name: str, layer: int):
        """Programmed weights of (op, layer), from this backend's or the shared cache (as ``gemm``)."""
        from ..signal import prepare_weights

        hit = self._prepared.get((op_name, layer))
        skey = (op_name, int(layer), cfg, self.seed, tuple(w.shape))
        if hit is not None and hit[0] is w and hit[1] is cfg:
            return hit[2]
        if self._shared is not None and skey in self._shared:
            prep = self._shared[skey]
        else:
            prep = prepare_weights(w, cfg, self.seed, layer)
            if self._shared is not None:
                self._shared[skey] = prep
        self._prepared[(op_name, layer)] = (w, cfg, prep)
        return prep

    def gemm_static_groups(self, x: np.ndarray, w: np.ndarray, *, layers: Sequence[int], row_offset: int,
                           op_name: str) -> np.ndarray:
        """The groups of a grouped convolution in one fused kernel call
        (``signal.abfp_groups``), bit-identical to one ``gemm`` per group; the groups are
        programmed once per op (and shared through ``prepared_cache``). Configurations
        the kernel does not cover (ideal, DAC INL, weight programming noise, wide codes)
        run the ``gemm`` arithmetic group by group."""
        from ..signal import abfp_matmul, finalize
        from ..signal.abfp_groups import groups_fusable, prepare_weight_groups

        cfg = self.cfg_for(op_name)
        layers = tuple(int(v) for v in layers)
        if x.ndim != 3 or w.ndim != 3 or w.shape[0] != x.shape[0] or len(layers) != x.shape[0] \
                or x.shape[2] != w.shape[2]:
            raise ValueError(f"x must be (G, M, K) and w (G, N, K) with one layer per group, got shapes "
                             f"{x.shape}, {w.shape} and {len(layers)} layers")
        G, M, N = x.shape[0], x.shape[1], w.shape[1]
        if G == 0:
            return np.empty((0, M, N), np.float32)
        if getattr(cfg, "ideal", False):
            return np.stack([abfp_matmul(x[g], w[g], cfg, self.seed, layer=layers[g], row_offset=row_offset)
                             for g in range(G)])
        key = (op_name, layers)
        hit = self._groups.get(key)
        if hit is not None and hit[0] is w and hit[1] is cfg:
            prep = hit[2]
        else:
            fusable = groups_fusable(cfg)
            skey = (op_name, layers, cfg, self.seed, tuple(w.shape))
            if fusable and self._shared is not None and skey in self._shared:
                prep = self._shared[skey]
            elif fusable:
                prep = prepare_weight_groups(w, cfg, self.seed, layers)
                if self._shared is not None:
                    self._shared[skey] = prep
            else:
                prep = [self._prepared_for(w[g], cfg, op_name, layers[g]) for g in range(G)]
            self._groups[key] = (w, cfg, prep)
        if not isinstance(prep, list):
            xm = np.ascontiguousarray(np.swapaxes(x, 0, 1), dtype=np.float32)
            return np.swapaxes(prep.run(xm, row_offset=int(row_offset)), 0, 1)
        out = np.empty((G, M, N), np.float32)
        for g, pg in enumerate(prep):  # the gemm arithmetic, one group at a time
            xg = np.ascontiguousarray(x[g], dtype=np.float32)
            acc = np.zeros((M, pg.num_rows), np.float32)
            pg.accumulate(xg, acc, 0, pg.num_blocks, row_offset=int(row_offset), col_start=0,
                          col_stop=pg.num_rows)
            out[g] = finalize(acc)
        return out

    def __repr__(self) -> str:
        return f"AbfpBackend({self.cfg!r}, seed={self.seed}, layer_cfgs={sorted(self.layer_cfgs)})"


class DigitalBackend:
    """Digital format ``fmt_x`` on inputs and ``fmt_w`` on weights, float32 accumulation."""

    bf16_activations = True
    #: the executor passes ``sample_rows`` (rows per sample of x) to ``gemm``: per-tensor
    #: INT activation scales are taken per sample, so results do not depend on the batch
    uses_sample_rows = True

    def __init__(self, fmt_x: str, fmt_w: str | None = None, seed: int | None = None):
        self.fmt_x = fmt_x
        self.fmt_w = fmt_w if fmt_w is not None else fmt_x
        self.seed = seed
        self.name = self.fmt_x if self.fmt_x == self.fmt_w else f"{self.fmt_x}/{self.fmt_w}"
        self._prepared: dict = {}  # (op name, layer) -> (weight object, quantised weights)

    def gemm(self, x: np.ndarray, w: np.ndarray, *, layer: int, row_offset: int, op_name: str,
             sample_rows: int | None = None) -> np.ndarray:
        from ..formats import digital_matmul, quantize_weights

        # static weights (the same array object again for the same op and layer, as the
        # executor passes linear/conv weights) are quantised once: bit-identical, faster
        hit = self._prepared.get((op_name, layer))
        if hit is not None and hit[0] is w:
            qw = hit[1]
        else:
            qw = quantize_weights(w, self.fmt_w, seed=self.seed, layer=layer)
            self._prepared[(op_name, layer)] = (w, qw)
        # fp64 accumulation (one rounding to float32): BLAS sgemm's summation order depends
        # on the number of rows, which would make results depend on the batch size (docs/architecture.md §4)
        return digital_matmul(x, w, self.fmt_x, self.fmt_w, accumulate="fp64", seed=self.seed,
                              layer=layer, row_offset=row_offset, sample_rows=sample_rows, qw=qw)

    def __repr__(self) -> str:
        return f"DigitalBackend({self.fmt_x!r}, {self.fmt_w!r}, seed={self.seed})"


class MixedBackend:
    """Per-op backends (per-layer formats): ``backends[op_name]`` or ``default``.

    Every backend receives the same (layer, row_offset) coordinates it would get on its
    own, so a layer's results do not depend on which backends the other layers use.
    """

    def __init__(self, default: Backend, backends: dict[str, Backend]):
        self.default = default
        self.backends = dict(backends)
        self.bf16_activations = bool(getattr(default, "bf16_activations", False)) or any(
            getattr(b, "bf16_activations", False) for b in self.backends.values())
        self.name = "mixed"
        self.uses_sample_rows = any(getattr(b, "uses_sample_rows", False)
                                    for b in (default, *self.backends.values()))

    def gemm(self, x: np.ndarray, w: np.ndarray, *, layer: int, row_offset: int, op_name: str,
             sample_rows: int | None = None) -> np.ndarray:
        b = self.backends.get(op_name, self.default)
        return gemm_call(b, x, w, layer=layer, row_offset=row_offset, op_name=op_name, sample_rows=sample_rows)

    def gemm_groups(self, x: np.ndarray, w: np.ndarray, *, layer: int, row_offsets: Sequence[int],
                    op_name: str) -> np.ndarray:
        b = self.backends.get(op_name, self.default)
        return gemm_groups(b, x, w, layer=layer, row_offsets=row_offsets, op_name=op_name)

    def __repr__(self) -> str:
        return f"MixedBackend({self.default!r}, {sorted(self.backends)})"


def gemm_call(backend: Backend, x: np.ndarray, w: np.ndarray, *, layer: int, row_offset: int, op_name: str,
              sample_rows: int | None = None) -> np.ndarray:
    """``backend.gemm``, passing ``sample_rows`` (x holds whole samples of that many rows)
    only to backends that declare ``uses_sample_rows = True``."""
    if sample_rows is not None and getattr(backend, "uses_sample_rows", False):
        return backend.gemm(x, w, layer=layer, row_offset=row_offset, op_name=op_name,  # type: ignore[call-arg]
                            sample_rows=sample_rows)
    return backend.gemm(x, w, layer=layer, row_offset=row_offset, op_name=op_name)


def gemm_groups(backend: Backend, x: np.ndarray, w: np.ndarray, *, layer: int, row_offsets: Sequence[int],
                op_name: str) -> np.ndarray:
    """``backend.gemm_groups`` if it has one, else one ``backend.gemm`` call per product."""
    fn = getattr(backend, "gemm_groups", None)
    if fn is not None:
        return fn(x, w, layer=layer, row_offsets=row_offsets, op_name=op_name)
    if x.shape[0] == 0:
        return np.empty((0, x.shape[1], w.shape[1]), np.float32)
    return np.stack([np.asarray(backend.gemm(x[g], w[g], layer=layer, row_offset=int(row_offsets[g]),
                                             op_name=op_name), dtype=np.float32)
                     for g in range(x.shape[0])])


def gemm_static_groups(backend: Backend, x: np.ndarray, w: np.ndarray, *, layers: Sequence[int],
                       row_offset: int, op_name: str, sample_rows: int | None = None,
                       weights: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """The G groups of a grouped convolution, x (G, M, K), static w (G, N, K) -> (G, M, N).

    ``backend.gemm_static_groups`` if the backend (a :class:`MixedBackend`: the op's
    backend) has one, else one :func:`gemm_call` per group on contiguous rows, with
    ``weights[g]`` (the same objects every batch, so per-op weight caches hit) if given,
    else ``w[g]``; ``sample_rows`` goes to backends that declare ``uses_sample_rows``.
    """
    while isinstance(backend, MixedBackend):
        backend = backend.backends.get(op_name, backend.default)
    fn = getattr(backend, "gemm_static_groups", None)
    if fn is not None:
        return fn(x, w, layers=layers, row_offset=row_offset, op_name=op_name)
    G = x.shape[0]
    if G == 0:
        return np.empty((0, x.shape[1], w.shape[1]), np.float32)
    ws = w if weights is None else weights
    return np.stack([np.asarray(gemm_call(backend, np.ascontiguousarray(x[g], dtype=np.float32), ws[g],
                                          layer=int(layers[g]), row_offset=int(row_offset), op_name=op_name,
                                          sample_rows=sample_rows), dtype=np.float32)
                     for g in range(G)])


if TYPE_CHECKING:  # static conformance: mypy checks these classes against the protocols
    def _conforms(a: Float32Backend, b: AbfpBackend, c: DigitalBackend,
                  d: MixedBackend) -> tuple[GroupedBackend, GroupedBackend, Backend, GroupedBackend]:
        return a, b, c, d

    def _conforms_static(a: Float32Backend, b: AbfpBackend) -> tuple[SupportsStaticGroups, SupportsStaticGroups]:
        return a, b
