"""Command-line interface: ``amssim <command> ...``.

The CLI package is the only place that prints or sets exit codes (docs/architecture.md §12):
0 ok, 1 runtime failure, 2 bad input. Each command lives in its own module
``amssim/cli/<command>.py`` exposing ``NAME``, ``HELP``, ``register(parser)``
and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
import traceback
import warnings

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
    _add_global_options(parser, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _load_commands():
        p = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=getattr(mod, "DESCRIPTION", mod.HELP),
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        mod.register(p)
        _add_global_options(p, argparse.SUPPRESS)
        p.set_defaults(_run=mod.run)
    return parser


def _add_global_options(p, default) -> None:
    """--debug and --max-memory, accepted before or after the command name."""
    p.add_argument("--debug", action="store_true", default=default,
                   help="print the full traceback of an internal error (also AMSSIM_DEBUG=1)")
    p.add_argument("--max-memory", metavar="SIZE", default=default,
                   help="memory budget for sizes that inputs declare, e.g. 512M or 8G (default: "
                        "min(4G, half the RAM, a third of ulimit -v); also AMSSIM_MAX_MEMORY)")


def _debug_requested(args) -> bool:
    env = os.environ.get("AMSSIM_DEBUG", "").strip().lower()
    return bool(getattr(args, "debug", False)) or env not in ("", "0", "false", "no")


def _one_line(text) -> str:
    from ..io_safety import escape

    return escape(" ".join(str(text).split("\n")).strip())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 0
    debug = _debug_requested(args)
    cmd = args.command

    def show_warning(message, category, filename, lineno, file=None, line=None):
        print(f"amssim {cmd}: warning: {_one_line(message)}", file=sys.stderr, flush=True)

    try:
        from ..limits import set_max_memory

        set_max_memory(getattr(args, "max_memory", None))
        with warnings.catch_warnings():  # notices as one line each, not file:line + source
            warnings.showwarning = show_warning
            return int(args._run(args) or 0)
    except AmssimError as exc:
        if debug:
            traceback.print_exc()
        print(f"amssim {cmd}: error: {_one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"amssim {cmd}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        if debug:
            traceback.print_exc()
        if exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            print(f"amssim {cmd}: error: no space left on the device"
                  f"{' writing ' + _one_line(exc.filename) if exc.filename else ''}; nothing already "
                  "written was replaced (free space and run again)", file=sys.stderr)
            return 1
        print(f"amssim {cmd}: internal error: {type(exc).__name__}: {_one_line(exc)} "
              f"({_HINT if not debug else 'traceback above'})", file=sys.stderr)
        return 1
    except MemoryError:
        if debug:
            traceback.print_exc()
        print(f"amssim {cmd}: error: out of memory (lower the input sizes or --max-memory; "
              f"{_HINT})", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - last-resort report, exit 1
        if debug:
            traceback.print_exc()
        print(f"amssim {cmd}: internal error: {type(exc).__name__}: {_one_line(exc)[:500]} "
              f"({_HINT if not debug else 'traceback above'})", file=sys.stderr)
        return 1


_HINT = "this is a bug in amssim; rerun with --debug or AMSSIM_DEBUG=1 for the full traceback"
