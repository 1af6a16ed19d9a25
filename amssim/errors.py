"""Typed errors. Library code raises these; only :mod:`amssim.cli` prints and exits.

Exit codes used by the CLI: 2 for :class:`AmssimError` subclasses that mean bad
input (every class here except :class:`RunFailure`), 1 for :class:`RunFailure`.

None of the bad-input classes is a ``ValueError``: a generic ``except ValueError``
(for numpy or parsing errors) must never swallow an error raised on purpose, and a
ValueError from a bug must never pass for bad input (it exits 1).
"""

from __future__ import annotations


def short_repr(value, limit: int = 60) -> str:
    """repr() for an error message: cut to ``limit`` characters, and an integer too long to
    print usefully (repr itself refuses beyond 4300 digits) shown by its size."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 200:
        return f"<integer of {value.bit_length()} bits>"
    r = repr(value)
    return r if len(r) <= limit else f"{r[:limit - 15]}...{r[-12:]}"


class AmssimError(Exception):
    """Base class of every error amssim raises on purpose."""

    exit_code = 2


class ConfigError(AmssimError):
    """A configuration value, device model key or format name is invalid."""


class DeviceError(ConfigError):
    """A device model file is malformed (names the file and key)."""


class FormatError(ConfigError):
    """A number-format name or spec is malformed or unknown."""


class TraceError(AmssimError):
    """A trace directory, manifest, tensor or importer input is invalid."""


class CalibrationError(AmssimError):
    """Lab data given to calibration is malformed."""


class StoreError(AmssimError):
    """A sweep result store is unreadable, corrupt or foreign."""


class SearchError(AmssimError):
    """A configuration search space or target is invalid or unreachable."""


class InputError(AmssimError):
    """An input file's bytes are unusable (encoding, nesting, archive, header), named with the file.

    Deliberately not a ValueError: generic ``except ValueError`` handlers elsewhere must not
    swallow it or turn genuine bugs into "bad input".
    """


class OutputPathError(AmssimError):
    """An output location cannot be used (a file where a directory is needed, a symlink, a
    foreign directory that ``--overwrite`` would delete, no write permission, ``--out ''``)."""


class ResourceLimitError(AmssimError):
    """An input declares more memory or work than the budget allows (``--max-memory``)."""


class RunFailure(AmssimError, RuntimeError):
    """A run failed for a reason other than bad input (e.g. a fit did not converge)."""

    exit_code = 1


class FitError(RunFailure):
    """A calibration fit did not converge."""


class DiskFullError(RunFailure):
    """Writing an output failed for lack of space (not bad input: exit 1)."""
