"""Digital systolic arrays in the same simpy engine: mapping, accounting, closed form.

A digital device has ``arch.arrays`` arrays of R x C MAC units (PEs). A *job* is one
fold, the unit SCALE-Sim counts:

* **WS** (weight stationary): a weight block of R rows of K by C columns of N is
  shifted into the PEs (``ceil(R / weight_load_rows_per_cycle)`` cycles -- the
  engine's programming step), then the row chunk's input vectors stream through it,
  one per cycle; the array's depth is R + C - 1 (the input skew across the columns
  plus the partial sums falling through the rows), so a fold of v vectors keeps its
  weights until v - 1 + R + C - 1 cycles after its first vector entered. With one
  weight buffer the next fold's weights load only then (SCALE-Sim's schedule: a fold
  takes v + 2R + C - 2 cycles); with two they load while the current fold streams.
  Partial sums of folds t < T - 1 go to the accumulator SRAM.
* **OS** (output stationary): each PE owns one output; a job is an R x C output tile
  that streams the K reduction steps (no weight loading, ``steps = K``); depth
  R + C - 1 (skew) plus R to shift the results out.

Stages: ``sram`` (input vector read: ``ceil(bytes x arrays / sram_bytes_per_cycle)``
cycles per vector, depth ``sram_latency_cycles``), ``array`` (one vector per cycle),
``accum`` (partial-sum / output write, depth ``accum_latency_cycles``). Row chunks,
off-chip spilling, weight fetches over the off-chip link and the write-back overlap
are those of the analog mapping (:mod:`amssim.timing.mapping`), so the same simpy
model (:func:`amssim.timing.model.simulate_plan`) and its recurrence oracle
(:func:`amssim.timing.closed_form.plan_times`) run it. :func:`fold_cycles_closed_form`
is the explicit formula for resident data and enough bandwidth.
"""

from __future__ import annotations

import math

from .mapping import GemmPlan, TileJob, chunk_rows, cycles_for_bytes, row_chunks
from .result import add_chunk_traffic

#: streaming stages of a systolic array job
SYSTOLIC_STAGES = ("sram", "array", "accum")
#: timed components of a digital device
SYSTOLIC_TIMED_COMPONENTS = (*SYSTOLIC_STAGES, "program", "offchip_read", "offchip_write")
#: action counters the digital energy table prices
DIGITAL_ACTIONS = ("macs", "block_ops", "outputs", "weights_loaded", "sram_read_bytes",
                   "sram_write_bytes", "offchip_read_bytes", "offchip_write_bytes")


def _block(device) -> int:
    """Elements sharing a scale along K in the device's formats (0 = none)."""
    from ..energy.digital import operand

    n = device.numerics
    return max(operand(n.format).block, operand(device.weight_format).block)


def load_cycles(device) -> int:
    """WS weight fill: R rows at ``weight_load_rows_per_cycle`` (OS: none)."""
    a = device.arch
    if a.dataflow == "os":
        return 0
    return math.ceil(a.array_rows / a.weight_load_rows_per_cycle)


def array_depth(device) -> int:
    """Cycles from a vector entering the array to its partial sums leaving it."""
    a = device.arch
    depth = a.array_rows + a.array_cols - 1
    return depth + (a.array_rows if a.dataflow == "os" else 0)


def plan_systolic(m: int, k: int, n: int, device, *, weights_static: bool = True,
                  chunking: tuple[bool, int] | None = None) -> GemmPlan:
    """Chunks and fold jobs of one (M, K) x (N, K)^T product on a digital ``device``
    (``chunking``: (spilled, rows per chunk) instead of :func:`~amssim.timing.mapping.chunk_rows`)."""
    if min(m, k, n) < 1:
        raise ValueError(f"GEMM dims must be >= 1, got m={m} k={k} n={n}")
    a = device.arch
    R, C, A = a.array_rows, a.array_cols, a.arrays
    os_flow = a.dataflow == "os"
    spilled, mc = chunking or chunk_rows(m, k, n, device)
    chunks = row_chunks(m, k, n, mc, spilled, a)
    J = math.ceil(n / C)
    jobs = []
    idx = 0

    def fetch(nbytes):
        if weights_static:
            return cycles_for_bytes(nbytes, a.offchip_bytes_per_s, a.clock_hz)
        return math.ceil(nbytes / a.sram_bytes_per_cycle)

    for ch in chunks:
        for j in range(J):
            c0, c1 = j * C, min(n, (j + 1) * C)
            cols = c1 - c0
            if os_flow:
                # output tiles of R rows; weights of the column block fetched once per chunk
                for r0 in range(ch.m0, ch.m1, R):
                    r1 = min(ch.m1, r0 + R)
                    rows = r1 - r0
                    fb = k * cols * a.weight_bytes if r0 == ch.m0 else 0
                    vec = (rows * a.activation_bytes + cols * a.weight_bytes) * A
                    stage = (math.ceil(vec / a.sram_bytes_per_cycle), 1, 1)
                    jobs.append(TileJob(index=idx, tile=idx % A, chunk=ch.index, t=0, j=j,
                                        m0=r0, m1=r1, k0=0, k1=k, c0=c0, c1=c1,
                                        fetch_cycles=fetch(fb), fetch_bytes=fb, stage_cycles=stage,
                                        ii=max(stage), last_t=True, steps=k))
                    idx += 1
                continue
            T = math.ceil(k / R)
            for t in range(T):
                k0, k1 = t * R, min(k, (t + 1) * R)
                rows = k1 - k0
                fb = rows * cols * a.weight_bytes
                stage = (math.ceil(rows * a.activation_bytes * A / a.sram_bytes_per_cycle), 1, 1)
                jobs.append(TileJob(index=idx, tile=idx % A, chunk=ch.index, t=t, j=j,
                                    m0=ch.m0, m1=ch.m1, k0=k0, k1=k1, c0=c0, c1=c1,
                                    fetch_cycles=fetch(fb), fetch_bytes=fb, stage_cycles=stage,
                                    ii=max(stage), last_t=t == T - 1))
                idx += 1
    lat = (a.sram_latency_cycles, array_depth(device), a.accum_latency_cycles)
    return GemmPlan(m=m, k=k, n=n, weights_static=weights_static, tiles=A, tile_rows=R,
                    tile_cols=C, program_cycles=load_cycles(device),
                    weight_buffers=a.weight_buffers, activation_bytes=a.activation_bytes,
                    latencies=lat, spilled=spilled, chunks=tuple(chunks), jobs=tuple(jobs),
                    stages=SYSTOLIC_STAGES, bank_stage="array")


def systolic_accounting(plan: GemmPlan, device, *, stage_starts: dict) -> tuple:
    """(busy, stall, actions) of one instance on a digital device."""
    a = device.arch
    G = _block(device)
    busy = dict.fromkeys(SYSTOLIC_TIMED_COMPONENTS, 0)
    stall = dict.fromkeys(SYSTOLIC_TIMED_COMPONENTS, 0)
    act = dict.fromkeys(DIGITAL_ACTIONS, 0)
    free = [0] * plan.tiles
    for job in plan.jobs:
        v = job.vectors
        rows_m = job.m1 - job.m0  # output rows (WS: the chunk's vectors)
        kk = job.k1 - job.k0
        c = job.cols
        for s, cyc in zip(SYSTOLIC_STAGES, job.stage_cycles):
            busy[s] += v * cyc
            stall[s] += v * (job.ii - cyc)
        a0 = stage_starts[("sram", job.index)]
        stall["array"] += a0 - free[job.tile]
        free[job.tile] = a0 + v * job.ii
        busy["program"] += plan.program_cycles
        busy["offchip_read"] += job.fetch_cycles
        act["macs"] += rows_m * kk * c
        act["block_ops"] += rows_m * c * (math.ceil(kk / G) if G else 0)
        act["weights_loaded"] += 0 if a.dataflow == "os" else kk * c
        if a.dataflow == "os":
            act["sram_read_bytes"] += kk * (rows_m * a.activation_bytes + c * a.weight_bytes)
        else:
            act["sram_read_bytes"] += v * kk * a.activation_bytes
            if job.t > 0:  # read back the partial sums of the previous K folds
                act["sram_read_bytes"] += v * c * a.accumulator_bytes
        if job.last_t:
            act["outputs"] += rows_m * c
            act["sram_write_bytes"] += rows_m * c * a.activation_bytes
        else:
            act["sram_write_bytes"] += v * c * a.accumulator_bytes
        if plan.weights_static:
            act["offchip_read_bytes"] += job.fetch_bytes
        else:
            act["sram_read_bytes"] += job.fetch_bytes
    add_chunk_traffic(plan.chunks, busy, act)
    return busy, stall, act


def fold_cycles_closed_form(m: int, k: int, n: int, device, *, weights_static: bool = True) -> int:
    """Explicit cycle count of one resident (not spilled) GEMM instance.

    Folds are dealt round-robin to the A arrays; array i gets n_i of the F folds and
    its first weight block arrives after the fetches of folds 0..i (``f_i``). With P
    the weight load, F the fetch of a fold, D = L_sram + L_array + L_accum the pipeline
    depth, II the cycles per vector and v the vectors of a fold (WS: M rows; OS: K
    steps), fold q of an array enters at a_q = a_0 + max(q x, floor(q / B) W +
    (q mod B) x): x = max(v II, F + P) is the spacing the stream and the load/fetch
    allow, W = P + L_sram + L_array + (v - 1) II the wait for a weight buffer (B of
    them) to be released by the fold B places earlier. So array i ends at
    f_i + P + a_(n_i - 1) - a_0 + D + (v - 1) II; with one buffer that is
    f_i + n_i W + L_accum -- SCALE-Sim's v + 2R + C - 2 per WS fold when P = R,
    L_sram = L_accum = 0 and II = 1.

    Valid while the off-chip/SRAM fetches of one array never wait for another's
    (fetches shorter than a fold); tests compare it with the simpy model.
    """
    plan = plan_systolic(m, k, n, device, weights_static=weights_static)
    if plan.spilled:
        raise ValueError("fold_cycles_closed_form: the instance spills to off-chip memory")
    L_s, L_a, L_c = plan.latencies
    P, B, A = plan.program_cycles, plan.weight_buffers, plan.tiles
    ends = []
    fetch_end = 0
    for i in range(min(A, len(plan.jobs))):
        fetch_end += plan.jobs[i].fetch_cycles
        mine = plan.jobs[i::A]
        last = len(mine) - 1
        v, ii = mine[0].vectors, mine[0].ii
        x = max(v * ii, max(j.fetch_cycles for j in mine) + P)
        W = P + L_s + L_a + (v - 1) * ii
        a_last = max(last * x, (last // B) * W + (last % B) * x)
        ends.append(fetch_end + P + a_last + L_s + L_a + L_c + (v - 1) * ii)
    return max(ends)
