"""``atalaya stats``: import published statistics, query indicators, publish series."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from atalaya.clitools import cli_context, echo_table, reports_errors, runtime, unit_of_work
from atalaya.errors import DomainError, message_for
from atalaya.i18n import translator
from atalaya.observatory import service
from atalaya.observatory.formats import FORMATS
from atalaya.observatory.imports import ImportReport
from atalaya.observatory.models import TOTAL
from atalaya.observatory.query import EVERYTHING, PUBLIC, IndicatorQuery
from atalaya.observatory.schemas import IndicatorOut
from atalaya.settings import Settings

stats = typer.Typer(help="The observatory: published crime statistics, populations, indicators.")


@stats.command("import")
@reports_errors
def import_command(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="File to import.")],
    format: Annotated[str, typer.Option(help=f"One of: {', '.join(FORMATS)}.")],
    vintage: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="The edition's date (YYYY-MM-DD); sesnsp-idefc reads it from the file name.",
        ),
    ] = None,
) -> None:
    """Import a file of statistics or populations, all of it or nothing. Importing the same
    edition again changes nothing; every problem is listed with its line."""
    rt = runtime()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeRemainingColumn()) as bar:
        # Lines after the header.
        reading = bar.add_task("Reading", total=max(path.read_bytes().count(b"\n") - 1, 1))
        storing = bar.add_task("Storing", total=None, visible=False)
        progress = service.ImportProgress(
            read=lambda n: bar.advance(reading, n),
            storing=lambda n: bar.update(storing, total=n, visible=True),
            stored=lambda n: bar.advance(storing, n),
        )
        try:
            with unit_of_work(rt) as session:
                report = service.import_file(
                    session, path, format, vintage and vintage.date(), cli_context(), progress
                )
        except DomainError as error:
            bar.stop()
            _echo_problems(error)
            raise
    _echo_report(report)


def _echo_problems(error: DomainError) -> None:
    tr = translator(Settings().language)
    for problem in error.errors:
        typer.echo(
            f"  {problem.code} [{problem.field}] {message_for(problem.code, tr, problem.params)}",
            err=True,
        )


def _echo_report(report: ImportReport) -> None:
    typer.echo(
        f"source {report.source_id} ({'new' if report.new_source else 'already held'}): "
        f"{report.rows} rows read; observations: {report.observations_added} added, "
        f"{report.observations_unchanged} unchanged; populations: {report.populations_added} "
        f"added, {report.populations_unchanged} unchanged; series added: {report.series_added}"
    )
    if report.blank_cells:
        typer.echo(f"  {report.blank_cells} blank cells (not published): no observation stored")
    for category, rows in report.without_iccs.items():
        typer.echo(
            f"  no ICCS code, kept with its national category only: {category} ({rows} rows)"
        )
    if report.new_source:
        typer.echo(f"  not published yet: atalaya stats publish {report.source_id}")


@stats.command("query")
@reports_errors
def query_command(
    indicator: Annotated[str | None, typer.Option(help="offences, victims, ...")] = None,
    iccs: Annotated[
        str | None, typer.Option(help="ICCS code at any level (01 takes 0101).")
    ] = None,
    national_category: Annotated[
        str | None,
        typer.Option(help="National category, or the start of one: mx-sesnsp:Robo."),
    ] = None,
    area: Annotated[str | None, typer.Option(help="Area code; the areas in it count too.")] = None,
    period: Annotated[str | None, typer.Option(help="YYYY, YYYY-Qn or YYYY-MM.")] = None,
    frequency: Annotated[
        str | None, typer.Option(help="Without --period: A (years), Q or M.")
    ] = None,
    sex: Annotated[str, typer.Option(help="male, female, unknown or _T (total).")] = TOTAL,
    age_group: Annotated[str, typer.Option(help="An age group or _T (total).")] = TOTAL,
    weapon: Annotated[str, typer.Option(help="A weapon or _T (total).")] = TOTAL,
    source_type: Annotated[
        str | None, typer.Option(help="police, health, forensic or victim_survey.")
    ] = None,
    by: Annotated[
        list[str] | None,
        typer.Option(help="Break down by sex, age_group, weapon or national_category."),
    ] = None,
    public: Annotated[
        bool, typer.Option(help="Only published series, as anonymous callers see them.")
    ] = False,
    format: Annotated[str, typer.Option(help="table or json.")] = "table",
) -> None:
    """Indicator values with roll-ups, rates per 100,000 and the sources they come from."""
    if format not in ("table", "json"):
        raise DomainError(
            "OBS-116", field="format", params={"value": format, "choices": "json, table"}
        )
    q = IndicatorQuery(
        indicator,
        iccs,
        national_category,
        area,
        period,
        frequency,
        sex,
        age_group,
        weapon,
        source_type,
        tuple(by or ()),
    )
    rt = runtime()
    language = rt.settings.language
    with rt.db.read_sessions() as session:
        values = service.indicator_values(session, q, PUBLIC if public else EVERYTHING)
    out = [IndicatorOut.of(v, language) for v in values]
    if format == "json":
        typer.echo(
            json.dumps([o.model_dump(mode="json") for o in out], ensure_ascii=False, indent=2)
        )
        return
    echo_table([_table_row(o) for o in out])


def _table_row(o: IndicatorOut) -> dict[str, object]:
    return {
        "indicator": o.indicator,
        "iccs": o.iccs,
        "area": o.area,
        "period": o.period,
        "sex": o.sex,
        "age": o.age_group,
        "weapon": o.weapon,
        "source": f"{o.sources[0].publisher} {o.sources[0].vintage}",
        "value": o.value if o.value is not None else o.status,
        "per 100k": o.rate_per_100k,
        "notes": len(o.notes) or None,
    }


@stats.command("sources")
@reports_errors
def sources_command() -> None:
    """List the sources held: each edition, what it holds and how much is published."""
    rt = runtime()
    with rt.db.read_sessions() as session:
        found = service.sources(session)
    echo_table(
        [
            {
                "id": s.source.id,
                "publisher": s.source.publisher,
                "dataset": s.source.dataset,
                "vintage": s.source.vintage,
                "type": s.source.source_type,
                "series": s.series,
                "published": s.published,
                "observations": s.observations,
                "populations": s.populations,
            }
            for s in found
        ]
    )


@stats.command("publish")
@reports_errors
def publish_command(
    source: Annotated[int, typer.Argument(help="The source's id (see: atalaya stats sources).")],
    iccs: Annotated[str | None, typer.Option(help="Only the series under this ICCS code.")] = None,
    withdraw: Annotated[bool, typer.Option(help="Withdraw from publication instead.")] = False,
) -> None:
    """Publish a source's series, so that anyone sees them without signing in (audited)."""
    rt = runtime()
    with unit_of_work(rt) as session:
        changed = service.publish(session, cli_context(), source, iccs=iccs, withdraw=withdraw)
    typer.echo(f"{changed} series {'withdrawn' if withdraw else 'published'}")
