"""The one mapping from device sections to :class:`~amssim.signal.config.AbfpConfig`.

A device file names the ABFP numerics by section (``[numerics]``, ``[noise]``,
``[converters]``, docs/architecture.md §7); :class:`AbfpConfig` names them flat
(``noise.lsb`` is ``noise_lsb``). :data:`ABFP_FIELD_OF` is the only place that pairs
the two: :meth:`amssim.config.device.Device.abfp_config` and the calibration fit
(:meth:`amssim.calibrate.pipeline.CalibrationResult.abfp_config`) both build their
configuration with :func:`abfp_config_from_sections`. A key that is neither mapped nor
listed in :data:`NOT_ABFP` is an error, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError, DeviceError
from ..signal.config import AbfpConfig

#: device ``section.key`` -> AbfpConfig field
ABFP_FIELD_OF: dict[str, str] = {
    "numerics.tile_width": "tile_width",
    "numerics.input_bits": "input_bits",
    "numerics.weight_bits": "weight_bits",
    "numerics.adc_bits": "adc_bits",
    "numerics.gain": "gain",
    "numerics.scale_format": "scale_format",
    "numerics.ideal": "ideal",
    "numerics.weight_noise_rel": "weight_noise_rel",
    "noise.kind": "noise",
    "noise.lsb": "noise_lsb",
    "noise.dof": "noise_dof",
    "noise.edges_lsb": "noise_edges_lsb",
    "noise.probs": "noise_probs",
    "noise.signal_var_lsb2": "signal_noise_var_lsb2",
    "converters.channel_gain_error": "channel_gain_error",
    "converters.channel_offset_lsb": "channel_offset_lsb",
    "converters.dac_inl_lsb": "dac_inl_lsb",
    "converters.adc_inl_lsb": "adc_inl_lsb",
}
#: section keys that are not ABFP numerics (converter lanes for timing, ENOB loss for energy)
NOT_ABFP = frozenset({
    "converters.dac_conversions_per_cycle",
    "converters.adc_conversions_per_cycle",
    "converters.adc_enob_loss_bits",
})
#: citation keys any section may carry
CITATION_KEYS = frozenset({"source", "sources"})


def abfp_config_from_sections(sections: Mapping[str, Mapping[str, Any]], *,
                              where: str = "device") -> AbfpConfig:
    """Build the :class:`AbfpConfig` of device sections ``{"numerics": {...}, "noise": {...}, ...}``.

    Sections may be partial; an absent key, or an optional key whose value is ``None``
    (e.g. ``noise.dof``), keeps the AbfpConfig default. A key that has no AbfpConfig field
    and is not in :data:`NOT_ABFP` raises :class:`DeviceError` naming ``[section] key``;
    invalid values raise DeviceError ``"{where}: ... do not form a valid AbfpConfig: ..."``.
    """
    kwargs: dict[str, Any] = {}
    for section, table in sections.items():
        for key, value in table.items():
            name = f"{section}.{key}"
            if key in CITATION_KEYS or name in NOT_ABFP:
                continue
            field = ABFP_FIELD_OF.get(name)
            if field is None:
                known = sorted(k for k in ABFP_FIELD_OF if k.startswith(f"{section}."))
                raise DeviceError(f"{where}: [{section}] {key}: no AbfpConfig field for this key "
                                  f"(ABFP keys of [{section}]: {', '.join(known) or 'none'})")
            if value is None:
                continue
            kwargs[field] = tuple(value) if isinstance(value, list) else value
    try:
        return AbfpConfig(**kwargs)
    except (ConfigError, ValueError, TypeError) as exc:
        raise DeviceError(f"{where}: [numerics]/[noise]/[converters] "
                          f"do not form a valid AbfpConfig: {exc}") from exc
