"""ADC energy per conversion from its resolution (Murmann ADC survey envelope).

E(ENOB) = max(floor, fom_walden * 2^ENOB, c_thermal * 4^ENOB): a floor at low
resolution, the Walden regime (energy per conversion step) at medium resolution and
the thermal-noise regime (4^ENOB: each extra bit quarters the allowed noise power)
at high resolution. Reference numbers: Walden FOM about 5 fJ/step best and 15-25
fJ/step typical at >= 1 GS/s; envelope about 0.27 pJ + 0.145 aJ x 4^ENOB
(B. Murmann, "ADC Performance Survey 1997-2025").
"""

from __future__ import annotations

import math


def adc_energy_from_enob(enob_bits: float, *, walden_fom_j_per_step: float,
                         thermal_j_per_step2: float, floor_j: float) -> float:
    """Joules per conversion at ``enob_bits`` effective bits (float allowed, e.g. 12.5)."""
    if not math.isfinite(enob_bits) or enob_bits < 0:
        raise ValueError(f"enob_bits = {enob_bits!r} must be finite and >= 0")
    return max(floor_j, walden_fom_j_per_step * 2.0 ** enob_bits,
               thermal_j_per_step2 * 4.0 ** enob_bits)


def adc_conversion_energy_j(device, adc_bits: float | None = None) -> float:
    """Per-conversion ADC energy of ``device`` (fixed ``adc_energy_j`` if the file gives one)."""
    e = device.energy
    if e.adc_energy_j is not None and adc_bits is None:
        return e.adc_energy_j
    bits = device.numerics.adc_bits if adc_bits is None else adc_bits
    enob = max(0.0, bits - device.converters.adc_enob_loss_bits)
    return adc_energy_from_enob(enob, walden_fom_j_per_step=e.adc_walden_fom_j_per_step,
                                thermal_j_per_step2=e.adc_thermal_j_per_step2, floor_j=e.adc_floor_j)


def readout_energy_j(adc_j: float, gain: float, *, gain_stage_j: float, gain_energy_rel: float) -> float:
    """Gain stage energy per sample: fixed part plus rel x (G - 1) x ADC energy.

    With ``gain_energy_rel = 1`` an amplification G costs G times the ADC energy
    in the readout chain (the ABFP paper's energy argument).
    """
    return gain_stage_j + gain_energy_rel * max(gain - 1.0, 0.0) * adc_j
