"""Positions grouped by key, CSR-style: the index the capacity search, the distance-field edit
and the workbench's incremental evaluation all use to find, for a set of keys (nodes, edges,
communities), every position that holds one of them without a Python loop."""

from __future__ import annotations

import numpy as np


def index_by(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR-like index of ``keys`` (integers in 0..n-1): ``order`` sorts the positions by key
    (stable) and ``ptr[k]:ptr[k+1]`` is the slice of ``order`` holding key ``k``."""
    order = np.argsort(keys, kind="stable")
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=ptr[1:])
    return order, ptr


def slices(ptr: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The concatenated ranges ``ptr[k]:ptr[k+1]`` for each of ``keys``, in their order (with
    repeats): the positions in what ``ptr`` indexes (a CSR matrix's ``indices``, or the
    ``order`` of :func:`index_by`)."""
    start, stop = ptr[keys], ptr[keys + 1]
    lengths = stop - start
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    return np.repeat(start - np.cumsum(lengths) + lengths, lengths) + np.arange(total)
