"""``lifecircle site``: where to put new facilities of a category so that it reaches the target,
or the best N sites, on an analysis folder's saved study."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from lifecircle.cli import options as opt
from lifecircle.cli.guard import run_guarded
from lifecircle.display import console_text
from lifecircle.errors import InputError

if TYPE_CHECKING:
    from lifecircle.study import Study

console = Console(stderr=True, soft_wrap=True)

Analysis = Annotated[
    Path, typer.Argument(help="An output folder of `lifecircle analyze` (its saved study is used).")
]
SitesOut = Annotated[
    Path,
    typer.Option(
        "--out",
        help="Folder for sites.csv, sites.gpkg, map.html, coverage_curve.png and summary.json.",
    ),
]
Category = Annotated[
    str, typer.Option(help="The category to add facilities of, e.g. elder_care or canteen.")
]
Candidates = Annotated[
    Path | None,
    typer.Option(
        help="Candidate sites (vacant premises, lots): CSV id,name,lon,lat or any facility "
        "format; without it, street nodes every --spacing-m metres inside the area."
    ),
]
CandidatesCrs = Annotated[
    str | None,
    typer.Option(help="CRS of --candidates when the file states none: EPSG code, gcj02, bd09."),
]
Spacing = Annotated[
    float, typer.Option(help="Spacing (metres) of the candidates generated from the network.")
]
Count = Annotated[int | None, typer.Option(help="Choose the best N new sites.")]
Target = Annotated[
    float | None,
    typer.Option(help="Choose the fewest sites that reach this share (default: the run's target)."),
]
Per = Annotated[
    str, typer.Option(help="Who must reach the target: area, community or subdistrict.")
]
Method = Annotated[
    str,
    typer.Option(help="greedy (fast, deterministic) or optimal (integer program solved by HiGHS)."),
]
TimeLimit = Annotated[float, typer.Option(help="Time limit (seconds) of --method optimal.")]
Profile = Annotated[
    str | None,
    typer.Option(help="Walking profile (default: the one the preset judges the category with)."),
]
Minutes = Annotated[
    float | None,
    typer.Option(help="Walking minutes (default: the preset's threshold for the category)."),
]


def load_analysis(folder: Path) -> Study:
    """The study an ``analyze`` run saved in ``folder``.

    Raises
    ------
    InputError
        When the folder is not an analysis folder, has no saved study, or one of another
        lifecircle version.
    """
    from lifecircle.fileio import output_kind, owned_files
    from lifecircle.study import CACHE_NAME, Study, study_cache

    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder; give the --out folder of lifecircle analyze")
    cache = study_cache(folder)
    owned = owned_files(folder)
    if not cache.is_file() or cache.name not in owned:
        kind = output_kind(owned)
        other = kind not in (None, "lifecircle analyze")
        what = f"holds the outputs of `{kind}`, " if other else ""
        raise InputError(
            f"{folder}: {what}not an analysis folder with a saved study ({CACHE_NAME}); give "
            "the --out folder of a `lifecircle analyze` run, or run one into a new folder first"
        )
    return Study.load(cache)


def _check_time_limit(limit: float) -> None:
    if not (math.isfinite(limit) and limit > 0):  # nan and inf are no limit a solver can keep
        raise InputError(f"--time-limit must be a positive number of seconds; got {limit}")


def _run(
    analysis: Path,
    out: Path,
    *,
    category: str,
    candidates: Path | None,
    candidates_crs: str | None,
    encoding: str | None,
    settings: dict[str, object],
    overwrite: bool,
    shown: dict[str, object],
    quiet: bool,
) -> None:
    from lifecircle.cli import logs
    from lifecircle.display import display_for
    from lifecircle.fileio import check_out_folder
    from lifecircle.sitecands import is_gcj02, network_candidates, read_candidates
    from lifecircle.siteoutputs import SITE_FILES, headline, write_site_outputs
    from lifecircle.siting import site
    from lifecircle.study import study_cache
    from lifecircle.webpage import analysis_lang

    if shown["lang"] is None:  # as the analysis was shown
        shown["lang"] = analysis_lang(analysis)
    if shown["lang"] not in ("zh", "en"):
        raise InputError(f"--lang {shown['lang']!r}: choose zh or en")
    inputs = [("the analysis folder's study", study_cache(analysis))]
    if candidates is not None:
        inputs.append(("--candidates", candidates))
    check_out_folder(out, overwrite=overwrite, inputs=inputs, names=SITE_FILES)
    study = load_analysis(analysis)
    if candidates is not None:
        cands = read_candidates(
            candidates, category=category, crs=candidates_crs, encoding=encoding
        )
    else:
        cands = network_candidates(
            study.network,
            study.area.area_m,
            spacing_m=float(settings.pop("spacing_m")),  # type: ignore[arg-type]
        )
    settings.pop("spacing_m", None)
    _check_time_limit(float(settings["time_limit_s"]))  # type: ignore[arg-type]
    # bars on a terminal, plain lines elsewhere, nothing with -q (as analyze): the solver's
    # bound, incumbent, gap and time left with --method optimal
    with display_for(logs.err, quiet=quiet) as display:
        result = site(study, category=category, candidates=cands, progress=display, **settings)  # type: ignore[arg-type]
    lang = str(shown["lang"])
    if result.mode == "target" and result.reached is False:
        raise InputError(
            f"{headline(result, 'en')}. Lower --target, give more candidates (--candidates, or a "
            "smaller --spacing-m), use --per area, or ask for the best sites with --count N. "
            "Nothing was written."
        )
    gcj02 = is_gcj02(candidates_crs) if candidates is not None else False
    gcj02 = gcj02 or is_gcj02(study.inputs.facilities_crs)
    record = {
        "analysis": str(analysis),
        "candidates_file": str(candidates) if candidates is not None else None,
        "count": settings.get("count"),
    }
    summary = write_site_outputs(
        result,
        study,
        out,
        overwrite=overwrite,
        record=record,
        inputs=inputs,
        gcj02=gcj02,
        lang=lang,
        tiles=str(shown["tiles"]),
        offline=bool(shown["offline"]),
    )
    if not quiet:
        console.print(f"[bold]{console_text(headline(result, lang))}[/]", highlight=False)
        for note in summary["notes"]:
            console.print(f"[yellow]note:[/] {console_text(note)}", highlight=False)
        console.print(f"Wrote {console_text(str(out))}/", highlight=False)


def site_cmd(
    ctx: typer.Context,
    analysis: Analysis,
    out: SitesOut,
    category: Category,
    candidates: Candidates = None,
    candidates_crs: CandidatesCrs = None,
    spacing_m: Spacing = 100.0,
    count: Count = None,
    target: Target = None,
    per: Per = "area",
    method: Method = "greedy",
    time_limit: TimeLimit = 60.0,
    profile: Profile = None,
    minutes: Minutes = None,
    encoding: opt.Encoding = None,
    lang: Annotated[
        str | None, typer.Option(help="zh or en (default: the analysis's language).")
    ] = None,
    tiles: opt.Tiles = "osm",
    offline: opt.Offline = True,
    overwrite: opt.Overwrite = False,
    verbose: opt.Verbose = 0,
    quiet: opt.Quiet = False,
) -> None:
    """Where to put new facilities: the fewest sites that bring a category to the target (every
    community, subdistrict or the area), or the best N sites, existing facilities held fixed."""
    run_guarded(
        _run,
        analysis,
        out,
        category=category,
        candidates=candidates,
        candidates_crs=candidates_crs,
        encoding=encoding,
        settings={
            "count": count,
            "target": target,
            "per": per,
            "method": method,
            "profile": profile,
            "minutes": minutes,
            "time_limit_s": time_limit,
            "spacing_m": spacing_m,
        },
        overwrite=overwrite,
        shown={"lang": lang, "tiles": tiles, "offline": offline},
        quiet=ctx.obj["quiet"] if ctx.obj else quiet,
    )
