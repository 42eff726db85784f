"""``atalaya node``, ``atalaya peers`` and ``atalaya agreements``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import httpx
import typer
from sqlalchemy import select

from atalaya.audit.service import append
from atalaya.clitools import cli_context, day, echo_table, reports_errors, runtime, unit_of_work
from atalaya.errors import DomainError
from atalaya.federation import agreements as agreement_service
from atalaya.federation import node as node_service
from atalaya.federation import peers as peer_service
from atalaya.federation.agreements import Amendment, Terms
from atalaya.federation.envelopes import timestamp
from atalaya.federation.models import Direction, Peer
from atalaya.federation.outbox import enqueue
from atalaya.runtime import Runtime

node = typer.Typer(help="This node's identity and keys, as its peers know it.")
peers = typer.Typer(help="Other nodes this node exchanges with, their pinned keys and groups.")
agreements = typer.Typer(help="What may be exchanged with a peer or a group, in each direction.")

Classes = Annotated[
    list[str] | None,
    typer.Option(help="A data class (e.g. alert:wanted, hit:document); repeat or comma-separate."),
]


@node.command("init")
@reports_errors
def node_init(
    id: Annotated[str, typer.Option("--id", help="Node id: lowercase letters, digits, hyphens.")],
    name: Annotated[str, typer.Option(help="Name of the node, e.g. the force that runs it.")],
    country: Annotated[str, typer.Option(help="ISO 3166 two-letter country code.")],
    url: Annotated[str, typer.Option(help="Public URL peers reach this node at.")],
) -> None:
    """Create the node's identity and its signing and encryption keys (files with mode
    0600, or those named by ATALAYA_SIGNING_KEY_FILE and ATALAYA_ENCRYPTION_KEY_FILE).
    Prints the fingerprint to give peers out of band."""
    rt = runtime()
    with unit_of_work(rt) as session:
        identity, keys = node_service.init_node(
            session, cli_context(), rt.settings, node_id=id, name=name, country=country, url=url
        )
    typer.echo(f"node {identity.node_id} ({identity.country}) at {identity.url}")
    typer.echo(f"fingerprint: {keys.kid}")


@node.command("show")
@reports_errors
def node_show() -> None:
    """Show the node's identity, its keys' fingerprint and the keys still published."""
    rt = runtime()
    with unit_of_work(rt) as session:
        identity = node_service.identity(session)
        keys = node_service.load_keys(session, rt.settings)
        published = node_service.published_keys(session, dt.datetime.now(dt.UTC))
    typer.echo(f"node {identity.node_id}: {identity.name} ({identity.country}) at {identity.url}")
    typer.echo(f"fingerprint: {keys.kid}")
    for key in published:
        until = f"valid until {timestamp(key.valid_until)}" if key.valid_until else "current"
        typer.echo(f"  {key.use} {key.kid} {until}")


@node.command("rotate-keys")
@reports_errors
def node_rotate_keys() -> None:
    """Replace the node's keys. The old public keys still verify for
    ATALAYA_FEDERATION_KEY_OVERLAP_HOURS; peers follow with `atalaya peers refresh`."""
    rt = runtime()
    with unit_of_work(rt) as session:
        keys = node_service.rotate_keys(session, cli_context(), rt.settings)
    typer.echo(f"new fingerprint: {keys.kid}")


@peers.command("add")
@reports_errors
def peers_add(
    url: Annotated[str, typer.Argument(help="The peer's public URL.")],
    fingerprint: Annotated[
        str, typer.Option(help="The peer's key fingerprint, obtained from it out of band.")
    ],
) -> None:
    """Fetch the peer's description and pin its keys, only if its fingerprint matches."""
    rt = runtime()
    with _client(rt) as client:
        description = peer_service.fetch_description(client, url)
    try:
        with unit_of_work(rt) as session:
            peer = peer_service.add_peer(session, cli_context(), description, fingerprint)
    except DomainError as error:
        with unit_of_work(rt) as session:
            append(session.connection(), [peer_service.refused_pin(cli_context(), url, error)])
        raise
    typer.echo(f"peer {peer.node_id} ({peer.country}) pinned, fingerprint {fingerprint}")


@peers.command("refresh")
@reports_errors
def peers_refresh(node_id: Annotated[str, typer.Argument(help="The peer's node id.")]) -> None:
    """Fetch the peer's description again and follow a key rotation it signed."""
    rt = runtime()
    with unit_of_work(rt) as session:
        peer = peer_service.get_peer(session, node_id)
        with _client(rt) as client:
            description = peer_service.fetch_description(client, peer.url)
        changed = peer_service.refresh_peer(session, cli_context(), rt.settings, peer, description)
    typer.echo(f"peer {node_id}: {'new keys pinned' if changed else 'keys unchanged'}")


@peers.command("list")
def peers_list() -> None:
    """List the peers and their current signing key's fingerprint."""
    rt = runtime()
    with unit_of_work(rt) as session:
        found = session.scalars(select(Peer).order_by(Peer.node_id)).all()
        echo_table([_peer_row(p) for p in found])


def _peer_row(peer: Peer) -> dict[str, object]:
    signing = next((k.kid for k in peer.keys if k.use == "sig" and k.valid_until is None), None)
    return {"id": peer.node_id, "country": peer.country, "url": peer.url, "fingerprint": signing}


@peers.command("ping")
@reports_errors
def peers_ping(node_id: Annotated[str, typer.Argument(help="The peer's node id.")]) -> None:
    """Queue a node.ping envelope for the peer, which records when it last heard from
    this node: a test of the connection, delivered by the worker like any envelope."""
    rt = runtime()
    with unit_of_work(rt) as session:
        identity = node_service.identity(session)
        keys = node_service.load_keys(session, rt.settings)
        peer = peer_service.get_peer(session, node_id)
        row = enqueue(session, identity.node_id, keys, peer, "node.ping", {})
    typer.echo(f"node.ping {row.envelope_id} queued for {node_id}")


@peers.command("join")
@reports_errors
def peers_join(
    group: Annotated[str, typer.Argument(help="Group code, created on first use.")],
    node_id: Annotated[str, typer.Argument(help="The peer's node id.")],
) -> None:
    """Add a peer to a group of peers that agreements can name."""
    rt = runtime()
    with unit_of_work(rt) as session:
        peer = peer_service.get_peer(session, node_id)
        peer_service.join_group(session, cli_context(), group, peer)
    typer.echo(f"peer {node_id} is in group {group}")


def _client(rt: Runtime) -> httpx.Client:
    return httpx.Client(timeout=rt.settings.federation_timeout_seconds)


def _split(values: list[str] | None) -> list[str]:
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


@agreements.command("add")
@reports_errors
def agreements_add(
    peer: Annotated[str | None, typer.Option(help="The peer's node id.")] = None,
    group: Annotated[str | None, typer.Option(help="A group of peers, instead of --peer.")] = None,
    send: Classes = None,
    receive: Classes = None,
    condition: Annotated[
        list[str] | None, typer.Option(help="A handling condition; repeat for several.")
    ] = None,
    daily_limit: Annotated[
        int | None, typer.Option(min=0, help="Envelopes a day the peer may send us.")
    ] = None,
    until: Annotated[
        dt.datetime | None, typer.Option(parser=day, help="Last day (YYYY-MM-DD).")
    ] = None,
) -> None:
    """Record an agreement with a peer or a group: the data classes it allows each way.
    Without --send or --receive, nothing goes that way."""
    rt = runtime()
    terms = Terms(
        _split(send),
        _split(receive),
        list(condition or []),
        daily_limit,
        valid_until=until and until.replace(tzinfo=dt.UTC) + dt.timedelta(days=1),
    )
    with unit_of_work(rt) as session:
        target = peer_service.get_peer(session, peer) if peer else None
        peer_group = peer_service.get_group(session, group) if group else None
        agreement = agreement_service.add_agreement(
            session, cli_context(), terms, peer=target, group=peer_group
        )
    typer.echo(f"agreement {agreement.reference} version {agreement.version} recorded")


@agreements.command("amend")
@reports_errors
def agreements_amend(
    reference: Annotated[str, typer.Argument(help="The agreement's reference.")],
    send: Annotated[
        list[str] | None,
        typer.Option(help="The data classes sent, replacing the current ones ('' for none)."),
    ] = None,
    receive: Annotated[
        list[str] | None,
        typer.Option(help="The data classes received, replacing the current ones ('' for none)."),
    ] = None,
    condition: Annotated[
        list[str] | None,
        typer.Option(help="A handling condition, replacing the current ones ('' for none)."),
    ] = None,
    daily_limit: Annotated[int | None, typer.Option(min=0, help="Envelopes a day.")] = None,
    no_daily_limit: Annotated[
        bool, typer.Option("--no-daily-limit", help="Drop the quota: the default applies.")
    ] = False,
    until: Annotated[
        dt.datetime | None, typer.Option(parser=day, help="Last day (YYYY-MM-DD).")
    ] = None,
    no_until: Annotated[bool, typer.Option("--no-until", help="Valid until revoked.")] = False,
) -> None:
    """Record a new version of an agreement: what is given replaces what the current
    version says, the rest is kept."""
    if daily_limit is not None and no_daily_limit:
        raise typer.BadParameter("give --daily-limit or --no-daily-limit, not both")
    if until is not None and no_until:
        raise typer.BadParameter("give --until or --no-until, not both")
    rt = runtime()
    amendment = Amendment(
        None if send is None else _split(send),
        None if receive is None else _split(receive),
        None if condition is None else [c for c in condition if c.strip()],
        daily_limit,
        until and until.replace(tzinfo=dt.UTC) + dt.timedelta(days=1),
        no_daily_limit=no_daily_limit,
        no_end=no_until,
    )
    with unit_of_work(rt) as session:
        agreement = agreement_service.amend_agreement(session, cli_context(), reference, amendment)
    typer.echo(f"agreement {agreement.reference} version {agreement.version} recorded")


@agreements.command("revoke")
@reports_errors
def agreements_revoke(
    reference: Annotated[str, typer.Argument(help="The agreement's reference.")],
) -> None:
    """Revoke an agreement from now on: nothing more goes either way under it."""
    rt = runtime()
    with unit_of_work(rt) as session:
        agreement_service.revoke_agreement(session, cli_context(), reference)
    typer.echo(f"agreement {reference} revoked")


@agreements.command("list")
def agreements_list() -> None:
    """List the newest version of every agreement."""
    rt = runtime()
    with unit_of_work(rt) as session:
        rows = [
            {
                "reference": a.reference,
                "version": a.version,
                "send": ", ".join(a.classes(Direction.SEND)),
                "receive": ", ".join(a.classes(Direction.RECEIVE)),
                "until": timestamp(a.valid_until) if a.valid_until else "",
                "revoked": "yes" if a.revoked_at else "",
            }
            for a in agreement_service.agreements(session)
        ]
    echo_table(rows)
