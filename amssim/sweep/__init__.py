"""Sweeps over configurations, a durable result store, executors and Pareto fronts.

Public API::

    from amssim.sweep import (SweepSpec, run_sweep, ResultStore, aggregate,
                              pareto_front, Objective, parse_grid_arg, load_sweep_file)

Submodules: :mod:`.grid` (grid arguments and TOML sweep files -> points),
:mod:`.store` (JSON-lines store with atomic appends), :mod:`.executors`
(in-process, process pool, Dask), :mod:`.engine` (resume-safe sweep runs),
:mod:`.summary` (mean/std over seeds, labels), :mod:`.pareto` (non-dominated sets).
"""

from __future__ import annotations

from .engine import SweepReport, SweepSpec, SweepTask, raise_for_failures, run_sweep
from .executors import DaskExecutor, LocalExecutor, SerialExecutor, make_executor
from .grid import build_points, load_sweep_file, parse_grid_arg, parse_set_arg, seed_list
from .pareto import DEFAULT_OBJECTIVES, Objective, parse_objective, pareto_front, pareto_mask
from .store import ResultStore, make_row, point_key
from .summary import aggregate, point_labels

__all__ = [
    "DEFAULT_OBJECTIVES",
    "DaskExecutor",
    "LocalExecutor",
    "Objective",
    "ResultStore",
    "SerialExecutor",
    "SweepReport",
    "SweepSpec",
    "SweepTask",
    "aggregate",
    "build_points",
    "load_sweep_file",
    "make_executor",
    "make_row",
    "parse_grid_arg",
    "parse_objective",
    "parse_set_arg",
    "pareto_front",
    "pareto_mask",
    "point_key",
    "point_labels",
    "raise_for_failures",
    "run_sweep",
    "seed_list",
]
