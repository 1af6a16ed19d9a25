"""Valid seed inputs of every kind, built once per campaign in a template directory."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
REPO = os.path.dirname(TESTS)


def tiny_manifest(name="mlp"):
    return {
        "name": name, "kind": "graph", "task": "classification", "metric": "top1",
        "inputs": [{"name": "x", "shape": [4], "dtype": "float32"}],
        "outputs": ["y"],
        "ops": [
            {"name": "fc1", "kind": "linear", "inputs": ["x"], "outputs": ["h"],
             "params": {"weight": "tensors/fc1.weight.npy", "bias": "tensors/fc1.bias.npy"}},
            {"name": "act", "kind": "relu", "inputs": ["h"], "outputs": ["a"]},
            {"name": "fc2", "kind": "linear", "inputs": ["a"], "outputs": ["y"],
             "params": {"weight": "tensors/fc2.weight.npy"}},
        ],
        "data": {"num_samples": 6, "inputs": {"x": "data/x.npy"}, "labels": "data/labels.npy"},
    }


def tiny_arrays(rng):
    tensors = {"tensors/fc1.weight.npy": rng.standard_normal((5, 4)), "tensors/fc1.bias.npy": rng.standard_normal(5),
               "tensors/fc2.weight.npy": rng.standard_normal((3, 5))}
    data = {"data/x.npy": rng.standard_normal((6, 4)), "data/labels.npy": np.array([0, 1, 2, 0, 1, 2])}
    return tensors, data


def _onnx_model(path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    w = numpy_helper.from_array(rng.standard_normal((3, 4)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b")
    node = helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)
    g = helper.make_graph([node], "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [w, b])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


def build(base: str) -> dict:
    """Write the seed corpus below ``base``; returns {kind: relative path}."""
    from amssim.sweep.store import ResultStore, make_row
    from amssim.trace import write_trace

    os.makedirs(base, exist_ok=True)
    rng = np.random.default_rng(0)
    t, d = tiny_arrays(rng)
    write_trace(os.path.join(base, "trace"), tiny_manifest(), t, d, overwrite=True)
    shutil.copy(os.path.join(REPO, "device_models", "abfp-paper.toml"), os.path.join(base, "device.toml"))
    with open(os.path.join(base, "run.toml"), "w") as fh:
        fh.write('device = "abfp-paper"\n\n[set]\n"numerics.gain" = 4\n"run.batch" = 2\n\n'
                 '[layers.fc1]\n"numerics.adc_bits" = 10\n')
    with open(os.path.join(base, "sweep.toml"), "w") as fh:
        fh.write('trace = "trace"\ndevice = "abfp-paper"\nmode = "accuracy"\nseeds = 2\n\n'
                 '[set]\n"numerics.adc_bits" = 8\n\n[grid]\n"numerics.tile_width" = [8, 32]\n'
                 '"numerics.gain" = [1, 4]\n')
    with open(os.path.join(base, "fake_sweep.toml"), "w") as fh:
        fh.write('trace = "wl/x"\ndevice = "dev"\nseeds = [0, 1]\n\n[set]\n"numerics.adc_bits" = 8\n\n'
                 '[grid]\n"numerics.tile_width" = [8, 32, 128]\n"numerics.gain" = [1, 2]\n')
    import sys

    sys.path.insert(0, TESTS)
    import sweep_fake_runner as fake

    store = os.path.join(base, "store.jsonl")
    if os.path.exists(store):
        os.unlink(store)
    with ResultStore(store, writable=True) as st:
        for tw in ("8", "32", "128"):
            for g in ("1", "2"):
                ov = {"numerics.adc_bits": "8", "numerics.tile_width": tw, "numerics.gain": g}
                for seed in (0, 1):
                    st.append(make_row(trace="wl/x", device="dev", mode="accuracy", overrides=ov, seed=seed,
                                       result=fake.run_point("wl/x", "dev", ov, seed)))
    # lab data
    n = 4000
    exp = rng.integers(-100, 101, size=(8, n // 8))
    obs = np.rint(exp * 1.02 + rng.normal(0, 0.7, exp.shape)).astype(np.int64)
    np.savez(os.path.join(base, "paired.npz"), expected=exp, observed=obs)
    with open(os.path.join(base, "paired.csv"), "w") as fh:
        fh.write("expected,observed,channel\n")
        for i, (e, o) in enumerate(zip(exp.reshape(-1)[:600], obs.reshape(-1)[:600])):
            fh.write(f"{e},{o},{i % 4}\n")
    codes = np.arange(-100, 101, 10)
    np.savez(os.path.join(base, "transfer.npz"), codes=codes,
             observed=np.rint(codes[None, :] * np.array([[1.0], [1.01], [0.99]])).astype(np.int64))
    with open(os.path.join(base, "meta.toml"), "w") as fh:
        fh.write("adc_bits = 8\ngain = 8.0\ntile_width = 128\nchannel_axis = 0\n")
    # export-trace inputs
    _onnx_model(os.path.join(base, "model.onnx"))
    np.savez(os.path.join(base, "data.npz"), x=rng.standard_normal((5, 4)).astype(np.float32),
             labels=np.array([0, 1, 2, 0, 1]))
    np.savez(os.path.join(base, "train.npz"), x=rng.standard_normal((8, 4)).astype(np.float32),
             labels=np.array([0, 1, 2, 0, 1, 2, 0, 1]))
    with open(os.path.join(base, "conv.csv"), "w") as fh:
        fh.write("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
                 "Strides,\nconv1, 32, 32, 3, 3, 3, 16, 1,\nconv2, 30, 30, 3, 3, 16, 32, 2,\n")
    with open(os.path.join(base, "gemm.csv"), "w") as fh:
        fh.write("Layer, M, N, K,\nfc1, 64, 128, 256,\nfc2, 16, 10, 128,\n")
    with open(os.path.join(base, "manifest.check.json"), "w") as fh:
        json.dump({"built": True}, fh)
    return {}
