"""Every file lifecircle writes goes through here: whole or not at all, and never over a file of
the user's.

- :func:`atomic_write` (and :func:`write_text`, :func:`write_json`) writes one file: into a
  private temporary folder beside it, then ``os.replace`` — a reader sees the old file or the new
  one, never half of one, and a failure leaves the old file as it was. The file gets the
  permissions a plainly created file gets under the umask (``0o644`` under ``umask 022``).
- :func:`replace_outputs` replaces the outputs a run owns in a folder (``--out``). The new files
  are built in a temporary folder inside it; only then are the previous outputs moved aside, the
  new ones moved in and the previous ones deleted. The folder's marker
  (:data:`MARKER`, ``.lifecircle-outputs.json``) lists what the last run wrote; only those files
  are ever replaced or deleted, any other file is left alone. A folder holding an input of the
  run is refused. If the process dies while moving files, the next run puts the previous
  outputs back first (the moves are journaled).
- :func:`new_folder` builds a folder (a cache entry) beside its final place and renames it in.

Errors of the file system (full disk, read-only, no permission) become :class:`OutputError`,
naming the folder, the problem and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from lifecircle.errors import OutputError

log = logging.getLogger(__name__)

T = TypeVar("T")

MARKER = ".lifecircle-outputs.json"
TMP_PREFIX = ".lifecircle-tmp-"  # a folder being built (removed by the next run if left over)
OLD_PREFIX = ".lifecircle-old-"  # previous outputs moved aside while the new ones move in
LOW_SPACE_BYTES = 16 << 20  # after a failed write, less free space than this means a full disk

_FULL = "free some space on that disk, or choose a folder on another disk"
_UNWRITABLE = "choose a folder you can write to"
REASONS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("the disk is full", _FULL),
    errno.EDQUOT: ("the disk quota is used up", _FULL),
    errno.EFBIG: ("a file is too large for the file system", "choose a folder on another disk"),
    errno.EROFS: ("the file system is read-only", _UNWRITABLE),
    errno.EACCES: ("permission denied", _UNWRITABLE),
    errno.EPERM: ("the operation is not permitted", _UNWRITABLE),
    errno.ENAMETOOLONG: ("a file name is too long", "choose a shorter path"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "choose another path"),
}


# ---- permissions and errors -------------------------------------------------------------------


def umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode(*, folder: bool = False) -> int:
    """The permissions a plainly created file (or folder) gets under the current umask."""
    return (0o777 if folder else 0o666) & ~umask()


def _errno(exc: BaseException, probe: Path | None) -> int | None:
    """The file-system error behind ``exc``, if it is one lifecircle explains; ``probe`` is a
    folder whose free space tells a full disk behind a library's own error (GDAL says only
    "Failed to commit transaction")."""
    code = getattr(exc, "errno", None)
    if isinstance(exc, OSError) and code in REASONS:
        return code
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, OSError) and cause is not exc and cause.errno in REASONS:
        return cause.errno
    if probe is not None and isinstance(exc, Exception):
        with contextlib.suppress(OSError):
            if shutil.disk_usage(probe).free < LOW_SPACE_BYTES:
                return errno.ENOSPC
    return None


def output_error(
    exc: BaseException, subject: str, *, what: str = "there", probe: Path | None = None
) -> OutputError | None:
    """``exc`` explained as an :class:`OutputError` about ``subject`` (for example
    ``"--out results"``) and ``what`` could not be written in it, or ``None`` when it is not a
    file-system error lifecircle explains."""
    code = _errno(exc, probe)
    if code is None:
        return None
    reason, fix = REASONS[code]
    detail = next(
        (e.strerror for e in (exc, exc.__cause__) if isinstance(e, OSError) and e.strerror),
        f"{type(exc).__name__}: {exc}",
    )
    if len(detail) > 160:  # GDAL quotes whole SQL statements
        detail = detail[:157] + "…"
    err = OutputError(f"{subject}: cannot write {what}: {reason} ({detail}); {fix}")
    err.errno = code
    return err


@contextlib.contextmanager
def explained(subject: str) -> Iterator[None]:
    """Turn a file-system error of the block into an :class:`OutputError` about ``subject``
    (also one already explained about a file inside it; refusals pass unchanged)."""
    try:
        yield
    except OSError as exc:
        refused = isinstance(exc, OutputError) and exc.errno is None
        err = None if refused else output_error(exc, subject)
        if err is None:
            raise
        raise err from exc


# ---- one file ---------------------------------------------------------------------------------


def atomic_write(path: Path, write: Callable[[Path], T]) -> T:
    """Write ``path`` whole or not at all; ``write`` is given the path to write to.

    ``write`` writes a file of the same name in a private temporary folder beside ``path``
    (libraries that infer the format from the suffix see the real one); the file then gets the
    permissions a plainly created file gets under the umask and replaces ``path`` in one rename.
    On any failure the temporary folder is removed and ``path`` is left as it was.

    Parameters
    ----------
    path
        The file to write.
    write
        Called with the temporary path; its return value is returned.

    Raises
    ------
    OutputError
        The folder cannot be written (full disk, read-only, no permission).
    """
    path = Path(path)
    with explained(f"{path.parent}"):
        tmpdir = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=path.parent))
    try:
        tmp = tmpdir / path.name
        value = write(tmp)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException as exc:
        err = (
            None
            if isinstance(exc, OutputError)
            else output_error(exc, f"{path.parent}", what=path.name, probe=tmpdir)
        )
        shutil.rmtree(tmpdir, ignore_errors=True)
        if err is not None:
            raise err from exc
        raise
    shutil.rmtree(tmpdir, ignore_errors=True)
    return value


def write_text(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda p: p.write_text(text, encoding=encoding))
    return path


def write_json(path: Path, data: Any) -> Path:
    """Write ``data`` as indented UTF-8 JSON to ``path`` atomically (see :func:`atomic_write`)."""
    return write_text(path, json.dumps(data, ensure_ascii=False, indent=2, default=str))


@contextlib.contextmanager
def new_folder(dest: Path) -> Iterator[Path]:
    """Build a folder that lifecircle owns whole (a cache entry) and rename it to ``dest``.

    Yields a temporary folder beside ``dest``; when the block ends, the folder is renamed to
    ``dest``. If ``dest`` appeared in the meantime (another run built the same entry), it is kept
    and the new one discarded. On a failure the temporary folder is removed.
    """
    with explained(f"{dest.parent}"):
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=dest.parent))
        tmp.chmod(file_mode(folder=True))
    try:
        yield tmp
        try:
            os.replace(tmp, dest)
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not dest.is_dir():
                raise
            log.debug("%s was built meanwhile by another run; keeping that one", dest)
    except BaseException as exc:
        err = (
            None
            if isinstance(exc, OutputError)
            else output_error(exc, f"{dest.parent}", what=dest.name, probe=tmp)
        )
        if err is not None:
            raise err from exc
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---- a run's outputs in a folder --------------------------------------------------------------


def _plain(name: object) -> bool:
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and "/" not in name
        and os.sep not in name
        and not name.startswith((TMP_PREFIX, OLD_PREFIX))
    )


def _ours(name: str) -> bool:
    """Entries lifecircle leaves while writing (removed or put back by the next run)."""
    return name.startswith((TMP_PREFIX, OLD_PREFIX))


def _json_dict(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def looks_like_old_run(out: Path) -> bool:
    """Whether ``out``, a folder without a marker, holds the outputs of a lifecircle version
    that wrote none: a ``summary.json`` that names lifecircle in its provenance, or a batch
    manifest. A folder that merely holds files named like outputs is the user's."""
    summary = _json_dict(out / "summary.json")
    if summary is not None:
        packages = (summary.get("provenance") or {}).get("packages") or {}
        if isinstance(packages, dict) and "lifecircle" in packages:
            return True
    manifest = _json_dict(out / "batch_manifest.json")
    return manifest is not None and isinstance(manifest.get("districts"), dict)


def owned_files(out: Path, *, legacy: Iterable[str] = ()) -> set[str]:
    """The files of ``out`` that lifecircle wrote and may replace: those its marker lists, or,
    in a folder that an older version wrote without a marker (:func:`looks_like_old_run`), the
    ``legacy`` output names. Nothing else is ever lifecircle's.

    Raises
    ------
    OutputError
        When the marker is there but is not the list lifecircle writes (emptied, cut short,
        edited): which files are lifecircle's is then unknown, and none may be replaced.
    """
    marker = out / MARKER
    if marker.is_file():
        data = _json_dict(marker)
        names = data.get("files") if data is not None else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise OutputError(
                f"{marker}: damaged (not the list of outputs lifecircle writes there), so which "
                "files in the folder are lifecircle's is unknown and none is replaced. Move your "
                f"own files out of {out} and delete {MARKER}, or choose another folder"
            )
        return {n for n in names if _plain(n)} | {MARKER}
    if not looks_like_old_run(out):
        return set()
    return {n for n in legacy if _plain(n)}


#: which command's outputs a folder holds, told by a file that only that command writes
_KINDS = (
    ("batch_manifest.json", "lifecircle batch"),
    ("sites.csv", "lifecircle site"),
    ("summary.json", "lifecircle analyze"),  # and scenario, which writes an analysis
)


def output_kind(names: Iterable[str]) -> str | None:
    """The command whose outputs ``names`` are (:data:`_KINDS`), or None when they tell none
    (a map or report rebuilt on its own)."""
    present = set(names)
    return next((kind for name, kind in _KINDS if name in present), None)


def check_same_kind(out: Path, owned: set[str], names: Iterable[str], subject: str) -> None:
    """Refuse to replace the outputs of another command: ``--overwrite`` replaces the earlier
    outputs of the run's own command, and another command's results would be lost (a site run
    into an analysis folder took its coverage tables and saved study with it)."""
    new, old = output_kind(names), output_kind(owned)
    if new is None or old is None or new == old:
        return
    present = sorted(n for n in owned - {MARKER} if (out / n).exists())
    listed = ", ".join(present[:6]) + (", …" if len(present) > 6 else "")
    raise OutputError(
        f"{subject}: holds the outputs of `{old}` ({listed}); --overwrite replaces only the "
        f"outputs of an earlier `{new}` run, and these would be lost. Choose another folder "
        f"for this run"
    )


def mark_written(out: Path, names: Iterable[str]) -> None:
    """Add ``names`` to the marker of ``out`` (files written one by one, as a batch writes its
    city files), so that a later run may replace them and nothing else."""
    data = _json_dict(out / MARKER) or {"format": 1, "run": "", "files": []}
    files = [n for n in data.get("files", []) if _plain(n)]
    data["files"] = sorted({*files, *(n for n in names if _plain(n))})
    write_json(out / MARKER, data)


def _inside(path: Path, folder: Path) -> bool:
    return folder == path or folder in path.parents


def _suggest(out: Path, inputs: list[Path]) -> Path:
    for name in ("results", "lifecircle-results", "lifecircle-out"):
        cand = out / name
        if not any(_inside(p, cand) for p in inputs):
            return cand
    return out / "lifecircle-results-2"


def probe_writable(out: Path, *, option: str = "--out") -> None:
    """Fail now, not after the analysis, if ``out`` (or the folder it would be created in)
    cannot be written."""
    probe = out
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        err = output_error(exc, f"{option} {out}")
        if err is not None:
            raise err from exc
        # any other refusal of the file system (a /proc or /sys folder, say): still a folder
        # the run cannot take, said before any work
        raise OutputError(
            f"{option} {out}: no file can be written in {probe} ({exc.strerror or exc}); "
            "choose another folder"
        ) from exc


def check_out_folder(
    out: Path,
    *,
    overwrite: bool,
    inputs: Iterable[tuple[str, Path]] = (),
    names: Iterable[str] = (),
    legacy: Iterable[str] = (),
    option: str = "--out",
) -> None:
    """Refuse an output folder that cannot take a run's outputs, before any work is done.

    Parameters
    ----------
    out
        The output folder; it need not exist.
    overwrite
        Whether a folder that is not empty may be written into (only the outputs a run wrote
        are then replaced).
    inputs
        ``(option, path)`` of every input file of the run: a folder holding one is refused.
    names
        The files the run will write: refused if one of them exists but was not written by
        lifecircle.
    legacy
        The output names of versions that wrote no marker.
    option
        How the folder is named in messages.

    Raises
    ------
    OutputError
        With the reason and what to do.
    """
    if out.exists() and not out.is_dir():
        raise OutputError(f"{option} {out}: exists and is not a folder; choose another path")
    folder = out.resolve()
    given = [(label, Path(p)) for label, p in inputs]
    resolved = [p.resolve() for _, p in given]
    for (label, p), r in zip(given, resolved, strict=True):
        if _inside(r, folder):
            raise OutputError(
                f"{option} {out}: holds the input {label} {p}; lifecircle never writes into a "
                f"folder that holds an input of the run. Choose another {option}, for example "
                f"{option} {_suggest(folder, resolved)}"
            )
    if not out.exists():
        probe_writable(out, option=option)
        return
    owned = owned_files(out, legacy=legacy)
    names = list(names)
    check_same_kind(out, owned, names, f"{option} {out}")  # before advising --overwrite
    entries = [e for e in out.iterdir() if not _ours(e.name)]
    if entries and not overwrite:
        raise OutputError(
            f"{option} {out}: the folder is not empty; pass --overwrite to replace the outputs "
            "of an earlier run in it (other files are kept), or choose another folder"
        )
    for name in names:
        if (out / name).exists() and name not in owned:
            raise OutputError(
                f"{option} {out}: holds {name}, which lifecircle did not write (its {MARKER} "
                "does not list it); move or rename that file, or choose another folder"
            )
    probe_writable(out, option=option)


@contextlib.contextmanager
def _locked(out: Path, option: str) -> Iterator[None]:
    """Hold an exclusive lock on the folder ``out`` (released when the process ends)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows)
        yield
        return
    with explained(f"{option} {out}"):
        fd = os.open(out, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(
                f"{option} {out}: another lifecircle run is writing into this folder; wait for "
                "it to finish, or choose another folder"
            ) from None
        except OSError:  # a file system without locks: go on unlocked
            log.debug("cannot lock %s", out)
        yield
    finally:
        os.close(fd)


def _make_dirs(out: Path) -> list[Path]:
    """Create ``out`` and missing parents; returns those created, innermost first."""
    created = []
    p = out
    while not p.exists() and p != p.parent:
        created.append(p)
        p = p.parent
    for d in reversed(created):
        d.mkdir(exist_ok=True)
    return created


def _rollback(out: Path, backup: Path) -> None:
    """Put the previous outputs kept in ``backup`` back, removing new files moved in."""
    try:
        journal = json.loads((backup / "journal.json").read_text("utf-8"))
    except (OSError, ValueError):
        journal = None  # nothing was moved before the journal was written
    if journal is not None:
        if (backup / "moved").exists():  # every previous output is in backup/files
            for name in journal.get("new", []):
                if _plain(name) and (out / name).is_file():
                    (out / name).unlink()
        files = backup / "files"
        if files.is_dir():
            for f in files.iterdir():
                os.replace(f, out / f.name)
    shutil.rmtree(backup, ignore_errors=True)


def recover(out: Path) -> None:
    """Finish what a run killed while writing into ``out`` left: remove its temporary folders
    and, if it died while moving files, put the previous outputs back."""
    try:
        entries = sorted(out.iterdir())
    except FileNotFoundError:
        return
    for e in entries:
        if e.name.startswith(TMP_PREFIX) and e.is_dir():
            shutil.rmtree(e, ignore_errors=True)
        elif e.name.startswith(OLD_PREFIX) and e.is_dir():
            try:
                run = json.loads((e / "journal.json").read_text("utf-8"))["run"]
                done = json.loads((out / MARKER).read_text("utf-8")).get("run") == run
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                done = False
            if done:  # it had finished moving the files in; only the cleanup was left
                shutil.rmtree(e, ignore_errors=True)
            else:
                log.warning("%s: putting back the outputs that an interrupted run moved", out)
                _rollback(out, e)


def _commit(out: Path, tmp: Path, new: list[str], old: list[str], run: str) -> None:
    """Move the previous outputs ``old`` aside, the new files ``new`` (the marker last) in from
    ``tmp``, then delete the previous ones; on any failure put everything back."""
    backup = Path(tempfile.mkdtemp(prefix=OLD_PREFIX, dir=out))
    try:
        write_json(backup / "journal.json", {"run": run, "new": new, "old": old})
        (backup / "files").mkdir()
        for name in old:
            p = out / name
            if os.path.islink(p) or p.is_file():  # a folder of that name is not ours
                os.replace(p, backup / "files" / name)
        (backup / "moved").touch()
        for name in new:
            os.replace(tmp / name, out / name)
    except BaseException:
        _rollback(out, backup)
        raise
    shutil.rmtree(backup, ignore_errors=True)


@contextlib.contextmanager
def staged_outputs(
    out: Path,
    *,
    overwrite: bool,
    inputs: Iterable[tuple[str, Path]] = (),
    legacy: Iterable[str] = (),
    update: bool = False,
    option: str = "--out",
) -> Iterator[Path]:
    """Write a run's outputs into the folder ``out``, replacing only those of an earlier run.

    Yields a temporary folder inside ``out`` to write the new files into (no subfolders);
    nothing in ``out`` changes until the block ends. Then the earlier run's outputs (as its
    marker lists them) are replaced by the new files and a new marker is written; every other
    file in ``out`` stays untouched. If the block fails or is interrupted, the temporary folder
    is removed and ``out`` is as it was (and removed again if this call created it).

    Parameters
    ----------
    out
        The output folder; created if missing.
    overwrite
        Whether a folder that is not empty may be written into.
    inputs
        ``(option, path)`` of the run's input files; a folder holding one is refused.
    legacy
        The output names of versions that wrote no marker.
    update
        Replace only the files written in the block and keep the earlier run's other outputs
        (for rebuilding the map or the report).
    option
        How the folder is named in messages.

    Raises
    ------
    OutputError
        ``out`` cannot take the outputs or cannot be written; ``out`` is left as it was.
    """
    inputs = list(inputs)
    legacy = list(legacy)
    subject = f"{option} {out}"
    check_out_folder(out, overwrite=overwrite, inputs=inputs, legacy=legacy, option=option)
    with explained(subject):
        created = _make_dirs(out)
    try:
        with _locked(out, option):
            recover(out)
            check_out_folder(out, overwrite=overwrite, inputs=inputs, legacy=legacy, option=option)
            with _staging(out, legacy=legacy, update=update, subject=subject) as tmp:
                yield tmp
    except BaseException:
        for d in created:  # innermost first; only if still empty
            with contextlib.suppress(OSError):
                d.rmdir()
        raise


def replace_outputs(
    out: Path,
    build: Callable[[Path], T],
    *,
    overwrite: bool,
    inputs: Iterable[tuple[str, Path]] = (),
    legacy: Iterable[str] = (),
    update: bool = False,
    option: str = "--out",
) -> T:
    """:func:`staged_outputs` with ``build(tmp)`` writing the files; returns what it returns."""
    with staged_outputs(
        out, overwrite=overwrite, inputs=inputs, legacy=legacy, update=update, option=option
    ) as tmp:
        return build(tmp)


@contextlib.contextmanager
def _staging(out: Path, *, legacy: list[str], update: bool, subject: str) -> Iterator[Path]:
    owned = owned_files(out, legacy=legacy)
    with explained(subject):
        tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=out))
        tmp.chmod(file_mode(folder=True))
    try:
        try:
            yield tmp
            new = sorted(p.name for p in tmp.iterdir() if p.is_file() and p.name != MARKER)
            check_same_kind(out, owned, new, subject)
            for name in new:
                if os.path.lexists(out / name) and (name not in owned or (out / name).is_dir()):
                    raise OutputError(
                        f"{subject}: holds {name}, which lifecircle did not write (its {MARKER} "
                        "does not list it); move or rename that file, or choose another folder"
                    )
            kept = sorted(owned & {p.name for p in out.iterdir()} - {MARKER}) if update else []
            run = uuid.uuid4().hex
            write_json(tmp / MARKER, {"format": 1, "run": run, "files": sorted({*kept, *new})})
        except BaseException as exc:
            refused = isinstance(exc, OutputError) and exc.errno is None  # says it all already
            conv = None if refused else output_error(exc, subject, probe=tmp)
            if conv is not None:
                raise conv from exc
            raise
        old = sorted((set(new) if update else owned) | {MARKER})
        with explained(subject):
            _commit(out, tmp, [*new, MARKER], old, run)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    others = sorted(
        p.name for p in out.iterdir() if p.name not in {*new, *kept, MARKER} and not _ours(p.name)
    )
    if others:
        log.info(
            "%s: kept %d file(s) that lifecircle did not write: %s",
            subject,
            len(others),
            ", ".join(others[:10]) + (", …" if len(others) > 10 else ""),
        )
