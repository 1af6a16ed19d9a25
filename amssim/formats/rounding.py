"""Rounding modes shared by every number format.

All formats round the *magnitude* and re-apply the sign (sign-magnitude rounding),
so every mode is symmetric about zero:

``nearest_even``  round to nearest, ties to the even code (IEEE default; for posits
                  and log-posits "even" means the bit pattern's last bit is 0, as in
                  the Posit Standard 2022).
``nearest_away``  round to nearest, ties away from zero.
``toward_zero``   truncate the magnitude.
``stochastic``    round the magnitude up with probability equal to its distance
                  from the lower neighbour divided by the gap (unbiased:
                  E[q(x)] = x inside the representable range). Uniform draws come
                  from the counter-based generator of :mod:`amssim._rng`
                  (stream ``STOCHASTIC_ROUNDING``) keyed by the seed, the layer and
                  the element's flat index, so results are reproducible and do not
                  depend on batching. For grid formats (floats, INT, BFP, MX, ABFP)
                  "up" is decided as ``frac + u >= 1`` with ``u = h / 2^32`` (FAST's
                  "add random bits, then truncate"); it is exactly unbiased whenever
                  the fraction below the quantum has <= 32 bits. Posits and
                  log-posits use ``u < (|x| - lo) / (hi - lo)`` in float64.
"""

from __future__ import annotations

from enum import IntEnum

from ..errors import ConfigError


class RoundingMode(IntEnum):
    """Rounding mode; the integer value is what the numba kernels receive."""

    NEAREST_EVEN = 0
    NEAREST_AWAY = 1
    TOWARD_ZERO = 2
    STOCHASTIC = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: "str | RoundingMode", argument: str = "rounding") -> "RoundingMode":
        """Accept an enum member or its lower-case name; raise ConfigError otherwise."""
        if isinstance(value, RoundingMode):
            return value
        if isinstance(value, str):
            key = value.strip().lower().replace("-", "_")
            for member in cls:
                if member.label == key:
                    return member
        valid = ", ".join(m.label for m in cls)
        raise ConfigError(f"{argument}={value!r} is not a rounding mode; valid: {valid}")
