"""``amssim study appendix-a``: the ABFP paper's Appendix-A error study."""

from __future__ import annotations

import json

NAME = "study"
HELP = "run a built-in numeric study (appendix-a: ABFP error vs tile width, gain, noise)"
DESCRIPTION = (
    "appendix-a: relative RMS error ||Y - XW^T|| / ||XW^T|| of an ABFP product (8/8/8 bits) "
    "for W 768x768 standard Laplace and X ROWSx768 standard normal, for tile width "
    "n in {8, 32, 128} x gain G in {1, 2, 4, 8, 16} x output noise {0, 0.5 LSB uniform}, "
    "with the closed-form prediction and the fraction of saturated partials."
)


def register(parser) -> None:
    parser.add_argument("study", choices=["appendix-a"], help="which study to run")
    parser.add_argument("--rows", type=int, default=400,
                        help="rows of X (input vectors); the paper uses 16 x 25 = 400")
    parser.add_argument("--seed", type=int, default=0, help="seed of data and noise (>= 0)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per line instead of tables")


def run(args) -> int:
    from ..errors import ConfigError
    from ..studies.appendix_a import GAINS, NOISES_LSB, TILE_WIDTHS, run_appendix_a

    if args.seed < 0:
        raise ConfigError(f"--seed must be >= 0, got {args.seed}")
    points = run_appendix_a(args.rows, args.seed)
    if args.json:
        for p in points:
            print(json.dumps(p.to_dict()))
        return 0
    by = {(p.tile_width, p.gain, p.noise_lsb): p for p in points}
    print(f"Appendix-A: relative RMS error of Y = X W^T, 8/8/8 bits, X {args.rows}x768 "
          f"N(0,1), W 768x768 Laplace(0,1), seed {args.seed}")
    for a in NOISES_LSB:
        print(f"\noutput noise {a} LSB ({'uniform' if a else 'none'}): measured "
              "[predicted] (% saturated partials if > 0)")
        print("   n | " + " | ".join(f"G = {g:<14g}" for g in GAINS))
        for n in TILE_WIDTHS:
            cells = []
            for g in GAINS:
                p = by[(n, float(g), float(a))]
                cell = f"{100 * p.rel_rms_error:6.2f}% [{100 * p.predicted_rel_rms_error:5.2f}]"
                if p.saturated_fraction > 0:
                    cell += "*"
                cells.append(f"{cell:<18}")
            print(f"{n:4d} | " + " | ".join(cells))
    print("\n* some partials saturate (fraction by n, G): " + ", ".join(
        f"n={p.tile_width} G={p.gain:g}: {100 * p.saturated_fraction:.3g}%"
        for p in points if p.saturated_fraction > 0 and p.noise_lsb == NOISES_LSB[0]))
    return 0
