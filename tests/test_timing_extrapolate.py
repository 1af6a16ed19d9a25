"""Timing of GEMMs over the job-by-job limit (amssim.timing.extrapolate) against the full
job walk (the closed form, itself checked against the simpy model in test_timing_model)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import amssim.timing.extrapolate as X
from amssim.config import load_device
from amssim.config.overrides import apply_overrides
from amssim.timing import GemmShape, simulate_timing
from amssim.timing.mapping import chunk_rows


def _full_and_extrapolated(monkeypatch, dev, g, limit):
    monkeypatch.setattr(X, "EXACT_MAX_JOBS", 10**9)
    full = simulate_timing([g], dev).layers[0]
    monkeypatch.setattr(X, "EXACT_MAX_JOBS", limit)
    with pytest.warns(X.TimingApproximationWarning, match=g.name):
        ext = simulate_timing([g], dev).layers[0]
    return full, ext


SHAPES = [(3000, 512, 512, True), (2049, 768, 3072, True), (4000, 256, 1000, False), (5000, 4096, 256, True)]


@pytest.mark.parametrize("devname", ["abfp-paper", "digital-int8-128", "photonic-128-measured"])
@pytest.mark.parametrize("shape", SHAPES)
def test_row_extrapolation_matches_the_full_walk(monkeypatch, devname, shape):
    """Spilled GEMMs (64 KiB SRAM: tens to hundreds of row chunks): cycles, busy cycles and
    every action count are those of the full walk; stalls too, except the tile stall of a
    multi-tile device (within 1 %: its warm-up is longer than the chunks simulated)."""
    m, k, n, static = shape
    dev = apply_overrides(load_device(devname), {"arch.sram_bytes": "65536"})
    g = GemmShape(name="g0", layer=0, m=m, k=k, n=n, weights_static=static)
    spilled, mc = chunk_rows(m, k, n, dev)
    assert spilled and m // mc > 20
    per_chunk = X.instance_jobs(mc, k, n, dev)
    full, ext = _full_and_extrapolated(monkeypatch, dev, g, 40 * per_chunk)  # rows only, no column split
    assert full.jobs > 40 * per_chunk
    assert (ext.cycles, ext.jobs, ext.actions, ext.busy_cycles) == (full.cycles, full.jobs, full.actions,
                                                                     full.busy_cycles)
    for c, v in full.stall_cycles.items():
        if devname == "photonic-128-measured" and c == "tile":
            assert ext.stall_cycles[c] == pytest.approx(v, rel=1e-2)
        else:
            assert ext.stall_cycles[c] == v, c


@pytest.mark.parametrize("devname", ["abfp-paper", "digital-int8-128", "photonic-128-measured"])
def test_column_parts_approximate_a_very_wide_gemm(monkeypatch, devname):
    """One row chunk over the per-chunk budget: the outputs are split into column parts timed one
    after the other. MACs, weights and outputs are exact; cycles within 10 % at parts of
    >= 50 jobs per chunk (measured 0.3-7 %); only input-side actions grow with the parts."""
    dev = load_device(devname)
    g = GemmShape(name="wide", layer=0, m=512, k=2048, n=16384)
    monkeypatch.setattr(X, "EXACT_MAX_JOBS", 10**9)
    jobs = simulate_timing([g], dev).layers[0].jobs
    full, ext = _full_and_extrapolated(monkeypatch, dev, g, jobs // 2)
    assert ext.cycles == pytest.approx(full.cycles, rel=0.1)
    assert ext.cycles != full.cycles or devname != "abfp-paper"  # an approximation, and said so
    assert ext.jobs == full.jobs and ext.macs == full.macs
    exact = ("macs", "outputs", "weights_programmed", "weights_loaded", "adc_conversions", "partials")
    assert len(set(exact) & set(full.actions)) >= 2
    for a in exact:
        if a in full.actions:
            assert ext.actions[a] == full.actions[a], a


def test_one_chunk_of_one_column_block_over_the_limit_is_refused(monkeypatch):
    from amssim.errors import ResourceLimitError

    monkeypatch.setattr(X, "EXACT_MAX_JOBS", 50)
    dev = load_device("abfp-paper")
    with pytest.raises(ResourceLimitError, match="one row chunk of one output column block"):
        simulate_timing([GemmShape(name="deep", layer=0, m=4, k=128 * 100, n=8)], dev)


def test_cli_times_a_gemm_over_the_job_limit_with_a_one_line_notice(tmp_path):
    """4 million tile jobs (refused before extrapolation existed): exit 0, one notice line per
    extrapolated op on stderr, no traceback."""
    (tmp_path / "big.csv").write_text("Layer, M, N, K,\nfc, 1000000, 4096, 4096,\nsmall, 64, 64, 64,\n")
    r = subprocess.run([sys.executable, "-m", "amssim", "simulate", "big.csv", "--mode", "timing", "--json"],
                       cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("amssim simulate: warning: timing: GEMM op fc "), r.stderr
    assert "extrapolated" in lines[0] and "Traceback" not in r.stderr
