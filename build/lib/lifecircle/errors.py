"""Exception hierarchy.

Every class derives from :class:`LifecircleError` and from the built-in it refines, so callers can
catch either. Messages name the input, the problem and the fix.
"""

from __future__ import annotations


class LifecircleError(Exception):
    """Base class of every error raised by lifecircle."""


class InputError(LifecircleError, ValueError):
    """An input (file, option, preset) is missing, unreadable or invalid. The CLI exits with 2."""


class InputFileError(InputError, OSError):
    """An input file does not exist or cannot be read."""


class CRSError(InputError):
    """A layer has no coordinate reference system, or one that cannot be used."""


class NoNetworkError(InputError):
    """The OpenStreetMap input holds no walkable ways in the analysis area."""


class AnalysisError(LifecircleError, RuntimeError):
    """The analysis could not be completed although the inputs were valid. The CLI exits with 1."""


class OutputError(InputError, OSError):
    """An output folder cannot be written (full disk, read-only, no permission) or would hold an
    input of the run or a file lifecircle did not write. The CLI exits with 2."""
