"""JSON-lines result store for sweeps (docs/architecture.md §11).

File layout: the first line is a header ``{"format": "amssim-sweep-store",
"version": 1, ...}``; every further line is one row::

    {"point_key": "3f2a...", "seed": 0, "trace": ..., "device": ..., "mode": ...,
     "overrides": {"numerics.gain": "8"}, "result": {<RunResult of docs/architecture.md §13>}}

Rows are keyed by ``(point_key, seed)``; ``point_key`` is a stable hash of
(trace, device, mode, overrides) known *before* a run starts, so a resumed sweep
can skip what is done. The run layer's ``config_hash`` is kept inside ``result``.

Durability: each row is appended with a single ``write`` of the whole line on an
``O_APPEND`` descriptor, then ``fsync``; a process killed at any moment leaves
either the whole row or none of it. Should a file still end in a partial line
(power loss, a full disk, a hand edit), loading ignores it with a warning and
keeps it on disk byte for byte; the next append starts on a fresh line. A last
line that is a complete, valid row and only lacks its newline counts as stored.
A line with wrong field types (or invalid UTF-8/JSON) is reported and skipped by
every reader (pareto, report, resume), never fatal. A file
without the header is not an amssim store and is never written to.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import math
import os
from collections.abc import Iterator, Mapping

from .. import __version__
from ..errors import StoreError

__all__ = ["STORE_FORMAT", "STORE_VERSION", "ResultStore", "point_key", "make_row"]

log = logging.getLogger(__name__)

STORE_FORMAT = "amssim-sweep-store"
STORE_VERSION = 1


def point_key(*, trace: str, device: str, mode: str, overrides: Mapping[str, str]) -> str:
    """Stable 16-hex-digit identity of a sweep point (independent of override order)."""
    ident = {
        "trace": os.path.normpath(trace),
        "device": device,
        "mode": mode,
        "overrides": {str(k): str(v) for k, v in sorted(overrides.items())},
    }
    blob = json.dumps(ident, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def make_row(
    *, trace: str, device: str, mode: str, overrides: Mapping[str, str], seed: int, result: Mapping
) -> dict:
    """A store row for one finished run."""
    return {
        "point_key": point_key(trace=trace, device=device, mode=mode, overrides=overrides),
        "seed": int(seed),
        "trace": trace,
        "device": device,
        "mode": mode,
        "overrides": dict(overrides),
        "result": dict(result),
    }


def _jsonable(obj):
    """Non-finite floats -> None; numpy scalars/arrays -> Python values."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if hasattr(obj, "tolist") and not isinstance(obj, (str, bytes)):  # numpy scalar / array
        return _jsonable(obj.tolist())
    return obj


_SCALAR = (str, int, float, bool, type(None))
_STR_FIELDS = ("trace", "device", "mode", "device_kind")


def _is_number(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool))


def _too_big(obj, depth: int = 0) -> bool:
    """An integer no float can hold (summaries average results as floats)."""
    if isinstance(obj, int) and not isinstance(obj, bool):
        return abs(obj) > 2**1000
    if depth < 4 and isinstance(obj, dict):
        return any(_too_big(v, depth + 1) for v in obj.values())
    if depth < 4 and isinstance(obj, list):
        return any(_too_big(v, depth + 1) for v in obj)
    return False


def _row_problem(row) -> str | None:
    """Why a parsed row cannot be used (None: fine). Checks every field that pareto, report
    and resume read, so one bad line is skipped instead of crashing them."""
    if not isinstance(row, dict):
        return "is not a JSON object"
    if _too_big(row):
        return "holds an integer too large for a float"
    if not isinstance(row.get("point_key"), str):
        return "has no string 'point_key'"
    seed = row.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        return "has no integer 'seed' >= 0"
    for f in _STR_FIELDS:
        if f in row and not isinstance(row[f], str):
            return f"has a non-string {f!r}"
    ov = row.get("overrides", {})
    if not isinstance(ov, dict) or not all(isinstance(v, _SCALAR) for v in ov.values()):
        return "has a non-object 'overrides' or a non-scalar override value"
    res = row.get("result")
    if not isinstance(res, dict):
        return "has no object 'result'"
    for f in _STR_FIELDS + ("config_hash", "metric"):
        if res.get(f) is not None and not isinstance(res[f], str):
            return f"has a non-string 'result.{f}'"
    for k, v in res.items():
        if k in ("layers", "energy_breakdown_j", "utilisation", "overrides"):
            continue
        if not isinstance(v, _SCALAR) and not isinstance(v, (dict, list)):
            return f"has an unusable 'result.{k}'"
    for k in ("energy_breakdown_j", "utilisation"):
        d = res.get(k)
        if d is not None and (not isinstance(d, dict) or not all(_is_number(x) for x in d.values())):
            return f"has a 'result.{k}' that is not an object of numbers"
    layers = res.get("layers")
    if layers is not None:
        if not isinstance(layers, list) or not all(isinstance(L, dict) for L in layers):
            return "has a 'result.layers' that is not a list of objects"
        for L in layers:
            if not all(isinstance(v, _SCALAR) for v in L.values()):
                return "has a 'result.layers' entry with a non-scalar value"
    ro = res.get("overrides")
    if ro is not None and (not isinstance(ro, dict) or not all(isinstance(v, _SCALAR) for v in ro.values())):
        return "has a non-object 'result.overrides'"
    return None


class ResultStore:
    """An append-only JSON-lines store of sweep rows.

    ``ResultStore(path)`` opens an existing store read-only (missing file ->
    StoreError). ``ResultStore(path, writable=True)`` creates the file if it is
    missing or empty and takes an exclusive lock on it (one sweep per store at a
    time). ``warnings`` lists lines that were skipped while loading.
    """

    def __init__(self, path: str | os.PathLike, *, writable: bool = False) -> None:
        self.path = os.fspath(path)
        self.writable = writable
        self.warnings: list[str] = []
        self.header: dict = {}
        self._rows: list[dict] = []
        self._index: dict[tuple[str, int], int] = {}
        self._fd: int | None = None
        self._needs_newline = False
        if writable:
            self._open_for_append()
        else:
            self._load(self._read_bytes())

    # ---------------------------------------------------------------- reading
    def _read_bytes(self) -> bytes:
        try:
            with open(self.path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            raise StoreError(f"store {self.path!r} does not exist") from None
        except IsADirectoryError:
            raise StoreError(f"store {self.path!r} is a directory, not a file") from None
        except OSError as exc:
            raise StoreError(f"store {self.path!r} cannot be read: {exc}") from None

    def _warn(self, msg: str) -> None:
        self.warnings.append(msg)
        log.warning("%s", msg)

    def _load(self, data: bytes) -> None:
        if not data:
            raise StoreError(f"store {self.path!r} is empty (no {STORE_FORMAT} header)")
        lines = data.split(b"\n")
        truncated_tail = not data.endswith(b"\n")
        if not truncated_tail:
            lines.pop()  # the empty piece after the final newline
        self.header = self._parse_header(lines[0], truncated=truncated_tail and len(lines) == 1)
        last = len(lines) - 1
        for i in range(1, len(lines)):
            raw = lines[i]
            lineno = i + 1
            if not raw.strip():
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError, RecursionError):  # JSONDecodeError is a ValueError
                if i == last and truncated_tail:
                    self._warn(
                        f"store {self.path!r}: line {lineno} is truncated ({len(raw)} bytes, no "
                        "newline); ignored and left on disk unchanged"
                    )
                else:
                    self._warn(f"store {self.path!r}: line {lineno} is not valid JSON; ignored")
                continue
            # a complete row that only lacks its final newline counts as stored (the next
            # append writes the newline first)
            problem = _row_problem(row)
            if problem:
                self._warn(f"store {self.path!r}: line {lineno} {problem}; ignored")
                continue
            key = (row["point_key"], row["seed"])
            if key in self._index:
                self._warn(
                    f"store {self.path!r}: line {lineno} repeats point {key[0]} seed {key[1]}; "
                    "the first row is kept"
                )
                continue
            self._index[key] = len(self._rows)
            self._rows.append(row)

    def _parse_header(self, raw: bytes, *, truncated: bool) -> dict:
        foreign = f"{self.path!r} is not an amssim sweep store"
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise StoreError(f"{foreign} (its first line is not a JSON header)") from None
        if truncated:
            raise StoreError(f"{foreign} (its header line is incomplete)")
        if not isinstance(header, dict) or header.get("format") != STORE_FORMAT:
            raise StoreError(f"{foreign} (header 'format' is not {STORE_FORMAT!r})")
        version = header.get("version")
        if isinstance(version, bool) or not isinstance(version, int):
            raise StoreError(f"store {self.path!r}: header 'version' {version!r} is not an integer")
        if version > STORE_VERSION:
            raise StoreError(
                f"store {self.path!r} has version {version}, newer than this amssim "
                f"({__version__}) reads (<= {STORE_VERSION})"
            )
        return header

    # ---------------------------------------------------------------- writing
    def _open_for_append(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"store {self.path!r} cannot be opened for writing: {exc}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(
                    f"store {self.path!r} is in use by another sweep (locked); wait for it to finish"
                ) from None
            if os.fstat(fd).st_size == 0:
                header = {"format": STORE_FORMAT, "version": STORE_VERSION, "created_by": f"amssim {__version__}"}
                self._write_all(fd, (json.dumps(header) + "\n").encode())
                os.fsync(fd)
                _fsync_dir(self.path)
            data = self._read_bytes()
            self._load(data)
            self._needs_newline = not data.endswith(b"\n")
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    @staticmethod
    def _write_all(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:  # one write() in practice; the loop only guards a short write
            n = os.write(fd, view)
            view = view[n:]

    def append(self, row: Mapping) -> None:
        """Append one row durably (single write of the whole line + fsync).

        Raises StoreError if the store is read-only, the row is malformed or its
        (point_key, seed) is already stored.
        """
        if self._fd is None:
            raise StoreError(f"store {self.path!r} is not open for writing")
        row = _jsonable(row)
        problem = _row_problem(row)
        if problem:
            raise StoreError(f"row for store {self.path!r} {problem}")
        key = (row["point_key"], row["seed"])
        if key in self._index:
            raise StoreError(f"store {self.path!r} already holds point {key[0]} seed {key[1]}")
        try:
            line = json.dumps(row, allow_nan=False, separators=(",", ":")) + "\n"
        except (TypeError, ValueError) as exc:
            raise StoreError(f"row for store {self.path!r} is not JSON-serialisable: {exc}") from None
        data = (b"\n" if self._needs_newline else b"") + line.encode("utf-8")
        try:
            self._write_all(self._fd, data)
            os.fsync(self._fd)
        except OSError as exc:
            from ..io_safety import write_error

            err = write_error(exc, self.path, "store")
            if err.exit_code == 1:  # a full disk is not bad input
                raise err from exc
            raise StoreError(f"store {self.path!r}: append failed: {exc}") from exc
        self._needs_newline = False
        self._index[key] = len(self._rows)
        self._rows.append(dict(row))

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # also releases the lock
            self._fd = None

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - safety net
        try:
            self.close()
        except Exception:
            pass

    # ---------------------------------------------------------------- queries
    def __contains__(self, key: tuple[str, int]) -> bool:
        return key in self._index

    def get(self, key: tuple[str, int]) -> dict | None:
        """The row stored for ``(point_key, seed)``, or None."""
        i = self._index.get(key)
        return None if i is None else self._rows[i]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[dict]:
        return iter(self._rows)

    @property
    def rows(self) -> list[dict]:
        """Rows in file order (duplicates and bad lines removed)."""
        return list(self._rows)


def _fsync_dir(path: str) -> None:
    try:
        dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)
