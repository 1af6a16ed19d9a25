"""The run pipeline: one path from a trace, a device and overrides to a result.

Options (:mod:`.options`) -> the device, a name, a file or a device object
(:mod:`.device`) -> per-layer setups, none for a uniform run (:mod:`.layers`) -> one
backend factory (:mod:`.backends`) -> evaluation (:func:`amssim.trace.evaluate`),
timing and energy (:mod:`.cost`) -> :class:`~.result.RunResult` (:mod:`.pipeline`).
``amssim simulate``, sweeps (:func:`run_point`), search and finetune all go through it.
"""

from .backends import digital_backend, make_backend
from .cost import timing_and_energy
from .device import is_device, resolve_device, validate_overrides, with_run_format
from .layers import (LayerSetup, RunConfig, dump_run_config, flat_layer_overrides, load_run_config,
                     resolve_layers, write_run_config)
from .options import MODES, RUN_KEYS, RunOptions, check_format, split_overrides, vars_of
from .pipeline import load_workload, run_point, simulate
from .result import LayerResult, RunResult

__all__ = ["MODES", "RUN_KEYS", "LayerResult", "LayerSetup", "RunConfig", "RunOptions", "RunResult",
           "check_format", "digital_backend", "dump_run_config", "flat_layer_overrides", "is_device",
           "load_run_config", "load_workload", "make_backend", "resolve_device", "resolve_layers", "run_point",
           "simulate", "split_overrides", "timing_and_energy", "validate_overrides", "vars_of",
           "with_run_format", "write_run_config"]
