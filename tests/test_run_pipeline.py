"""The run pipeline accepts a device as a name, a file or a loaded object, with one result."""

import os

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
