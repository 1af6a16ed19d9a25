"""Map one GEMM instance onto the device's tiles (weight stationary).

Y (M, N) = X (M, K) W^T. A tile has R = ``numerics.tile_width`` rows (one ABFP block
along K) and C = ``device.tile_cols`` output columns, so W splits into T = ceil(K/R)
by J = ceil(N/C) blocks. A *tile job* programs one block (t, j) into a tile and
streams the input vectors of one row chunk through it. Jobs are numbered in the
order (chunk, j, t) -- t innermost -- and dealt round-robin to the tiles; the
exponent unit retires them in that order, so every output element accumulates its
blocks in increasing t (what bit-identity with ``abfp_matmul`` needs).

Memory: activations live in the on-chip SRAM when the op's inputs and outputs fit
(``M (K + N) activation_bytes <= sram_bytes``); otherwise the rows are split into
chunks that fit half the SRAM (double-buffered) and each chunk's inputs are read
from and its outputs written to off-chip memory; the weight blocks are programmed
again for every chunk. Static weights come over the off-chip link (pre-quantised,
``weight_bytes`` each plus one bf16 scale per column); dynamic weights (activation x
activation products) come from SRAM. Nothing is ever rejected for size.

Per-vector engine costs (cycles, integers): SRAM ceil(bytes x tiles / port bytes),
DAC ceil(rows / DAC lanes), tile 1, ADC ceil(cols / ADC lanes), exponent unit
ceil(cols x tiles / partials per cycle) -- shared engines are split evenly between
the tiles. The initiation interval of a job is the largest of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..config.device import Device

#: streaming stages of a tile, in pipeline order
STAGES = ("sram", "dac", "tile", "adc", "exp_unit")


@dataclass(frozen=True, kw_only=True)
class TileJob:
    """One weight block programmed into one tile plus the stream of vectors through it."""

    index: int  #: global order (chunk, j, t)
    tile: int  #: tile it runs on (index mod tiles)
    chunk: int  #: row chunk
    t: int  #: block index along K
    j: int  #: block index along N
    m0: int  #: first row of X (within the instance)
    m1: int  #: one past the last row
    k0: int
    k1: int
    c0: int  #: first output column
    c1: int
    fetch_cycles: int  #: weight block transfer time on the read engine
    fetch_bytes: int
    stage_cycles: tuple  #: per-vector cycles of each of STAGES
    ii: int  #: initiation interval (cycles per vector)
    last_t: bool  #: this job completes its output columns (writes bf16 outputs)
    steps: int = 0  #: vectors streamed when not the rows m0..m1 (output-stationary arrays: K)

    @property
    def vectors(self) -> int:
        return self.steps or (self.m1 - self.m0)

    @property
    def rows(self) -> int:
        return self.k1 - self.k0

    @property
    def cols(self) -> int:
        return self.c1 - self.c0


@dataclass(frozen=True, kw_only=True)
class Chunk:
    index: int
    m0: int
    m1: int
    read_bytes: int  #: inputs read from off-chip (0 when resident)
    write_bytes: int  #: outputs written off-chip (0 when resident)
    read_cycles: int
    write_cycles: int


@dataclass(frozen=True, kw_only=True)
class GemmPlan:
    """Every job, chunk and fixed latency of one GEMM instance."""

    m: int
    k: int
    n: int
    weights_static: bool
    tiles: int
    tile_rows: int
    tile_cols: int
    program_cycles: int  #: weight programming time of one tile (cycles)
    weight_buffers: int
    activation_bytes: int  #: bytes per stored activation
    latencies: tuple  #: pipeline depth of each of STAGES (cycles)
    spilled: bool
    chunks: tuple
    jobs: tuple
    stages: tuple = STAGES  #: streaming stages of a job, in pipeline order
    bank_stage: str = "tile"  #: the stage whose last vector releases the weight bank

    @property
    def macs(self) -> int:
        return self.m * self.k * self.n


def cycles_for_bytes(nbytes: int, bytes_per_s: float, clock_hz: float) -> int:
    """Whole cycles to move ``nbytes`` at ``bytes_per_s`` (0 bytes -> 0 cycles)."""
    if nbytes <= 0:
        return 0
    return max(1, math.ceil(nbytes * clock_hz / bytes_per_s - 1e-9))


def program_cycles(device: Device) -> int:
    """Cycles to write all tile rows over the weight interface, then settle."""
    a = device.arch
    transfers = math.ceil(device.tile_rows / a.weight_rows_per_transfer)
    seconds = transfers / a.weight_interface_hz + a.weight_settle_s
    return max(1, math.ceil(seconds * a.clock_hz - 1e-9))


def chunk_rows(m: int, k: int, n: int, device: Device) -> tuple[bool, int]:
    """(spilled, rows per chunk) for an M x K x N op."""
    a = device.arch
    per_row = (k + n) * a.activation_bytes
    if m * per_row <= a.sram_bytes:
        return False, m
    return True, max(1, min(m, a.sram_bytes // (2 * per_row)))


def plan_gemm(m: int, k: int, n: int, device: Device, *, weights_static: bool = True,
              chunking: tuple[bool, int] | None = None) -> GemmPlan:
    """Chunks and tile jobs of one (M, K) x (N, K)^T product on ``device`` (``chunking``:
    (spilled, rows per chunk) instead of :func:`chunk_rows`, for a part of a larger GEMM)."""
    if min(m, k, n) < 1:
        raise ValueError(f"GEMM dims must be >= 1, got m={m} k={k} n={n}")
    a, conv = device.arch, device.converters
    R, C, tiles = device.tile_rows, device.tile_cols, a.tiles
    dac_lanes = conv.dac_conversions_per_cycle or R
    adc_lanes = conv.adc_conversions_per_cycle or C
    T, J = math.ceil(k / R), math.ceil(n / C)
    spilled, mc = chunking or chunk_rows(m, k, n, device)
    chunks = row_chunks(m, k, n, mc, spilled, a)
    jobs = []
    idx = 0
    for ch in chunks:
        for j in range(J):
            c0, c1 = j * C, min(n, (j + 1) * C)
            cols = c1 - c0
            for t in range(T):
                k0, k1 = t * R, min(k, (t + 1) * R)
                rows = k1 - k0
                last = t == T - 1
                fbytes = rows * cols * a.weight_bytes + cols * 2
                if weights_static:
                    fcyc = cycles_for_bytes(fbytes, a.offchip_bytes_per_s, a.clock_hz)
                else:
                    fcyc = math.ceil(fbytes / a.sram_bytes_per_cycle)
                vec_bytes = rows * a.activation_bytes + (cols * a.activation_bytes if last else 0)
                stage = (
                    math.ceil(vec_bytes * tiles / a.sram_bytes_per_cycle),
                    math.ceil(rows / dac_lanes),
                    1,
                    math.ceil(cols / adc_lanes),
                    math.ceil(cols * tiles / a.exp_unit_partials_per_cycle),
                )
                jobs.append(TileJob(index=idx, tile=idx % tiles, chunk=ch.index, t=t, j=j,
                                    m0=ch.m0, m1=ch.m1, k0=k0, k1=k1, c0=c0, c1=c1,
                                    fetch_cycles=fcyc, fetch_bytes=fbytes, stage_cycles=stage,
                                    ii=max(stage), last_t=last))
                idx += 1
    lat = (a.sram_latency_cycles, a.dac_latency_cycles, a.tile_latency_cycles,
           a.adc_latency_cycles, a.exp_latency_cycles)
    return GemmPlan(m=m, k=k, n=n, weights_static=weights_static, tiles=tiles, tile_rows=R,
                    tile_cols=C, program_cycles=program_cycles(device),
                    weight_buffers=a.weight_buffers, activation_bytes=a.activation_bytes,
                    latencies=lat, spilled=spilled,
                    chunks=tuple(chunks), jobs=tuple(jobs))


def row_chunks(m: int, k: int, n: int, mc: int, spilled: bool, a) -> list:
    """Row chunks of ``mc`` rows of an (m, k) x (k, n) GEMM; a spilled GEMM reads each
    chunk's inputs from off-chip memory and writes its outputs back (``a``: the arch)."""
    chunks = []
    for ci, m0 in enumerate(range(0, m, mc)):
        m1 = min(m, m0 + mc)
        rb = (m1 - m0) * k * a.activation_bytes if spilled else 0
        wb = (m1 - m0) * n * a.activation_bytes if spilled else 0
        chunks.append(Chunk(index=ci, m0=m0, m1=m1, read_bytes=rb, write_bytes=wb,
                            read_cycles=cycles_for_bytes(rb, a.offchip_bytes_per_s, a.clock_hz),
                            write_cycles=cycles_for_bytes(wb, a.offchip_bytes_per_s, a.clock_hz)))
    return chunks
