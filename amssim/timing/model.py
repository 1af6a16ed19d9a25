"""simpy model of one GEMM instance: one process per engine, one event per tile job.

Engines (processes): ``read`` (off-chip link, read direction: input chunks, then
the weight blocks of the chunk's jobs in job order, each into its tile's one-block
staging buffer), ``program<i>`` (weight programming of tile i into a free weight
bank), per tile the streaming stages ``sram<i> -> dac<i> -> tile<i> -> adc<i> ->
exp_unit<i>`` linked by FIFO Stores, ``retire`` (exponent-unit accumulator,
in-order: it applies job results in job index order) and ``write`` (off-chip link,
write direction: spilled outputs, one column block at a time as soon as the block's
last K block retired, so chunk c's write-back overlaps the computation of chunk c+1).
Spilled chunks use the two halves of the SRAM in turn: chunk c+1's inputs are read
in slices between the weight fetches of chunk c once chunk c-1 retired (its inputs
are dead), and chunk c starts computing once its inputs are in and chunk c-2's
outputs have been written (its output region is free).

Timing rules (integers, cycles). A stage takes a job at a_k, passes its first
vector on after its depth L_k (next stage's a_{k+1} >= a_k + L_k) and accepts the
next job at a_k + v * II (v vectors, II the job's initiation interval). A job is
complete at a_exp + L_exp + (v - 1) * II (fill + vectors x II) and releases its
weight bank when the last vector leaves the tile, a_tile + (v - 1) * II + L_tile.
The first stage starts a job once it is programmed, its row chunk is in SRAM and
the stage is free. :mod:`amssim.timing.closed_form` computes the same times with
max-plus recurrences and is the test oracle.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from .mapping import GemmPlan, TileJob


@dataclass
class SimLog:
    """Per-job times and an optional (cycle, engine, event, job) log."""

    start: dict = field(default_factory=dict)  #: (stage, job) -> cycle the stage took the job
    complete: dict = field(default_factory=dict)  #: job -> completion cycle
    retire: dict = field(default_factory=dict)  #: job -> retire cycle
    prog_end: dict = field(default_factory=dict)
    fetch_end: dict = field(default_factory=dict)
    chunk_ready: dict = field(default_factory=dict)
    chunk_written: dict = field(default_factory=dict)
    events: list | None = None
    cycles: int = 0

    def log(self, t, engine, what, job):
        if self.events is not None:
            self.events.append((int(t), engine, what, job))


def _slice(total: int, s: int, n: int) -> int:
    """Cycles of slice ``s`` of ``n`` when ``total`` cycles are split evenly (integers)."""
    return total * (s + 1) // n - total * s // n


def simulate_plan(plan: GemmPlan, *, on_retire=None, log_events: bool = False) -> SimLog:
    """Run the simpy model of ``plan``; ``on_retire(job)`` is called in job order."""
    env = simpy.Environment()
    out = SimLog(events=[] if log_events else None)
    tiles = plan.tiles
    L = plan.latencies
    stages = plan.stages
    # one pass each (job order kept within a tile and a chunk); a per-chunk scan of every
    # job was quadratic and hung on GEMMs of millions of row chunks
    jobs_by_tile: list[list] = [[] for _ in range(tiles)]
    chunk_jobs: dict[int, list] = {c.index: [] for c in plan.chunks}
    for j in plan.jobs:
        jobs_by_tile[j.tile].append(j)
        chunk_jobs[j.chunk].append(j)
    blocks = {c: [j for j in js if j.last_t] for c, js in chunk_jobs.items()}
    input_done = {c.index: env.event() for c in plan.chunks}
    chunk_done = {c.index: env.event() for c in plan.chunks}
    written = {c.index: env.event() for c in plan.chunks}
    block_done = {j.index: env.event() for js in blocks.values() for j in js}
    gated = {c.index for c in plan.chunks if plan.spilled and c.index >= 2}
    chunk_ready = {c: (env.event() if c in gated else input_done[c]) for c in input_done}
    slot = [simpy.Store(env) for _ in range(tiles)]  # staging-buffer tokens
    staged = [simpy.Store(env) for _ in range(tiles)]
    banks = [simpy.Store(env) for _ in range(tiles)]
    ready = [simpy.Store(env) for _ in range(tiles)]
    stage_in = [[simpy.Store(env) for _ in stages] for _ in range(tiles)]
    done = simpy.Store(env)
    for i in range(tiles):
        slot[i].items.append(0)
        banks[i].items.extend(range(plan.weight_buffers))

    def read():
        # chunk 0's inputs first; chunk c+1's inputs are read in slices between the
        # weight fetches of chunk c (prefetch into the other half of the SRAM, whose
        # inputs are dead once chunk c-1 retired)
        chunks = plan.chunks
        if chunks:
            if chunks[0].read_cycles:
                out.log(env.now, "read", "input_start", 0)
                yield env.timeout(chunks[0].read_cycles)
            input_done[0].succeed()
        for ch in chunks:
            c = ch.index
            nxt = chunks[c + 1] if c + 1 < len(chunks) else None
            js = chunk_jobs[c]
            for s, job in enumerate(js):
                yield slot[job.tile].get()
                out.log(env.now, "read", "fetch_start", job.index)
                yield env.timeout(job.fetch_cycles)
                out.fetch_end[job.index] = env.now
                yield staged[job.tile].put(job)
                if nxt is None:
                    continue
                if s == 0:
                    if c >= 1:
                        yield chunk_done[c - 1]
                    if nxt.read_cycles:
                        out.log(env.now, "read", "input_start", c + 1)
                d = _slice(nxt.read_cycles, s, len(js))
                if d:
                    yield env.timeout(d)
                if s == len(js) - 1:
                    input_done[c + 1].succeed()

    def gate(c):
        # chunk c reuses the SRAM half of chunk c-2: its outputs must be written first
        yield input_done[c]
        yield written[c - 2]
        chunk_ready[c].succeed()

    def program(i):
        for _ in jobs_by_tile[i]:
            job = yield staged[i].get()
            bank = yield banks[i].get()
            out.log(env.now, f"program{i}", "start", job.index)
            yield env.timeout(plan.program_cycles)
            out.prog_end[job.index] = env.now
            yield slot[i].put(0)
            yield ready[i].put((job, bank))

    def later(delay, store, item):
        yield env.timeout(delay)
        yield store.put(item)

    def stage(i, k):
        name = stages[k]
        for _ in jobs_by_tile[i]:
            if k == 0:
                job, bank = yield ready[i].get()
                yield chunk_ready[job.chunk]
            else:
                job, bank = yield stage_in[i][k].get()
            out.start[(name, job.index)] = env.now
            out.log(env.now, f"{name}{i}", "start", job.index)
            v, ii = job.vectors, job.ii
            if k + 1 < len(stages):
                env.process(later(L[k], stage_in[i][k + 1], (job, bank)))
            else:
                env.process(later(L[k] + (v - 1) * ii, done, job))
            if name == plan.bank_stage:
                env.process(later(L[k] + (v - 1) * ii, banks[i], bank))
            yield env.timeout(v * ii)

    def retire():
        pending: dict[int, TileJob] = {}
        nxt = 0
        left = {c: len(js) for c, js in chunk_jobs.items()}
        while nxt < len(plan.jobs):
            job = yield done.get()
            out.complete[job.index] = env.now
            pending[job.index] = job
            while nxt in pending:
                j = pending.pop(nxt)
                out.retire[j.index] = env.now
                out.log(env.now, "retire", "job", j.index)
                if on_retire is not None:
                    on_retire(j)
                if j.last_t:
                    block_done[j.index].succeed()
                left[j.chunk] -= 1
                if left[j.chunk] == 0:
                    chunk_done[j.chunk].succeed()
                nxt += 1

    def write():
        # outputs leave as soon as their column block is complete (the last K block of
        # (chunk, j) retired): chunk c's write-back overlaps the computation of the rest
        # of chunk c and of chunk c+1
        for ch in plan.chunks:
            bl = blocks[ch.index]
            for s, job in enumerate(bl):
                yield block_done[job.index]
                d = _slice(ch.write_cycles, s, len(bl))
                if d:
                    out.log(env.now, "write", "output_start", ch.index)
                    yield env.timeout(d)
            out.chunk_written[ch.index] = env.now
            written[ch.index].succeed()

    def mark_ready(c):
        yield chunk_ready[c]
        out.chunk_ready[c] = env.now

    env.process(read())
    for c in sorted(gated):
        env.process(gate(c))
    for c in chunk_ready:
        env.process(mark_ready(c))
    for i in range(tiles):
        env.process(program(i))
        for k in range(len(stages)):
            env.process(stage(i, k))
    env.process(retire())
    env.process(write())
    env.run()
    out.cycles = max([0, *out.retire.values(), *out.chunk_written.values()])
    return out
