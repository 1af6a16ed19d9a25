"""Executors that run sweep tasks: in-process, local process pool, Dask distributed.

Every executor has one method, ``run(fn, tasks)``, yielding ``(task, result, error)``
as tasks finish (in any order); exactly one of ``result``/``error`` is None.
Results do not depend on the executor because each run is a pure function of its
task (docs/architecture.md §4); the sweep engine writes them to the store in the parent process.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from ..errors import ConfigError, RunFailure

__all__ = ["Executor", "SerialExecutor", "LocalExecutor", "DaskExecutor", "make_executor"]

Outcome = tuple[Any, Any, BaseException | None]


class Executor(Protocol):
    def run(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[Outcome]: ...

    def close(self) -> None: ...


class SerialExecutor:
    """Runs tasks one after another in this process (``--workers 1``)."""

    name = "serial"

    def run(self, fn, tasks):
        for task in tasks:
            try:
                yield task, fn(task), None
            except Exception as exc:  # noqa: BLE001 - reported per task
                yield task, None, exc

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


#: seconds between a worker's checks that its parent is still alive
PARENT_POLL_S = 0.25


def _exit_when_parent_dies(parent_pid: int) -> None:
    """Worker initializer: end this worker as soon as the sweep process is gone.

    Killing the sweep with SIGKILL gives it no chance to stop its pool, so each worker
    watches its parent itself: on Linux the kernel sends SIGKILL on the parent's death
    (``prctl(PR_SET_PDEATHSIG)``); everywhere a daemon thread polls ``os.getppid()``.
    With the workers gone, the multiprocessing resource tracker sees its pipe close
    and exits too.
    """
    import os
    import signal
    import sys
    import threading
    import time

    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: polling only
            pass
    if os.getppid() != parent_pid:  # the parent died before we got here
        os._exit(1)

    def watch():
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            time.sleep(PARENT_POLL_S)

    threading.Thread(target=watch, name="amssim-parent-watch", daemon=True).start()


class LocalExecutor:
    """A ``concurrent.futures.ProcessPoolExecutor`` with ``workers`` processes.

    Workers are started with the ``spawn`` method so they inherit no open files
    (the store's lock) and no threads from the parent, and they exit by themselves
    when the parent process dies, even by SIGKILL (:func:`_exit_when_parent_dies`).
    """

    name = "local"

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self.workers = workers
        self._pool = cf.ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_exit_when_parent_dies,
            initargs=(os.getpid(),),
        )

    def run(self, fn, tasks):
        futures = {self._pool.submit(fn, t): t for t in tasks}
        try:
            for fut in cf.as_completed(futures):
                task = futures.pop(fut)
                try:
                    yield task, fut.result(), None
                except cf.process.BrokenProcessPool as exc:
                    raise RunFailure(f"a sweep worker process died: {exc}") from exc
                except Exception as exc:  # noqa: BLE001
                    yield task, None, exc
        finally:
            for fut in futures:
                fut.cancel()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class DaskExecutor:
    """Dask distributed: a running scheduler at ``scheduler`` or a new LocalCluster.

    ``processes=False`` runs the LocalCluster's workers as threads of this process
    (light; used by the tests). An unreachable scheduler raises ConfigError.
    """

    name = "dask"

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        workers: int = 2,
        processes: bool = True,
        connect_timeout_s: float = 10.0,
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ConfigError(
                "--executor dask needs the dask extra: pip install 'amssim[dask]' "
                f"({exc})"
            ) from None
        if workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self._cluster = None
        if scheduler:
            _check_scheduler_address(scheduler)
            if not (connect_timeout_s > 0 and connect_timeout_s < 1e6):
                raise ConfigError(f"--connect-timeout {connect_timeout_s!r}: must be a positive number of "
                                  "seconds")
            try:
                with _quiet_unraisable():
                    self._client = Client(scheduler, timeout=f"{connect_timeout_s}s", set_as_default=False)
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise ConfigError(
                    f"--scheduler {scheduler!r}: cannot reach the Dask scheduler "
                    f"within {connect_timeout_s:g} s ({type(exc).__name__}: {exc})"
                ) from exc
        else:
            self._cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=processes,
                dashboard_address=None,
            )
            self._client = Client(self._cluster, set_as_default=False)

    def run(self, fn, tasks):
        from distributed import as_completed

        tasks = list(tasks)
        futures = [self._client.submit(fn, t, pure=False) for t in tasks]
        by_key = {f.key: t for f, t in zip(futures, tasks)}
        pending = set(by_key)
        try:
            with self._client.as_current():
                completed = as_completed(futures)
            for fut in completed:
                task = by_key[fut.key]
                pending.discard(fut.key)
                try:
                    yield task, fut.result(), None
                except Exception as exc:  # noqa: BLE001
                    yield task, None, exc
        finally:
            if pending:
                self._client.cancel([f for f in futures if f.key in pending])

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")


def _check_scheduler_address(addr: str) -> None:
    """A malformed ``--scheduler`` is bad input: refuse it before dask parses it noisily."""
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, loc = parse_address(addr, strict=False)
        if scheme not in _SCHEMES:
            raise ValueError(f"scheme {scheme!r} is not one of {', '.join(_SCHEMES)}")
        host, port = parse_host_port(loc)
        if not host or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError("needs a host and a port in 1..65535")
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"--scheduler {addr!r}: not a Dask scheduler address like "
                          f"tcp://HOST:PORT ({exc})") from exc


class _quiet_unraisable:
    """A Client whose constructor failed prints a traceback from ``__del__`` when it is
    garbage collected; collect it here with that report silenced."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        import gc
        import sys

        if exc[0] is not None:
            hook = sys.unraisablehook
            sys.unraisablehook = lambda *_: None
            try:
                gc.collect()
            finally:
                sys.unraisablehook = hook
        return False


def make_executor(
    kind: str,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    dask_processes: bool = True,
    connect_timeout_s: float = 10.0,
):
    """Build the executor for ``--executor KIND``."""
    if kind == "local":
        if scheduler:
            raise ConfigError("--scheduler is only used with --executor dask")
        return SerialExecutor() if workers == 1 else LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(
            scheduler, workers=workers, processes=dask_processes, connect_timeout_s=connect_timeout_s
        )
    raise ConfigError(f"--executor {kind!r}: expected 'local' or 'dask'")
