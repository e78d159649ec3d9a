"""lifecircle: measure 15-minute community life circles on OpenStreetMap walking networks.

Importing the package only defines things: no logging set-up, no file access.
"""

from lifecircle.errors import AnalysisError, InputError, LifecircleError

__version__ = "0.1.0"

__all__ = ["AnalysisError", "InputError", "LifecircleError", "__version__"]
