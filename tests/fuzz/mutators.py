"""Seeded mutators: each takes a ``random.Random`` and returns mutated bytes/objects/text."""

from __future__ import annotations

import io
import json
import re
import struct
import zipfile

import numpy as np

#: values that break careless parsers: huge, tiny, non-finite, wrong type, escapes
INTERESTING_NUMBERS = [0, -1, 1, 2, 3, 7, 255, 65536, 2**31, 2**63, 10**12, 10**30, -(10**12),
                       1e-300, 1e300, 1e-9, 0.5, -0.5, 1e400, float("nan"), float("inf"), -float("inf")]
INTERESTING_STRINGS = ["", " ", "a" * 5000, "\x1b[2J\x1b[31mred", "../../etc/passwd", "/dev/null", "é\u202e",
                       "nan", "inf", "-1", "0", "1e400", "9" * 5000, "\x00", "\n\n", "tensors/../x.npy",
                       "data/labels.npy", "tensors/.hidden.npy", "null", "true", "[]", "{}"]


def interesting_scalar(rnd):
    r = rnd.random()
    if r < 0.45:
        return rnd.choice(INTERESTING_NUMBERS)
    if r < 0.8:
        return rnd.choice(INTERESTING_STRINGS)
    if r < 0.9:
        return rnd.choice([None, True, False, [], {}, [1, 2], {"a": 1}])
    return f"__BIGINT_{rnd.choice([20, 400, 5000])}__"  # digits spliced in as a bare number


# ----------------------------------------------------------------------------- bytes
def mutate_bytes(rnd, data: bytes, *, rounds: int | None = None) -> bytes:
    b = bytearray(data)
    for _ in range(rounds or rnd.randint(1, 4)):
        op = rnd.randrange(7)
        if not b:
            b += bytes([rnd.randrange(256)])
            continue
        i = rnd.randrange(len(b))
        if op == 0:
            b[i] ^= 1 << rnd.randrange(8)
        elif op == 1:
            b[i] = rnd.choice([0, 0xFF, 0x7F, 0x80, 0xC0, 0xFE])
        elif op == 2:
            del b[i:i + rnd.randint(1, 64)]
        elif op == 3:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 16)))
        elif op == 4:
            b = b[:i]  # truncate
        elif op == 5:
            j = rnd.randrange(len(b))
            b[i:i] = b[j:j + rnd.randint(1, 256)]  # splice a copy
        else:
            b[i:i] = rnd.choice([b"\xff\xfe", b"\xc3\x28", b"\xed\xa0\x80", b"\x1b[2J"])
    return bytes(b)


# ----------------------------------------------------------------------------- JSON
def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def mutate_json_obj(rnd, obj):
    """Structural mutations of a parsed JSON value (in place where possible)."""
    obj = json.loads(json.dumps(obj))
    for _ in range(rnd.randint(1, 3)):
        paths = list(_paths(obj))
        path = rnd.choice(paths)
        if not path:
            continue
        parent, key = _get(obj, path[:-1]), path[-1]
        op = rnd.randrange(6)
        if op == 0 and isinstance(parent, dict):
            del parent[key]
        elif op == 1:
            parent[key] = interesting_scalar(rnd)
        elif op == 2:
            parent[key] = [parent[key]] if rnd.random() < 0.5 else {"x": parent[key]}
        elif op == 3 and isinstance(parent, dict):
            parent[rnd.choice(["extra", "\x1b[1m", "", "name"])] = interesting_scalar(rnd)
        elif op == 4 and isinstance(parent[key], list) and parent[key]:
            parent[key] = parent[key] * rnd.choice([0, 2, 1000])
        else:
            v = parent[key]
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                parent[key] = rnd.choice([v * 10**rnd.randint(1, 12), -v, v + 0.5, 0, 10**rnd.randint(6, 40)])
            elif isinstance(v, str):
                parent[key] = v + rnd.choice(INTERESTING_STRINGS)
    return obj


def dumps_hostile(rnd, obj) -> bytes:
    """JSON text of ``obj``; NaN/inf allowed (they are not JSON), sometimes re-encoded badly."""
    text = json.dumps(obj, allow_nan=True, default=str)
    r = rnd.random()
    if r < 0.05:
        depth = rnd.choice([1000, 100000])
        text = text[:-1] + ', "deep": ' + "[" * depth + "]" * depth + "}" if text.endswith("}") else text
    text = re.sub(r'"__BIGINT_(\d+)__"', lambda m: "9" * int(m.group(1)), text)
    data = text.encode("utf-8")
    if r > 0.9:
        data = data.replace(b'"', b'"\xff', 1)
    return data


def mutate_json_bytes(rnd, data: bytes) -> bytes:
    if rnd.random() < 0.25:
        return mutate_bytes(rnd, data)
    try:
        obj = json.loads(data)
    except ValueError:
        return mutate_bytes(rnd, data)
    return dumps_hostile(rnd, mutate_json_obj(rnd, obj))


# ----------------------------------------------------------------------------- TOML (text)
def _toml_literal(rnd):
    v = interesting_scalar(rnd)
    if isinstance(v, str) and v.startswith("__BIGINT_"):
        return "9" * int(v[9:-2])
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return rnd.choice(['""', "nan", "inf", "-inf"])
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return {float("inf"): "inf", -float("inf"): "-inf"}.get(v, "nan" if v != v else repr(v))
    if isinstance(v, (list, dict)):
        return rnd.choice(["[]", "[1, 2, 3]", "{ a = 1 }", '["x", 1]', "[[1], [2]]"])
    return json.dumps(v)


def mutate_toml_text(rnd, text: str) -> bytes:
    lines = text.splitlines()
    for _ in range(rnd.randint(1, 3)):
        op = rnd.randrange(8)
        idx = [i for i, ln in enumerate(lines) if "=" in ln and not ln.lstrip().startswith("#")]
        if op <= 2 and idx:
            i = rnd.choice(idx)
            key = lines[i].split("=", 1)[0]
            lines[i] = f"{key}= {_toml_literal(rnd)}"
        elif op == 3 and idx:
            del lines[rnd.choice(idx)]
        elif op == 4:
            lines.insert(rnd.randrange(len(lines) + 1), rnd.choice(
                ["[bogus]", "extra_key = 1", "[arch]", "x = " + "[" * 2000 + "]" * 2000, "= 1", "[[points]]",
                 'a."b".c = 1', "k = 1979-05-27T07:32:00Z", "big = " + "9" * 5000]))
        elif op == 5 and lines:
            i = rnd.randrange(len(lines))
            lines[i] = lines[i][: rnd.randrange(len(lines[i]) + 1)]
        elif op == 6 and idx:  # scale a number
            i = rnd.choice(idx)
            key, val = lines[i].split("=", 1)
            try:
                f = float(val.split("#")[0])
                lines[i] = f"{key}= {rnd.choice([f * 1e12, f * 1e-12, -f, f * 1e300, 0.0]) !r}"
            except ValueError:
                pass
        else:
            return mutate_bytes(rnd, "\n".join(lines).encode())
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


# ----------------------------------------------------------------------------- .npy
def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=a.dtype.hasobject)
    return buf.getvalue()


def _with_header(data: bytes, new_header: str) -> bytes:
    hlen = struct.unpack("<H", data[8:10])[0] if data[6] == 1 else struct.unpack("<I", data[8:12])[0]
    start = 10 if data[6] == 1 else 12
    body = data[start + hlen:]
    h = new_header.encode("latin1")
    pad = (64 - (start + len(h) + 1) % 64) % 64
    h = h + b" " * pad + b"\n"
    if len(h) < 65536:
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + body
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(h)) + h + body


def mutate_npy(rnd, data: bytes) -> bytes:
    op = rnd.randrange(9)
    try:
        a = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception:  # noqa: BLE001 - already broken input
        return mutate_bytes(rnd, data)
    descr = np.lib.format.dtype_to_descr(a.dtype)
    shape = list(a.shape)
    if op == 0:  # header declares a huge shape (file far too small, or sparse)
        shape = [10**12] + shape[1:] if shape else [10**12]
        return _with_header(data, repr({"descr": descr, "fortran_order": False, "shape": tuple(shape)}))
    if op == 1:  # other dtype, same bytes
        d = rnd.choice(["<f8", ">f4", "|u1", "<i2", "<c8", "|b1", "<U4", "|O", "<V8", "bogus"])
        return _with_header(data, repr({"descr": d, "fortran_order": False, "shape": tuple(shape)}))
    if op == 2:
        return npy_bytes(np.array([{"pickled": 1}, None], dtype=object))
    if op == 3:  # header that is not a dict literal / is huge
        return _with_header(data, rnd.choice(["{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
                                              "__import__('os').system('true')", "{" * 500 + "}" * 500,
                                              "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 2**62)}",
                                              "{'descr': '<f4', 'fortran_order': 'yes', 'shape': ()}"]))
    if op == 4:  # values: nan/inf, huge
        b = a.copy()
        if b.size and b.dtype.kind == "f":
            b.reshape(-1)[rnd.randrange(b.size)] = rnd.choice([np.nan, np.inf, 3e38])
        elif b.size:
            b.reshape(-1)[rnd.randrange(b.size)] = rnd.choice([-1, 10**6, 2**40])
        return npy_bytes(b)
    if op == 5:  # same values, other shape
        return npy_bytes(a.reshape(-1) if a.ndim > 1 else a.reshape(1, -1) if a.size else a)
    if op == 6:  # sparse-looking: declared larger, padded by zero bytes (fits the budget or not)
        n = rnd.choice([10**6, 10**8])
        hdr = repr({"descr": descr, "fortran_order": False, "shape": (n,)})
        out = _with_header(data, hdr)
        return out + b"\x00" * min(n * a.dtype.itemsize - (len(out) - len(data)), 2_000_000)
    return mutate_bytes(rnd, data)


# ----------------------------------------------------------------------------- .npz / zip
def _zip_entries(data: bytes):
    return [i for i in range(len(data) - 4) if data[i:i + 4] in (b"PK\x03\x04", b"PK\x01\x02")]


def mutate_zip(rnd, data: bytes, arrays: dict | None = None) -> bytes:
    op = rnd.randrange(9)
    b = bytearray(data)
    locs = _zip_entries(data)
    if op == 0 and locs:  # encryption flag
        for i in locs:
            b[i + (6 if b[i + 2] == 3 else 8)] |= 1
        return bytes(b)
    if op == 1 and locs:  # unknown compression method
        for i in locs:
            b[i + (8 if b[i + 2] == 3 else 10)] = rnd.choice([1, 6, 12, 14, 93, 99])
        return bytes(b)
    if op == 2 and locs:  # CRC
        for i in locs:
            off = i + (14 if b[i + 2] == 3 else 16)
            b[off] ^= 0x5A
        return bytes(b)
    if op == 3 and locs:  # declared sizes
        for i in locs:
            off = i + (22 if b[i + 2] == 3 else 24)
            b[off:off + 4] = struct.pack("<I", rnd.choice([0, 1, 2**31, 2**32 - 1]))
        return bytes(b)
    if op == 4:  # zip bomb: a big all-zero member (compressed to little)
        n = rnd.choice([10**8, 5 * 10**8, 10**9])
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for k in (arrays or {"x": None}):
                with zf.open(k + ".npy", "w", force_zip64=True) as fh:
                    hdr = npy_bytes(np.zeros(0, np.float32))
                    fh.write(_with_header(hdr, repr({"descr": "<f4", "fortran_order": False, "shape": (n,)})))
                    chunk = bytes(1 << 22)
                    left = n * 4
                    while left > 0 and left > (n * 4 - (64 << 20)):  # write 64 MiB of zeros (fast)
                        fh.write(chunk[:min(left, len(chunk))])
                        left -= len(chunk)
        return out.getvalue()  # declared size larger than the data written: refused or truncated
    if op == 5 and arrays:  # a member with bad npy contents
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for k, a in arrays.items():
                zf.writestr(k + ".npy", mutate_npy(rnd, npy_bytes(a)))
        return out.getvalue()
    if op == 6 and arrays:  # missing / renamed members
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as zf:
            for k, a in arrays.items():
                if rnd.random() < 0.5:
                    zf.writestr(rnd.choice([k + "x", "../" + k, k]) + ".npy", npy_bytes(a))
        return out.getvalue()
    if op == 7 and locs:  # corrupt the deflate stream
        i = rnd.choice(locs)
        j = min(len(b) - 1, i + 60 + rnd.randrange(40))
        for q in range(j, min(len(b), j + 16)):
            b[q] ^= 0xA5
        return bytes(b)
    return mutate_bytes(rnd, data)


# ----------------------------------------------------------------------------- CSV
def mutate_csv(rnd, text: str) -> bytes:
    rows = [r.split(",") for r in text.splitlines()]
    for _ in range(rnd.randint(1, 3)):
        op = rnd.randrange(6)
        r = rnd.randrange(len(rows))
        if op <= 2 and rows[r]:
            c = rnd.randrange(len(rows[r]))
            rows[r][c] = " " + rnd.choice(["inf", "1e400", "-1", "0", "nan", "1e15", "99999999999", "x",
                                           "", "3.5", "\x1b[2J", "1e8", "9" * 5000, "-0", "0x10"])
        elif op == 3:
            rows.insert(r, list(rows[r]))
        elif op == 4:
            rows[r] = rows[r][: rnd.randrange(len(rows[r]) + 1)]
        else:
            return mutate_bytes(rnd, "\n".join(",".join(x) for x in rows).encode())
    return ("\n".join(",".join(x) for x in rows) + "\n").encode()


def interesting_option_value(rnd) -> str:
    return str(rnd.choice(["0", "-1", "1", "2", "1000000", "1000000000", "1e9", "nan", "inf", "-inf", "",
                           "9" * 5000, "abc", "\x1b[2J", "1.5", "100000000", "  3 ", "0x10", "1e-300"]))
