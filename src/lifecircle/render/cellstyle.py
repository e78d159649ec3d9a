"""Cell styles of a workbook set once per kind of cell and copied to the others.

openpyxl looks every style object up in the workbook's style tables by hashing it, field by
field, each time a cell is given one: for the thousands of cells of ``tasks.xlsx`` and
``coverage.xlsx`` of a large area that was most of the time spent writing them. A cell's styles
are only indices into those tables, so a cell that starts from the same styles and is given the
same named style ends with the same indices: :func:`styled` sets them the usual way the first
time and copies the indices afterwards. The workbook, its tables and their order are exactly
those of setting every cell one by one.
"""

from __future__ import annotations

from copy import copy
from typing import Any
from weakref import WeakKeyDictionary

from openpyxl.cell.cell import Cell
from openpyxl.styles.cell_style import StyleArray

_DONE: WeakKeyDictionary[Any, dict[tuple[Any, ...], StyleArray]] = WeakKeyDictionary()


def styled(cell: Cell, name: str, **attrs: Any) -> Cell:
    """Set ``attrs`` (``fill=…``, ``number_format=…``, …) on ``cell``, as ``setattr`` in their
    order would; ``name`` must stand for the same ``attrs`` on every call for a workbook.

    Returns ``cell``.
    """
    done = _DONE.setdefault(cell.parent.parent, {})
    start = cell._style
    key = (name, None if start is None else tuple(start))
    hit = done.get(key)
    if hit is None:
        for attr, value in attrs.items():
            setattr(cell, attr, value)
        done[key] = copy(cell._style)
    else:
        cell._style = copy(hit)
    return cell
