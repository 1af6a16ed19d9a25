"""The fast slice of the fuzz campaign (runs in the normal suite).

Hypothesis draws the case seeds (derandomized, so the suite is reproducible); the seeded
mutators of :mod:`tests.fuzz.mutators` turn each seed into a hostile input. Every case runs
the real CLI in a subprocess under a 1 GiB address-space limit and a timeout; it must end
with exit 0 or 2, no traceback, no memory kill, no hang and no existing file changed.
``python -m tests.fuzz --cases 10000`` runs the full campaign.
"""

from __future__ import annotations

import concurrent.futures as cf
import random
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import corpus, mutators
from .cases import KINDS
from .runner import BAD, run_case, summarise

#: cases per input kind in the fast slice (12 kinds)
PER_KIND = 16
TIMEOUT_S = 120  # generous: the suite shares 2 busy cores; the campaign uses 60 s


@pytest.fixture(scope="module")
def template():
    d = tempfile.mkdtemp(prefix="fuzz-corpus-")
    corpus.build(d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_fuzz_fast_slice(kind, template):
    @settings(max_examples=1, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(seeds=st.lists(st.integers(0, 2**32 - 1), min_size=PER_KIND, max_size=PER_KIND, unique=True))
    def run(seeds):
        with cf.ThreadPoolExecutor(max_workers=2) as ex:
            outs = list(ex.map(lambda s: run_case(kind, s, template, timeout_s=TIMEOUT_S), seeds))
        bad = [o for o in outs if o.result in BAD]
        assert not bad, summarise(outs) + "\n" + "\n".join(f"{o.seed} {o.result} {o.argv!r}: {o.detail}"
                                                            for o in bad)

    run()


def test_mutators_are_deterministic_and_change_their_input():
    data = mutators.npy_bytes(__import__("numpy").arange(12, dtype="float32"))
    a = [mutators.mutate_npy(random.Random(7), data) for _ in range(2)]
    assert a[0] == a[1]
    changed = sum(mutators.mutate_bytes(random.Random(i), data) != data for i in range(50))
    assert changed == 50
    text = 'a = 1\nb = "x"\n[t]\nc = 2.5\n'
    assert len({mutators.mutate_toml_text(random.Random(i), text) for i in range(30)}) > 10


def test_baseline_corpus_runs_clean(template):
    """Unmutated inputs must succeed, so a failing mutated case is caused by the mutation."""
    import os
    import subprocess
    import sys

    from .cases import CAL_FAST, FAKE, SIM

    env = dict(os.environ, PYTHONPATH=corpus.TESTS, MPLBACKEND="Agg")
    d = tempfile.mkdtemp()
    try:
        shutil.copytree(template, d, dirs_exist_ok=True)
        for argv in (SIM, ["simulate", "conv.csv", "--mode", "timing"], ["pareto", "store.jsonl"],
                     ["export-trace", "model.onnx", "--data", "data.npz", "--out", "ot"],
                     ["sweep", "--sweep-file", "fake_sweep.toml", "--store", "n.jsonl", "--workers", "1"] + FAKE,
                     ["calibrate", "paired.npz", "--meta", "meta.toml"] + CAL_FAST):
            r = subprocess.run([sys.executable, "-m", "amssim", *argv], cwd=d, env=env, capture_output=True,
                               text=True, timeout=300)
            assert r.returncode == 0, (argv, r.stderr[-500:])
    finally:
        shutil.rmtree(d, ignore_errors=True)
