"""Run one area end to end: read → define the area → build the walk network → site facilities
→ place residents → route → coverage tables → summary.

Pure orchestration over the stages of :mod:`lifecircle.prepare`, :mod:`lifecircle.area`,
:mod:`lifecircle.placement`, :mod:`lifecircle.study` and :mod:`lifecircle.tables`; no CLI concerns
and no file writing (see :mod:`lifecircle.outputs`).
"""

from __future__ import annotations

from lifecircle.config import Settings
from lifecircle.inputs import Inputs, Prepared
from lifecircle.prepare import prepare, read_user_communities, read_user_facilities
from lifecircle.result import Result
from lifecircle.study import Study
from lifecircle.timing import Display, Progress, Stopwatch

__all__ = [
    "Inputs",
    "Prepared",
    "Result",
    "analyze",
    "analyze_prepared",
    "prepare",
    "read_user_communities",
    "read_user_facilities",
]


def analyze(
    inputs: Inputs, settings: Settings, *, progress: Progress | Display | None = None
) -> Result:
    """Analyse one area end to end.

    Parameters
    ----------
    inputs
        The data sources: exactly one of ``osm`` and ``place``, and any of communities,
        population and facility lists.
    settings
        Preset, target and engine options (:func:`lifecircle.make_settings`).
    progress
        Shows the stages as they run: a :class:`~lifecircle.timing.Display`, or a callable
        told a short description at the start of each stage.

    Returns
    -------
    Result
        The tables and layers that ``lifecircle analyze`` writes.

    Raises
    ------
    InputError
        When an input is missing, unreadable or invalid.

    Examples
    --------
    >>> from lifecircle import Inputs, analyze, make_settings
    >>> result = analyze(Inputs(osm="helsinki.osm.pbf"), make_settings())  # doctest: +SKIP
    >>> result.summary["complete_life_circle"]["coverage"]  # doctest: +SKIP
    """
    return Study.from_inputs(inputs, settings, progress=progress).coverage(progress=progress)


def analyze_prepared(
    prepared: Prepared,
    settings: Settings,
    *,
    inputs: Inputs,
    progress: Progress | Display | None = None,
    refuse_if_outside: bool = True,
) -> Result:
    """Analyse one area whose inputs are already read (:func:`prepare`, or the batch runner).

    ``inputs`` names the sources for the record and carries the options; nothing is read
    from it except a population raster, which is read over the area.
    """
    study = Study.from_prepared(
        prepared,
        settings,
        inputs=inputs,
        clock=Stopwatch(progress),
        refuse_if_outside=refuse_if_outside,
    )
    return study.coverage(progress=progress)
