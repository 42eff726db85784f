"""Node-to-node routes: the node's description, and the inbox of signed envelopes.

Neither takes a user's credentials: the description is public, and an envelope proves
its sender by its signature.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from atalaya.accounts.deps import SessionDep, audit_context, get_runtime
from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.federation import inbox, node
from atalaya.web.problems import PROBLEM_RESPONSES

router = APIRouter(tags=["federation"], responses=PROBLEM_RESPONSES)
ENVELOPE_MEDIA_TYPE = "application/jose"


@router.get("/.well-known/atalaya-node")
async def node_description(request: Request, session: SessionDep) -> dict[str, Any]:
    """Return who this node is and its public keys (JWK), with a signed copy."""
    return node.describe(session, get_runtime(request).settings)


class Receipt(BaseModel):
    id: str
    status: str


@router.post("/federation/inbox", status_code=202, response_model=Receipt)
async def receive_envelope(request: Request, session: SessionDep) -> Receipt:
    """Accept one envelope (a compact JWS, ``application/jose``) from a peer.

    Answers 202 once it is recorded and handled; a rejected envelope gets problem+json
    with its ``FED-1xx`` code, is audited with the reason, and changes nothing else.
    """
    runtime = get_runtime(request)
    settings = runtime.settings
    ctx = audit_context(request)
    attempt = inbox.Attempt()
    try:
        token = await _body(request, settings.federation_max_envelope_bytes)
        identity = node.identity(session)
        node_keys = node.load_keys(session, settings)
        accepted = inbox.receive(
            session, settings, identity.node_id, node_keys, token, attempt, utcnow()
        )
        inbox.record_acceptance(session, ctx, accepted)
    except DomainError as error:
        # Give back the writers' lock before waiting for the audit writer.
        session.rollback()
        await runtime.audit.write(inbox.rejection_entry(ctx, attempt, error))
        raise
    return Receipt(id=accepted.entry.envelope_id, status="accepted")


async def _body(request: Request, limit: int) -> bytes:
    """Return the request body, or raise ``FED-113`` as soon as it passes ``limit``."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise DomainError("FED-113", params={"max": limit})
        chunks.append(chunk)
    return b"".join(chunks).strip()
