"""``amssim calibrate``: fit noise and transfer models to lab data, write a device model."""

from __future__ import annotations

import argparse
import json
import os

#: files ``--synthetic DIR`` writes (never over existing ones)
SYNTHETIC_FILES = ("paired.npz", "transfer.npz", "meta.toml", "truth.json")

NAME = "calibrate"
HELP = "fit noise and transfer models to lab data and write a device model"
DESCRIPTION = """\
Fit per-channel gain/offset and a smooth ADC nonlinearity (robust least squares)
and the additive error distribution (maximum likelihood over gaussian, logistic,
laplace, student_t, uniform and an empirical histogram, chosen by AIC or BIC, KS
statistic reported) to lab data, then write a device model that
`amssim simulate --device FILE` accepts and a report directory.

Input formats:
  PAIRED  .npz with arrays `expected` and `observed` (ADC codes, any equal shape,
          streamed in chunks: any size), or .csv with header columns `expected`,
          `observed` and optional `channel` (integer >= 0).
  --transfer SWEEP.npz  arrays `codes` (P,) programmed input/weight codes and
          `observed` (..., P): one curve per channel. If given, it sets the
          [converters] gain/offset/INL; the noise comes from PAIRED if given.
  --meta META.toml  optional keys: adc_bits (codes must lie in +-(2^(b-1)-1)),
          gain, tile_width (copied to [numerics]), channel_axis (axis of the
          paired arrays that is the output channel), code_scale (observed units
          per expected unit; absent: fitted as the median channel gain).
Observed codes at +-full scale are excluded (clipped). Integer observed codes are
treated as ADC outputs rint(mu + E) (interval-censored likelihood). Gross
outliers are modelled as a uniform fraction and reported, not simulated.
Try: amssim calibrate --synthetic ex/ && amssim calibrate ex/paired.npz
     --meta ex/meta.toml --out dev.toml --report rep/
Exit codes: 0 ok, 2 bad input, 1 fit did not converge (no device file written)."""


def register(p) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("paired", nargs="?", metavar="PAIRED", help="paired codes (.npz or .csv)")
    p.add_argument("--transfer", metavar="SWEEP.npz", help="transfer sweeps (codes, observed)")
    p.add_argument("--meta", metavar="META.toml", help="metadata (adc_bits, gain, tile_width, ...)")
    p.add_argument("--out", metavar="DEVICE.toml", help="device model file to write")
    p.add_argument("--report", metavar="DIR", help="report directory (figures, summary.json)")
    p.add_argument("--base", default="abfp-paper", help="base device whose other sections are kept")
    p.add_argument("--criterion", choices=("aic", "bic"), default="aic", help="model choice")
    p.add_argument("--families", default=None,
                   help="comma-separated noise families (default: all six)")
    p.add_argument("--poly-degree", type=int, default=3, help="nonlinearity degree (< 2: off)")
    p.add_argument("--loss", choices=("soft_l1", "huber", "cauchy", "linear"), default="soft_l1",
                   help="robust loss of the transfer fit")
    p.add_argument("--signal-dependent", action="store_true",
                   help="also fit sigma^2 = a + b |signal| (writes noise.signal_var_lsb2)")
    p.add_argument("--uncertainty", choices=("fisher", "bootstrap", "none"), default="fisher",
                   help="parameter uncertainty method")
    p.add_argument("--bootstrap", type=int, default=50, metavar="N", help="bootstrap refits")
    p.add_argument("--quantized", choices=("auto", "yes", "no"), default="auto",
                   help="observed codes are rounded ADC outputs (auto: if all integers)")
    p.add_argument("--no-outlier-model", action="store_true", help="no uniform outlier fraction")
    p.add_argument("--seed", type=int, default=0, help="seed (subsampling, bootstrap, synthetic data)")
    p.add_argument("--synthetic", metavar="DIR",
                   help="write an example data set (paired.npz, transfer.npz, meta.toml) and exit")
    p.add_argument("--json", action="store_true", help="print summary.json to stdout")


def run(args) -> int:
    from ..calibrate import CalibrateConfig, calibrate, write_device, write_report, write_synthetic
    from ..calibrate.fit_report import summary
    from ..config import load_device
    from ..errors import CalibrationError, ConfigError

    from ..io_safety import check_output_dir, check_output_file
    from ..limits import MAX_BOOTSTRAP_REPS, check_count

    if args.synthetic is not None:
        check_output_dir(args.synthetic, "--synthetic")
        from ..errors import OutputPathError

        existing = [n for n in SYNTHETIC_FILES if os.path.lexists(os.path.join(args.synthetic, n))]
        if existing:
            raise OutputPathError(f"--synthetic {args.synthetic}: would replace the existing "
                                  f"{', '.join(existing)}; choose a new or empty directory")
        paths = write_synthetic(args.synthetic, seed=args.seed)
        print(f"wrote {', '.join(paths.values())}")
        print(f"try: amssim calibrate {paths['paired']} --meta {paths['meta']} "
              f"--transfer {paths['transfer']} --out calibrated.toml --report calibration-report")
        return 0
    if not args.paired and not args.transfer:
        raise CalibrationError("give PAIRED codes and/or --transfer SWEEP.npz (or --synthetic DIR)")
    if args.out is not None:
        check_output_file(args.out, "--out")
    if args.report is not None:
        check_output_dir(args.report, "--report")
    if args.uncertainty == "bootstrap":
        if args.bootstrap < 1:
            raise CalibrationError(f"--bootstrap {args.bootstrap}: must be >= 1")
        check_count(args.bootstrap, MAX_BOOTSTRAP_REPS, "--bootstrap (refits)")
    fams = tuple(f.strip() for f in args.families.split(",")) if args.families else None
    kw = dict(criterion=args.criterion, poly_degree=args.poly_degree, robust_loss=args.loss,
              signal_dependent=args.signal_dependent, uncertainty=args.uncertainty,
              bootstrap_reps=args.bootstrap, quantized=args.quantized, seed=args.seed,
              outlier_model=not args.no_outlier_model)
    if fams:
        kw["families"] = fams
    try:
        cfg = CalibrateConfig(**kw)
    except ConfigError as exc:
        raise CalibrationError(str(exc)) from None
    base = load_device(args.base)
    res = calibrate(args.paired, transfer=args.transfer, meta=args.meta, cfg=cfg,
                    base_bits=base.numerics.adc_bits)
    if args.out is not None:
        write_device(res, args.out, base_name=args.base)
    s = write_report(res, args.report) if args.report is not None else summary(res)
    if args.json:
        print(json.dumps(s, indent=1, allow_nan=False))
        return 0
    rows = sorted(res.fits, key=lambda f: getattr(f, cfg.criterion))
    print(f"{res.noise_res.n_used} residuals used of {res.noise_res.n_total} "
          f"({res.noise_res.n_clipped} clipped); ADC {res.adc_bits} bits; "
          f"{'quantised' if res.noise_res.quantized else 'continuous'} codes")
    print(f"{'family':10s} {'k':>3s} {cfg.criterion.upper():>12s} {'KS':>8s}  parameters")
    for f in rows:
        par = {k: round(float(v), 4) for k, v in f.params.items() if k not in ("edges_lsb", "probs")}
        mark = "  <- chosen" if f is res.best else ""
        print(f"{f.family:10s} {f.k:3d} {getattr(f, cfg.criterion):12.1f} {f.ks:8.4f}  {par}{mark}")
    tf = res.converters_fit
    print(f"transfer: {tf.n_channels} channels, scale {tf.scale:.5g} ({tf.scale_source}), "
          f"gain error rms {float((tf.gain_error ** 2).mean() ** 0.5):.3g}, "
          f"nonlinearity q2.. {[round(float(q), 5) for q in tf.poly]}")
    rp = res.reproduction
    print(f"simulator check: two-sample KS {rp['ks_2samp']:.4f} (p = {rp['pvalue']:.3g})")
    if args.out:
        print(f"wrote device {args.out}")
    if args.report:
        print(f"wrote report {os.path.join(args.report, 'summary.json')}")
    return 0
