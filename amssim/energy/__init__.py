"""Energy: action counts x the device's energy table + static power x time (docs/architecture.md §9)."""

from __future__ import annotations

from .adc import adc_conversion_energy_j, adc_energy_from_enob, readout_energy_j
from .digital import DatapathModel, mac_area_um2, mac_energy_j
from .optics import detected_energy_per_sample_j, laser_electrical_w, laser_optical_w
from .table import ENERGY_COMPONENTS, EnergyResult, EnergyTable, LayerEnergy, estimate_energy

__all__ = [
    "ENERGY_COMPONENTS", "DatapathModel", "EnergyResult", "EnergyTable", "LayerEnergy", "adc_conversion_energy_j",
    "adc_energy_from_enob", "detected_energy_per_sample_j", "estimate_energy",
    "laser_electrical_w", "laser_optical_w", "mac_area_um2", "mac_energy_j", "readout_energy_j",
]
