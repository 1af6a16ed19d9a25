"""``python -m tests.fuzz --cases 10000``: the fuzz campaign (see tests/fuzz/__init__.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from .cases import KINDS
from .runner import BAD, Outcome, campaign, summarise


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    p.add_argument("--cases", type=int, default=1000, help="number of cases (spread evenly over the kinds)")
    p.add_argument("--seed", type=int, default=0, help="campaign seed (cases are reproducible from it)")
    p.add_argument("--jobs", type=int, default=2, help="cases run at the same time")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per case before it counts as a hang")
    p.add_argument("--as-limit", default="1G", help="address-space limit per case (e.g. 1G)")
    p.add_argument("--kinds", default=None, help=f"comma-separated subset of: {', '.join(KINDS)}")
    p.add_argument("--json", metavar="FILE", help="also write every outcome as JSON lines")
    p.add_argument("--resume", action="store_true",
                   help="with --json: skip the cases FILE already holds and append (the summary counts them all)")
    a = p.parse_args(argv)
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    lim = a.as_limit.strip().upper()
    as_limit = int(float(lim[:-1]) * mult[lim[-1]]) if lim[-1] in mult else int(lim)
    kinds = a.kinds.split(",") if a.kinds else None
    t0 = time.time()
    bad = []

    earlier = []
    if a.resume and a.json and os.path.exists(a.json):
        with open(a.json, encoding="utf-8") as fh:
            earlier = [Outcome(**{k: (tuple(v) if k == "argv" else v) for k, v in json.loads(line).items()})
                       for line in fh if line.strip()]
    jsonl = open(a.json, "a" if a.resume else "w", encoding="utf-8") if a.json else None  # noqa: SIM115

    def log(i, o):
        if jsonl is not None:  # written as the cases finish: an interrupted campaign keeps its counts
            jsonl.write(json.dumps({"kind": o.kind, "seed": o.seed, "argv": o.argv, "result": o.result,
                                    "detail": o.detail}) + "\n")
            jsonl.flush()
        if o.result in BAD or o.result == "harness":
            bad.append(o)
            print(f"[{i}] {o.kind} seed {o.seed}: {o.result}: {o.argv!r}\n    {o.detail[-400:]}", flush=True)
        elif i % 100 == 0:
            print(f"[{i}/{a.cases}] {time.time() - t0:.0f} s", flush=True)

    try:
        outs = earlier + campaign(a.cases, seed=a.seed, jobs=a.jobs, timeout_s=a.timeout, as_limit=as_limit,
                                  kinds=kinds, log=log, skip=frozenset((o.kind, o.seed) for o in earlier))
    finally:
        if jsonl is not None:
            jsonl.close()
    print(summarise(outs))
    print(f"{len(outs)} cases in {time.time() - t0:.0f} s; {len(bad)} violations "
          f"(address-space limit {a.as_limit}, timeout {a.timeout:g} s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
