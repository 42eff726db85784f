"""``atalaya hits``: ask peers hit/no-hit as a user, follow a hit up, watch a record,
rebuild the blinded index peers' queries are answered from."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import httpx
import typer
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal
from atalaya.accounts.service import get_user, principal_for
from atalaya.audit.service import Actor, AuditContext
from atalaya.clitools import cli_context, reports_errors, runtime, unit_of_work
from atalaya.db import utcnow
from atalaya.federation import hit_index, hit_queries, node
from atalaya.federation.hits import KINDS, Question, purposes
from atalaya.federation.models import HitOutcome
from atalaya.records.service import get_incident

hits = typer.Typer(help="Hit/no-hit queries between nodes: ask peers, follow up, watch records.")

User = Annotated[str, typer.Option("--user", help="The user acting (their roles apply).")]


def _acting(session: Session, username: str) -> tuple[Principal, AuditContext]:
    """Return the principal of ``username`` and the audit context of a command run for
    them (the operating-system user is kept in the request id)."""
    principal = principal_for(get_user(session, username))
    actor = Actor(
        "cli",
        user_id=principal.user_id,
        username=principal.username,
        agency_code=principal.agency_code,
        area_path=principal.jurisdiction_path,
    )
    return principal, AuditContext(actor, cli_context().actor.username, "cli")


@hits.command("query")
@reports_errors
def hits_query(
    type: Annotated[str, typer.Option("--type", help=f"One of: {', '.join(KINDS)}.")],
    purpose: Annotated[str, typer.Option(help="Why you ask: a purpose code.")],
    user: User,
    value: Annotated[str, typer.Option(help="The identifier (not for --type person).")] = "",
    given_names: Annotated[str, typer.Option(help="Person: given names.")] = "",
    surnames: Annotated[str, typer.Option(help="Person: surnames.")] = "",
    date_of_birth: Annotated[str, typer.Option(help="Person: date of birth, YYYY-MM-DD.")] = "",
    peer: Annotated[str | None, typer.Option(help="Ask this peer only.")] = None,
) -> None:
    """Ask peers whether they hold a record of an identifier or a person; print, per
    peer, hit with references, or no hit. Only a blinded value leaves this node."""
    rt = runtime()
    question = Question(type, purpose, value, given_names, surnames, date_of_birth)
    with unit_of_work(rt) as session:
        principal, ctx = _acting(session, user)
        outgoing = hit_queries.prepare(session, rt.settings, principal, question, peer, utcnow())
    replies = asyncio.run(_exchange(rt.settings.federation_timeout_seconds, outgoing))
    with unit_of_work(rt) as session:
        rows = hit_queries.settle(session, rt.settings, ctx, principal, outgoing, replies, utcnow())
        for row, sent in zip(rows, outgoing, strict=True):
            references = ", ".join(json.loads(row.references))
            typer.echo(_line(sent.peer.node_id, row.outcome, references, row.code, row.envelope_id))


async def _exchange(
    timeout: float, outgoing: list[hit_queries.Outgoing]
) -> list[hit_queries.Reply]:
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await hit_queries.exchange(client, outgoing)


def _line(peer: str, outcome: str, references: str, code: str | None, query_id: str) -> str:
    if outcome == HitOutcome.HIT:
        return f"{peer}: hit {references} (query {query_id})"
    if outcome == HitOutcome.NO_HIT:
        return f"{peer}: no hit (query {query_id})"
    return f"{peer}: {outcome} {code or ''} (query {query_id})".rstrip()


@hits.command("purposes")
def hits_purposes() -> None:
    """List the purpose codes a query may give."""
    for code in purposes():
        typer.echo(code)


@hits.command("followup")
@reports_errors
def hits_followup(
    query_id: Annotated[str, typer.Argument(help="The query id a hit was printed with.")],
    user: User,
    reference: Annotated[str | None, typer.Option(help="Which reference (default: first).")] = None,
) -> None:
    """Ask the peer that answered a hit to follow it up (a signed envelope, queued)."""
    rt = runtime()
    with unit_of_work(rt) as session:
        principal, ctx = _acting(session, user)
        row = hit_queries.follow_up(session, rt.settings, ctx, principal, query_id, reference)
    typer.echo(f"follow-up {row.followup_envelope_id} queued for query {row.envelope_id}")


@hits.command("watch")
@reports_errors
def hits_watch(
    incident_id: Annotated[int, typer.Argument(help="One of your agency's incidents.")],
    user: User,
) -> None:
    """Have your agency told when a peer's query hits this incident."""
    rt = runtime()
    with unit_of_work(rt) as session:
        principal, ctx = _acting(session, user)
        hit_index.watch(session, ctx, principal, get_incident(session, incident_id))
    typer.echo(f"incident {incident_id} watched")


@hits.command("reindex")
@reports_errors
def hits_reindex() -> None:
    """Rebuild the blinded index peers' queries are answered from, for every agreement
    in force that lets peers ask (after amending one, or rotating keys)."""
    rt = runtime()
    with unit_of_work(rt) as session:
        identity = node.identity(session)
        node_keys = node.load_keys(session, rt.settings)
        built = hit_index.reindex(session, identity.node_id, node_keys, utcnow())
    for scope, count in built.items():
        typer.echo(f"{scope}: {count} entries")
    typer.echo(f"{len(built)} indexes rebuilt")
