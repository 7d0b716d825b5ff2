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
def test_two_dask_workers_give_the_same_results():
    out = list(run_tasks(_square_or_fail, [1, 2, 3, 4, 5], workers=2, show_progress=False))
    good = sorted(r for r in out if not isinstance(r, TaskFailure))
    bad = [r for r in out if isinstance(r, TaskFailure)]
    assert good == [1, 4, 16, 25]
    assert len(bad) == 1 and bad[0].task == 3


def test_bad_worker_count():
    with pytest.raises(ConfigError, match="workers must be >= 1"):
        list(run_tasks(_square_or_fail, [1], workers=0))
