"""The ``atalaya`` command. Each domain adds its own group of commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
)

from atalaya.accounts.cli import agencies, tokens, users
from atalaya.audit import service as audit
from atalaya.audit.cli import audit as audit_commands
from atalaya.backup import backup as write_backup
from atalaya.backup import restore as read_backup
from atalaya.clitools import (
    cli_context,
    collected_between_batches,
    reports_errors,
    runtime,
    unit_of_work,
)
from atalaya.geo.cli import areas
from atalaya.observatory.cli import stats
from atalaya.records.cli import records
from atalaya.runtime import Runtime

app = typer.Typer(
    help="Atalaya: the public-security information system of the Americas.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db = typer.Typer(help="The node's database.")
app.add_typer(db, name="db")
app.add_typer(agencies, name="agencies")
app.add_typer(users, name="users")
app.add_typer(tokens, name="tokens")
app.add_typer(areas, name="areas")
app.add_typer(audit_commands, name="audit")
app.add_typer(records, name="records")
app.add_typer(stats, name="stats")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the web application and the API."""
    import uvicorn

    from atalaya.web.middleware import configure_logging

    configure_logging()
    uvicorn.run(
        "atalaya.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        server_header=False,
    )


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration, then load the shipped reference areas."""
    from atalaya.geo.service import seed_reference_areas
    from atalaya.migrations import upgrade

    rt = runtime()
    upgrade(rt.db.engine)
    with unit_of_work(rt) as session:
        changed = seed_reference_areas(session)
    typer.echo(f"database at the latest revision; reference areas: {changed} changes")


@app.command()
@reports_errors
def demo(
    incidents: Annotated[
        int,
        typer.Option(min=0, help="How many demo incidents to have (0: none); loaded ones stay."),
    ] = 20000,
    quiet: Annotated[bool, typer.Option(help="Do not print the demo logins.")] = False,
) -> None:
    """Load demo agencies, users and incidents (idempotent) and print how to sign in."""
    from atalaya.demo import load_demo, logins_text, pending_demo_incidents

    rt = runtime()
    with unit_of_work(rt) as session:
        created = load_demo(session, rt.credentials, cli_context())
        pending = pending_demo_incidents(session, incidents)
    typer.echo(f"demo data: {created} rows created")
    added = _load_demo_incidents(rt, pending) if pending else 0
    typer.echo(f"demo incidents: {added} added")
    if not quiet:
        typer.echo(logins_text(rt.settings.public_url))


def _load_demo_incidents(rt: Runtime, numbers: list[int]) -> int:
    """Store the demo incidents ``numbers`` with a progress bar; return how many were."""
    from atalaya.demo import load_demo_incidents

    columns = (
        TextColumn("Demo incidents"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as progress, collected_between_batches() as collect:
        task = progress.add_task("demo", total=len(numbers))

        def batch_done(count: int) -> None:
            progress.advance(task, count)
            collect()

        report = load_demo_incidents(rt.db.sessions, cli_context(), numbers, progress=batch_done)
    for rejection in report.rejected:
        codes = ", ".join(f"{e.code} {e.field}" for e in rejection.errors)
        typer.echo(f"  rejected {rejection.reference}: {codes}", err=True)
    return report.stored


@app.command()
@reports_errors
def backup(path: Annotated[Path, typer.Argument(help="File to write the backup to.")]) -> None:
    """Write a consistent snapshot of the database, with its checksum, to PATH."""
    rt = runtime()
    with _spinner("Writing backup"):
        manifest = write_backup(rt.db.engine, path)
    with unit_of_work(rt) as session:
        audit.record(
            session,
            cli_context(),
            "backup",
            object_type="backup",
            object_id=path.name,
            detail={"sha256": manifest["sha256"]},
        )
    typer.echo(f"backup written to {path} (sha256 {manifest['sha256']})")


@app.command()
@reports_errors
def restore(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Backup file.")],
) -> None:
    """Replace the database with the backup at PATH, after checking its checksum.

    Stop the server first. A file whose checksum fails is refused and nothing changes.
    """
    rt = runtime()
    with _spinner("Restoring backup"):
        manifest = read_backup(rt.db.engine, path)
    with unit_of_work(rt) as session:
        audit.record(
            session,
            cli_context(),
            "restore",
            object_type="backup",
            object_id=path.name,
            detail={"sha256": manifest["sha256"]},
        )
    typer.echo(f"restored {path} (made {manifest['created']})")


def _spinner(description: str) -> Progress:
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True)
    progress.add_task(description, total=None)
    return progress


def main() -> None:
    app()
