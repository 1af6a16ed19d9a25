"""``amssim devices``: list device models, or show one resolved device file."""

from __future__ import annotations

import json

NAME = "devices"
HELP = "list device models (device_models/*.toml) or show one resolved device"
DESCRIPTION = (
    "Without NAME: one line per device found on the search path (AMSSIM_DEVICE_PATH, then "
    "the repository's device_models/). With NAME (or a path to a .toml file): the file it "
    "resolves to and every key after defaults and --set overrides, as TOML (or JSON)."
)


def register(parser):
    parser.add_argument("name", nargs="?", metavar="NAME|FILE",
                        help="device name or path to a device .toml file")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="dotted override, e.g. numerics.gain=4 (repeatable; with NAME)")


def _digital_summary(dev) -> dict:
    from ..energy.digital import mac_area_um2, mac_energy_j

    a, n = dev.arch, dev.numerics
    mac = mac_energy_j(dev)
    area = mac_area_um2(dev)
    return {
        "name": dev.name, "path": dev.path, "kind": dev.provenance.kind, "device_kind": "digital",
        "description": dev.provenance.description, "tiles": a.arrays,
        "tile_rows": a.array_rows, "tile_cols": a.array_cols, "clock_hz": a.clock_hz,
        "dataflow": a.dataflow, "format": n.format, "weight_format": dev.weight_format,
        "node_nm": dev.datapath.node_nm,
        "mac_energy_pj": sum(v for k, v in mac.items() if k != "output_scale") * 1e12,
        "mac_area_um2": area,
        "array_area_mm2": a.arrays * a.array_rows * a.array_cols * area * 1e-6,
        "peak_tops": 2 * dev.peak_macs_per_s / 1e12,
    }


def _summary(dev) -> dict:
    from ..energy import laser_electrical_w

    if getattr(dev, "kind", "analog") == "digital":
        return _digital_summary(dev)
    a, n, z = dev.arch, dev.numerics, dev.noise
    return {
        "name": dev.name, "path": dev.path, "kind": dev.provenance.kind, "device_kind": "analog",
        "description": dev.provenance.description, "tiles": a.tiles,
        "tile_rows": dev.tile_rows, "tile_cols": dev.tile_cols, "clock_hz": a.clock_hz,
        "input_bits": n.input_bits, "weight_bits": n.weight_bits, "adc_bits": n.adc_bits,
        "gain": n.gain, "noise": z.kind, "noise_lsb": z.lsb,
        "peak_tops": 2 * dev.peak_macs_per_s / 1e12,
        "laser_electrical_w": laser_electrical_w(dev),
    }


def run(args) -> int:
    from ..config import apply_overrides, config_hash, device_to_toml, list_devices, load_device
    from ..config.overrides import parse_sets
    from ..errors import ConfigError

    if args.name is None:
        if args.overrides:
            raise ConfigError("--set needs a device NAME")
        rows = [_summary(d) for d in list_devices()]
        if args.json:
            print(json.dumps(rows, indent=2))
            return 0
        for r in rows:
            if r["device_kind"] == "digital":
                fmt = r["format"] if r["weight_format"] == r["format"] else f"{r['format']}/{r['weight_format']}"
                print(f"{r['name']:<24} {r['kind']:<11} {r['tiles']} x {r['tile_rows']}x{r['tile_cols']} "
                      f"@ {r['clock_hz'] / 1e6:g} MHz  digital {r['dataflow'].upper()} {fmt}  "
                      f"{r['mac_energy_pj']:.3g} pJ/MAC  {r['array_area_mm2']:.3g} mm2 "
                      f"({r['node_nm']:g} nm)  peak {r['peak_tops']:.1f} TOPS  {r['description']}")
                continue
            print(f"{r['name']:<24} {r['kind']:<11} {r['tiles']} x {r['tile_rows']}x{r['tile_cols']} "
                  f"@ {r['clock_hz'] / 1e6:g} MHz  {r['input_bits']}/{r['weight_bits']}/{r['adc_bits']} bits  "
                  f"G={r['gain']:g}  noise={r['noise']}({r['noise_lsb']:.3g} LSB)  "
                  f"peak {r['peak_tops']:.1f} TOPS  {r['description']}")
        return 0
    dev = load_device(args.name)
    if args.overrides:
        dev = apply_overrides(dev, parse_sets(args.overrides))
    h = config_hash(dev)
    if args.json:
        print(json.dumps({"summary": _summary(dev), "config_hash": h, "device": dev.to_dict()}, indent=2))
        return 0
    print(device_to_toml(dev, header=f"device {dev.name}: {dev.path}\nresolved (defaults filled"
                         f"{', overrides applied' if args.overrides else ''}); config_hash {h}"), end="")
    return 0
