"""Every numeric backend class satisfies the typed Backend protocol (amssim.trace.backends).

The classes are found by scanning the modules that define backends, so a new backend
class that misses a member or takes the coordinates positionally fails here. Each
backend's ``gemm`` is also checked against the function it documents as its oracle
(float32 BLAS, ``abfp_matmul``, ``digital_matmul``), called through the protocol's
keyword-only coordinates exactly as the executor calls it.
"""

import inspect

import numpy as np
import pytest

import amssim.timing.backend as timing_backend
import amssim.trace.backends as trace_backends
from amssim.config import load_device
from amssim.formats import digital_matmul
from amssim.signal import AbfpConfig, abfp_matmul
from amssim.trace.backends import (AbfpBackend, Backend, DigitalBackend, Float32Backend, GroupedBackend,
                                   MixedBackend, gemm_groups)
from amssim.timing.backend import TimedAbfpBackend

PROTOCOLS = (Backend, GroupedBackend)
CFG = AbfpConfig(tile_width=8, input_bits=6, weight_bits=6, adc_bits=7, gain=2.0, noise="uniform",
                 noise_lsb=0.5)


def _backend_classes():
    found = {}
    for mod in (trace_backends, timing_backend):
        for name, obj in vars(mod).items():
            if (inspect.isclass(obj) and name.endswith("Backend") and obj.__module__ == mod.__name__
                    and obj not in PROTOCOLS):
                found[name] = obj
    return found


def _instances():
    return {
        "Float32Backend": Float32Backend(),
        "AbfpBackend": AbfpBackend(CFG, seed=3),
        "DigitalBackend": DigitalBackend("int8", "mxfp8_e4m3", seed=3),
        "MixedBackend": MixedBackend(Float32Backend(), {"special": AbfpBackend(CFG, seed=3)}),
        "TimedAbfpBackend": TimedAbfpBackend(load_device("abfp-paper"), seed=3),
    }


def test_every_backend_class_is_covered():
    assert set(_backend_classes()) == set(_instances())


@pytest.mark.parametrize("name", sorted(_instances()))
def test_backend_satisfies_protocol(name):
    b = _instances()[name]
    assert isinstance(b, Backend)
    assert isinstance(b.name, str) and b.name
    assert isinstance(b.bf16_activations, bool)
    # the executor passes the coordinates by keyword; they must be keyword-only
    params = inspect.signature(type(b).gemm).parameters
    for p in ("layer", "row_offset", "op_name"):
        assert params[p].kind is inspect.Parameter.KEYWORD_ONLY, (name, p)
    if hasattr(b, "gemm_groups"):
        assert isinstance(b, GroupedBackend)
        gp = inspect.signature(type(b).gemm_groups).parameters
        for p in ("layer", "row_offsets", "op_name"):
            assert gp[p].kind is inspect.Parameter.KEYWORD_ONLY, (name, p)


def test_protocol_rejects_incomplete_objects():
    class NoFlag:
        name = "x"

        def gemm(self, x, w, *, layer, row_offset, op_name):
            return x @ w.T

    class NoGemm:
        name = "x"
        bf16_activations = False

    assert not isinstance(NoFlag(), Backend)
    assert not isinstance(NoGemm(), Backend)
    assert not isinstance(DigitalBackend("int8"), GroupedBackend)  # has no gemm_groups


def _xw(rng, m=5, k=20, n=6):
    return (rng.standard_normal((m, k)).astype(np.float32),
            rng.standard_normal((n, k)).astype(np.float32))


def test_backends_compute_what_they_document(rng):
    x, w = _xw(rng)
    kw = dict(layer=4, row_offset=11)
    b = _instances()
    np.testing.assert_array_equal(b["Float32Backend"].gemm(x, w, op_name="a", **kw), x @ w.T)
    want = abfp_matmul(x, w, CFG, 3, **kw)
    np.testing.assert_array_equal(b["AbfpBackend"].gemm(x, w, op_name="a", **kw), want)
    np.testing.assert_array_equal(b["MixedBackend"].gemm(x, w, op_name="special", **kw), want)
    np.testing.assert_array_equal(b["MixedBackend"].gemm(x, w, op_name="other", **kw), x @ w.T)
    np.testing.assert_array_equal(
        b["DigitalBackend"].gemm(x, w, op_name="a", **kw),
        digital_matmul(x, w, "int8", "mxfp8_e4m3", accumulate="fp64", seed=3, **kw))
    dev_cfg = load_device("abfp-paper").abfp_config()
    np.testing.assert_array_equal(b["TimedAbfpBackend"].gemm(x, w, op_name="a", **kw),
                                  abfp_matmul(x, w, dev_cfg, 3, **kw))


def test_grouped_call_equals_separate_calls(rng):
    x = rng.standard_normal((3, 4, 16)).astype(np.float32)
    w = rng.standard_normal((3, 5, 16)).astype(np.float32)
    offs = [0, 7, 30]
    for name, b in _instances().items():
        y = gemm_groups(b, x, w, layer=2, row_offsets=offs, op_name="special")
        for g in range(3):
            np.testing.assert_array_equal(
                y[g], b.gemm(x[g], w[g], layer=2, row_offset=offs[g], op_name="special"), err_msg=name)
