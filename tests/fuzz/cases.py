"""Case builders, one per input kind: mutate files in a case directory, return the command."""

from __future__ import annotations

import dataclasses
import io
import os

import numpy as np

from . import mutators as mu

SIM = ["simulate", "trace", "--no-progress", "--set", "run.limit=4"]
FAKE = ["--runner", "sweep_fake_runner:run_point", "--validator", "sweep_fake_runner:validate_overrides"]
CAL_FAST = ["--families", "gaussian,uniform", "--uncertainty", "none", "--poly-degree", "1"]


@dataclasses.dataclass
class Case:
    kind: str
    argv: list
    may_change: tuple = ()  #: relative paths (files or dirs) the command may rewrite
    append_only: tuple = ()  #: relative files whose old bytes must stay a prefix
    note: str = ""


def _rw(d, rel, fn):
    p = os.path.join(d, rel)
    with open(p, "rb") as fh:
        data = fh.read()
    new = fn(data)
    if os.path.islink(p):
        os.unlink(p)
    with open(p, "wb") as fh:
        fh.write(new)


def case_manifest(rnd, d):
    _rw(d, "trace/manifest.json", lambda b: mu.mutate_json_bytes(rnd, b))
    mode = rnd.choice(["accuracy", "accuracy", "timing", "full"])
    return Case("manifest", SIM + ["--mode", mode])


def case_npy(rnd, d):
    files = sorted(f"tensors/{f}" for f in os.listdir(os.path.join(d, "trace/tensors"))) + \
        sorted(f"data/{f}" for f in os.listdir(os.path.join(d, "trace/data")))
    rel = "trace/" + rnd.choice(files)
    if rnd.random() < 0.12:  # a symlink leaving the trace (to a valid-looking outside file)
        outside = os.path.join(d, "outside.npy")
        os.replace(os.path.join(d, rel), outside)
        os.symlink(outside if rnd.random() < 0.5 else "../../outside.npy", os.path.join(d, rel))
        note = "symlink"
    else:
        _rw(d, rel, lambda b: mu.mutate_npy(rnd, b))
        note = rel
    return Case("npy", SIM + ["--mode", rnd.choice(["accuracy", "timing"])], note=note)


def case_device_toml(rnd, d):
    with open(os.path.join(d, "device.toml"), encoding="utf-8") as fh:
        text = fh.read()
    with open(os.path.join(d, "device.toml"), "wb") as fh:
        fh.write(mu.mutate_toml_text(rnd, text))
    if rnd.random() < 0.2:
        return Case("device_toml", ["devices", "device.toml"])
    return Case("device_toml", SIM + ["--device", "device.toml", "--mode", rnd.choice(["accuracy", "timing"])])


def case_run_config(rnd, d):
    with open(os.path.join(d, "run.toml"), encoding="utf-8") as fh:
        text = fh.read()
    with open(os.path.join(d, "run.toml"), "wb") as fh:
        fh.write(mu.mutate_toml_text(rnd, text))
    return Case("run_config", SIM + ["--config", "run.toml"])


def case_sweep_file(rnd, d):
    fake = rnd.random() < 0.6
    name = "fake_sweep.toml" if fake else "sweep.toml"
    with open(os.path.join(d, name), encoding="utf-8") as fh:
        text = fh.read()
    big = rnd.random() < 0.1
    if big:  # a grid whose product is huge (refused) or large (listed by a dry run only)
        text += '\n"noise.lsb" = [' + ", ".join(str(i) for i in range(1, rnd.choice([60, 600]))) + "]\n"
        text = text.replace('"numerics.gain" = [1, 2]', '"numerics.gain" = [' +
                            ", ".join(str(i) for i in range(1, 400)) + "]")
    with open(os.path.join(d, name), "wb") as fh:
        fh.write(mu.mutate_toml_text(rnd, text))
    argv = ["sweep", "--sweep-file", name, "--store", "new.jsonl", "--workers", "1"]
    if fake:
        argv += FAKE
    if rnd.random() < 0.5 or not fake or big:
        argv.append("--dry-run")
    return Case("sweep_file", argv, may_change=("new.jsonl",))


def case_store(rnd, d):
    p = os.path.join(d, "store.jsonl")
    with open(p, "rb") as fh:
        lines = fh.read().split(b"\n")
    op = rnd.randrange(6)
    i = rnd.randrange(1, len(lines) - 1)
    if op <= 1:
        lines[i] = mu.mutate_json_bytes(rnd, lines[i])
    elif op == 2:
        lines[i] = mu.mutate_bytes(rnd, lines[i])
    elif op == 3:
        lines.insert(i, rnd.choice([b"\xff\xfe", b"{}", b"[1]", b'{"point_key": 1}', b"null",
                                    b'{"point_key": "a", "seed": 0, "result": {"layers": 3}}']))
    elif op == 4:
        data = b"\n".join(lines)
        lines = data[: len(data) - rnd.randint(1, 200)].split(b"\n")  # truncated tail (maybe just "\n")
    else:
        lines[0] = mu.mutate_json_bytes(rnd, lines[0])  # header
    with open(p, "wb") as fh:
        fh.write(b"\n".join(lines))
    cmd = rnd.randrange(3)
    if cmd == 0:
        return Case("store", ["pareto", "store.jsonl"] + rnd.choice([[], ["--all"], ["--x", "latency_s"],
                                                                     ["--out", "front.png"]]),
                    may_change=("front.png",))
    if cmd == 1:
        return Case("store", ["report", "store.jsonl", "--out", "rep"], may_change=("rep",))
    return Case("store", ["sweep", "wl/x", "--device", "dev", "--store", "store.jsonl", "--workers", "1",
                          "--grid", "numerics.tile_width=8,32,128", "--grid", "numerics.gain=1,2",
                          "--set", "numerics.adc_bits=8", "--seeds", "2"] + FAKE,
                append_only=("store.jsonl",))


def case_lab_data(rnd, d):
    which = rnd.choice(["paired.npz", "paired.npz", "paired.csv", "transfer.npz", "meta.toml"])
    if which == "paired.npz":
        arrays = dict(np.load(os.path.join(d, which)))
        _rw(d, which, lambda b: mu.mutate_zip(rnd, b, arrays))
    elif which == "transfer.npz":
        arrays = dict(np.load(os.path.join(d, which)))
        _rw(d, which, lambda b: mu.mutate_zip(rnd, b, arrays))
    elif which == "paired.csv":
        with open(os.path.join(d, which)) as fh:
            text = fh.read()
        if rnd.random() < 0.15:
            text = text.replace("\n0,", "\n100000000,", 1).replace(",0\n", ",100000000\n", 1)
        _rw(d, which, lambda b: mu.mutate_csv(rnd, text))
    else:
        with open(os.path.join(d, which)) as fh:
            text = fh.read()
        _rw(d, which, lambda b: mu.mutate_toml_text(rnd, text))
    paired = "paired.csv" if which == "paired.csv" else "paired.npz"
    argv = ["calibrate", paired, "--meta", "meta.toml", "--out", "dev.toml", "--report", "rep"] + CAL_FAST
    if which == "transfer.npz" or rnd.random() < 0.3:
        argv += ["--transfer", "transfer.npz"]
    return Case("lab_data", argv, may_change=("dev.toml", "rep"))


def case_onnx(rnd, d):
    _rw(d, "model.onnx", lambda b: mu.mutate_bytes(rnd, b, rounds=rnd.randint(1, 3)))
    return Case("onnx", ["export-trace", "model.onnx", "--data", "data.npz", "--out", "onnx_trace"],
                may_change=("onnx_trace",))


def case_npz_data(rnd, d):
    arrays = dict(np.load(os.path.join(d, "data.npz")))
    if rnd.random() < 0.3:  # a valid archive with hostile arrays
        a = {k: v.copy() for k, v in arrays.items()}
        k = rnd.choice(list(a))
        a[k] = rnd.choice([a[k].astype(np.float64) * np.inf, a[k][:0], a[k].reshape(-1),
                           np.array(["x", "y"]), a[k].astype(np.int64) * 10**9, np.zeros((5, 4), np.complex64)])
        buf = io.BytesIO()
        np.savez(buf, **a)
        _rw(d, "data.npz", lambda b: buf.getvalue())
    else:
        _rw(d, "data.npz", lambda b: mu.mutate_zip(rnd, b, arrays))
    return Case("npz_data", ["export-trace", "model.onnx", "--data", "data.npz", "--out", "onnx_trace"]
                + rnd.choice([[], ["--limit", "2"], ["--input-key", "labels"]]), may_change=("onnx_trace",))


def case_scalesim(rnd, d):
    name = rnd.choice(["conv.csv", "gemm.csv"])
    with open(os.path.join(d, name)) as fh:
        text = fh.read()
    if rnd.random() < 0.1:  # many layers
        head, first = text.splitlines()[:2]
        text = head + "\n" + "\n".join(first.replace("conv1", f"c{i}").replace("fc1", f"f{i}")
                                       for i in range(rnd.choice([2000, 20000]))) + "\n"
    _rw(d, name, lambda b: mu.mutate_csv(rnd, text))
    if rnd.random() < 0.5:
        return Case("scalesim", ["simulate", name, "--mode", "timing"] + rnd.choice(
            [[], ["--device", "photonic-128-measured"], ["--set", "run.batch=64"]]))
    return Case("scalesim", ["export-trace", name, "--out", "csv_trace"], may_change=("csv_trace",))


def _opt(rnd):
    return mu.interesting_option_value(rnd)


def case_options(rnd, d):
    v = _opt(rnd)
    choices = [
        SIM + ["--seed", v],
        SIM + ["--set", rnd.choice(["numerics.gain", "numerics.tile_width", "arch.tiles", "arch.clock_hz",
                                    "run.batch", "run.limit", "noise.lsb", "numerics.adc_bits",
                                    "arch.offchip_bytes_per_s", "arch.weight_settle_s", "run.format",
                                    "bogus.key", "run.eval_batch"]) + "=" + v],
        SIM + ["--format", rnd.choice(["fp_e8m23_b" + "9" * 20, "posit8_" + v, "int" + v, v, "mxfp8_e4m3"])],
        ["formats", rnd.choice(["fp_e8m23_b99999999999999999999", "bfp_m4_g" + v, "lp8_1_3_" + v, v])],
        ["study", "appendix-a", "--rows", rnd.choice([v, "100000000", "0", "-5"])],
        ["sweep", "trace", "--grid", "numerics.gain=1," + v, "--seeds", rnd.choice([v, "1000000000"]),
         "--dry-run", "--store", "x.jsonl"],
        ["sweep", "wl/x", "--device", "dev", "--grid", "numerics.gain=1,2", "--executor", "dask",
         "--scheduler", rnd.choice(["tcp://:::", "garbage", "tcp://256.0.0.1:99999", "inproc://a", v]),
         "--connect-timeout", "1", "--store", "x.jsonl"] + FAKE,
        ["calibrate", "paired.npz", "--meta", "meta.toml", "--bootstrap", rnd.choice([v, "1000000000"]),
         "--uncertainty", "bootstrap", "--families", "gaussian", "--poly-degree", "1"],
        ["calibrate", "paired.npz", "--meta", "meta.toml", "--poly-degree", v] + CAL_FAST[:4],
        ["search", "trace", "--space", "numerics.gain=1,2", "--calib-points", rnd.choice(["0", "1", v]),
         "--method", "fast", "--out", "s.toml"],
        ["search", "trace", "--space", "numerics.gain=1," + v, "--set", "numerics.gain=2", "--method", "fast",
         "--out", "s.toml"],
        ["pareto", "store.jsonl", "--x", v],
        ["devices", "abfp-paper", "--set", "numerics.gain=" + v],
        ["export-trace", "gemm.csv", "--out", "csv_trace", "--name", rnd.choice(["\x1b[2Jevil\x07", v])],
        ["export-trace", "model.onnx", "--data", "data.npz", "--out", "onnx_trace", "--limit", v],
    ]
    argv = rnd.choice(choices)
    return Case("options", argv, may_change=("x.jsonl", "s.toml", "s.json", "s.jsonl", "csv_trace", "onnx_trace",
                                             "dev.toml", "rep"))


def case_output_paths(rnd, d):
    os.makedirs(os.path.join(d, "userdir"), exist_ok=True)
    with open(os.path.join(d, "userdir", "thesis.txt"), "w") as fh:
        fh.write("irreplaceable")
    with open(os.path.join(d, "userdir", "manifest.json"), "w") as fh:
        fh.write('{"format": "amssim-trace"}')
    with open(os.path.join(d, "afile"), "w") as fh:
        fh.write("keep me")
    os.symlink("userdir", os.path.join(d, "link"))
    os.symlink("afile", os.path.join(d, "filelink"))
    target = rnd.choice(["", "afile", "afile/sub", "/dev/null", "link", "userdir", "filelink",
                         "newdir/deeper", "trace", "/proc/version", ".", "nonexist/", "afile/"])
    cmds = [
        (["simulate", "trace", "--no-progress", "--mode", "timing", "--out", target], ()),
        (["export-trace", "gemm.csv", "--out", target] + rnd.choice([[], ["--overwrite"]]), ()),
        (["calibrate", "paired.npz", "--meta", "meta.toml", "--out", target] + CAL_FAST, ()),
        (["calibrate", "paired.npz", "--meta", "meta.toml", "--report", target] + CAL_FAST, ()),
        (["report", "store.jsonl", "--out", target], ()),
        (["pareto", "store.jsonl", "--out", target + rnd.choice(["", ".png", ".svg"])], ()),
        (["calibrate", "--synthetic", target], ()),
    ]
    argv, _ = rnd.choice(cmds)
    may = ()
    if target in ("newdir/deeper", "nonexist/"):
        may = (target.rstrip("/").split("/")[0],)
    if argv[0] in ("simulate",) and target in ("userdir", "link", "trace", "."):
        may = (os.path.join(target, "result.json"), os.path.join(target, "layers.csv"))
    if argv[0] == "report" and target in ("userdir", "link", "trace", "."):
        may = (target,)  # report writes its own files into an existing directory
    if argv[0] == "calibrate" and "--report" in argv and target in ("userdir", "link", "trace", "."):
        may = (target,)
    if argv[0] == "calibrate" and "--synthetic" in argv and target in ("userdir", "link", "trace", "."):
        may = (target,)
    if target == "afile" and ((argv[0] == "calibrate" and "--out" in argv) or argv[0] == "pareto"):
        may = ("afile",)  # an existing regular file named as a file output is replaced (atomically)
    if argv[0] == "export-trace" and "--overwrite" in argv and target == "trace":
        may = ("trace",)  # replacing a pure amssim trace is what --overwrite is for
    return Case("output_paths", argv, may_change=may, note=target)


KINDS = {
    "manifest": case_manifest,
    "npy": case_npy,
    "device_toml": case_device_toml,
    "run_config": case_run_config,
    "sweep_file": case_sweep_file,
    "store": case_store,
    "lab_data": case_lab_data,
    "onnx": case_onnx,
    "npz_data": case_npz_data,
    "scalesim": case_scalesim,
    "options": case_options,
    "output_paths": case_output_paths,
}
