import pytest

from bfrbench.distributed import TaskFailure, run_tasks
from bfrbench.errors import ConfigError


def _square_or_fail(x: int) -> int:
    if x == 3:
        raise ValueError("three is bad")
    return x * x


def test_in_process_reports_failures_without_stopping():
    out = list(run_tasks(_square_or_fail, [1, 2, 3, 4], show_progress=False))
    assert out[:2] == [1, 4] and out[3] == 16
    assert isinstance(out[2], TaskFailure) and out[2].task == 3 and "three is bad" in out[2].error


@pytest.mark.slow
@pytest.mark.parametrize("chunk_size", [None, 2])
def test_two_dask_workers_give_the_same_results(chunk_size):
    out = list(run_tasks(_square_or_fail, [1, 2, 3, 4, 5], workers=2, show_progress=False, chunk_size=chunk_size))
    good = sorted(r for r in out if not isinstance(r, TaskFailure))
    bad = [r for r in out if isinstance(r, TaskFailure)]
    assert good == [1, 4, 16, 25]  # one result per task, also when tasks travel in chunks
    assert len(bad) == 1 and bad[0].task == 3


def test_chunk_size_rules():
    from bfrbench.distributed import _chunk_size

    assert _chunk_size(None, 1000, 2) == 1 and _chunk_size(5, 1000, 2) == 5
    assert _chunk_size("auto", 48, 2) == 6 and _chunk_size("auto", 10_000, 2) == 16 and _chunk_size("auto", 3, 2) == 1
    with pytest.raises(ConfigError, match="chunk_size"):
        list(run_tasks(_square_or_fail, [1], chunk_size=0))


def test_bad_worker_count():
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        list(run_tasks(_square_or_fail, [1], workers=0))
