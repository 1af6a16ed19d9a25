"""Laser power: fixed, or set by the detection noise at the output resolution and gain.

The laser must deliver, at the detector, enough energy per output sample for
b = adc_bits bits over the full range of the partial sums, which an analog gain G
stretches by G: shot-noise limited, photons = k * 4^b * G (k about 1.5, photon
energy 0.128 aJ at 1550 nm); thermal (TIA) limited, energy = c * 2^b * G. Optical
power = per-sample energy x output samples per second at full rate (tiles x tile
columns x clock) x path loss; electrical = optical / wall-plug efficiency. The
laser runs continuously, so it is charged as static power x time.
"""

from __future__ import annotations


def detected_energy_per_sample_j(device) -> float:
    e, b, g = device.energy, device.numerics.adc_bits, device.numerics.gain
    if e.optical_regime == "shot":
        return e.shot_photons_per_step2 * 4.0 ** b * g * e.photon_energy_j
    if e.optical_regime == "thermal":
        return e.optical_thermal_j_per_step * 2.0 ** b * g
    return 0.0


def laser_optical_w(device) -> float:
    """Optical power at the laser output (W)."""
    e = device.energy
    if e.optical_regime == "fixed":
        return e.laser_optical_w
    rate = device.arch.tiles * device.tile_cols * device.arch.clock_hz
    return detected_energy_per_sample_j(device) * rate * 10.0 ** (e.optical_loss_db / 10.0)


def laser_electrical_w(device) -> float:
    """Electrical power drawn by the laser (W)."""
    return laser_optical_w(device) / device.energy.laser_wall_plug_efficiency
