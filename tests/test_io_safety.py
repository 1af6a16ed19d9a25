"""Output safety (--overwrite only replaces pure traces, atomic writes) and safe input parsing."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from amssim.errors import DiskFullError, InputError, OutputPathError, ResourceLimitError
from amssim.io_safety import (atomic_path, atomic_write, check_output_dir, check_output_file, escape,
                              is_pure_trace_dir, load_npy, load_npz, parse_json, parse_toml, write_error)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOPO = os.path.join(ROOT, "workloads", "topologies", "resnet50.csv")


def _cli(*args, cwd, env=None):
    e = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "amssim", *args], cwd=cwd, capture_output=True, text=True,
                          env=e, timeout=300)


def _tree(path):
    """{relative path: bytes} of every file below ``path`` (links recorded as 'link->target')."""
    out = {}
    for dp, dns, fns in os.walk(path):
        for n in fns + [d for d in dns if os.path.islink(os.path.join(dp, d))]:
            f = os.path.join(dp, n)
            rel = os.path.relpath(f, path)
            out[rel] = ("link->" + os.readlink(f)).encode() if os.path.islink(f) else open(f, "rb").read()
    return out


# ----------------------------------------------------------------------------- --overwrite
def test_overwrite_refuses_foreign_dir_and_symlink_but_replaces_a_trace(tmp_path):
    foreign = tmp_path / "d"
    foreign.mkdir()
    (foreign / "manifest.json").write_text('{"format": "amssim-trace"}')
    (foreign / "notes.txt").write_text("my thesis")
    before = _tree(foreign)
    r = _cli("export-trace", TOPO, "--out", str(foreign), "--overwrite", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "notes.txt" in r.stderr and "Traceback" not in r.stderr
    assert _tree(foreign) == before

    link = tmp_path / "link"
    link.symlink_to(foreign)
    r = _cli("export-trace", TOPO, "--out", str(link), "--overwrite", cwd=tmp_path)
    assert r.returncode == 2 and "symbolic link" in r.stderr
    assert _tree(foreign) == before and os.path.islink(link)

    good = tmp_path / "t"
    assert _cli("export-trace", TOPO, "--out", str(good), cwd=tmp_path).returncode == 0
    assert is_pure_trace_dir(good) == (True, "")
    r = _cli("export-trace", TOPO, "--out", str(good), cwd=tmp_path)
    assert r.returncode == 2 and "--overwrite" in r.stderr
    r = _cli("export-trace", TOPO, "--out", str(good), "--overwrite", "--name", "again", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert json.loads((good / "manifest.json").read_text())["name"] == "again"
    # nothing left beside the target (no temporary or set-aside directories)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "link", "t"]


def test_pure_trace_rule(tmp_path):
    d = tmp_path / "x"
    (d / "tensors").mkdir(parents=True)
    (d / "data").mkdir()
    (d / "manifest.json").write_text('{"format": "amssim-trace"}')
    (d / "tensors" / "w.npy").write_bytes(b"")
    assert is_pure_trace_dir(d)[0]
    (d / "data" / "extra.txt").write_text("x")
    assert not is_pure_trace_dir(d)[0]
    os.unlink(d / "data" / "extra.txt")
    os.symlink("/etc/passwd", d / "data" / "p.npy")
    assert not is_pure_trace_dir(d)[0]
    os.unlink(d / "data" / "p.npy")
    (d / "manifest.json").write_text('{"format": "something-else"}')
    assert not is_pure_trace_dir(d)[0]


@pytest.mark.parametrize("case", ["empty", "file", "below_file", "devnull", "dir_for_file"])
def test_output_path_checks(tmp_path, case):
    f = tmp_path / "f.txt"
    f.write_text("keep")
    path = {"empty": "", "file": str(f), "below_file": str(f / "sub"), "devnull": "/dev/null",
            "dir_for_file": str(tmp_path)}[case]
    with pytest.raises(OutputPathError):
        if case in ("file", "below_file", "empty", "devnull"):
            check_output_dir(path, "--out")
        if case != "file":
            check_output_file(path, "--out")
        else:
            raise OutputPathError("an existing file is a valid file output")
    assert f.read_text() == "keep"


def test_simulate_out_errors_exit_2_and_keep_files(tmp_path):
    f = tmp_path / "f.txt"
    f.write_text("keep")
    for out in ("", str(f), str(f / "x"), "/dev/null"):
        r = _cli("simulate", TOPO, "--mode", "timing", "--out", out, cwd=tmp_path)
        assert r.returncode == 2, (out, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.count("\n") == 1
    assert f.read_text() == "keep"


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    p = tmp_path / "out.json"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            with open(tmp, "w") as fh:
                fh.write("half")
            raise RuntimeError("writer crashed")
    assert p.read_text() == "old"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out.json"]
    atomic_write(p, "new")
    assert p.read_text() == "new"


def test_full_disk_is_exit_1_not_bad_input(tmp_path):
    import errno

    err = write_error(OSError(errno.ENOSPC, "No space left on device"), tmp_path / "x")
    assert isinstance(err, DiskFullError) and err.exit_code == 1
    err = write_error(OSError(errno.EACCES, "Permission denied"), tmp_path / "x")
    assert isinstance(err, OutputPathError) and err.exit_code == 2
    if os.path.exists("/dev/full"):
        with pytest.raises(DiskFullError):
            from amssim.io_safety import read_bytes  # noqa: F401 - keeps the import local

            try:
                with open("/dev/full", "w") as fh:
                    fh.write("x" * 10)
                    fh.flush()
            except OSError as exc:
                raise write_error(exc, "/dev/full") from exc


# ----------------------------------------------------------------------------- reading
def test_parse_json_maps_parser_failures():
    with pytest.raises(InputError, match="nested too deeply"):
        parse_json("[" * 100000 + "]" * 100000, "m.json")
    with pytest.raises(InputError, match="m.json"):
        parse_json('{"a": ' + "9" * 5000 + "}", "m.json")
    with pytest.raises(InputError, match="line 1 column"):
        parse_json("{", "m.json")
    with pytest.raises(InputError):
        parse_toml("a = " + "9" * 5000, "d.toml")
    assert parse_json('{"a": 1}', "m.json") == {"a": 1}


def test_escape_neutralises_terminal_sequences():
    s = escape("name\x1b[2J\x07\nx")
    assert "\x1b" not in s and "\n" not in s and "\\x1b" in s
    assert escape("plain-name_1") == "plain-name_1"


def _npy_bytes(a):
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def test_npy_header_declaring_huge_size_is_refused_before_allocating(tmp_path):
    raw = bytearray(_npy_bytes(np.zeros(4, np.float32)))
    hdr = raw[:128].decode("latin1")
    big = hdr.replace("(4,)", "(1000000000000,)")
    p = tmp_path / "a.npy"
    p.write_bytes(big.encode("latin1")[:len(hdr)] + raw[128:] if len(big) == len(hdr) else
                  big.encode("latin1") + raw[128:])
    with pytest.raises(InputError):  # declared size disagrees with the file
        load_npy(p)
    np.save(tmp_path / "ok.npy", np.arange(6, dtype=np.int64).reshape(2, 3))
    assert load_npy(tmp_path / "ok.npy").tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ResourceLimitError):
        from amssim.io_safety import npy_header

        with open(tmp_path / "ok.npy", "rb"):
            os.environ["AMSSIM_MAX_MEMORY"] = "1M"
            try:
                buf = io.BytesIO(big.encode("latin1"))
                npy_header(buf, "x")
            finally:
                del os.environ["AMSSIM_MAX_MEMORY"]


def _zip_with(tmp_path, name, data, *, compress=zipfile.ZIP_DEFLATED):
    p = tmp_path / name
    with zipfile.ZipFile(p, "w", compression=compress) as zf:
        zf.writestr("x.npy", data)
    return p


def test_load_npz_bad_archives(tmp_path):
    good = _npy_bytes(np.arange(1000, dtype=np.float32))
    p = _zip_with(tmp_path, "ok.npz", good)
    assert load_npz(p)["x"].shape == (1000,)
    # corrupt the deflate stream / the CRC
    raw = bytearray(p.read_bytes())
    off = raw.index(b"x.npy") + 5
    for i in range(off + 10, off + 40):
        raw[i] ^= 0xFF
    (tmp_path / "bad.npz").write_bytes(bytes(raw))
    with pytest.raises(InputError, match="bad.npz"):
        load_npz(tmp_path / "bad.npz")
    # encrypted flag
    raw = bytearray(p.read_bytes())
    for sig in (b"PK\x03\x04", b"PK\x01\x02"):
        i = raw.index(sig)
        flag_off = i + (6 if sig == b"PK\x03\x04" else 8)
        raw[flag_off] |= 1
    (tmp_path / "enc.npz").write_bytes(bytes(raw))
    with pytest.raises(InputError, match="enc.npz"):
        load_npz(tmp_path / "enc.npz")
    # unknown compression method (99)
    raw = bytearray(p.read_bytes())
    for sig, o in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        i = raw.index(sig)
        raw[i + o] = 99
    (tmp_path / "meth.npz").write_bytes(bytes(raw))
    with pytest.raises(InputError, match="meth.npz"):
        load_npz(tmp_path / "meth.npz")
    # a zip bomb: declared uncompressed size over the budget
    bomb = _npy_bytes(np.zeros(3_000_000, np.float32))
    pb = _zip_with(tmp_path, "bomb.npz", bomb)
    assert pb.stat().st_size < 100_000
    os.environ["AMSSIM_MAX_MEMORY"] = "2M"
    try:
        with pytest.raises(ResourceLimitError, match="memory budget"):
            load_npz(pb)
    finally:
        del os.environ["AMSSIM_MAX_MEMORY"]
    # object arrays are refused (would need pickle)
    np.savez(tmp_path / "obj.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(InputError, match="object"):
        load_npz(tmp_path / "obj.npz")
