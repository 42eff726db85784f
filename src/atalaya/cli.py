"""The ``atalaya`` command. Each domain adds its own group of commands."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
from atalaya.db import Database
from atalaya.federation.cli import agreements, node, peers
from atalaya.federation.hits_cli import hits
from atalaya.geo.cli import areas
from atalaya.observatory.cli import stats
from atalaya.records.cli import records
from atalaya.runtime import Runtime
from atalaya.settings import Settings

if TYPE_CHECKING:
    from atalaya.federation.delivery import Background

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
app.add_typer(node, name="node")
app.add_typer(peers, name="peers")
app.add_typer(agreements, name="agreements")
app.add_typer(hits, name="hits")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the web application and the API; unless ATALAYA_EMBEDDED_WORKER is false,
    deliver the outbox to peer nodes too, as `atalaya worker` does."""
    import uvicorn

    from atalaya.web.middleware import configure_logging

    configure_logging()
    settings = Settings()
    delivery = _embedded_worker(settings) if settings.embedded_worker else None
    try:
        uvicorn.run(
            "atalaya.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            log_config=None,
            server_header=False,
            timeout_worker_healthcheck=settings.worker_healthcheck_seconds,
            # Who the client is, behind a proxy, is ATALAYA_TRUSTED_PROXIES's to say
            # (web/middleware.py), not uvicorn's FORWARDED_ALLOW_IPS (127.0.0.1 trusted).
            proxy_headers=False,
        )
    finally:
        if delivery is not None:
            delivery.close()


def _embedded_worker(settings: Settings) -> Background:
    """Start the delivery worker in a thread of this process (one for the whole node,
    however many server processes there are); return it."""
    import atalaya.app  # noqa: F401 - registers every envelope type the node handles
    from atalaya.federation.delivery import Background

    delivery = Background(Database.from_settings(settings), settings)
    delivery.start()
    return delivery


@app.command()
@reports_errors
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Deliver what is due, then exit (for cron and tests).")
    ] = False,
    poll: Annotated[
        float | None,
        typer.Option(
            min=0.01,
            help="Seconds between looks for due envelopes "
            "(default: ATALAYA_FEDERATION_WORKER_POLL_SECONDS).",
        ),
    ] = None,
) -> None:
    """Deliver the outbox to peer nodes: each peer's envelopes in order, retried with
    backoff, behind a circuit breaker per peer; and count the incidents bulk imports left
    to count in the observatory's indicators. Runs until stopped (SIGTERM, Ctrl-C)."""
    import atalaya.app  # noqa: F401 - registers every envelope type the node handles
    from atalaya.federation.delivery import Worker, http_client
    from atalaya.observatory.cli import count_now
    from atalaya.observatory.derived import counting_job

    rt = runtime()
    with http_client(rt.settings) as client:
        delivery = Worker(rt.db, rt.settings, client, jobs=[counting_job(rt.db)])
        try:
            if once:
                tally = delivery.drain()
                counted = count_now(rt, quiet=True)
                typer.echo(
                    f"delivered {tally.delivered}, failed {tally.failed}, put off {tally.retried}; "
                    f"{counted} incidents counted"
                )
                return
            stop = threading.Event()
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: stop.set())
            delivery.run(stop, poll or rt.settings.federation_worker_poll_seconds)
        finally:
            delivery.close()


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


demo_commands = typer.Typer(
    help="Load demo agencies, users and incidents (idempotent) and print how to sign in; "
    "`atalaya demo network` starts three demo nodes that exchange alerts and queries."
)
app.add_typer(demo_commands, name="demo")


@demo_commands.callback(invoke_without_command=True)
@reports_errors
def demo(
    ctx: typer.Context,
    incidents: Annotated[
        int,
        typer.Option(min=0, help="How many demo incidents to have (0: none); loaded ones stay."),
    ] = 20000,
    quiet: Annotated[bool, typer.Option(help="Do not print the demo logins.")] = False,
) -> None:
    """Load demo agencies, users and incidents (idempotent) and print how to sign in."""
    if ctx.invoked_subcommand is not None:
        return
    from atalaya.alerts.demo import load_demo_alerts
    from atalaya.demo import (
        load_demo,
        logins_text,
        pending_demo_incidents,
        publish_demo_indicators,
    )
    from atalaya.observatory.cli import count_now

    rt = runtime()
    with unit_of_work(rt) as session:
        created = load_demo(session, rt.credentials, cli_context())
        pending = pending_demo_incidents(session, incidents)
    typer.echo(f"demo data: {created} rows created")
    added = _load_demo_incidents(rt, pending) if pending else 0
    typer.echo(f"demo incidents: {added} added")
    count_now(rt, quiet=True)
    with unit_of_work(rt) as session:
        alerts = load_demo_alerts(session, cli_context(), rt.settings.node_id)
        published = publish_demo_indicators(session, cli_context())
    typer.echo(f"demo alerts: {alerts} added")
    typer.echo(f"demo indicators: {published} series published on the public dashboard")
    if not quiet:
        typer.echo(logins_text(rt.settings.public_url))


@demo_commands.command("network")
@reports_errors
def demo_network(
    directory: Annotated[
        Path, typer.Option(help="Where the three nodes keep their databases and keys.")
    ] = Path("var/network"),
    base_port: Annotated[
        int, typer.Option(min=1024, max=65530, help="Port of the first node; the next two follow.")
    ] = 8101,
    incidents: Annotated[
        int, typer.Option(min=0, help="Demo incidents on the Mexican node.")
    ] = 2000,
    stay: Annotated[
        bool, typer.Option(help="Keep serving the nodes until Ctrl-C (--no-stay: stop at once).")
    ] = True,
) -> None:
    """Start three demo nodes (MX, GT, US) as separate processes on 127.0.0.1, with
    agreements MX-GT and MX-US, exchange alerts and hit/no-hit queries, and print each
    node's address and sign-ins."""
    from atalaya.federation.demo_network import run

    def wait() -> None:
        if not stay:
            return
        typer.echo("serving; press Ctrl-C to stop the three nodes")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            typer.echo("stopping")

    run(directory.resolve(), base_port, incidents, typer.echo, wait)


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
