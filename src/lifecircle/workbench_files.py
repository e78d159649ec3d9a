"""The workbench's files: a scenario saved and loaded back, the current state's tables, and
its printable view (``POST /api/scenario``, ``/api/scenario/load``, ``/api/export``,
``/api/print`` of ``lifecircle serve``).

Every file is built in memory and sent; nothing is written to disk. The state is always what
:meth:`lifecircle.workbench.Workbench.evaluate` answers for the same edits, so that a saved
scenario, an export and a printout show the numbers the page shows.

A saved scenario is a zip of three members:

- ``workbench.csv``: the facilities added, ``id,category,name,lon,lat`` with ids ``1 … n`` in the
  order of ``"add"`` (so that ``lifecircle scenario --add workbench.csv`` names them
  ``workbench.csv:1 … n``, as the workbench does) and coordinates written exactly (the shortest
  text that reads back as the same float);
- ``remove.csv``: the ``facility_id`` column of the facilities removed;
- ``README.txt``: the ``lifecircle scenario`` command that reproduces it.

Both CSVs are UTF-8 with a BOM (Excel shows Chinese names) and Excel-safe: a name a spreadsheet
would take for a formula (``=HYPERLINK(…)``, ``+1``, ``@SUM``, ``-2``) is written with a leading
single quote (:func:`lifecircle.render.escape.csv_text`), which loading removes again.
"""

from __future__ import annotations

import csv
import io
import math
import shlex
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from lifecircle.render.escape import csv_text, csv_untext, people_csv_bytes
from lifecircle.scenario import coverage_change, threshold_rows
from lifecircle.workbench import MAX_EDITS, MAX_NAME, RequestError, Workbench, _bad, _object

ADD_MEMBER = "workbench.csv"
REMOVE_MEMBER = "remove.csv"
README_MEMBER = "README.txt"
ADD_HEADER = ["id", "category", "name", "lon", "lat"]
REMOVE_HEADER = ["facility_id"]
#: the most bytes each member of a saved scenario may hold once unpacked (1000 additions with
#: 200-character names take under 1 MiB)
MEMBER_CAPS = {ADD_MEMBER: 1024 * 1024, REMOVE_MEMBER: 512 * 1024, README_MEMBER: 64 * 1024}
SCENARIO_FILENAME = "lifecircle-scenario.zip"
EXPORT_FORMATS = ("csv", "xlsx")
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # every member's date: the same edits give the same bytes


def _edits(body: Any, allowed: set[str], what: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body's ``add`` and ``remove`` (for evaluate) and its other fields, checked."""
    body = _object(body, allowed | {"add", "remove"}, what)
    edits = {k: body[k] for k in ("add", "remove") if k in body}
    return edits, {k: body[k] for k in allowed if k in body}


def _evaluate(bench: Workbench, edits: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        return bench.evaluate(edits)
    except RequestError as exc:
        message = exc.message.removeprefix("evaluate: ")
        raise RequestError(exc.status, f"{what}: {message}") from None


def _zip(members: Iterable[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


def _csv_bytes(rows: Iterable[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + text.getvalue()).encode("utf-8")


# ---- POST /api/scenario ------------------------------------------------------------------------


def scenario_command(folder: Path | None, *, added: bool, removed: bool) -> str:
    """The ``lifecircle scenario`` command that reproduces a saved scenario of ``folder``, with
    only the lists that hold something (``scenario`` refuses an empty list)."""
    # the folder's whole path: the command is run in the unzipped folder, not where serve ran
    base = str(folder.resolve()) if folder is not None else "OUT"
    args = ["lifecircle", "scenario", base]
    if added:  # WGS 84, whatever --facilities-crs the analysis had (gcj02 in China, often)
        args += ["--add", ADD_MEMBER, "--add-crs", "EPSG:4326"]
    if removed:
        args += ["--remove", REMOVE_MEMBER]
    return " ".join(shlex.quote(a) for a in [*args, "--out", f"{base}-scenario"])


def _readme(folder: Path | None, n_added: int, n_removed: int) -> bytes:
    lines = [
        "lifecircle workbench scenario",
        "",
        f"{n_added} facilit{'y' if n_added == 1 else 'ies'} added ({ADD_MEMBER}), "
        f"{n_removed} removed ({REMOVE_MEMBER}); a moved facility is both.",
        "",
    ]
    if n_added or n_removed:
        lines += [
            "Reproduce it (the coverage.csv it writes is the workbench's, byte for byte): unzip",
            "this file, and run in its folder:",
            "",
            "    " + scenario_command(folder, added=n_added > 0, removed=n_removed > 0),
            "",
            f"The added facilities are named {ADD_MEMBER}:1 … {ADD_MEMBER}:{max(n_added, 1)}, as",
            "in the workbench. Load this file back into `lifecircle serve` to go on editing.",
        ]
    else:
        lines += ["Nothing was changed: the analysis itself is this scenario."]
    lines += [
        "",
        "Names that a spreadsheet would read as a formula (beginning with = + - @) carry a",
        "leading ' in the CSV files so that Excel shows them as text.",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def save_scenario(bench: Workbench, body: Any) -> bytes:
    """The zip of a scenario: the body's ``add`` as ``workbench.csv``, its ``remove`` as
    ``remove.csv``, and a ``README.txt`` with the command that reproduces it.

    Raises
    ------
    RequestError
        For a body :meth:`Workbench.evaluate` refuses (the edits are evaluated first, so that
        only a scenario that can be reproduced is saved).
    """
    edits, _ = _edits(body, set(), "scenario")
    _evaluate(bench, edits, "scenario")
    add, remove = edits.get("add", []), list(dict.fromkeys(edits.get("remove", [])))
    rows = [ADD_HEADER] + [
        [str(k), csv_text(a["category"]), csv_text(a.get("name", "")), repr(float(a["lon"])),
         repr(float(a["lat"]))]
        for k, a in enumerate(add, start=1)
    ]  # fmt: skip
    removed = [REMOVE_HEADER] + [[csv_text(r)] for r in remove]
    return _zip(
        [
            (ADD_MEMBER, _csv_bytes(rows)),
            (REMOVE_MEMBER, _csv_bytes(removed)),
            (README_MEMBER, _readme(bench.folder, len(add), len(remove))),
        ]
    )


# ---- POST /api/scenario/load -------------------------------------------------------------------


def _members(data: bytes) -> dict[str, bytes]:
    """Our members of a saved scenario's zip, each read up to its cap; anything else refused."""
    what = "scenario/load"
    ours = f"{ADD_MEMBER}, {REMOVE_MEMBER} and {README_MEMBER}"
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        raise _bad(
            f"{what}: the body is not a zip file; send the lifecircle-scenario.zip saved by "
            "the workbench (POST /api/scenario), as application/zip"
        ) from None
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        strange = [n for n in names if n not in MEMBER_CAPS]
        if strange or len(set(names)) != len(names) or len(infos) > len(MEMBER_CAPS):
            shown = ", ".join(repr(n[:80]) for n in (strange or names)[:10])
            raise _bad(
                f"{what}: not a workbench scenario: members {shown}; a saved scenario holds "
                f"{ours} only (each once, no folders or paths)"
            )
        missing = [n for n in (ADD_MEMBER, REMOVE_MEMBER) if n not in names]
        if missing:
            raise _bad(f"{what}: not a workbench scenario: {', '.join(missing)} missing")
        return {i.filename: _read_member(zf, i, what) for i in infos}


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, what: str) -> bytes:
    cap = MEMBER_CAPS[info.filename]
    too_big = _bad(
        f"{what}: {info.filename} unpacks to more than {cap:,} bytes (the cap per member: "
        f"{', '.join(f'{n} {c:,}' for n, c in MEMBER_CAPS.items())}); save a smaller scenario"
    )
    if info.flag_bits & 0x1:
        raise _bad(f"{what}: {info.filename} is encrypted; save the scenario again unencrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _bad(f"{what}: {info.filename} is compressed with an unknown method; save it again")
    if info.file_size > cap:
        raise too_big
    try:
        with zf.open(info) as f:
            raw = f.read(cap + 1)  # the size in the header may lie: never read past the cap
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError) as exc:
        raise _bad(f"{what}: {info.filename} cannot be unpacked ({exc}); save it again") from None
    if len(raw) > cap:
        raise too_big
    return raw


def _rows(raw: bytes, member: str, header: list[str]) -> list[list[str]]:
    what = f"scenario/load: {member}"
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise _bad(f"{what}: not UTF-8 text (byte {exc.start}); save the scenario again") from None
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise _bad(f"{what}: not a readable CSV ({exc}); save the scenario again") from None
    if not rows or rows[0] != header:
        got = ",".join(rows[0])[:120] if rows else "nothing"
        raise _bad(f"{what}: the header must be {','.join(header)} exactly; got {got!r}")
    wrong = [k for k, r in enumerate(rows[1:], start=2) if len(r) != len(header)]
    if wrong:
        raise _bad(
            f"{what}: line(s) {', '.join(map(str, wrong[:20]))} do not have the "
            f"{len(header)} cells {','.join(header)}"
        )
    if len(rows) - 1 > MAX_EDITS:
        raise RequestError(413, f"{what}: {len(rows) - 1} rows; give at most {MAX_EDITS}")
    return rows[1:]


def _number(text: str) -> float | None:
    try:
        x = float(text)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _addition(bench: Workbench, k: int, row: list[str]) -> tuple[dict[str, Any], list[str]]:
    i, cat, name, lon_text, lat_text = row
    problems = []
    if i != str(k - 1):
        problems.append(f"line {k}: id {i!r}; ids are 1, 2, … in order")
    category = csv_untext(cat)
    if category not in bench.study.categories:
        problems.append(f"line {k}: unknown category {category!r}")
    name = csv_untext(name)
    if len(name) > MAX_NAME:
        problems.append(f"line {k}: a name over {MAX_NAME} characters")
    lon, lat = _number(lon_text), _number(lat_text)
    if lon is None or lat is None or not (-180 <= lon <= 180 and -90 <= lat <= 90):
        problems.append(f"line {k}: lon {lon_text[:30]!r}, lat {lat_text[:30]!r} are not WGS 84")
    return {"category": category, "lon": lon, "lat": lat, "name": name}, problems


def load_scenario(bench: Workbench, data: bytes) -> dict[str, Any]:
    """The edits of a saved scenario's zip, as the body of ``POST /api/evaluate``:
    ``{"add": [{"category", "lon", "lat", "name"}, …], "remove": ["<facility_id>", …]}``.

    Only a zip holding ``workbench.csv`` and ``remove.csv`` (and optionally ``README.txt``) is
    read, each member up to :data:`MEMBER_CAPS` bytes, in memory; nothing is written to disk.

    Raises
    ------
    RequestError
        For anything else (another zip, other or more members, paths, members too big, CSVs
        with other columns), categories the analysis does not have, coordinates that are not
        numbers, or ids that are not facilities of the analysis; all problems of a CSV at once.
    """
    members = _members(data)
    add, problems = [], []
    for k, row in enumerate(_rows(members[ADD_MEMBER], ADD_MEMBER, ADD_HEADER), start=2):
        item, found = _addition(bench, k, row)
        add.append(item)
        problems += found
    if problems:
        shown = "; ".join(problems[:20]) + ("; …" if len(problems) > 20 else "")
        raise _bad(
            f"scenario/load: {ADD_MEMBER}: {len(problems)} problem(s): {shown}; categories are "
            f"{', '.join(bench.study.categories)}"
        )
    rows = _rows(members[REMOVE_MEMBER], REMOVE_MEMBER, REMOVE_HEADER)
    remove = list(dict.fromkeys(csv_untext(r[0].strip()) for r in rows if r[0].strip()))
    known = set(bench.study.facilities.table["facility_id"].astype(str))
    unknown = [r for r in remove if r not in known]
    if unknown:
        shown = ", ".join(repr(u[:80]) for u in unknown[:20]) + (", …" if len(unknown) > 20 else "")
        raise _bad(
            f"scenario/load: {REMOVE_MEMBER}: {len(unknown)} id(s) are not facilities of this "
            f"analysis: {shown}; was the scenario saved from another analysis folder?"
        )
    return {"add": add, "remove": remove}


# ---- POST /api/export --------------------------------------------------------------------------


def state_tables(bench: Workbench, state: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The coverage table of an answer of :meth:`Workbench.evaluate` (the columns and values of
    ``coverage.csv``) and its change against the baseline (those of ``coverage_change.csv``)."""
    coverage = pd.DataFrame(state["coverage"], columns=state["columns"])
    rows = threshold_rows(bench.study, bench.study.categories)
    change = coverage_change(
        bench.baseline.coverage, coverage, target=bench.study.settings.target, at_threshold=rows
    )
    return coverage, change


def export_tables(bench: Workbench, body: Any) -> tuple[str, str, bytes]:
    """The current state's ``coverage.csv`` and ``coverage_change.csv``: for ``"format":
    "csv"`` a zip of both (UTF-8 with BOM, Excel-safe cells, as ``analyze`` writes them), for
    ``"xlsx"`` one workbook with a sheet each (every text cell a string, never a formula).

    Returns
    -------
    tuple
        The file name, its media type and its bytes.

    Raises
    ------
    RequestError
        For a body :meth:`Workbench.evaluate` refuses, or a format other than csv and xlsx.
    """
    from lifecircle.render.spreadsheet import tables_workbook

    edits, opts = _edits(body, {"format"}, "export")
    fmt = opts.get("format", "csv")
    if fmt not in EXPORT_FORMATS:
        raise _bad(f'export: "format" {str(fmt)[:40]!r}; give "csv" or "xlsx"')
    coverage, change = state_tables(bench, _evaluate(bench, edits, "export"))
    if fmt == "xlsx":
        data = tables_workbook({"coverage": coverage, "coverage_change": change})
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return "lifecircle-export.xlsx", kind, data
    members = [
        ("coverage.csv", people_csv_bytes(coverage)[0]),
        ("coverage_change.csv", people_csv_bytes(change)[0]),
    ]
    return "lifecircle-export.zip", "application/zip", _zip(members)


# ---- POST /api/print ---------------------------------------------------------------------------


def print_view(bench: Workbench, body: Any) -> str:
    """The current state as a standalone printable HTML page (A4, no script, every name as
    text) in ``"lang"`` (``zh`` or ``en``; default ``zh``): :mod:`lifecircle.render.printview`.

    Raises
    ------
    RequestError
        For a body :meth:`Workbench.evaluate` refuses, or another language.
    """
    from lifecircle.render.printview import PrintState, render_print

    edits, opts = _edits(body, {"lang"}, "print")
    lang = opts.get("lang", "zh")
    if lang not in ("zh", "en"):
        raise _bad(f'print: "lang" {str(lang)[:40]!r}; give "zh" or "en"')
    state = _evaluate(bench, edits, "print")
    coverage = pd.DataFrame(state["coverage"], columns=state["columns"])  # no change table
    return render_print(
        PrintState(
            summary=bench.summary(),
            change=state["change"],
            facilities=state["facilities"],
            coverage=coverage,
            judged=threshold_rows(bench.study, bench.study.categories),
        ),
        lang=lang,
    )
