"""Node-to-node routes: the node's description, and the inbox of signed envelopes.

Neither takes a user's credentials: the description is public, and an envelope proves
its sender by its signature.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from atalaya.accounts.deps import (
    SessionDep,
    SessionRoute,
    audit_context,
    audit_from_thread,
    get_runtime,
)
from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.federation import inbox, node
from atalaya.web.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["federation"], responses=PROBLEM_RESPONSES, route_class=SessionRoute)
ENVELOPE_MEDIA_TYPE = "application/jose"


async def envelope_body(request: Request) -> bytes | None:
    """Return the request body, read on the event loop before the route's thread runs;
    ``None`` as soon as it passes the node's limit (the route refuses it, audited)."""
    limit = get_runtime(request).settings.federation_max_envelope_bytes
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks).strip()


EnvelopeBody = Annotated[bytes | None, Depends(envelope_body)]


def within_limit(body: bytes | None, limit: int) -> bytes:
    """Return ``body``; raise ``FED-113`` if it was over ``limit`` (``None``)."""
    if body is None:
        raise DomainError("FED-113", params={"max": limit})
    return body


@router.get("/.well-known/atalaya-node")
def node_description(request: Request, session: SessionDep) -> dict[str, Any]:
    """Return who this node is and its public keys (JWK), with a signed copy."""
    return node.describe(session, get_runtime(request).settings)


class Receipt(BaseModel):
    id: str
    status: str


@router.post("/federation/inbox", status_code=202, response_model=Receipt)
def receive_envelope(request: Request, session: SessionDep, body: EnvelopeBody) -> Receipt:
    """Accept one envelope (a compact JWS, ``application/jose``) from a peer.

    Answers 202 once it is recorded and handled; a rejected envelope gets problem+json
    with its ``FED-1xx`` code, is audited with the reason, and changes nothing else.
    """
    runtime = get_runtime(request)
    settings = runtime.settings
    ctx = audit_context(request)
    attempt = inbox.Attempt()
    try:
        token = within_limit(body, settings.federation_max_envelope_bytes)
        identity = node.identity(session)
        node_keys = node.load_keys(session, settings)
        accepted = inbox.receive(
            session, settings, identity.node_id, node_keys, token, attempt, utcnow()
        )
        inbox.record_acceptance(session, ctx, accepted)
    except DomainError as error:
        # Give back the writers' lock before waiting for the audit writer.
        session.rollback()
        audit_from_thread(request, inbox.rejection_entry(ctx, attempt, error))
        raise
    return Receipt(id=accepted.entry.envelope_id, status="accepted")
