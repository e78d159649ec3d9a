"""Read a TOML data file shipped with lifecircle or given by the user, with clear errors."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from lifecircle.errors import InputError, InputFileError


def read_toml(path: str | Path | None, packaged: str, what: str) -> tuple[dict[str, Any], str]:
    """``(data, source)``: the packaged file ``packaged`` when ``path`` is None."""
    if path is None:
        text = resources.files("lifecircle.data").joinpath(packaged).read_text("utf-8")
        source = f"lifecircle/data/{packaged}"
    else:
        p = Path(path)
        try:
            text = p.read_text("utf-8")
        except OSError as exc:
            raise InputFileError(
                f"{what} {p}: cannot be read ({exc.strerror or exc}); check the path"
            ) from exc
        source = str(p)
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{what} {source}: not valid TOML ({exc}); fix the syntax") from exc
