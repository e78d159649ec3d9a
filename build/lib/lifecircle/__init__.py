"""lifecircle: measure 15-minute community life circles on OpenStreetMap walking networks.

The Python API::

    from lifecircle import Inputs, Study, analyze, make_settings

    settings = make_settings("shanghai")
    result = analyze(Inputs(osm="huangpu.osm.pbf", communities="communities.gpkg"), settings)
    result.coverage          # the table of coverage.csv

    study = Study.from_inputs(Inputs(osm="huangpu.osm.pbf"), settings)
    after = study.with_facilities(remove=["osm:node/123"]).coverage()

Importing the package only defines things: no logging set-up, no file access. The engine's
modules (geopandas, scipy …) load on first use of a name below, so the command line starts fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from lifecircle.errors import (
    AnalysisError,
    CRSError,
    InputError,
    InputFileError,
    LifecircleError,
    NoNetworkError,
)

__version__ = "0.1.0"

# public name -> the module that defines it
_LAZY = {
    "Inputs": "lifecircle.inputs",
    "Prepared": "lifecircle.inputs",
    "Settings": "lifecircle.config",
    "Preset": "lifecircle.config",
    "PRESETS": "lifecircle.config",
    "make_settings": "lifecircle.config",
    "load_preset": "lifecircle.config",
    "Result": "lifecircle.result",
    "Study": "lifecircle.study",
    "analyze": "lifecircle.pipeline",
    "analyze_prepared": "lifecircle.pipeline",
    "prepare": "lifecircle.pipeline",
    "Presentation": "lifecircle.render.options",
    "write_outputs": "lifecircle.outputs",
    "read_communities": "lifecircle.sources.boundaries",
    "read_area": "lifecircle.sources.boundaries",
    "read_facilities_file": "lifecircle.sources.facilities",
    "residents_from_points": "lifecircle.sources.population",
    "residents_from_raster": "lifecircle.sources.population",
    "read_osm": "lifecircle.sources.osm",
    "load_taxonomy": "lifecircle.categories",
}

__all__ = [
    "PRESETS",
    "AnalysisError",
    "CRSError",
    "InputError",
    "InputFileError",
    "Inputs",
    "LifecircleError",
    "NoNetworkError",
    "Prepared",
    "Presentation",
    "Preset",
    "Result",
    "Settings",
    "Study",
    "__version__",
    "analyze",
    "analyze_prepared",
    "load_preset",
    "load_taxonomy",
    "make_settings",
    "prepare",
    "read_area",
    "read_communities",
    "read_facilities_file",
    "read_osm",
    "residents_from_points",
    "residents_from_raster",
    "write_outputs",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lifecircle' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from lifecircle.categories import load_taxonomy
    from lifecircle.config import PRESETS, Preset, Settings, load_preset, make_settings
    from lifecircle.inputs import Inputs, Prepared
    from lifecircle.outputs import write_outputs
    from lifecircle.pipeline import analyze, analyze_prepared, prepare
    from lifecircle.render.options import Presentation
    from lifecircle.result import Result
    from lifecircle.sources.boundaries import read_area, read_communities
    from lifecircle.sources.facilities import read_facilities_file
    from lifecircle.sources.osm import read_osm
    from lifecircle.sources.population import residents_from_points, residents_from_raster
    from lifecircle.study import Study
