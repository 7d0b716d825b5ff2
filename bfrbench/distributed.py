"""The one place that knows dask.

``run_tasks`` runs a picklable top-level function over a list of tasks:

* ``workers <= 1`` and no scheduler: in this process, in order (no dask import at all);
* ``workers = N``: a ``dask.distributed.LocalCluster`` with N single-threaded worker processes;
* ``scheduler = "tcp://host:8786"``: an existing cluster (users' multi-machine / multi-GPU setups).

Results are yielded as tasks finish (callers sort by id; outputs never depend on completion order).
A task that raises is yielded as a :class:`TaskFailure` instead of stopping the run.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bfrbench.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["TaskFailure", "run_tasks", "progress"]


@dataclass(frozen=True)
class TaskFailure:
    """A task that raised; ``error`` is a one-line message, ``detail`` the traceback text."""

    task: Any
    error: str
    detail: str = ""


def progress(iterable: Any, *, total: int | None = None, desc: str = "", enabled: bool | None = None) -> Any:
    """tqdm progress bar on stderr (disabled when BFRBENCH_PROGRESS=0 or not requested)."""
    if enabled is None:
        enabled = os.environ.get("BFRBENCH_PROGRESS", "1") != "0"
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, leave=False, dynamic_ncols=True)


def _call(fn: Callable[[T], R], task: T) -> R | TaskFailure:
    try:
        return fn(task)
    except Exception as exc:  # reported, never lost
        return TaskFailure(task=task, error=f"{type(exc).__name__}: {exc}", detail=traceback.format_exc())


def _call_chunk(fn: Callable[[T], R], chunk: Sequence[T]) -> list[R | TaskFailure]:
    return [_call(fn, task) for task in chunk]


def _chunk_size(chunk_size: int | str | None, n_tasks: int, n_workers: int) -> int:
    """Tasks per dask future: ``"auto"`` aims at >= 4 futures per worker and at most 16 tasks per future."""
    if chunk_size is None:
        return 1
    if chunk_size == "auto":
        return max(1, min(16, n_tasks // (4 * max(1, n_workers))))
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be a positive integer, 'auto' or None, got {chunk_size!r}")
    return chunk_size


def run_tasks(
    fn: Callable[[T], R],
    tasks: Sequence[T],
    *,
    workers: int = 1,
    scheduler: str | None = None,
    desc: str = "",
    show_progress: bool | None = None,
    chunk_size: int | str | None = None,
) -> Iterator[R | TaskFailure]:
    """Run ``fn(task)`` for every task and yield results (or :class:`TaskFailure`) as they finish.

    ``chunk_size`` (dask only): run that many tasks per dask future (``"auto"``: enough futures for about
    4 per worker, at most 16 tasks each). Small tasks (tens of ms) otherwise spend a noticeable share of
    the 2 cores on scheduling; results are still yielded one per task.
    """
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    _chunk_size(chunk_size, 1, 1)  # validate before any work
    tasks = list(tasks)
    if not tasks:
        return
    if scheduler is None and workers == 1:
        for task in progress(tasks, total=len(tasks), desc=desc, enabled=show_progress):
            yield _call(fn, task)
        return

    import dask
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler is None:
        # dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 in workers, which turns off glibc's adaptive mmap
        # threshold: every multi-megabyte image array becomes a fresh mmap (measured 31 -> 52 ms CPU per
        # 512x512 degradation). Outputs are unaffected; only speed.
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout=30)
        except OSError as exc:
            raise ConfigError(f"cannot connect to dask scheduler {scheduler!r}: {exc}") from exc
    try:
        n_workers = workers if cluster is not None else max(1, sum(client.nthreads().values()))
        size = _chunk_size(chunk_size, len(tasks), n_workers)
        if size == 1:
            futures = client.map(_call, [fn] * len(tasks), tasks, pure=False)
            for fut in progress(as_completed(futures), total=len(futures), desc=desc, enabled=show_progress):
                yield fut.result()
            return
        chunks = [tasks[i:i + size] for i in range(0, len(tasks), size)]
        futures = client.map(_call_chunk, [fn] * len(chunks), chunks, pure=False)
        bar = progress(None, total=len(tasks), desc=desc, enabled=show_progress)  # a tqdm bar, or None if off
        for fut in as_completed(futures):
            results = fut.result()
            if bar is not None:
                bar.update(len(results))
            yield from results
        if bar is not None:
            bar.close()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
