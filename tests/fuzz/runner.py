"""Run fuzz cases: subprocess CLI under an address-space limit and a timeout; classify."""

from __future__ import annotations

import collections
import concurrent.futures as cf
import dataclasses
import hashlib
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile

from . import corpus
from .cases import KINDS

#: violations: anything but exit 0/2 for input-caused failures, or a changed existing file
BAD = ("traceback", "internal", "memory", "hang", "crash", "damaged")


@dataclasses.dataclass
class Outcome:
    kind: str
    seed: int
    argv: list
    result: str  #: "ok" | "exit2" | one of BAD
    detail: str = ""


def _snapshot(root):
    snap = {}
    for dp, dns, fns in os.walk(root):
        for n in fns + [x for x in dns if os.path.islink(os.path.join(dp, x))]:
            p = os.path.join(dp, n)
            rel = os.path.relpath(p, root)
            if os.path.islink(p):
                snap[rel] = "link:" + os.readlink(p)
            else:
                try:
                    with open(p, "rb") as fh:
                        data = fh.read()
                except OSError:
                    continue
                snap[rel] = (hashlib.sha256(data).hexdigest(), data if len(data) < 1 << 16 else None)
    return snap


def _under(rel, prefixes):
    return any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in prefixes)


def _damage(root, before, case) -> str:
    after = _snapshot(root)
    for rel, old in before.items():
        if _under(rel, case.may_change):
            continue
        new = after.get(rel)
        if rel in case.append_only and isinstance(old, tuple) and isinstance(new, tuple):
            with open(os.path.join(root, rel), "rb") as fh:
                cur = fh.read()
            if old[1] is not None and not cur.startswith(old[1]):
                return f"{rel}: old contents not kept as a prefix"
            continue
        if new is None:
            return f"{rel}: deleted"
        if (new[0] if isinstance(new, tuple) else new) != (old[0] if isinstance(old, tuple) else old):
            return f"{rel}: changed"
    return ""


def _preexec(limit_bytes):
    def f():
        os.setsid()
        if limit_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return f


def run_case(kind: str, seed: int, template: str, *, timeout_s: float = 60, as_limit: int = 1 << 30,
             keep: bool = False) -> Outcome:
    rnd = random.Random(f"{kind}:{seed}")
    d = tempfile.mkdtemp(prefix=f"fuzz-{kind}-")
    try:
        shutil.copytree(template, d, dirs_exist_ok=True, symlinks=True)
        try:
            case = KINDS[kind](rnd, d)
        except Exception as exc:  # noqa: BLE001 - a bug of the fuzzer, not of amssim
            return Outcome(kind, seed, [], "harness", f"{type(exc).__name__}: {exc}"[:300])
        before = _snapshot(d)
        env = dict(os.environ, PYTHONPATH=corpus.TESTS + os.pathsep + os.environ.get("PYTHONPATH", ""),
                   MPLBACKEND="Agg", PYTHONHASHSEED="0", OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
        env.pop("AMSSIM_DEBUG", None)
        env.pop("AMSSIM_MAX_MEMORY", None)
        proc = subprocess.Popen([sys.executable, "-m", "amssim", *case.argv], cwd=d, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                preexec_fn=_preexec(as_limit))
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return Outcome(kind, seed, case.argv, "hang", case.note)
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # leftovers (e.g. dask workers) of this case
            except ProcessLookupError:
                pass
        err_t = err.decode("utf-8", "replace")
        rc = proc.returncode
        if "Traceback (most recent call last)" in err_t:
            res, detail = "traceback", err_t[-600:]
        elif rc < 0:
            res, detail = ("memory" if rc == -signal.SIGKILL else "crash"), f"signal {-rc}"
        elif "MemoryError" in err_t or "out of memory" in err_t:
            res, detail = "memory", err_t[-300:]
        elif rc == 1:
            res, detail = "internal", err_t[-400:]
        elif rc not in (0, 2):
            res, detail = "crash", f"exit {rc}: {err_t[-300:]}"
        else:
            res, detail = ("ok" if rc == 0 else "exit2"), err_t.strip().splitlines()[-1][:200] if err_t.strip() else ""
        dmg = _damage(d, before, case)
        if dmg:
            res, detail = "damaged", dmg
        return Outcome(kind, seed, case.argv, res, detail)
    finally:
        if not keep:
            shutil.rmtree(d, ignore_errors=True)


def campaign(n_cases: int, *, seed: int = 0, jobs: int = 2, timeout_s: float = 60, as_limit: int = 1 << 30,
             kinds=None, log=None, skip=frozenset()) -> list[Outcome]:
    """Run the campaign's cases (minus the (kind, seed) pairs in ``skip``: a resumed campaign)."""
    kinds = list(kinds or KINDS)
    template = tempfile.mkdtemp(prefix="fuzz-corpus-")
    try:
        corpus.build(template)
        work = [(kinds[i % len(kinds)], seed * 1_000_003 + i) for i in range(n_cases)]
        work = [w for w in work if w not in skip]
        out: list[Outcome] = []
        with cf.ThreadPoolExecutor(max_workers=jobs) as ex:
            futs = [ex.submit(run_case, k, s, template, timeout_s=timeout_s, as_limit=as_limit) for k, s in work]
            for i, f in enumerate(cf.as_completed(futs)):
                o = f.result()
                out.append(o)
                if log is not None:
                    log(i + 1, o)
        return out
    finally:
        shutil.rmtree(template, ignore_errors=True)


def summarise(outcomes) -> str:
    cols = ["ok", "exit2"] + list(BAD) + (["harness"] if any(o.result == "harness" for o in outcomes) else [])
    by = collections.defaultdict(collections.Counter)
    for o in outcomes:
        by[o.kind][o.result] += 1
    w = max([len(k) for k in by] + [5])
    lines = [f"{'kind':<{w}}  " + "  ".join(f"{c:>9}" for c in cols) + "      total"]
    tot = collections.Counter()
    for k in sorted(by):
        tot.update(by[k])
        lines.append(f"{k:<{w}}  " + "  ".join(f"{by[k][c]:>9}" for c in cols) + f"  {sum(by[k].values()):>9}")
    lines.append(f"{'total':<{w}}  " + "  ".join(f"{tot[c]:>9}" for c in cols) + f"  {sum(tot.values()):>9}")
    return "\n".join(lines)
