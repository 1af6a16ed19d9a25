import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(__file__)
REPO = os.path.dirname(HERE)
SHARED = os.environ.get("AMSSIM_SHARED", os.path.join(os.path.dirname(REPO), "shared"))

# tests/reference holds slow, obviously-correct oracles
sys.path.insert(0, HERE)


@pytest.fixture
def rng():
    """A seeded numpy Generator for building test inputs (never used inside amssim)."""
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def repo_dir():
    return REPO


@pytest.fixture(scope="session")
def shared_dir():
    return SHARED
