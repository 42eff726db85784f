"""``atalaya records import``: load incidents from files, with a progress bar and a report."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from atalaya.accounts.authz import Principal
from atalaya.accounts.models import AgencyLevel, Role
from atalaya.accounts.service import get_agency
from atalaya.audit import service as audit
from atalaya.clitools import (
    cli_context,
    collected_between_batches,
    refusal,
    reports_errors,
    runtime,
    unit_of_work,
)
from atalaya.db import as_utc
from atalaya.observatory import derived
from atalaya.observatory.cli import count_now
from atalaya.records.dates import read_moment
from atalaya.records.exports import WRITERS
from atalaya.records.formats import FORMATS
from atalaya.records.imports import ImportReport, import_staged, staged
from atalaya.records.service import IncidentFilter, matching_incidents

records = typer.Typer(help="Uniform criminal records: incidents, offences, persons, things.")


@records.command("import")
@reports_errors
def import_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="File to import.")],
    format: Annotated[str, typer.Option(help=f"One of: {', '.join(FORMATS)}.")],
    agency: Annotated[str, typer.Option(help="Code of the agency the incidents belong to.")],
    batch_size: Annotated[int, typer.Option(help="Records per transaction.")] = 5000,
    defer_counting: Annotated[
        bool,
        typer.Option(
            help="Leave counting the new incidents in the observatory's indicators to the "
            "worker (or atalaya stats count) instead of counting them at the end."
        ),
    ] = False,
) -> None:
    """Import incidents. Each batch is stored whole or not at all; importing the same file
    again changes nothing; records that break a rule are skipped and reported. New
    incidents are then counted in the indicators computed from records."""
    if format not in FORMATS:
        typer.echo(f"API-104 [format]: use one of {', '.join(FORMATS)}", err=True)
        raise typer.Exit(1)
    read, count = FORMATS[format]
    rt = runtime()
    ctx = cli_context()
    with unit_of_work(rt) as session:
        owner = get_agency(session, agency)
        principal = Principal(
            0,
            ctx.actor.username or "import",
            owner.id,
            owner.code,
            AgencyLevel(owner.level),
            owner.area.path,
            frozenset({Role.OFFICER}),
        )
    total = count(path)
    columns = (TextColumn("Importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns) as progress, collected_between_batches() as collect:
        task = progress.add_task("import", total=total)

        def batch_done(count: int) -> None:
            progress.advance(task, count)
            collect()

        report = import_staged(
            rt.db.sessions,
            principal,
            ctx,
            staged(read(path)),
            batch_size=batch_size,
            progress=batch_done,
        )
    _print_report(report)
    if defer_counting:
        with rt.db.read_sessions() as session:
            typer.echo(f"{derived.pending(session)} incidents left to count (atalaya stats count)")
    else:
        typer.echo(f"{count_now(rt)} incidents counted in the indicators")


def _print_report(report: ImportReport) -> None:
    typer.echo(
        f"read {report.read}: {report.stored} stored, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected"
    )
    for rejection in report.rejected:
        codes = ", ".join(f"{e.code} {e.field}" for e in rejection.errors)
        typer.echo(f"  rejected {rejection.where} ({rejection.reference or '-'}): {codes}")


def _moment(text: str) -> dt.datetime:
    """Return the moment a bound gives (``--since 2024-01-01``), read as the API reads
    the list's: ISO 8601 text in ASCII digits, else ``API-104``. ``0`` or ``20240101``
    are not seconds since 1970, nor ``٢٠٢٤`` a year."""
    found = read_moment(text)
    if found is None:
        raise typer.BadParameter(refusal("API-104"))
    return found


@records.command("export")
@reports_errors
def export_command(
    format: Annotated[str, typer.Option(help="jsonl or csv.")] = "jsonl",
    output: Annotated[
        Path | None, typer.Option(help="File to write; standard output if omitted.")
    ] = None,
    agency: Annotated[str | None, typer.Option(help="Only this agency's incidents.")] = None,
    area: Annotated[str | None, typer.Option(help="Only this area and the areas in it.")] = None,
    since: Annotated[
        dt.datetime | None, typer.Option(parser=_moment, help="Occurred on or after (UTC).")
    ] = None,
    until: Annotated[
        dt.datetime | None, typer.Option(parser=_moment, help="Occurred before (UTC).")
    ] = None,
    iccs: Annotated[str | None, typer.Option(help="ICCS code at any level.")] = None,
    status: Annotated[str | None, typer.Option(help="Incident status.")] = None,
) -> None:
    """Export incidents with the same filters as the list. jsonl can be imported again."""
    if format not in WRITERS:
        typer.echo(f"API-104 [format]: use one of {', '.join(WRITERS)}", err=True)
        raise typer.Exit(1)
    flt = IncidentFilter(agency, area, as_utc(since), as_utc(until), iccs, status)
    rt = runtime()
    with unit_of_work(rt) as session:
        out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
        try:
            count = WRITERS[format](session, matching_incidents(flt), out)
        finally:
            if output:
                out.close()
        audit.record(
            session,
            cli_context(),
            "records.export",
            object_type="incident",
            detail={"format": format, "count": count, "filters": str(flt)},
        )
    typer.echo(f"{count} incidents exported", err=True)
