"""The files of ``lifecircle scenario``: the analysis folder it starts from (:func:`load_analysis`),
the changes it reads (:func:`read_additions`, :func:`read_removals`), and the folder it writes
(:func:`write_scenario`). The comparison itself is :mod:`lifecircle.scenario`."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from lifecircle.errors import InputError
from lifecircle.fileio import MARKER, check_out_folder, output_kind, owned_files
from lifecircle.inputs import Inputs
from lifecircle.manifest import MANIFEST
from lifecircle.outputs import (
    LEGACY_FILES,
    OPTIONAL_FILES,
    OUTPUT_FILES,
    MoreOutputs,
    input_files,
    input_paths,
    sha256,
    write_outputs,
)
from lifecircle.placement import check_user_lists
from lifecircle.render.escape import csv_untext, write_people_csv
from lifecircle.render.options import Presentation
from lifecircle.sources._files import check_file, csv_separator, detect_encoding, parse_crs
from lifecircle.sources.facilities import read_facilities_file
from lifecircle.study import CACHE_NAME, Study, study_key

if TYPE_CHECKING:
    from lifecircle.scenario import Scenario

CHANGE_FILE = "coverage_change.csv"
FACILITY_CHANGES_FILE = "facility_changes.csv"
CHANGE_XLSX = "coverage_change.xlsx"
SCENARIO_FILES = (CHANGE_FILE, FACILITY_CHANGES_FILE, CHANGE_XLSX)

# ---- the analysis folder ----------------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    """An ``analyze`` output folder: its study (from ``study_cache.pickle``) and summary."""

    folder: Path
    study: Study
    summary: dict[str, Any]


def _rerun(folder: Path) -> str:
    return f"rerun `lifecircle analyze ... --out {folder} --overwrite` with this lifecircle"


def load_analysis(folder: str | Path) -> Analysis:
    """Open an ``analyze`` output folder through the study it saved; no input is read again.

    Raises
    ------
    InputError
        When ``folder`` is not an analysis folder (no ``summary.json`` listed by its marker, or a
        batch folder), holds no study cache, or its cache was written by another lifecircle
        version or cache format.
    """
    p = Path(folder)
    if not p.is_dir():
        raise InputError(
            f"{p}: no such folder; give the --out folder of a `lifecircle analyze` run"
        )
    if (p / MANIFEST).is_file():
        raise InputError(
            f"{p}: a `lifecircle batch` folder; give the folder of one district inside it"
        )
    owned = owned_files(p) if (p / MARKER).is_file() else set()
    kind = output_kind(owned)
    if kind not in (None, "lifecircle analyze"):
        raise InputError(
            f"{p}: holds the outputs of `{kind}`, not of `lifecircle analyze`; give the --out "
            "folder of an analysis"
        )
    if "summary.json" not in owned or not (p / "summary.json").is_file():
        why = f"no {MARKER}" if not (p / MARKER).is_file() else f"no summary.json in its {MARKER}"
        raise InputError(
            f"{p}: not a `lifecircle analyze` output folder ({why}: a folder copied without its "
            "hidden files loses it); give the --out folder of an analysis, or run "
            "`lifecircle analyze` into a new folder"
        )
    if CACHE_NAME not in owned or not (p / CACHE_NAME).is_file():
        raise InputError(
            f"{p}: holds no saved study ({CACHE_NAME}); it was written by an older lifecircle "
            f"or the file was removed: {_rerun(p)}"
        )
    try:
        study = Study.load(p / CACHE_NAME)
        summary = json.loads((p / "summary.json").read_text("utf-8"))
    except InputError as exc:
        raise InputError(f"{p}: its saved study cannot be used ({exc}): {_rerun(p)}") from exc
    except (OSError, ValueError) as exc:
        raise InputError(f"{p}: summary.json cannot be read ({exc}): {_rerun(p)}") from exc
    return Analysis(folder=p, study=study, summary=summary)


# ---- the changes ------------------------------------------------------------------------------


def read_removals(path: str | Path, *, option: str = "--remove") -> list[str]:
    """The ``facility_id`` values listed in ``path``, in order, once each.

    The file is either a CSV with a ``facility_id`` column (other columns are ignored: a
    filtered export of the facilities layer of ``lifecircle.gpkg`` or of
    ``facility_changes.csv``), or a plain list with one id per line (blank lines and lines
    starting with ``#`` are skipped).

    Raises
    ------
    InputError
        When the file cannot be read or lists no id.
    """
    p = check_file(path, option)
    raw = p.read_bytes()
    text = raw.decode(detect_encoding(raw)).lstrip("\ufeff")
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    sep = csv_separator(first)  # a list saved by Excel with semicolons, too
    header = [h.strip().lower() for h in next(csv.reader([first], delimiter=sep), [])]
    if "facility_id" in header:
        col = header.index("facility_id")
        rows = list(csv.reader(io.StringIO(text), delimiter=sep))[1:]
        ids = [r[col].strip() if len(r) > col else "" for r in rows]
    else:
        ids = [line.strip() for line in lines if not line.strip().startswith("#")]
    ids = [csv_untext(i) for i in ids if i]
    if not ids:
        raise InputError(
            f"{option} {p}: lists no facility id; give a CSV with a facility_id column, or one "
            "facility_id per line (as in the facilities layer of lifecircle.gpkg)"
        )
    return list(dict.fromkeys(ids))


def _as_add_error(exc: InputError) -> InputError:
    """A facility reader's message about the ``--add`` option it was read for."""
    msg = str(exc).replace("--facilities-crs", "--add-crs").replace("--facilities", "--add")
    return type(exc)(msg)


@dataclass(frozen=True)
class Additions:
    """Facility lists to add, read: per file its path and facilities (WGS 84), and what
    checking them against the area found (notes and counts, as ``analyze`` reports them)."""

    files: list[tuple[Path, gpd.GeoDataFrame]]
    notes: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    crs: str | None = None

    @property
    def table(self) -> gpd.GeoDataFrame | None:
        """Every added facility in one table, in file order (``None`` when there is none)."""
        if not self.files:
            return None
        frames = [f for _, f in self.files]
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)


def read_additions(
    paths: Sequence[str | Path],
    study: Study,
    *,
    crs: str | None = None,
    encoding: str | None = None,
) -> Additions:
    """Read facility lists to add to ``study`` as ``analyze`` reads ``--facilities`` files.

    Parameters
    ----------
    paths
        CSV (``id,category,name,lon,lat``), GeoJSON, GeoPackage or Shapefile lists.
    study
        The study they are added to (its area checks them; its files name them).
    crs
        Their coordinate system when a file does not state one (``gcj02``, ``EPSG:4549`` …);
        default: the analysis's ``--facilities-crs`` (WGS 84 when it had none).
    encoding
        Their CSV encoding (default: the analysis's, else detected).

    Raises
    ------
    InputError
        An unreadable or empty file, bad rows, a file already among the analysis's facility
        files, one with the name of another (facility ids begin with the file name), or a list
        none of whose points falls in the area.
    """
    crs = crs if crs is not None else study.inputs.facilities_crs
    declared = parse_crs(crs, "--add-crs")
    known = {Path(f).resolve(): str(f) for f in study.inputs.facilities}
    names = {Path(f).name: str(f) for f in study.inputs.facilities}
    files: list[tuple[Path, gpd.GeoDataFrame]] = []
    given: set[Path] = set()
    for f in paths:
        p = Path(f)
        if p.resolve() in given:
            raise InputError(
                f"--add {p}: given twice; its facilities would be added twice. Give each list once"
            )
        given.add(p.resolve())
        if p.resolve() in known:
            raise InputError(
                f"--add {p}: already a --facilities file of the analysis ({known[p.resolve()]}); "
                "give a list of the facilities to add only"
            )
        if p.name in names:
            raise InputError(
                f"--add {p}: has the name of {names[p.name]}, a facility file already used "
                f"(facility ids begin with the file name); rename it, e.g. new_{p.name}"
            )
        names[p.name] = str(p)
        try:
            fac = read_facilities_file(
                p, crs=declared, encoding=encoding or study.inputs.encoding, option="--add"
            )
        except InputError as exc:
            raise _as_add_error(exc) from exc
        files.append((p, fac))
    try:
        # what lies beyond the reach the scenario says itself, with the other additions that
        # serve nobody (lifecircle.scenario.unused_additions)
        notes, counts = check_user_lists(
            files, declared, study.network, study.area, study.settings, name_outside=False
        )
    except InputError as exc:
        raise _as_add_error(exc) from exc
    return Additions(files=files, notes=notes, counts=counts, crs=crs)


def check_removals(study: Study, ids: Sequence[str], *, option: str = "--remove") -> None:
    """Refuse ids that are not facilities of ``study``, listing them."""
    known = set(study.facilities.table["facility_id"].astype(str))
    unknown = [i for i in ids if i not in known]
    if unknown:
        shown = ", ".join(repr(u) for u in unknown[:20]) + (", …" if len(unknown) > 20 else "")
        raise InputError(
            f"{option}: {len(unknown)} id(s) are not facilities of the analysis: {shown}; use "
            "facility_id values of the facilities layer of its lifecircle.gpkg (facilities "
            "beyond the walking reach of the area are not in it)"
        )


# ---- writing ----------------------------------------------------------------------------------


def scenario_inputs(study: Study, added: Sequence[str | Path]) -> Inputs:
    """The inputs of an ``analyze`` run with the changed facility set (the ``added`` lists as
    further ``--facilities`` files)."""
    return replace(study.inputs, facilities=(*study.inputs.facilities, *map(Path, added)))


def scenario_files(base: Analysis, additions: Additions | None) -> dict[str, Any]:
    """Path, SHA-256 and size of every input: the analysis's as it recorded them (its files
    need not be where they were), then the added lists."""
    files = dict(base.summary.get("provenance", {}).get("inputs", {}))
    if not files:  # an analysis without a record: hash what can be found
        files = input_files(replace(base.study.inputs, facilities=()))
    n = len(base.study.inputs.facilities)
    for i, (p, _) in enumerate(additions.files if additions is not None else [], start=n):
        files[f"facilities[{i}]"] = {"path": str(p), "sha256": sha256(p), "bytes": p.stat().st_size}
    return files


def _outside(out: Path, base: Path) -> None:
    o, b = Path(out).resolve(), Path(base).resolve()
    if o == b or b in o.parents:
        raise InputError(
            f"--out {out}: {'is' if o == b else 'lies inside'} the analysis folder {base}; a "
            f"scenario never writes there. Choose a folder beside it, e.g. --out {b}-scenario"
        )


def check_scenario_out(
    out: Path,
    base: Path,
    *,
    overwrite: bool,
    inputs: Inputs,
    removals: Sequence[Path] = (),
    others: Sequence[tuple[str, Path]] = (),
) -> None:
    """Refuse ``out`` before any work: the analysis folder itself or a folder inside it, a
    folder holding an input (the added and removal lists included), a non-empty folder without
    ``overwrite``, or one holding a file named like an output that lifecircle did not write."""
    _outside(out, base)
    check_out_folder(
        out,
        overwrite=overwrite,
        inputs=[*input_paths(inputs), *(("--remove", Path(r)) for r in removals), *others],
        names=(*OUTPUT_FILES, *OPTIONAL_FILES, *SCENARIO_FILES),
        legacy=LEGACY_FILES,
    )


def write_scenario(
    scenario: Scenario,
    out: Path,
    *,
    inputs: Inputs,
    presentation: Presentation | None = None,
    overwrite: bool = False,
    files: dict[str, Any] | None = None,
    base: str | None = None,
) -> dict[str, Any]:
    """Write the changed analysis's full outputs into ``out`` (as ``analyze`` would, with its
    study saved), plus ``coverage_change.csv``, ``facility_changes.csv``,
    ``coverage_change.xlsx``, the change layers on ``map.html`` and ``summary.json →
    scenario``. Returns the summary written.

    Parameters
    ----------
    scenario
        :func:`lifecircle.scenario.what_if`.
    out
        The folder to write; never ``base`` or a folder inside it.
    inputs
        The inputs of the changed analysis (:func:`scenario_inputs`).
    presentation
        Language, basemap and map scripts.
    overwrite
        Replace the outputs of an earlier run in ``out`` (the user's files are kept).
    files
        The input files' record (:func:`scenario_files`; hashed from ``inputs`` by default).
    base
        The analysis folder the scenario started from (recorded, and refused as ``out``).

    Raises
    ------
    InputError
        ``out`` is ``base`` or inside it.
    lifecircle.errors.OutputError
        ``out`` cannot take the outputs; it is then left as it was.
    """
    from lifecircle.render.change import ChangeView, change_layers, write_change_xlsx

    if base is not None:
        _outside(out, Path(base))
    shown = presentation or Presentation()
    settings = scenario.study.settings
    files = files if files is not None else input_files(inputs)
    # never the key of an analysis: a later `analyze` into this folder must not take the
    # scenario's edited study for the data's own (a removal leaves files and inputs as they were)
    edits = hashlib.sha256(scenario.facilities.to_csv(index=False).encode()).hexdigest()
    key = f"{study_key(files, inputs, settings)}:scenario:{edits}"
    summary = scenario.summary | {"base": base}
    view = ChangeView.of(scenario)

    def write(tmp: Path) -> int:
        quoted = write_people_csv(scenario.change, tmp / CHANGE_FILE)
        quoted += write_people_csv(scenario.facilities, tmp / FACILITY_CHANGES_FILE)
        write_change_xlsx(view, tmp / CHANGE_XLSX, lang=shown.lang)
        return quoted

    return write_outputs(
        scenario.after,
        out,
        inputs=inputs,
        settings=settings,
        presentation=shown,
        overwrite=overwrite,
        files=files,
        study=(scenario.study, key),
        extra=MoreOutputs(
            files=SCENARIO_FILES,
            write=write,
            map_layers=lambda m, shift, lang: change_layers(m, view, shift=shift, lang=lang),
            summary={"scenario": summary},
        ),
    )
