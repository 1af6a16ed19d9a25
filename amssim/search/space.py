"""Search spaces: which keys may change and the values each may take.

``--space numerics.adc_bits=6,7,8 --space numerics.gain=1,2,4,8`` gives the grid of
every combination (an *option*). Values are listed from cheapest/least precise to
most precise as the user wants "one step up/down" to mean; the search orders options
by energy itself, so the listed order only defines the grid neighbours.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import ConfigError, SearchError
from ..run.layers import check_layer_key


@dataclass(frozen=True)
class SearchSpace:
    """A grid over ``keys``; ``values[i]`` are the strings key ``i`` may take."""

    keys: tuple
    values: tuple

    @property
    def size(self) -> int:
        n = 1
        for v in self.values:
            n *= len(v)
        return n

    def index_grid(self) -> list[tuple]:
        """Every option as a tuple of value indices (last key fastest)."""
        return list(itertools.product(*(range(len(v)) for v in self.values)))

    def option(self, idx: Sequence[int]) -> dict:
        """Overrides of the option with value indices ``idx``."""
        return {k: self.values[i][j] for i, (k, j) in enumerate(zip(self.keys, idx))}

    def neighbours(self, idx: Sequence[int]) -> list[tuple]:
        """Options one step away in exactly one key (one bit up or down for bit keys)."""
        out = []
        for i, j in enumerate(idx):
            for d in (-1, 1):
                if 0 <= j + d < len(self.values[i]):
                    n = list(idx)
                    n[i] = j + d
                    out.append(tuple(n))
        return out

    def describe(self, idx: Sequence[int]) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.option(idx).items())


def parse_space(items: Sequence[str], device: str, *, base_overrides=None,
                per_layer: bool = False) -> SearchSpace:
    """Parse ``KEY=V1,V2,...`` items and check every value against ``device``.

    Raises :class:`SearchError` (exit 2) for an empty space, a malformed item, a key the
    device model does not have, or a value the key rejects.
    """
    from ..run import validate_overrides
    from ..sweep.grid import parse_grid_arg

    if not items:
        raise SearchError("the search space is empty: give at least one --space KEY=V1,V2,...")
    keys, values = [], []
    for text in items:
        try:
            key, vals = parse_grid_arg(text)
        except ConfigError as exc:
            raise SearchError(str(exc).replace("--grid", "--space")) from None
        if key in keys:
            raise SearchError(f"--space {text!r}: key {key!r} is given twice")
        if key in (base_overrides or {}):
            raise SearchError(f"--space {text!r}: key {key!r} is also fixed by --set; give it in one "
                              "place only")
        if per_layer:
            try:
                check_layer_key(key, f"--space {text!r}")
            except ConfigError as exc:
                raise SearchError(str(exc)) from None
        for v in vals:
            try:
                if key == "device":  # an op's own device (analog or digital), priced on it
                    from ..config import load_device

                    load_device(str(v))
                else:
                    validate_overrides(device, {**dict(base_overrides or {}), key: v})
            except ConfigError as exc:
                raise SearchError(f"--space {text!r}: {exc}") from None
        keys.append(key)
        values.append(tuple(vals))
    return SearchSpace(tuple(keys), tuple(values))
