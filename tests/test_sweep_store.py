"""JSON-lines result store: atomic appends, truncated tails, foreign files, duplicates."""

import json
import logging
import os

import pytest

from amssim.cli import main
from amssim.errors import StoreError
from amssim.sweep.store import STORE_FORMAT, ResultStore, make_row, point_key


def _row(i, seed=0, **result):
    return make_row(trace="wl/x", device="dev", mode="accuracy", overrides={"numerics.gain": str(i)},
                    seed=seed, result={"accuracy": 0.5 + i / 100, "energy_j": 1e-6 * i, **result})


def test_new_store_has_header_and_rows_roundtrip(tmp_path):
    p = tmp_path / "s.jsonl"
    with ResultStore(p, writable=True) as st:
        assert len(st) == 0
        for i in range(3):
            st.append(_row(i))
    lines = p.read_bytes().split(b"\n")
    assert lines[-1] == b""  # every line, the last included, is complete
    header = json.loads(lines[0])
    assert header["format"] == STORE_FORMAT and header["version"] == 1
    st = ResultStore(p)
    assert [r["overrides"]["numerics.gain"] for r in st] == ["0", "1", "2"]
    assert st.rows[1]["result"] == {"accuracy": 0.51, "energy_j": 1e-6}
    assert (_row(2)["point_key"], 0) in st and (_row(2)["point_key"], 1) not in st
    assert st.get((_row(2)["point_key"], 0)) == st.rows[2] and st.get((_row(2)["point_key"], 1)) is None
    assert st.warnings == []


def test_append_is_one_write_of_a_full_line_then_fsync(tmp_path, monkeypatch):
    p = tmp_path / "s.jsonl"
    st = ResultStore(p, writable=True)
    calls = []
    real_write, real_fsync = os.write, os.fsync
    monkeypatch.setattr(os, "write", lambda fd, b: calls.append(("write", bytes(b))) or real_write(fd, b))
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(("fsync",)) or real_fsync(fd))
    st.append(_row(7))
    monkeypatch.undo()
    st.close()
    assert [c[0] for c in calls] == ["write", "fsync"]
    data = calls[0][1]
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    assert json.loads(data) == json.loads(json.dumps(_row(7)))


def test_point_key_is_order_independent_and_distinguishes():
    a = point_key(trace="w/x", device="d", mode="accuracy", overrides={"a": "1", "b": "2"})
    assert a == point_key(trace="./w/x/", device="d", mode="accuracy", overrides={"b": "2", "a": "1"})
    assert a != point_key(trace="w/x", device="d", mode="full", overrides={"a": "1", "b": "2"})
    assert a != point_key(trace="w/x", device="d", mode="accuracy", overrides={"a": "1", "b": "3"})
    assert a != point_key(trace="w/x", device="e", mode="accuracy", overrides={"a": "1", "b": "2"})


def test_truncated_last_line_is_ignored_kept_and_resumed_after(tmp_path, caplog):
    p = tmp_path / "s.jsonl"
    with ResultStore(p, writable=True) as st:
        st.append(_row(0))
        st.append(_row(1))
    full = p.read_bytes()
    cut = full[: len(full) - 25]  # the second row loses its end
    p.write_bytes(cut)
    with caplog.at_level(logging.WARNING, logger="amssim.sweep.store"):
        st = ResultStore(p)
    assert [r["overrides"]["numerics.gain"] for r in st] == ["0"]
    assert len(st.warnings) == 1 and "line 3 is truncated" in st.warnings[0]
    assert any("truncated" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert p.read_bytes() == cut  # loading never touches the file
    # resuming: the fragment stays byte for byte, the new row starts on its own line
    with ResultStore(p, writable=True) as st:
        st.append(_row(1))
    data = p.read_bytes()
    assert data.startswith(cut + b"\n")
    st = ResultStore(p)
    assert sorted(r["overrides"]["numerics.gain"] for r in st) == ["0", "1"]
    assert len(st.warnings) == 1 and "not valid JSON" in st.warnings[0]


def test_bad_middle_lines_are_skipped_good_rows_kept(tmp_path):
    p = tmp_path / "s.jsonl"
    with ResultStore(p, writable=True) as st:
        st.append(_row(0))
    with open(p, "ab") as fh:
        fh.write(b"garbage\n" + json.dumps({"point_key": "x"}).encode() + b"\n\n")
    with ResultStore(p, writable=True) as st:
        st.append(_row(1))
    st = ResultStore(p)
    assert [r["overrides"]["numerics.gain"] for r in st] == ["0", "1"]
    assert len(st.warnings) == 2


@pytest.mark.parametrize(
    "content",
    [
        b"a,b,c\n1,2,3\n",
        b'{"format": "something-else", "version": 1}\n',
        b'[1, 2]\n',
        b'{"format": "amssim-sweep-store", "version": 99}\n',
        b'{"format": "amssim-sweep-store", "version": "1"}\n',
        b'{"format": "amssim-sweep-store", "version": 1}',  # header without newline
        b"\xff\xfe\x00binary",
    ],
)
def test_foreign_file_raises_and_is_untouched(tmp_path, content):
    p = tmp_path / "foreign.jsonl"
    p.write_bytes(content)
    with pytest.raises(StoreError, match="foreign.jsonl"):
        ResultStore(p)
    with pytest.raises(StoreError, match="foreign.jsonl"):
        ResultStore(p, writable=True)
    assert p.read_bytes() == content


def test_missing_and_directory_store(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        ResultStore(tmp_path / "nope.jsonl")
    with pytest.raises(StoreError):
        ResultStore(tmp_path)
    with pytest.raises(StoreError):
        ResultStore(tmp_path, writable=True)
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(StoreError, match="empty"):
        ResultStore(empty)


def test_duplicate_append_is_refused_and_duplicate_lines_are_dropped(tmp_path):
    p = tmp_path / "s.jsonl"
    with ResultStore(p, writable=True) as st:
        st.append(_row(0, seed=0))
        st.append(_row(0, seed=1))
        with pytest.raises(StoreError, match="already holds"):
            st.append(_row(0, seed=0, accuracy=0.1))
    # a second copy written behind the store's back (e.g. by hand) is detected on load
    line = p.read_bytes().split(b"\n")[1]
    with open(p, "ab") as fh:
        fh.write(line.replace(b'"accuracy":0.5', b'"accuracy":0.1') + b"\n")
    st = ResultStore(p)
    assert len(st) == 2 and st.rows[0]["result"]["accuracy"] == 0.5
    assert "repeats point" in st.warnings[0]


def test_second_writer_is_refused(tmp_path):
    p = tmp_path / "s.jsonl"
    with ResultStore(p, writable=True):
        with pytest.raises(StoreError, match="in use"):
            ResultStore(p, writable=True)
        ResultStore(p)  # readers are fine
    with ResultStore(p, writable=True):
        pass


def test_read_only_store_refuses_append_and_bad_rows(tmp_path):
    p = tmp_path / "s.jsonl"
    with ResultStore(p, writable=True) as st:
        with pytest.raises(StoreError, match="seed"):
            st.append({"point_key": "k", "seed": "0", "result": {}})
        with pytest.raises(StoreError, match="result"):
            st.append({"point_key": "k", "seed": 0, "result": 3})
        st.append({"point_key": "k", "seed": 0, "result": {"x": float("nan"), "y": float("inf")}})
    with pytest.raises(StoreError, match="not open for writing"):
        ResultStore(p).append(_row(1))
    assert ResultStore(p).rows[0]["result"] == {"x": None, "y": None}


FAKE = ["--runner", "sweep_fake_runner:run_point", "--validator", "sweep_fake_runner:validate_overrides"]


def test_cli_foreign_store_exits_2_untouched(tmp_path, capsys):
    p = tmp_path / "notes.txt"
    p.write_bytes(b"my notes\n")
    rc = main(["sweep", "wl/x", "--device", "d", "--grid", "numerics.gain=1", "--store", str(p),
               "--workers", "1", *FAKE])
    assert rc == 2 and "not an amssim sweep store" in capsys.readouterr().err
    assert p.read_bytes() == b"my notes\n"
    for cmd in (["pareto", str(p)], ["report", str(p), "--out", str(tmp_path / "r")]):
        assert main(cmd) == 2
    assert p.read_bytes() == b"my notes\n"
