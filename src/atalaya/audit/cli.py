"""``atalaya audit verify``: walk the hash chain."""

from __future__ import annotations

import typer

from atalaya.audit import service
from atalaya.clitools import runtime, unit_of_work

audit = typer.Typer(help="The append-only, hash-chained audit log.")


@audit.command("verify")
def verify() -> None:
    """Check every entry of the audit log; exit 1 naming the first broken entry."""
    rt = runtime()
    with unit_of_work(rt) as session:
        result = service.verify(session)
    if result.ok:
        typer.echo(f"audit log intact: {result.checked} entries verified")
        return
    where = f"entry {result.broken_seq}"
    typer.echo(f"AUD-101: the audit log is broken at {where}: {result.problem}", err=True)
    typer.echo(f"{result.checked} entries before it verified", err=True)
    raise typer.Exit(1)
