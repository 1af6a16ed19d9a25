"""Safe reading of input files and safe writing of outputs (the CLI's input/output edge).

Reading: :func:`read_text`, :func:`parse_json`, :func:`read_json`, :func:`read_toml`,
:func:`npy_header`, :func:`load_npy`, :func:`load_npz` turn every way an input's
bytes can be wrong (missing, a directory, invalid UTF-8, nesting deep enough to
exhaust the parser, integers of thousands of digits, a zip member with a bad CRC,
encryption, an unknown compression method or a corrupt deflate stream, an ``.npy``
header that declares more than the file holds or than the memory budget allows)
into one :class:`~amssim.errors.AmssimError` naming the file. Sizes are checked
against :mod:`amssim.limits` before anything is allocated.

Writing: :func:`check_output_file` / :func:`check_output_dir` reject unusable
output locations before work starts; :func:`atomic_write` / :func:`atomic_path`
write to a temporary file beside the target and rename it into place;
:func:`replace_trace_dir` replaces a directory only when it is purely an amssim
trace (``manifest.json``, ``tensors/``, ``data/`` and nothing else, no symlinks).
A full disk raises :class:`~amssim.errors.DiskFullError` (exit 1, nothing lost).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
import tomllib
import zipfile
import zlib

import numpy as np

from .errors import AmssimError, DiskFullError, InputError, OutputPathError
from .limits import check_bytes

__all__ = [
    "escape",
    "read_bytes",
    "read_text",
    "parse_json",
    "read_json",
    "read_toml",
    "parse_toml",
    "npy_header",
    "load_npy",
    "load_npz",
    "check_output_file",
    "check_output_dir",
    "is_pure_trace_dir",
    "replace_trace_dir",
    "atomic_write",
    "atomic_path",
    "write_error",
]

_DISK_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}


def escape(text) -> str:
    """``text`` with control characters (terminal escape sequences, newlines) escaped."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


# ----------------------------------------------------------------------------- reading
def read_bytes(path, what: str = "file", *, error=InputError, max_bytes: int | None = None) -> bytes:
    """The bytes of ``path``; missing/unreadable/a directory/too large -> ``error``."""
    p = os.fspath(path)
    try:
        with open(p, "rb") as fh:
            st = os.fstat(fh.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory")
            if stat.S_ISREG(st.st_mode):
                if max_bytes is None:
                    check_bytes(st.st_size, f"{what} {escape(p)}")
                elif st.st_size > max_bytes:
                    raise error(f"{escape(p)}: {what} is {st.st_size} bytes, larger than {max_bytes}")
                return fh.read()
            # a FIFO or device: read at most the budget
            from .limits import max_memory_bytes
            cap = max_bytes or max_memory_bytes()
            data = fh.read(cap + 1)
            if len(data) > cap:
                raise error(f"{escape(p)}: {what} is larger than {cap} bytes")
            return data
    except FileNotFoundError:
        raise error(f"{escape(p)}: {what} does not exist") from None
    except IsADirectoryError:
        raise error(f"{escape(p)}: {what} is a directory, not a file") from None
    except OSError as exc:
        raise error(f"{escape(p)}: cannot read {what}: {exc.strerror or exc}") from exc


def _decode(data: bytes, p: str, what: str, error) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise error(f"{escape(p)}: {what} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset "
                    f"{exc.start}, line {line})") from exc


def read_text(path, what: str = "file", *, error=InputError) -> str:
    p = os.fspath(path)
    return _decode(read_bytes(p, what, error=error), p, what, error)


def parse_json(text: str, where: str, *, error=InputError, what: str = "JSON"):
    """json.loads with every parser failure mapped to ``error`` naming ``where``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: invalid {what} at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise error(f"{where}: {what} is nested too deeply") from exc
    except ValueError as exc:  # e.g. integers beyond sys.get_int_max_str_digits()
        raise error(f"{where}: invalid {what}: {exc}") from exc


def read_json(path, what: str = "JSON file", *, error=InputError):
    p = os.fspath(path)
    return parse_json(read_text(p, what, error=error), escape(p), error=error)


def parse_toml(text: str, where: str, *, error=InputError):
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: not valid TOML: {exc}") from exc
    except RecursionError as exc:
        raise error(f"{where}: TOML is nested too deeply") from exc
    except ValueError as exc:  # integer digit limit, bad dates, ...
        raise error(f"{where}: not valid TOML: {exc}") from exc


def read_toml(path, what: str = "TOML file", *, error=InputError) -> dict:
    p = os.fspath(path)
    return parse_toml(read_text(p, what, error=error), escape(p), error=error)


# ----------------------------------------------------------------------------- npy / npz
def _read_header(fh, where: str, error):
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format._read_array_header(fh, version)  # noqa: SLF001
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except AmssimError:
        raise
    except Exception as exc:  # noqa: BLE001 - numpy's header parser fails in many ways on bad bytes
        raise error(f"{where}: not a readable .npy array header ({type(exc).__name__}: "
                    f"{escape(exc)[:200]})") from exc
    if dtype.hasobject:
        raise error(f"{where}: object arrays are refused (they would need pickle)")
    return tuple(int(d) for d in shape), bool(fortran), dtype


def npy_header(fh, where: str, *, error=InputError, data_bytes: int | None = None, budget: bool = True):
    """(shape, fortran_order, dtype, nbytes) of an open ``.npy`` stream, positioned at the data.

    ``data_bytes``: the bytes available after the header (file or member size minus the
    header); a header declaring another size is refused. The declared size is also
    checked against the memory budget, before anything is allocated.
    """
    start = fh.tell() if data_bytes is not None else 0
    shape, fortran, dtype = _read_header(fh, where, error)
    n = 1
    for d in shape:
        n *= d
    nbytes = n * dtype.itemsize
    if data_bytes is not None:
        avail = data_bytes - (fh.tell() - start)
        if nbytes != avail:
            raise error(f"{where}: the .npy header declares shape {list(shape)} {dtype} ({nbytes} bytes) "
                        f"but the file holds {avail} data bytes")
    if budget:
        check_bytes(nbytes, f"{where}: array of shape {list(shape)} {dtype}")
    return shape, fortran, dtype, nbytes


def load_npy(path, where: str | None = None, *, error=InputError, mmap: bool = False) -> np.ndarray:
    """One ``.npy`` file, without pickle, its header checked against the file and the budget."""
    p = os.fspath(path)
    where = where or escape(p)
    try:
        with open(p, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            shape, fortran, dtype, nbytes = npy_header(fh, where, error=error, data_bytes=size)
            offset = fh.tell()
            if mmap and nbytes > 0:
                return np.memmap(p, dtype=dtype, mode="r", shape=shape, offset=offset,
                                 order="F" if fortran else "C")
            buf = fh.read(nbytes)
    except FileNotFoundError:
        raise error(f"{where}: no such file") from None
    except IsADirectoryError:
        raise error(f"{where}: is a directory, not an .npy file") from None
    except OSError as exc:
        raise error(f"{where}: cannot read: {exc.strerror or exc}") from exc
    if len(buf) != nbytes:
        raise error(f"{where}: truncated .npy data")
    a = np.frombuffer(buf, dtype=dtype)
    return a.reshape(shape[::-1]).T if fortran else a.reshape(shape)


def _zip_errors():
    return (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError,
            RuntimeError, ValueError, OSError, KeyError)


def load_npz(path, keys=None, *, error=InputError, what: str = ".npz file") -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` (all, or only ``keys`` that are present), read without pickle.

    Every member's declared size is checked against its header and, summed, against the
    memory budget before any member is decompressed. Bad CRCs, encryption, unknown
    compression and corrupt deflate streams raise ``error`` naming the file and member.
    """
    p = os.fspath(path)
    where = escape(p)
    if not os.path.exists(p):
        raise error(f"{where}: no such {what}")
    if os.path.isdir(p):
        raise error(f"{where}: {what} is a directory, not a file")
    member = None
    try:
        with zipfile.ZipFile(p) as zf:
            infos = {}
            for info in zf.infolist():
                if info.filename.endswith(".npy") and not info.is_dir():
                    infos.setdefault(info.filename[:-4], info)
            wanted = list(infos) if keys is None else [k for k in keys if k in infos]
            total = 0
            for k in wanted:
                total += infos[k].file_size
            check_bytes(total, f"{where}: arrays {wanted} (declared uncompressed sizes)")
            out = {}
            for k in wanted:
                info = infos[k]
                member = k
                mwhere = f"{where}: array {escape(k)!r}"
                if info.flag_bits & 0x1:
                    raise error(f"{mwhere}: the member is encrypted")
                with zf.open(info) as fh:
                    shape, fortran, dtype, nbytes = npy_header(fh, mwhere, error=error)
                    buf = fh.read(nbytes + 1)
                if len(buf) != nbytes:
                    raise error(f"{mwhere}: the .npy header declares {nbytes} data bytes, the member "
                                f"holds {len(buf)}")
                a = np.frombuffer(buf, dtype=dtype)
                out[k] = a.reshape(shape[::-1]).T if fortran else a.reshape(shape)
            member = None
            return out
    except AmssimError:
        raise
    except _zip_errors() as exc:
        at = f": array {escape(member)!r}" if member else ""
        raise error(f"{where}{at}: not a readable {what} ({type(exc).__name__}: {escape(exc)})") from exc


def npz_members(path, *, error=InputError, what: str = ".npz file") -> list[str]:
    """Array names of an ``.npz`` (no data read)."""
    p = os.fspath(path)
    try:
        with zipfile.ZipFile(p) as zf:
            return [n[:-4] for n in zf.namelist() if n.endswith(".npy")]
    except FileNotFoundError:
        raise error(f"{escape(p)}: {what} does not exist") from None
    except _zip_errors() as exc:
        raise error(f"{escape(p)}: not a readable {what} ({type(exc).__name__}: {escape(exc)})") from exc


# ----------------------------------------------------------------------------- writing
def write_error(exc: OSError, path, option: str = "output"):
    """The AmssimError for an OSError raised while writing ``path`` (full disk: exit 1)."""
    p = escape(os.fspath(path))
    if exc.errno in _DISK_FULL:
        return DiskFullError(f"{option} {p}: no space left on the device ({exc.strerror}); "
                             "nothing was replaced")
    return OutputPathError(f"{option} {p}: cannot write: {exc.strerror or exc}")


def _check_parent(path: str, option: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    # the nearest existing ancestor must be a writable directory
    anc = parent
    while not os.path.lexists(anc):
        nxt = os.path.dirname(anc)
        if nxt == anc:
            break
        anc = nxt
    if not os.path.isdir(anc):
        raise OutputPathError(f"{option} {escape(path)}: {escape(anc)} is not a directory")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise OutputPathError(f"{option} {escape(path)}: directory {escape(anc)} is not writable")


def check_output_file(path, option: str = "--out") -> str:
    """Check that ``path`` can be (re)written as a regular file; returns it."""
    if path is None or os.fspath(path) == "":
        raise OutputPathError(f"{option} '': empty output path")
    p = os.fspath(path)
    if os.path.islink(p):
        raise OutputPathError(f"{option} {escape(p)}: is a symbolic link; refusing to replace it")
    if os.path.lexists(p):
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode):
            raise OutputPathError(f"{option} {escape(p)}: is a directory, expected a file path")
        if not stat.S_ISREG(st.st_mode):
            raise OutputPathError(f"{option} {escape(p)}: is not a regular file (a device or pipe); "
                                  "refusing to replace it")
    if p.endswith(os.sep):
        raise OutputPathError(f"{option} {escape(p)}: names a directory, expected a file path")
    _check_parent(p, option)
    return p


_TRACE_ENTRIES = {"manifest.json": "file", "tensors": "dir", "data": "dir"}


def is_pure_trace_dir(path) -> tuple[bool, str]:
    """(True, "") if ``path`` is a real directory holding only an amssim trace, else (False, why)."""
    p = os.fspath(path)
    if os.path.islink(p):
        return False, "is a symbolic link"
    if not os.path.isdir(p):
        return False, "is not a directory"
    names = os.listdir(p)
    if not names:
        return True, ""
    if "manifest.json" not in names:
        return False, "holds no manifest.json (not an amssim trace)"
    for name in names:
        full = os.path.join(p, name)
        kind = _TRACE_ENTRIES.get(name)
        if kind is None:
            return False, f"holds {escape(name)!r}, which is not part of an amssim trace"
        if os.path.islink(full):
            return False, f"{escape(name)} is a symbolic link"
        if kind == "file" and not os.path.isfile(full):
            return False, f"{name} is not a regular file"
        if kind == "dir":
            if not os.path.isdir(full):
                return False, f"{name} is not a directory"
            for sub in os.listdir(full):
                sf = os.path.join(full, sub)
                if not sub.endswith(".npy") or os.path.islink(sf) or not os.path.isfile(sf):
                    return False, f"holds {escape(name + '/' + sub)!r}, which is not a trace .npy file"
    try:
        with open(os.path.join(p, "manifest.json"), "rb") as fh:
            head = fh.read(1 << 16)
    except OSError as exc:
        return False, f"manifest.json cannot be read ({exc.strerror})"
    if b'"amssim-trace"' not in head:
        return False, "manifest.json is not an amssim trace manifest"
    return True, ""


def check_output_dir(path, option: str = "--out", *, trace: bool = False, overwrite: bool = False) -> str:
    """Check an output directory before any work.

    ``trace=True``: the directory is replaced as a whole, so it must not exist unless
    ``overwrite`` is given and it is purely an amssim trace (or empty). Otherwise an
    existing directory is fine (its named files are replaced one by one).
    """
    if path is None or os.fspath(path) == "":
        raise OutputPathError(f"{option} '': empty output path")
    p = os.fspath(path)
    if p != os.sep and p.endswith(os.sep):
        bare = p.rstrip(os.sep)
        if os.path.lexists(bare) and not os.path.isdir(bare):
            raise OutputPathError(f"{option} {escape(p)}: {escape(bare)} exists and is not a directory")
        p = bare
    if os.path.islink(p):
        raise OutputPathError(f"{option} {escape(p)}: is a symbolic link; refusing to write through "
                              "or replace it")
    if os.path.lexists(p):
        if not os.path.isdir(p):
            raise OutputPathError(f"{option} {escape(p)}: exists and is not a directory")
        if trace:
            if not overwrite:
                raise OutputPathError(f"{option} {escape(p)}: exists (pass --overwrite to replace an "
                                      "amssim trace)")
            ok, why = is_pure_trace_dir(p)
            if not ok:
                raise OutputPathError(f"{option} {escape(p)}: {why}; --overwrite only replaces a "
                                      "directory that holds nothing but an amssim trace")
        elif not os.access(p, os.W_OK | os.X_OK):
            raise OutputPathError(f"{option} {escape(p)}: directory is not writable")
    _check_parent(p, option)
    return p


def replace_trace_dir(tmp: str, target: str, *, option: str = "--out") -> None:
    """Move the finished directory ``tmp`` to ``target``, replacing a pure trace there.

    The old directory is renamed aside (checked again right before), the new one
    renamed into place, and only then the old one removed; if the second rename fails
    the old directory is put back.
    """
    if not os.path.lexists(target):
        os.rename(tmp, target)
        return
    ok, why = is_pure_trace_dir(target)
    if not ok:
        raise OutputPathError(f"{option} {escape(target)}: {why}; refusing to replace it")
    parent = os.path.dirname(os.path.abspath(target))
    aside = tempfile.mkdtemp(prefix=".old-trace-", dir=parent)
    os.rmdir(aside)
    os.rename(target, aside)
    try:
        os.rename(tmp, target)
    except BaseException:
        os.rename(aside, target)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def atomic_write(path, data, *, option: str = "--out", mode: int = 0o644) -> None:
    """Write ``data`` (str or bytes) to ``path`` via a temporary file beside it and a rename."""
    with atomic_path(path, option=option, mode=mode) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_path(path, *, option: str = "--out", mode: int = 0o644, suffix: str = ""):
    """Yield a temporary path beside ``path``; on success rename it to ``path``.

    ``suffix`` ends the temporary name (for writers that pick a format from it).

    On any failure the temporary file is removed and ``path`` is untouched; OSErrors
    become :class:`OutputPathError` (exit 2) or :class:`DiskFullError` (exit 1).
    """
    p = check_output_file(path, option)
    parent = os.path.dirname(os.path.abspath(p))
    base = os.path.basename(p)
    try:
        os.makedirs(parent, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{base}.", suffix=".tmp" + suffix, dir=parent)
        os.close(fd)
        os.chmod(tmp, mode)
    except OSError as exc:
        raise write_error(exc, p, option) from exc
    try:
        yield tmp
        os.replace(tmp, p)
    except OSError as exc:
        _unlink(tmp)
        raise write_error(exc, p, option) from exc
    except BaseException:
        _unlink(tmp)
        raise


def _unlink(p: str) -> None:
    try:
        os.unlink(p)
    except OSError:
        pass
