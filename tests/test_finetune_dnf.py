"""DNF histograms and sampler (amssim.finetune.dnf): statistical and closed-form checks."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from scipy.stats import chisquare, kstest  # noqa: E402

from amssim.errors import ConfigError  # noqa: E402
from amssim.finetune.dnf import DiffHistogram, alias_table, select_layers  # noqa: E402


def _hist(rng, bins=100):
    d = np.concatenate([rng.laplace(size=6000), rng.normal(4.0, 0.3, size=2000)])
    return DiffHistogram.from_diffs("fc", 3, d, bins=bins, bin_offset=0.5), d


def test_histogram_is_paper_definition(rng):
    h, d = _hist(rng)
    counts, edges = np.histogram(d, bins=100, range=(d.min(), d.max()))
    assert len(h.probs) == 100 and np.allclose(h.edges, edges)
    np.testing.assert_allclose(h.probs, (counts + 0.5) / (counts + 0.5).sum(), rtol=1e-15)
    assert h.probs.min() > 0 and abs(h.probs.sum() - 1) < 1e-12
    assert h.std == pytest.approx(d.std()) and h.mean == pytest.approx(d.mean())


def test_alias_table_reconstructs_probabilities(rng):
    p = rng.random(37) ** 3 + 1e-4
    p /= p.sum()
    q, alias = alias_table(p)
    nb = len(p)
    back = q / nb
    np.add.at(back, alias, (1 - q) / nb)
    np.testing.assert_allclose(back, p, rtol=1e-12, atol=1e-15)


def test_sampler_reproduces_histogram_chi_square(rng):
    """Bin counts of 400k draws against the histogram: chi-square p > 0.001 (fixed seed)."""
    h, _ = _hist(rng)
    s = h.sample((400_000,), torch.Generator().manual_seed(7)).numpy()
    assert s.dtype == np.float32 and s.min() >= h.edges[0] - 1e-5 and s.max() <= h.edges[-1] + 1e-5
    counts, _ = np.histogram(s.astype(np.float64), bins=h.edges)
    res = chisquare(counts, h.probs * counts.sum())
    assert res.pvalue > 1e-3, res


def test_sampler_uniform_within_bin(rng):
    """Positions inside the drawn bin are uniform (KS test, fixed seed)."""
    h, _ = _hist(rng, bins=10)
    s = h.sample((50_000,), torch.Generator().manual_seed(3)).numpy().astype(np.float64)
    j = np.clip(np.searchsorted(h.edges, s, side="right") - 1, 0, 9)
    frac = (s - h.edges[j]) / np.diff(h.edges)[j]
    assert kstest(frac, "uniform").pvalue > 1e-3


def test_sampler_seeded_and_shaped(rng):
    h, _ = _hist(rng)
    a = h.sample((3, 4, 5), torch.Generator().manual_seed(1))
    b = h.sample((3, 4, 5), torch.Generator().manual_seed(1))
    assert a.shape == (3, 4, 5) and torch.equal(a, b)


def test_constant_differences_and_empty():
    h = DiffHistogram.from_diffs("x", 0, np.zeros(10), bins=100, bin_offset=0.5)
    s = h.sample((1000,), torch.Generator().manual_seed(0))
    assert float(s.abs().max()) < 1e-30
    with pytest.raises(ConfigError, match="empty"):
        DiffHistogram.from_diffs("x", 0, np.zeros(0), bins=100, bin_offset=0.5)


def test_select_layers(rng):
    hs = {n: DiffHistogram.from_diffs(n, i, rng.normal(0, s, 100), bins=10, bin_offset=0.5)
          for i, (n, s) in enumerate([("a", 1.0), ("b", 5.0), ("c", 2.0)])}
    assert set(select_layers(hs, "all")) == {"a", "b", "c"}
    assert set(select_layers(hs, "top2")) == {"b", "c"}
    for bad in ("top0", "some", "top"):
        with pytest.raises(ConfigError):
            select_layers(hs, bad)
