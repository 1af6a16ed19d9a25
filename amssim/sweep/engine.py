"""The sweep engine: validate every point, skip what the store holds, run the rest.

The runner (default ``amssim.run:run_point``) and the override validator (default
``amssim.run:validate_overrides``) are parameters, given as callables or as
``"module:function"`` references; references are imported lazily, in the worker
that runs the task. For tests, the environment variables ``AMSSIM_SWEEP_RUNNER``
and ``AMSSIM_SWEEP_VALIDATOR`` (or the hidden CLI options ``--runner`` and
``--validator``) select another ``module:function``.

Rows are written by this process only, one durable append per finished run, so a
sweep killed at any moment and started again runs exactly the missing
(point, seed) pairs.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from ..errors import AmssimError, ConfigError, RunFailure
from .executors import SerialExecutor
from ..run.options import MODES
from .store import ResultStore, make_row, point_key

__all__ = [
    "DEFAULT_RUNNER",
    "DEFAULT_VALIDATOR",
    "RUNNER_ENV",
    "VALIDATOR_ENV",
    "SweepSpec",
    "SweepTask",
    "SweepReport",
    "SweepFailure",
    "resolve_callable",
    "pending_tasks",
    "execute_task",
    "run_sweep",
]

DEFAULT_RUNNER = "amssim.run:run_point"
DEFAULT_VALIDATOR = "amssim.run:validate_overrides"
RUNNER_ENV = "AMSSIM_SWEEP_RUNNER"  #: testing hook: "module:function" replacing run_point
VALIDATOR_ENV = "AMSSIM_SWEEP_VALIDATOR"  #: testing hook: replaces validate_overrides

Ref = str | Callable[..., Any]


def default_runner() -> str:
    return os.environ.get(RUNNER_ENV) or DEFAULT_RUNNER


def default_validator() -> str:
    return os.environ.get(VALIDATOR_ENV) or DEFAULT_VALIDATOR


def resolve_callable(ref: Ref, *, what: str = "runner") -> Callable[..., Any]:
    """A callable, or ``"package.module:function"`` (``"package.module.function"`` works too)."""
    if callable(ref):
        return ref
    if not isinstance(ref, str) or not ref:
        raise ConfigError(f"{what} {ref!r} is neither a callable nor 'module:function'")
    mod_name, sep, attr = ref.partition(":")
    if not sep:
        mod_name, _, attr = ref.rpartition(".")
    if not mod_name or not attr:
        raise ConfigError(f"{what} {ref!r}: expected 'module:function'")
    try:
        mod = importlib.import_module(mod_name)
    except ModuleNotFoundError as exc:
        raise RunFailure(f"{what} {ref!r}: cannot import module {exc.name!r}") from None
    fn = getattr(mod, attr, None)
    if not callable(fn):
        raise RunFailure(f"{what} {ref!r}: module {mod_name!r} has no function {attr!r}")
    return fn


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepSpec:
    """What to run: one trace and device, a list of points, several seeds each."""

    trace: str  #: trace directory
    device: str  #: device name or device model file
    mode: str = "accuracy"  #: "full" | "accuracy" | "timing"
    points: tuple[Mapping[str, str], ...]  #: override dicts, one per point (>= 1)
    seeds: tuple[int, ...] = (0,)  #: noise seeds run for every point (>= 1, distinct)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"--mode {self.mode!r} is not one of {', '.join(MODES)}")
        if not self.points:
            raise ConfigError("the sweep has no points (give --grid KEY=V1,V2 or a sweep file)")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be a non-empty list of distinct integers, got {self.seeds}")
        if not self.trace:
            raise ConfigError("no trace given")
        if not self.device:
            raise ConfigError("no device given (--device NAME or FILE)")

    def key_of(self, overrides: Mapping[str, str]) -> str:
        return point_key(trace=self.trace, device=self.device, mode=self.mode, overrides=overrides)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepTask:
    """One (point, seed) run, picklable for worker processes."""

    trace: str
    device: str
    mode: str
    overrides: tuple[tuple[str, str], ...]
    seed: int
    runner: Ref  #: callable or "module:function"

    @property
    def overrides_dict(self) -> dict[str, str]:
        return dict(self.overrides)


def execute_task(task: SweepTask) -> dict:
    """Run one task (in a worker). Returns the runner's RunResult dict."""
    fn = resolve_callable(task.runner)
    result = fn(task.trace, task.device, task.overrides_dict, task.seed, mode=task.mode)
    if hasattr(result, "to_dict"):
        result = result.to_dict()
    if not isinstance(result, Mapping):
        raise RunFailure(f"the runner returned {type(result).__name__}, not a result object")
    return dict(result)


def pending_tasks(spec: SweepSpec, store: ResultStore, *, runner: Ref) -> tuple[list[SweepTask], int]:
    """Tasks of ``spec`` not yet in ``store`` (grid order, seeds innermost) and the count done."""
    todo: list[SweepTask] = []
    done = 0
    for ov in spec.points:
        key = spec.key_of(ov)
        for seed in spec.seeds:
            if (key, seed) in store:
                done += 1
                continue
            todo.append(
                SweepTask(
                    trace=spec.trace,
                    device=spec.device,
                    mode=spec.mode,
                    overrides=tuple(ov.items()),
                    seed=seed,
                    runner=runner,
                )
            )
    return todo, done


class SweepFailure(NamedTuple):
    """One (point, seed) run that raised. Classified by the exception's type, never by
    parsing its message: ``bad_input`` is True for the AmssimErrors that mean bad input
    (exit code 2)."""

    task: SweepTask
    message: str  #: "ExceptionType: message", for people
    error_type: str  #: qualified name of the exception class
    bad_input: bool


def _failure(task: SweepTask, error: BaseException) -> SweepFailure:
    cls = type(error)
    return SweepFailure(
        task=task,
        message=f"{cls.__name__}: {error}",
        error_type=f"{cls.__module__}.{cls.__qualname__}",
        bad_input=isinstance(error, AmssimError) and error.exit_code == 2,
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepReport:
    """Outcome of :func:`run_sweep`."""

    total: int  #: (point, seed) pairs in the sweep
    already_done: int  #: pairs found in the store at the start (skipped)
    ran: int  #: pairs run and stored now
    failures: tuple[SweepFailure, ...]  #: pairs that raised (not stored)


def validate_points(spec: SweepSpec, validator: Ref) -> None:
    """Call the validator on every point before any work; ConfigError names the point."""
    fn = resolve_callable(validator, what="validator")
    for ov in spec.points:
        try:
            fn(spec.device, dict(ov))
        except ConfigError as exc:
            raise type(exc)(f"{exc} (in sweep point {dict(ov)})") from None


def run_sweep(
    spec: SweepSpec,
    store: ResultStore,
    *,
    executor=None,
    runner: Ref | None = None,
    validator: Ref | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_result: Callable[[dict], None] | None = None,
    fail_fast: bool = False,
) -> SweepReport:
    """Run the missing (point, seed) pairs of ``spec`` and append them to ``store``.

    ``on_start(n_todo, n_done)`` is called once before running, ``on_result(row)``
    after each stored row (progress bars). A failing run is reported in the
    returned ``failures`` and not stored (a later resume retries it); with
    ``fail_fast`` the first failure is raised instead.
    """
    runner = runner if runner is not None else default_runner()
    validator = validator if validator is not None else default_validator()
    validate_points(spec, validator)
    todo, done = pending_tasks(spec, store, runner=runner)
    if on_start is not None:
        on_start(len(todo), done)
    executor = executor if executor is not None else SerialExecutor()
    failures: list[SweepFailure] = []
    ran = 0
    if todo:
        for task, result, error in executor.run(execute_task, todo):
            if error is not None:
                if fail_fast:
                    raise error
                failures.append(_failure(task, error))
                continue
            row = make_row(
                trace=task.trace,
                device=task.device,
                mode=task.mode,
                overrides=task.overrides_dict,
                seed=task.seed,
                result=result,
            )
            store.append(row)
            ran += 1
            if on_result is not None:
                on_result(row)
    return SweepReport(
        total=len(spec.points) * len(spec.seeds),
        already_done=done,
        ran=ran,
        failures=tuple(failures),
    )


def raise_for_failures(report: SweepReport) -> None:
    """Turn failures into one error (exit 1; exit 2 if every failure was bad input)."""
    if not report.failures:
        return
    first = report.failures[0]
    text = (
        f"{len(report.failures)} of {report.total} runs failed and were not stored "
        f"(run the sweep again to retry them); first: point {first.task.overrides_dict} "
        f"seed {first.task.seed}: {first.message}"
    )
    if all(f.bad_input for f in report.failures):
        raise ConfigError(text)
    raise RunFailure(text)
