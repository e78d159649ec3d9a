"""Work spread over forked workers gives what the plain loop gives, in order."""

from __future__ import annotations

import multiprocessing as mp
import os

import numpy as np
import pytest

from lifecircle.forked import forked_map

needs_fork = pytest.mark.skipif(
    "fork" not in mp.get_all_start_methods(), reason="this platform cannot fork"
)


@needs_fork
def test_workers_see_the_parents_state_and_keep_the_order():
    big = np.arange(1_000)  # reached through the closure, never pickled
    items = list(range(7))
    got = forked_map(lambda i: (i, int(big[i * 10]), os.getpid()), items, processes=2)
    assert [g[:2] for g in got] == [(i, i * 10) for i in items]
    assert any(g[2] != os.getpid() for g in got)  # done in workers


def test_one_process_runs_here():
    got = forked_map(lambda i: (i * i, os.getpid()), [1, 2, 3], processes=1)
    assert got == [(1, os.getpid()), (4, os.getpid()), (9, os.getpid())]
    assert forked_map(lambda i: i, [], processes=4) == []


@needs_fork
def test_an_error_in_a_worker_reaches_the_caller():
    def boom(i: int) -> int:
        if i == 2:
            raise ValueError("item 2")
        return i

    with pytest.raises(ValueError, match="item 2"):
        forked_map(boom, [1, 2, 3], processes=2)


@needs_fork
def test_the_parents_objects_are_left_out_of_the_workers_collections_only_meanwhile():
    import gc

    def frozen(_i: int) -> int:
        return gc.get_freeze_count()

    assert gc.get_freeze_count() == 0
    assert all(n > 0 for n in forked_map(frozen, [1, 2], processes=2))
    assert gc.get_freeze_count() == 0  # the parent collects them again afterwards
    with pytest.raises(ValueError):
        forked_map(lambda i: 1 // 0 if i else int("x"), [0, 1], processes=2)
    assert gc.get_freeze_count() == 0


@needs_fork
def test_an_output_error_in_a_worker_reaches_the_caller_whole_under_tblib():
    """dask installs tblib's exception pickling, which cannot re-create ``OutputError`` (an
    ``InputError`` and an ``OSError``): the pool broke and the message was lost. The worker now
    sends the class, arguments and text, and the caller raises the same error."""
    import tblib.pickling_support

    from lifecircle.errors import OutputError
    from lifecircle.forked import WorkerTraceback

    tblib.pickling_support.install()

    def task(x: int) -> int:
        if x == 2:
            raise OutputError("out/map.html: the disk is full; free space and run again")
        return x

    with pytest.raises(OutputError, match="the disk is full") as info:
        forked_map(task, [1, 2, 3], processes=2)
    assert isinstance(info.value.__cause__, WorkerTraceback)
    assert "raise OutputError" in str(info.value.__cause__)
