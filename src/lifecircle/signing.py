"""Sign the files that lifecircle unpickles, so that it only ever loads its own.

A saved study (``study_cache.pickle``) is a Python pickle, and loading a pickle can run any code
it names. An output folder is often shared, received by e-mail or unpacked from an archive, and
its marker (``.lifecircle-outputs.json``) is a plain file anyone can edit, so neither the folder
nor the marker can say that a pickle is lifecircle's. A secret of the user's can: every study is
written with an HMAC-SHA256 of its bytes under a 32-byte key kept in the user's configuration
folder, and a study is unpickled only when its HMAC checks under that key. A study made by
someone else (another user, another machine, or a hand-made file) is refused before unpickling,
and the command builds the study afresh.

The key lives in ``$LIFECIRCLE_SECRET_FILE`` when that is set, else in
``$XDG_CONFIG_HOME/lifecircle/study-secret`` (``~/.config/lifecircle/study-secret``); it is
created on first use, readable by its owner only.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lifecircle.errors import InputError, OutputError

MAGIC = b"LIFECIRCLE-SIGNED-1\n"
_MAC_HEX = 64  # hex digits of an HMAC-SHA256


def secret_path() -> Path:
    """Where this user's secret is kept."""
    given = os.environ.get("LIFECIRCLE_SECRET_FILE")
    if given:
        return Path(given)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "lifecircle" / "study-secret"


def user_secret(*, create: bool) -> bytes | None:
    """This user's secret; made now when ``create`` and there is none (else ``None``).

    Raises
    ------
    OutputError
        When the secret must be made and cannot be written.
    """
    path = secret_path()
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = None
    except OSError:
        return None
    if key is not None:
        if len(key) < 32:
            raise OutputError(
                f"{path}: the secret that signs saved studies is damaged ({len(key)} bytes); "
                "delete the file and lifecircle makes a new one (saved studies are then built "
                "afresh)"
            )
        return key
    if not create:
        return None
    return _new_secret(path)


def _new_secret(path: Path) -> bytes:
    """Make the secret whole in a private temporary file, then link it into place: another run
    never reads half of it, and the first of two runs making one at once wins."""
    key = secrets.token_bytes(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another run made it meanwhile: use theirs
            key = path.read_bytes()
        finally:
            tmp.unlink()
    except OSError as exc:
        raise OutputError(
            f"{path}: cannot keep the secret that signs saved studies ({exc.strerror or exc}); "
            "set LIFECIRCLE_SECRET_FILE to a writable file"
        ) from exc
    return key


def _mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).hexdigest().encode()


def signed(data: bytes) -> bytes:
    """``data`` with this user's signature in front (the secret is made if need be)."""
    return MAGIC + _mac(_signing_key(), data) + b"\n" + data


def write_signed(path: Path, dump: Callable[[Any], object]) -> None:
    """Write to ``path`` what :func:`signed` makes of the bytes ``dump`` writes to the file-like
    object it is given, without holding them all in memory (a study of a large area is
    hundreds of MB): the signature is computed as they are written and put in front at the
    end."""
    mac = hmac.new(_signing_key(), digestmod=hashlib.sha256)
    with open(path, "wb") as fh:
        fh.write(b"\0" * (len(MAGIC) + _MAC_HEX + 1))  # the signature's place

        class _Signing:
            def write(self, chunk: Any) -> int:
                mac.update(chunk)
                return fh.write(chunk)

        dump(_Signing())
        fh.seek(0)
        fh.write(MAGIC + mac.hexdigest().encode() + b"\n")


def _signing_key() -> bytes:
    key = user_secret(create=True)
    if key is None:  # the file exists but cannot be read
        raise OutputError(
            f"{secret_path()}: cannot read the secret that signs saved studies; set "
            "LIFECIRCLE_SECRET_FILE to a file of yours"
        )
    return key


def verified(blob: bytes, source: Path) -> bytes:
    """The data of a file written by :func:`signed` with this user's secret.

    Raises
    ------
    InputError
        When ``blob`` is not signed, or not with this user's secret (it is then never to be
        unpickled).
    """
    head = len(MAGIC) + _MAC_HEX + 1
    if not blob.startswith(MAGIC) or len(blob) < head or blob[head - 1 : head] != b"\n":
        raise InputError(
            f"{source}: not a study saved by this lifecircle (no signature); it is not loaded. "
            "Rerun lifecircle analyze"
        )
    data = blob[head:]
    key = user_secret(create=False)
    if key is None or not hmac.compare_digest(blob[len(MAGIC) : head - 1], _mac(key, data)):
        raise InputError(
            f"{source}: its signature does not match your secret: it was damaged (cut short or "
            "changed) since it was saved, or made by someone else or on another machine; it is "
            "not loaded, since a file from elsewhere could run code. Rerun lifecircle analyze "
            "to build it afresh"
        )
    return data
