"""How results are shown, kept apart from what they are: the language of labels, the basemap
and whether the map's scripts are inlined. Changing these never changes a table."""

from __future__ import annotations

from dataclasses import dataclass

from lifecircle.errors import InputError
from lifecircle.render.maps import basemap

LANGS = ("zh", "en")


@dataclass(frozen=True)
class Presentation:
    """Presentation options of the maps, spreadsheet, figures and report.

    Parameters
    ----------
    lang
        ``zh`` or ``en``: labels of the map, spreadsheet, figures and report.
    tiles
        The basemap: ``osm``, ``none``, ``gaode`` or an xyzservices name.
    offline
        Inline the map's scripts so it opens with no network (the default; False links them
        from a CDN, ``--cdn``).

    Raises
    ------
    InputError
        When the language or the basemap is unknown.
    """

    lang: str = "zh"
    tiles: str = "osm"
    offline: bool = True

    def __post_init__(self) -> None:
        if self.lang not in LANGS:
            raise InputError(f"--lang must be zh or en; got {self.lang!r}")
        try:
            basemap(self.tiles)
        except ValueError as exc:
            raise InputError(str(exc)) from exc
