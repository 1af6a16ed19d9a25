"""Analytic pipeline model: the same timing rules as the simpy model, as recurrences.

Used as the test oracle of :mod:`amssim.timing.model` (they must agree exactly on
every plan) and for a quick estimate. It walks the jobs once in job order with
max-plus recurrences (start = max(ready times)), no event queue. For a uniform
GEMM that fits in SRAM and a double-buffered device whose programming hides
behind streaming it reduces to :func:`steady_state_cycles`.
"""

from __future__ import annotations

import math

from .mapping import GemmPlan


def _slice(total: int, s: int, n: int) -> int:
    return total * (s + 1) // n - total * s // n


def plan_times(plan: GemmPlan) -> dict:
    """Per-job stage starts, completion and retire cycles, and the total."""
    tiles, L, B = plan.tiles, plan.latencies, plan.weight_buffers
    stages = plan.stages
    ns = len(stages)
    chunks = plan.chunks
    written: dict[int, int] = {}
    chunk_ready: dict[int, int] = {}
    input_end: dict[int, int] = {}
    done: dict[int, int] = {}
    slot_avail = [0] * tiles  # staging buffer free again (programming of previous block ended)
    prog_free = [0] * tiles
    releases: list[list[int]] = [[] for _ in range(tiles)]  # bank release times in job order
    stage_free = [[0] * ns for _ in range(tiles)]
    starts, complete, retire, prog_end = {}, {}, {}, {}
    last_retire = 0
    by_chunk: dict[int, list] = {}
    for job in plan.jobs:
        by_chunk.setdefault(job.chunk, []).append(job)
    read_free = chunks[0].read_cycles if chunks else 0
    if chunks:
        input_end[0] = read_free
    write_free = 0
    for ch in chunks:
        c = ch.index
        ready = input_end[c]
        if plan.spilled and c >= 2:
            ready = max(ready, written[c - 2])
        chunk_ready[c] = ready
        nxt = chunks[c + 1] if c + 1 < len(chunks) else None
        js = by_chunk[c]
        nblocks = sum(1 for j in js if j.last_t)
        b = 0
        for s, job in enumerate(js):
            i = job.tile
            f0 = max(read_free, slot_avail[i])
            read_free = f0 + job.fetch_cycles
            fetch_end = read_free
            if nxt is not None:  # a slice of chunk c+1's inputs after this fetch
                if s == 0 and c >= 1:
                    read_free = max(read_free, done[c - 1])
                read_free += _slice(nxt.read_cycles, s, len(js))
                if s == len(js) - 1:
                    input_end[c + 1] = read_free
            q = len(releases[i])  # this job's position on tile i
            bank = releases[i][q - B] if q >= B else 0
            p0 = max(fetch_end, prog_free[i], bank)
            pe = p0 + plan.program_cycles
            prog_free[i] = slot_avail[i] = prog_end[job.index] = pe
            v, ii = job.vectors, job.ii
            a = max(pe, ready, stage_free[i][0])
            for k in range(ns):
                if k:
                    a = max(a + L[k - 1], stage_free[i][k])
                starts[(stages[k], job.index)] = a
                stage_free[i][k] = a + v * ii
                if stages[k] == plan.bank_stage:
                    releases[i].append(a + L[k] + (v - 1) * ii)
            complete[job.index] = a + L[ns - 1] + (v - 1) * ii
            last_retire = retire[job.index] = max(complete[job.index], last_retire)
            if job.last_t:  # this column block's outputs are written once it retired
                w0 = max(write_free, last_retire)
                write_free = w0 + _slice(ch.write_cycles, b, nblocks)
                b += 1
        done[c] = last_retire
        written[c] = max(write_free, last_retire) if nblocks == 0 else write_free
    total = max([0, *retire.values(), *written.values()])
    return {"start": starts, "complete": complete, "retire": retire, "prog_end": prog_end,
            "chunk_ready": chunk_ready, "chunk_written": written, "cycles": total}


def steady_state_cycles(plan: GemmPlan) -> int:
    """Closed form for the bottleneck-free case (all jobs same II, resident inputs).

    Programming of the first block (after its fetch) then each tile streams its
    jobs back to back: cycles = fetch + P + max_i(sum of v*II over tile i's jobs)
    - v*II of the last job + depth + (v-1)*II. Valid when ``weight_buffers == 2``,
    programming a block takes no longer than streaming one and fetches keep up;
    tests check it against :func:`plan_times` in that regime.
    """
    jobs = plan.jobs
    first = jobs[0]
    per_tile = [0] * plan.tiles
    last = {}
    for j in jobs:
        per_tile[j.tile] += j.vectors * j.ii
        last[j.tile] = j
    ends = []
    for i, busy in enumerate(per_tile):
        if i not in last:
            continue
        lj = last[i]
        # tile i's first job waits for the fetches of jobs 0..i plus programming
        fetch = sum(jobs[q].fetch_cycles for q in range(i + 1))
        ends.append(fetch + plan.program_cycles + busy - lj.vectors * lj.ii
                    + sum(plan.latencies) + (lj.vectors - 1) * lj.ii)
    del first
    return max(ends)


def ceil_div(a: int, b: int) -> int:
    return -(-a // b) if b else 0


def ideal_cycles(m: int, k: int, n: int, tiles: int, rows: int, cols: int) -> int:
    """Lower bound: every tile busy every cycle with full blocks."""
    return math.ceil(ceil_div(k, rows) * ceil_div(n, cols) * m / tiles)
