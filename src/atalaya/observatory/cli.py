"""``atalaya stats``: import published statistics, query indicators, publish series."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from atalaya.audit import service as audit
from atalaya.clitools import cli_context, day, echo_table, reports_errors, runtime, unit_of_work
from atalaya.errors import DomainError, message_for
from atalaya.i18n import translator
from atalaya.observatory import derived, exports, service
from atalaya.observatory.formats import FORMATS
from atalaya.observatory.imports import ImportReport
from atalaya.observatory.models import TOTAL
from atalaya.observatory.query import EVERYTHING, PUBLIC, IndicatorQuery
from atalaya.observatory.schemas import IndicatorOut
from atalaya.runtime import Runtime
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
            parser=day,
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
    for reason, lines in report.not_imported.items():
        typer.echo(f"  not imported: {reason} ({lines} lines)")
    for category, rows in report.without_iccs.items():
        typer.echo(
            f"  no ICCS code, kept with its national category only: {category} ({rows} rows)"
        )
    if report.new_source:
        typer.echo(f"  not published yet: atalaya stats publish {report.source_id}")


# The filters of an indicator query, shared by ``stats query`` and ``stats export``.
IndicatorOption = Annotated[str | None, typer.Option(help="offences, victims, ...")]
IccsOption = Annotated[str | None, typer.Option(help="ICCS code at any level (01 takes 0101).")]
NationalOption = Annotated[
    str | None, typer.Option(help="National category, or the start of one: mx-sesnsp:Robo.")
]
AreaOption = Annotated[str | None, typer.Option(help="Area code; the areas in it count too.")]
PeriodOption = Annotated[str | None, typer.Option(help="YYYY, YYYY-Qn or YYYY-MM.")]
FrequencyOption = Annotated[str | None, typer.Option(help="Without --period: A (years), Q or M.")]
SexOption = Annotated[str, typer.Option(help="male, female, unknown or _T (total).")]
AgeOption = Annotated[str, typer.Option(help="An age group or _T (total).")]
WeaponOption = Annotated[str, typer.Option(help="A weapon or _T (total).")]
SourceTypeOption = Annotated[
    str | None, typer.Option(help="police, health, forensic or victim_survey.")
]
ByOption = Annotated[
    list[str] | None,
    typer.Option(help="Break down by sex, age_group, weapon or national_category."),
]
PublicOption = Annotated[
    bool, typer.Option(help="Only published series, as anonymous callers see them.")
]


@stats.command("query")
@reports_errors
def query_command(
    indicator: IndicatorOption = None,
    iccs: IccsOption = None,
    national_category: NationalOption = None,
    area: AreaOption = None,
    period: PeriodOption = None,
    frequency: FrequencyOption = None,
    sex: SexOption = TOTAL,
    age_group: AgeOption = TOTAL,
    weapon: WeaponOption = TOTAL,
    source_type: SourceTypeOption = None,
    by: ByOption = None,
    public: PublicOption = False,
    format: Annotated[str, typer.Option(help="table or json.")] = "table",
) -> None:
    """Indicator values with roll-ups, rates per 100,000 and the sources they come from."""
    if format not in ("table", "json"):
        raise DomainError(
            "OBS-116", field="format", params={"value": format, "choices": "json, table"}
        )
    q = IndicatorQuery(indicator, iccs, national_category, area, period, frequency,
                       sex, age_group, weapon, source_type, tuple(by or ()))  # fmt: skip
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


@stats.command("export")
@reports_errors
def export_command(
    format: Annotated[str, typer.Option(help="csv, xlsx, sdmx-csv or sdmx-json.")],
    output: Annotated[
        Path | None, typer.Option(help="File to write; standard output if omitted.")
    ] = None,
    indicator: IndicatorOption = None,
    iccs: IccsOption = None,
    national_category: NationalOption = None,
    area: AreaOption = None,
    period: PeriodOption = None,
    frequency: FrequencyOption = None,
    sex: SexOption = TOTAL,
    age_group: AgeOption = TOTAL,
    weapon: WeaponOption = TOTAL,
    source_type: SourceTypeOption = None,
    by: ByOption = None,
    public: PublicOption = False,
) -> None:
    """Export the values of a query (the same filters as stats query) as CSV or XLSX with
    labels, or SDMX-CSV 1.0 or SDMX-JSON against the dataflow ATALAYA:DF_CRIME(1.0); each
    value names its source and vintage. Audited."""
    exports.check_format(format)
    q = IndicatorQuery(indicator, iccs, national_category, area, period, frequency,
                       sex, age_group, weapon, source_type, tuple(by or ()))  # fmt: skip
    rt = runtime()
    with unit_of_work(rt) as session:
        values = service.indicator_values(session, q, PUBLIC if public else EVERYTHING)
        body = exports.export(session, values, format, rt.settings.language, q)
        detail = exports.audit_detail(format, values, q)
        audit.record(session, cli_context(), "stats.export", object_type="indicator", detail=detail)
    if output is None:
        sys.stdout.buffer.write(body)
        sys.stdout.flush()
    else:
        output.write_bytes(body)
    typer.echo(f"{len(values)} values exported", err=True)


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


@stats.command("threshold")
@reports_errors
def threshold_command(
    source: Annotated[int, typer.Argument(help="The source's id (see: atalaya stats sources).")],
    threshold: Annotated[
        int | None,
        typer.Argument(min=0, help="Withhold public counts under it (0: none); left out: show it."),
    ] = None,
) -> None:
    """Show or set the count under which a source's public figures are withheld as
    confidential, with the figures they could be worked out from (audited; the node's
    records: 3, imported statistics: 0)."""
    rt = runtime()
    if threshold is None:
        with rt.db.read_sessions() as session:
            shown = service.threshold_of(session, source)
        typer.echo(f"source {source}: public counts under {shown} withheld")
        return
    with unit_of_work(rt) as session:
        before = service.set_threshold(session, cli_context(), source, threshold)
    typer.echo(f"source {source}: public counts under {threshold} withheld (was {before})")


def count_now(rt: Runtime, quiet: bool = False) -> int:
    """Count the incidents a bulk import queued (``derived.defer``), batch by batch,
    with a progress bar; return how many."""
    with rt.db.read_sessions() as session:
        waiting = derived.pending(session)
    if not waiting:
        return 0
    columns = (TextColumn("Counting"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    counted = 0
    with Progress(*columns, disable=quiet) as progress:
        task = progress.add_task("count", total=waiting)
        while True:
            with unit_of_work(rt) as session:
                done = derived.count_pending(session)
            if not done:
                break
            counted += done
            progress.advance(task, done)
    return counted


@stats.command("count")
@reports_errors
def count_command() -> None:
    """Count, in the indicators computed from records, the incidents that bulk imports
    stored and left to count (the worker does it too, in the background)."""
    typer.echo(f"{count_now(runtime())} incidents counted")


@stats.command("recount")
@reports_errors
def recount_command() -> None:
    """Recount the indicators computed from this node's incident records, from every
    incident (for records that predate them; writes keep them current by themselves)."""
    rt = runtime()
    with unit_of_work(rt) as session:
        incidents = derived.rebuild(session)
        audit.record(
            session,
            cli_context(),
            "stats.recount",
            object_type="stat_source",
            detail={"incidents": incidents},
        )
    typer.echo(f"{incidents} incidents counted")


plans = typer.Typer(help="National plans with targets (see: atalaya stats progress).")
targets = typer.Typer(help="The targets of national plans.")
stats.add_typer(plans, name="plans")
stats.add_typer(targets, name="targets")


@plans.command("add")
@reports_errors
def plans_add_command(
    code: Annotated[str, typer.Argument(help="A short code for the plan: MX-PNSP-2019.")],
    name: Annotated[str, typer.Option(help="The plan's title.")],
    area: Annotated[str, typer.Option(help="The country's area code: MX.")],
    period_from: Annotated[int, typer.Option("--from", help="First year of the plan.")],
    period_to: Annotated[int, typer.Option("--to", help="Last year of the plan.")],
    source_document: Annotated[
        str, typer.Option(help="Where the plan is published (title, address).")
    ] = "",
    published: Annotated[
        bool, typer.Option(help="Open to anyone while every series it uses is published.")
    ] = False,
) -> None:
    """Add a national plan (audited); add its targets with: atalaya stats targets add."""
    from atalaya.observatory import targets as plan_service

    new = plan_service.NewPlan(code, name, area, period_from, period_to, source_document, published)
    with unit_of_work(runtime()) as session:
        plan_service.add_plan(session, cli_context(), new)
    typer.echo(f"plan {code} added")


@plans.command("publish")
@reports_errors
def plans_publish_command(
    code: Annotated[str, typer.Argument(help="The plan's code.")],
    withdraw: Annotated[bool, typer.Option(help="Withdraw from publication instead.")] = False,
) -> None:
    """Publish a plan (audited): anyone may then read its progress, while every series
    its targets use is published."""
    from atalaya.observatory import targets as plan_service

    with unit_of_work(runtime()) as session:
        plan_service.publish_plan(session, cli_context(), code, withdraw=withdraw)
    typer.echo(f"plan {code} {'withdrawn' if withdraw else 'published'}")


@targets.command("add")
@reports_errors
def targets_add_command(
    plan: Annotated[str, typer.Argument(help="The plan's code.")],
    indicator: Annotated[str, typer.Option(help="offences, victims, ...")],
    area: Annotated[str, typer.Option(help="Area code, in the plan's country.")],
    baseline_year: Annotated[int, typer.Option(help="Year of the baseline value.")],
    baseline_value: Annotated[float, typer.Option(help="The baseline value.")],
    target_year: Annotated[int, typer.Option(help="Year of the target, after the baseline.")],
    target_value: Annotated[float, typer.Option(help="The target value.")],
    iccs: Annotated[str | None, typer.Option(help="ICCS code at any level.")] = None,
    national_category: Annotated[
        str | None, typer.Option(help="National category: mx-sesnsp:Robo.")
    ] = None,
    measure: Annotated[str, typer.Option(help="count or rate_per_100k.")] = "count",
    source_type: Annotated[
        str | None, typer.Option(help="police, health, forensic or victim_survey.")
    ] = None,
) -> None:
    """Add a target to a plan (audited); every problem is reported and nothing is stored."""
    from atalaya.observatory import targets as plan_service

    new = plan_service.NewTarget(
        indicator,
        area,
        baseline_year,
        baseline_value,
        target_year,
        target_value,
        iccs,
        national_category,
        measure,
        source_type,
    )
    try:
        with unit_of_work(runtime()) as session:
            target = plan_service.add_target(session, cli_context(), plan, new)
            target_id = target.id
    except DomainError as error:
        if len(error.errors) > 1:
            _echo_problems(error)
        raise
    typer.echo(f"target {target_id} added to plan {plan}")


@stats.command("progress")
@reports_errors
def progress_command(
    plan: Annotated[str, typer.Argument(help="The plan's code.")],
    year: Annotated[
        int | None, typer.Option(help="The year to measure (default: the latest with data).")
    ] = None,
    format: Annotated[str, typer.Option(help="table or json.")] = "table",
) -> None:
    """A plan's progress: each target's current value, the value expected on the straight
    line from baseline to target, whether it is on track, and the arithmetic."""
    from atalaya.observatory import targets as plan_service

    if format not in ("table", "json"):
        raise DomainError(
            "OBS-116", field="format", params={"value": format, "choices": "json, table"}
        )
    rt = runtime()
    with rt.db.read_sessions() as session:
        found = plan_service.get_plan(session, plan)
        out = plan_service.progress_out(session, found, EVERYTHING, rt.settings.language, year)
    if format == "json":
        typer.echo(json.dumps(out.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    echo_table(
        [
            {
                "target": t.id,
                "indicator": t.indicator,
                "iccs": t.iccs or t.national_category,
                "area": t.area,
                "measure": t.measure,
                "year": t.year,
                "current": t.current_value,
                "expected": t.expected_value,
                "status": t.status,
                "done %": t.done_percent,
            }
            for t in out.targets
        ]
    )
    for t in out.targets:
        typer.echo(f"  {t.id}: {t.arithmetic.text if t.arithmetic else '; '.join(t.reasons)}")


@stats.command("reconcile")
@reports_errors
def reconcile_command(
    area: Annotated[
        str | None, typer.Option(help="Area code (the areas in it count too); none: each area.")
    ] = None,
    year: Annotated[list[int] | None, typer.Option(help="A year (repeat for several).")] = None,
    by_area: Annotated[bool, typer.Option(help="Each area directly below --area.")] = False,
    iccs: Annotated[str, typer.Option(help="ICCS code.")] = "0101",
    low: Annotated[float, typer.Option(help="Lowest police/health ratio inside the band.")] = 0.8,
    high: Annotated[
        float, typer.Option(help="Highest police/health ratio inside the band.")
    ] = 1.25,
    public: Annotated[
        bool, typer.Option(help="Only published series, as anonymous callers see them.")
    ] = False,
    format: Annotated[str, typer.Option(help="table or json.")] = "table",
) -> None:
    """Police and health homicide victims side by side, with their ratio and a flag when it
    is outside the band; the two are never added together."""
    from atalaya.observatory.reconcile import as_dict, reconcile

    if format not in ("table", "json"):
        raise DomainError(
            "OBS-116", field="format", params={"value": format, "choices": "json, table"}
        )
    rt = runtime()
    with rt.db.read_sessions() as session:
        found = reconcile(
            session, PUBLIC if public else EVERYTHING, area, year or (), iccs, (low, high), by_area
        )
    out = [as_dict(r) for r in found]
    if format == "json":
        typer.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return

    def value(side: object) -> object:
        return side["value"] if isinstance(side, dict) else None

    echo_table(
        [
            {
                "area": o["area"],
                "year": o["year"],
                "police": value(o["police"]),
                "health": value(o["health"]),
                "ratio": o["ratio"],
                "outside band": o["outside_band"],
                "reason": o["reason"],
            }
            for o in out
        ]
    )
