"""Read a TOML data file shipped with lifecircle or given by the user, with clear errors."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from lifecircle.errors import InputError, InputFileError


def read_toml(path: str | Path | None, packaged: str, what: str) -> tuple[dict[str, Any], str]:
    """``(data, source)``: the packaged file ``packaged`` when ``path`` is None.

    A user's file that cannot be read, is not UTF-8 text (a binary file, a file saved in another
    encoding) or is not valid TOML is refused with an :class:`InputError` naming it.
    """
    if path is None:
        text = resources.files("lifecircle.data").joinpath(packaged).read_text("utf-8")
        source = f"lifecircle/data/{packaged}"
    else:
        p = Path(path)
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise InputFileError(
                f"{what} {p}: cannot be read ({exc.strerror or exc}); check the path"
            ) from exc
        source = str(p)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{what} {source}: not a text file in UTF-8 (byte {exc.start} cannot be decoded); "
                "give a TOML file saved as UTF-8"
            ) from exc
        if "\x00" in text:
            raise InputError(
                f"{what} {source}: holds binary data (NUL bytes), not TOML text; give a TOML file"
            )
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{what} {source}: not valid TOML ({exc}); fix the syntax") from exc
