"""Write the calibrated device model: a base device with [noise]/[converters]
replaced, [numerics] bits/gain/tile width from the metadata, and [provenance]
kind = "calibration" (input hashes, date, fit statistics). The file is written
atomically and reloaded before it is kept; a failed fit never reaches here."""

from __future__ import annotations

import os

from ..config import device_from_dict, device_to_toml, load_device
from ..config.registry import load_device_file
from ..errors import AmssimError, FitError


def build_device_dict(result, base_name: str) -> tuple[dict, str]:
    base = load_device(base_name)
    d = base.to_dict()
    for sec in d.values():
        for k in [k for k, v in sec.items() if v is None]:
            del sec[k]
    md, best = result.meta, result.best
    d["numerics"]["adc_bits"] = result.adc_bits
    if md.gain is not None:
        d["numerics"]["gain"] = md.gain
    if md.tile_width is not None:
        d["numerics"]["tile_width"] = md.tile_width
    files = ", ".join(f"{i['role']} {os.path.basename(i['path'])} sha256={i['sha256'][:16]}"
                      for i in result.inputs)
    crit = result.cfg.criterion.upper()
    noise = dict(result.noise_section())
    for k in ("edges_lsb", "probs"):
        if k in noise:
            noise[k] = list(noise[k])
    stats_line = (f"{best.family} chosen by {crit} among {', '.join(f.family for f in result.fits)}; "
                  f"KS = {best.ks:.4g}; n = {result.noise_res.n_used} residuals")
    noise["source"] = f"amssim calibrate {result.date}: {stats_line}"
    noise["sources"] = {"kind": stats_line,
                        "lsb": f"maximum likelihood, stderr {result.stderr.get('lsb')}"}
    if "outlier_fraction" in best.params:
        noise["sources"]["kind"] += f"; outlier fraction {best.params['outlier_fraction']:.3g} not simulated"
    if result.noise_res.whiten:
        noise["sources"]["signal_var_lsb2"] = "sigma^2 = a + b |signal| fit, b in LSB^2 per LSB"
    d["noise"] = noise
    tf = result.converters_fit
    conv = {k: v for k, v in d["converters"].items()
            if k in ("dac_conversions_per_cycle", "adc_conversions_per_cycle", "adc_enob_loss_bits")}
    conv.update(channel_gain_error=[float(v) for v in tf.gain_error],
                channel_offset_lsb=[float(v) for v in tf.offsets_filled],
                adc_inl_lsb=list(tf.inl_table()),
                source=f"amssim calibrate {result.date}: robust ({tf.stats.get('robust_loss')}) "
                       f"transfer fit of {tf.n_used} points, {tf.n_channels} channels")
    d["converters"] = conv
    d["provenance"] = {
        "description": f"calibrated from {files}"[:200],
        "kind": "calibration",
        "source": f"amssim calibrate on {result.date}; base device {base.name}; {files}",
        "calibration_run": f"sha256:{result.run_hash}",
    }
    header = (f"Device model calibrated by `amssim calibrate` on {result.date}\n"
              f"base device: {base.name}; inputs: {files}\n{stats_line}")
    return d, header


def write_device(result, out: str, base_name: str = "abfp-paper"):
    """Validate and write the device TOML; returns the reloaded Device."""
    d, header = build_device_dict(result, base_name)
    name = os.path.splitext(os.path.basename(out))[0]
    try:
        dev = device_from_dict(d, name=name, path=out)
        dev.abfp_config()
    except AmssimError as exc:
        raise FitError(f"the fitted model is not a valid device: {exc}") from None
    from ..io_safety import atomic_path

    with atomic_path(out, option="--out") as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(device_to_toml(dev, header=header))
        try:
            load_device_file(tmp).abfp_config()
        except AmssimError as exc:
            raise FitError(f"written device does not reload: {exc}") from None
    return load_device(out)
