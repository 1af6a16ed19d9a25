"""Command-line interface: ``amssim <command> ...``.

The CLI package is the only place that prints or sets exit codes (DESIGN 12):
0 ok, 1 runtime failure, 2 bad input. Each command lives in its own module
``amssim/cli/<command>.py`` exposing ``NAME``, ``HELP``, ``register(parser)``
and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback

from .. import __version__
from ..errors import AmssimError

#: command modules in the order ``amssim --help`` lists them
COMMAND_MODULES = (
    "simulate",
    "sweep",
    "pareto",
    "report",
    "calibrate",
    "export_trace",
    "finetune",
    "search",
    "devices",
    "formats",
    "study",
)


def _load_commands():
    mods = []
    for name in COMMAND_MODULES:
        try:
            mods.append(importlib.import_module(f"{__name__}.{name}"))
        except ModuleNotFoundError as exc:  # command not built yet
            if exc.name != f"{__name__}.{name}":
                raise
    return mods


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="amssim",
        description=(
            "Simulate analog mixed-signal (photonic/analog) DNN accelerators with "
            "adaptive block floating-point numerics: accuracy, latency and energy."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"amssim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _load_commands():
        p = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        mod.register(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args._run(args) or 0)
    except AmssimError as exc:
        print(f"amssim {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"amssim {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception:  # noqa: BLE001 - last-resort report, exit 1
        traceback.print_exc()
        print(f"amssim {args.command}: internal error (see traceback above)", file=sys.stderr)
        return 1
