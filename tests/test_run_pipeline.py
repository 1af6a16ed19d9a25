"""The run pipeline accepts a device as a name, a file or a loaded object, with one result."""

import os

import pytest

from amssim.config import load_device
from amssim.run import resolve_device, simulate

REPO = os.path.dirname(os.path.dirname(__file__))
FSDD = os.path.join(REPO, "workloads", "fsdd-cnn")
OVER = {"run.limit": 16, "numerics.gain": 4}


def _strip(r):
    d = r.to_dict()
    d.pop("wall_time_s")
    return d


def test_device_by_name_file_or_object_gives_the_same_result():
    by_name = simulate(FSDD, "abfp-paper", overrides=OVER)
    dev = load_device("abfp-paper")
    by_obj = simulate(FSDD, dev, overrides=OVER)
    path = os.path.join(REPO, "device_models", "abfp-paper.toml")
    by_file = simulate(FSDD, path, overrides=OVER)
    assert _strip(by_name) == _strip(by_obj) == _strip(by_file)
    # overrides apply on top of an object as on top of a name
    d2, _ = resolve_device(dev, {"numerics.gain": 4})
    assert d2.numerics.gain == 4 and dev.numerics.gain != 4


@pytest.mark.parametrize("key, value", [("batch", 0), ("batch", 2**31), ("batch", 10**400),
                                        ("eval_batch", -1), ("eval_batch", 10**30), ("limit", -1),
                                        ("limit", 2**63), ("batch", True), ("limit", 1.5)])
def test_run_options_out_of_range_are_config_errors(key, value):
    """Found by the fuzz campaign: a 400-digit run.batch overflowed float() in the timing
    checks (exit 1); every out-of-range run key is a ConfigError with a short message."""
    from amssim.errors import ConfigError
    from amssim.run import RunOptions

    with pytest.raises(ConfigError, match=f"run.{key}") as e:
        RunOptions(**{key: value})
    assert len(str(e.value)) < 120
    RunOptions(**{key: 2**31 - 1 if key != "limit" else 2**63 - 1})  # the largest accepted
