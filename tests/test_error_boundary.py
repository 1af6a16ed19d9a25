"""The CLI's error boundary: bad input -> exit 2 with one line naming the culprit; bugs ->
exit 1 with a hint (traceback only under --debug / AMSSIM_DEBUG=1); budgets before allocation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from amssim import cli
from amssim.errors import ConfigError, ResourceLimitError, SearchError
from amssim.limits import check_bytes, parse_size

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fuzz.corpus import build as build_corpus  # noqa: E402


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    build_corpus(str(d))
    return d


def _cli(*args, cwd, env=None):
    e = dict(os.environ, MPLBACKEND="Agg", **(env or {}))
    e.pop("AMSSIM_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "amssim", *args], cwd=cwd, capture_output=True, text=True,
                          env=e, timeout=600)


def _one_error_line(r, *needles):
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0], r.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


# ----------------------------------------------------------------------------- exit 1 vs 2
def _fake_command(monkeypatch, exc):
    mod = types.SimpleNamespace(NAME="boom", HELP="raise", register=lambda p: None,
                                run=lambda args: (_ for _ in ()).throw(exc))
    monkeypatch.setattr(cli, "_load_commands", lambda: [mod])


def test_internal_error_is_exit_1_one_line_and_traceback_only_under_debug(monkeypatch, capsys):
    _fake_command(monkeypatch, KeyError("a bug"))
    monkeypatch.delenv("AMSSIM_DEBUG", raising=False)
    assert cli.main(["boom"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: KeyError" in err and "--debug" in err
    assert "Traceback" not in err
    assert cli.main(["boom", "--debug"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err
    monkeypatch.setenv("AMSSIM_DEBUG", "1")
    assert cli.main(["boom"]) == 1
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_purposeful_errors_exit_2_and_a_valueerror_is_not_bad_input(monkeypatch, capsys):
    monkeypatch.delenv("AMSSIM_DEBUG", raising=False)
    _fake_command(monkeypatch, ConfigError("bad key 'x'\nsecond line \x1b[2J"))
    assert cli.main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err and "bad key 'x'" in err
    _fake_command(monkeypatch, ValueError("not raised on purpose"))
    assert cli.main(["boom"]) == 1


def test_full_disk_is_exit_1(monkeypatch, capsys):
    import errno

    _fake_command(monkeypatch, OSError(errno.ENOSPC, "No space left on device", "/x/out.json"))
    assert cli.main(["boom"]) == 1
    err = capsys.readouterr().err
    assert "no space left" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- listed cases
def test_bad_bytes_in_manifest_device_and_sweep_file(corpus, tmp_path):
    import shutil

    shutil.copytree(corpus, tmp_path / "c", symlinks=True)
    c = tmp_path / "c"
    (c / "trace" / "manifest.json").write_bytes(b'{"name": "\xff"}')
    _one_error_line(_cli("simulate", "trace", cwd=c), "manifest.json", "UTF-8")
    (c / "trace" / "manifest.json").write_text('{"a": ' + "[" * 100000 + "]" * 100000 + "}")
    _one_error_line(_cli("simulate", "trace", cwd=c), "manifest.json", "nested")
    (c / "trace" / "manifest.json").write_text('{"version": ' + "9" * 5000 + "}")
    _one_error_line(_cli("simulate", "trace", cwd=c), "manifest.json")
    (c / "device.toml").write_bytes(b"[arch]\ntiles = 1\xff\n")
    _one_error_line(_cli("simulate", "gemm.csv", "--mode", "timing", "--device", "device.toml", cwd=c),
                    "device.toml", "UTF-8")
    (c / "sweep.toml").write_bytes(b'trace = "\xfe"\n')
    _one_error_line(_cli("sweep", "--sweep-file", "sweep.toml", "--dry-run", cwd=c), "sweep.toml")


def test_npy_header_and_symlink_outside_the_trace(corpus, tmp_path):
    import shutil

    shutil.copytree(corpus, tmp_path / "c", symlinks=True)
    c = tmp_path / "c"
    w = c / "trace" / "tensors" / "fc2.weight.npy"
    raw = w.read_bytes()
    from fuzz.mutators import _with_header

    w.write_bytes(_with_header(raw, "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000, 5)}"))
    _one_error_line(_cli("simulate", "trace", cwd=c), "fc2.weight.npy")
    w.write_bytes(raw)
    outside = tmp_path / "secret.npy"
    np.save(outside, np.zeros((3, 5), np.float32))
    os.unlink(w)
    os.symlink(outside, w)
    _one_error_line(_cli("simulate", "trace", cwd=c), "fc2.weight.npy", "outside the trace")


def test_npy_header_declaring_1e12_elements_is_refused_before_reading(tmp_path):
    from amssim.errors import TraceError
    from amssim.io_safety import load_npy

    p = tmp_path / "big.npy"
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }"
    hdr += " " * (118 - len(hdr)) + "\n"
    p.write_bytes(b"\x93NUMPY\x01\x00" + len(hdr).to_bytes(2, "little") + hdr.encode() + b"\0" * 64)
    with pytest.raises(TraceError, match="declares shape"):
        load_npy(p, error=TraceError)
    with pytest.raises(TraceError):
        load_npy(p, error=TraceError, mmap=True)


def test_scalesim_non_finite_and_huge_shapes(corpus, tmp_path):
    c = tmp_path
    (c / "inf.csv").write_text("Layer, M, N, K,\nfc, inf, 10, 10,\n")
    (c / "big.csv").write_text("Layer, M, N, K,\nfc, 1e400, 10, 10,\n")
    (c / "huge.csv").write_text("Layer, M, N, K,\nfc, 100000000, 100000000, 100000000,\n")
    _one_error_line(_cli("simulate", "inf.csv", "--mode", "timing", cwd=c), "inf.csv")
    _one_error_line(_cli("export-trace", "big.csv", "--out", "t", cwd=c), "big.csv")
    _one_error_line(_cli("simulate", "huge.csv", "--mode", "timing", cwd=c), "tile jobs", "fc")
    assert not (c / "t").exists()


def test_absurd_device_values_and_tile_counts(corpus):
    for kv, needle in (("arch.tiles=1000000", "tiles"), ("arch.offchip_bytes_per_s=1e-300", "overflow"),
                       ("arch.weight_settle_s=1e300", "overflow")):
        _one_error_line(_cli("simulate", "gemm.csv", "--mode", "timing", "--set", kv, cwd=corpus), needle)


def test_formats_study_and_sweep_sizes(corpus):
    _one_error_line(_cli("formats", "fp_e8m23_b99999999999999999999", cwd=corpus), "too large")
    _one_error_line(_cli("study", "appendix-a", "--rows", "100000000", cwd=corpus), "--rows", "memory budget")
    _one_error_line(_cli("sweep", "trace", "--grid", "numerics.gain=1,2", "--seeds", "1000000000",
                         "--dry-run", cwd=corpus), "seeds")
    _one_error_line(_cli("calibrate", "paired.npz", "--uncertainty", "bootstrap", "--bootstrap", "1000000000",
                         cwd=corpus), "--bootstrap")
    r = _cli("--max-memory", "2M", "calibrate", "paired.npz", cwd=corpus)
    assert r.returncode == 0 or "memory budget" in r.stderr  # 64 KB of data fits 2M
    _one_error_line(_cli("--max-memory", "banana", "formats", cwd=corpus), "--max-memory")


def test_search_options_and_tied_calibration(corpus, tmp_path):
    from amssim.search.fast import fit_model

    m = fit_model([0.9, 0.95, 0.99], [0.5, 0.5, 0.5])  # tied accuracies: flat, finite
    assert (m.slope, m.intercept, m.r_value) == (0.0, 0.5, 0.0)
    m = fit_model([0.9, 0.9], [0.4, 0.6])  # tied R^2
    assert m.slope == 0.0 and m.intercept == pytest.approx(0.5)
    _one_error_line(_cli("search", "trace", "--space", "numerics.gain=1,2", "--calib-points", "0",
                         "--out", "s.toml", cwd=corpus), "--calib-points")
    _one_error_line(_cli("search", "trace", "--space", "numerics.gain=1,2", "--set", "numerics.gain=4",
                         "--out", "s.toml", cwd=corpus), "numerics.gain")
    assert not any(p.name.startswith("s.") for p in corpus.iterdir())
    from amssim.search import run_search

    with pytest.raises(SearchError, match="calibration points"):
        run_search(str(corpus / "trace"), space=["numerics.gain=1,2"], calib_points=0)


def test_finetune_labels_are_checked(corpus, tmp_path):
    pytest.importorskip("torch")
    from amssim.finetune.data import load_train_data
    from amssim.trace import load_trace

    tr = load_trace(corpus / "trace")
    np.savez(tmp_path / "a.npz", x=np.zeros((4, 4), np.float32), labels=np.array([0, 1, 7, 2]))
    with pytest.raises(ConfigError, match="outside 0..2"):
        load_train_data(tmp_path / "a.npz", tr)
    np.savez(tmp_path / "b.npz", x=np.zeros((2, 4), np.float32), labels=np.array([{"a": 1}, 2], dtype=object))
    with pytest.raises(ConfigError, match="object"):
        load_train_data(tmp_path / "b.npz", tr)
    np.savez(tmp_path / "c.npz", x=np.zeros((2, 4), np.float32), labels=np.array([0, 1]))
    inputs, labels = load_train_data(tmp_path / "c.npz", tr)
    assert labels.tolist() == [0, 1] and inputs["x"].shape == (2, 4)


def test_trace_names_with_escapes_are_printed_escaped(corpus, tmp_path):
    r = _cli("export-trace", "gemm.csv", "--out", str(tmp_path / "t"), "--name", "evil\x1b[2J\x07", cwd=corpus)
    assert r.returncode == 0 and "\x1b" not in r.stdout and "\\x1b" in r.stdout
    r = _cli("simulate", str(tmp_path / "t"), "--mode", "timing", cwd=corpus)
    assert r.returncode == 0 and "\x1b" not in r.stdout and "\x07" not in r.stdout


def test_dask_scheduler_address_is_checked_without_library_noise():
    pytest.importorskip("distributed")
    from amssim.sweep.executors import _check_scheduler_address

    for bad in ("tcp://:::", "garbage", "tcp://1.2.3.4:99999", "inproc://x"):
        with pytest.raises(ConfigError, match="scheduler"):
            _check_scheduler_address(bad)
    _check_scheduler_address("tcp://10.0.0.5:8786")


def test_garbage_pt2_is_bad_input_without_traceback(corpus, tmp_path):
    pytest.importorskip("torch")
    (tmp_path / "garbage.pt2").write_bytes(os.urandom(3000))
    r = _cli("export-trace", str(tmp_path / "garbage.pt2"), "--data", "data.npz", "--out", str(tmp_path / "o"),
             cwd=corpus)
    _one_error_line(r, "garbage.pt2", "torch.export")


def test_budget_parsing_and_checks(monkeypatch):
    assert parse_size("512M") == 512 * 1024**2 and parse_size("4G") == 4 * 1024**3
    assert parse_size("1e9") == 10**9
    for bad in ("0", "-1G", "1X", "", "inf", "1e400"):
        with pytest.raises(ConfigError):
            parse_size(bad)
    monkeypatch.setenv("AMSSIM_MAX_MEMORY", "10M")
    check_bytes(10 * 1024**2, "ok")
    with pytest.raises(ResourceLimitError, match="10 MiB"):
        check_bytes(10 * 1024**2 + 1, "x")
    with pytest.raises(ResourceLimitError):
        check_bytes(float("nan"), "x")


def test_json_output_stays_valid_with_hostile_names(corpus, tmp_path):
    r = _cli("export-trace", "gemm.csv", "--out", str(tmp_path / "t"), "--name", "n\x1b\n", cwd=corpus)
    assert r.returncode == 0
    r = _cli("simulate", str(tmp_path / "t"), "--mode", "timing", "--json", cwd=corpus)
    assert json.loads(r.stdout)["trace"] == "n\x1b\n"
