"""``amssim simulate``: accuracy, per-layer error, latency and energy of one configuration."""

from __future__ import annotations

import json
import os
import sys

from ..run.options import MODES
from ._common import add_set_option, fmt_num, parse_sets, print_json, table

NAME = "simulate"
HELP = "simulate a trace on a device: accuracy, per-layer error, cycles, latency, energy"
DESCRIPTION = (
    "Run TRACE (a trace directory, e.g. workloads/fsdd-cnn) on DEVICE and report the task "
    "metric against float32, the per-layer differential error (same float32 input through "
    "float32 and through the device), cycles, latency, utilisation and the energy breakdown, "
    "all per inference. Device keys can be overridden with --set (see `amssim devices NAME`).")


def register(p) -> None:
    p.add_argument("trace", metavar="TRACE", help="trace directory (manifest.json inside)")
    p.add_argument("--device", default=None,
                   help="device model: a name from `amssim devices` or a path to a .toml file "
                        "(default: the --config file's device, else abfp-paper)")
    p.add_argument("--config", metavar="FILE",
                   help="run configuration TOML with global [set] and per-layer [layers.OP] "
                        "overrides, as written by `amssim search` (--device/--set win over it)")
    p.add_argument("--mode", choices=MODES, default="accuracy",
                   help="accuracy: functional + timing side by side; full: the timing model drives "
                        "the functional model (bit-identical outputs, slower); timing: shapes only")
    p.add_argument("--seed", type=int, default=0, help="noise seed (results are bit-identical for a seed)")
    p.add_argument("--format", default=None, metavar="NAME",
                   help="numeric backend: abfp (the device's analog tile), fp32, or a digital format "
                        "from `amssim formats` (same as --set run.format=NAME)")
    add_set_option(p)
    p.add_argument("--json", action="store_true", help="print the RunResult as one JSON object")
    p.add_argument("--out", metavar="DIR", help="also write DIR/result.json and DIR/layers.csv")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args) -> int:
    from ..run import simulate

    overrides = parse_sets(args.overrides)
    if args.format:
        overrides["run.format"] = args.format
    device, layers = args.device, None
    if args.config:
        from ..run import load_run_config

        rc = load_run_config(args.config)
        device = device or rc.device
        overrides = {**rc.overrides, **overrides}
        layers = rc.layers or None
    if args.out is not None:
        from ..io_safety import check_output_dir

        check_output_dir(args.out, "--out")  # before any work
    progress = (not args.no_progress) and sys.stderr.isatty()
    res = simulate(args.trace, device or "abfp-paper", mode=args.mode, seed=args.seed,
                   overrides=overrides, progress=progress, layer_overrides=layers)
    d = res.to_dict()
    if args.out:
        _write_out(args.out, d)
    if args.json:
        print_json(d)
    else:
        print(render(d))
    return 0


def _write_out(out: str, d: dict) -> None:
    from ..io_safety import atomic_write, check_output_dir, write_error

    check_output_dir(out, "--out")
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as exc:
        raise write_error(exc, out, "--out") from exc
    atomic_write(os.path.join(out, "result.json"), json.dumps(d, indent=2, allow_nan=False), option="--out")
    cols = ["name", "macs", "cycles", "energy_j", "dy_mean", "dy_std", "rel_rms_error"]
    lines = [",".join(cols)]
    for L in d["layers"]:
        lines.append(",".join("" if L[c] is None else _csv_cell(L[c]) for c in cols))
    atomic_write(os.path.join(out, "layers.csv"), "\n".join(lines) + "\n", option="--out")


def _csv_cell(v) -> str:
    s = str(v)
    if any(c in s for c in ',"\n\r') or not s.isprintable():
        s = '"' + s.replace('"', '""') + '"'
    return s


def _pct(v):
    return "-" if v is None else f"{100 * v:.2f} %"


def render(d: dict) -> str:
    from ..io_safety import escape

    d = {**d, "trace": escape(d["trace"]), "device": escape(d["device"]),
         "layers": [{**L, "name": escape(L["name"])} for L in d["layers"]]}
    lines = [f"trace {d['trace']}  device {d['device']}  mode {d['mode']}  backend {d['backend']}  "
             f"seed {d['seed']}  config {d['config_hash'][:12]}"]
    if d["accuracy"] is not None:
        loss = None if d["fp32_accuracy"] is None else d["fp32_accuracy"] - d["accuracy"]
        lines.append(f"{d['metric']}: {_pct(d['accuracy'])}   float32: {_pct(d['fp32_accuracy'])}   "
                     f"loss: {_pct(loss)}   ({d['num_samples']} samples)")
    lines.append(f"per inference: {fmt_num(d['macs'])} MACs, {fmt_num(d['cycles'], '.6g')} cycles, "
                 f"latency {fmt_num(d['latency_s'] * 1e6 if d['latency_s'] else None)} us, "
                 f"energy {fmt_num(d['energy_j'] * 1e6 if d['energy_j'] else None)} uJ, "
                 f"{fmt_num(d['tops'])} TOPS, {fmt_num(d['tops_per_w'])} TOPS/W")
    if d["energy_breakdown_j"]:
        tot = sum(d["energy_breakdown_j"].values()) or 1.0
        parts = sorted(d["energy_breakdown_j"].items(), key=lambda kv: -kv[1])
        lines.append("energy breakdown: " + ", ".join(
            f"{k} {100 * v / tot:.1f}%" for k, v in parts if v > 0))
    rows = [[L["name"], L["macs"], L["cycles"], None if L["energy_j"] is None else L["energy_j"] * 1e9,
             L["dy_mean"], L["dy_std"], L["rel_rms_error"]] for L in d["layers"]]
    lines.append("")
    lines.append(table(rows, ["layer", "MACs", "cycles", "energy_nJ", "dy_mean", "dy_std", "rel_rms"]))
    return "\n".join(lines)
