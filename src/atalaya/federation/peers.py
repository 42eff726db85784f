"""Peers: other nodes whose keys are pinned, and groups of peers.

A peer is added from its description (``/.well-known/atalaya-node``) only when the
fingerprint of its signing key matches the one the administrator obtained out of band
(by telephone, in a signed letter): the network is not trusted to say who is who.
Later, its keys change only through a rotation statement signed by the pinned key.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc.jwk import OKPKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.audit import service as audit
from atalaya.audit.service import AuditContext, Outcome
from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.federation import envelopes
from atalaya.federation.keys import ENCRYPTION_CURVE, SIGNING_CURVE, public_jwk
from atalaya.federation.models import KeyUse, Peer, PeerGroup, PeerGroupMember, PeerKey
from atalaya.federation.node import COUNTRY, DESCRIPTOR_TYPE, NODE_ID, ROTATION_TYPE
from atalaya.settings import Settings

WELL_KNOWN = "/.well-known/atalaya-node"
MAX_DESCRIPTION_BYTES = 64 * 1024


@dataclass(frozen=True)
class Description:
    """What a node says about itself, read from the signed part of its description."""

    node_id: str
    name: str
    country: str
    url: str
    signing: dict[str, Any]  # public JWKs, rebuilt from their key material
    encryption: dict[str, Any]
    rotation: str | None
    previous: dict[str, dt.datetime]  # kid of a rotated-out key: valid until

    @property
    def fingerprint(self) -> str:
        return str(self.signing["kid"])


def fetch_description(client: httpx.Client, url: str) -> Description:
    """Return the description served at ``url``; ``FED-121`` if it cannot be fetched,
    ``FED-122`` if it is not a valid, self-signed description."""
    try:
        response = client.get(url.rstrip("/") + WELL_KNOWN, follow_redirects=False)
    except httpx.HTTPError as error:
        raise DomainError("FED-121", params={"problem": type(error).__name__}) from error
    if response.status_code != 200:
        raise DomainError("FED-121", params={"problem": f"HTTP {response.status_code}"})
    if len(response.content) > MAX_DESCRIPTION_BYTES:
        raise DomainError("FED-122", params={"problem": "too large"})
    try:
        document = response.json()
    except ValueError as error:
        raise DomainError("FED-122", params={"problem": "not JSON"}) from error
    return read_description(document)


def read_description(document: Any) -> Description:
    """Return the description signed in ``document["signed"]``, checked against itself."""
    token = document.get("signed") if isinstance(document, dict) else None
    if not isinstance(token, str):
        raise DomainError("FED-122", params={"problem": "not signed"})
    try:
        header = envelopes.unverified(token.encode(), MAX_DESCRIPTION_BYTES).header
        claimed = json.loads(envelopes.unverified_payload(token))
        signing = _public_key(claimed, "sig", SIGNING_CURVE)
        if header["kid"] != signing["kid"] or header["typ"] != DESCRIPTOR_TYPE:
            raise ValueError("not signed by its own signing key")
        payload = envelopes.verified_payload(token.encode(), signing, MAX_DESCRIPTION_BYTES)
        if payload is None:
            raise ValueError("bad signature")
        return _description(json.loads(payload))
    except (envelopes.NotAnEnvelope, ValueError, KeyError, TypeError) as error:
        raise DomainError("FED-122", params={"problem": str(error)[:200]}) from error


def _description(statement: dict[str, Any]) -> Description:
    node_id, country, url = statement["id"], statement["country"], statement["url"]
    if not (isinstance(node_id, str) and NODE_ID.fullmatch(node_id)):
        raise ValueError("bad node id")
    if not (isinstance(country, str) and COUNTRY.fullmatch(country)):
        raise ValueError("bad country")
    if not (isinstance(url, str) and url.startswith(("https://", "http://"))):
        raise ValueError("bad url")
    rotation = statement.get("rotation")
    previous = {
        str(k["kid"]): dt.datetime.fromisoformat(k["valid_until"])
        for k in statement.get("previous_keys", [])
    }
    return Description(
        node_id,
        str(statement["name"])[:200],
        country,
        url.rstrip("/"),
        _public_key(statement, "sig", SIGNING_CURVE),
        _public_key(statement, "enc", ENCRYPTION_CURVE),
        rotation if isinstance(rotation, str) else None,
        previous,
    )


def _public_key(statement: dict[str, Any], use: str, curve: str) -> dict[str, Any]:
    """Return the one current key of ``use``, rebuilt from its curve and ``x`` alone, so
    that its ``kid`` is its true thumbprint whatever the document says."""
    found = [k for k in statement["keys"] if isinstance(k, dict) and k.get("use") == use]
    if len(found) != 1 or found[0].get("kty") != "OKP" or found[0].get("crv") != curve:
        raise ValueError(f"needs exactly one {curve} key for {use}")
    key = OKPKey.import_key({"kty": "OKP", "crv": curve, "x": found[0]["x"]})
    if key.private_key is not None:
        raise ValueError("a private key was published")
    return public_jwk(key)


def same_fingerprint(given: str, found: str) -> bool:
    return hmac.compare_digest(given.strip().encode(), found.encode())


def add_peer(
    session: Session, ctx: AuditContext, description: Description, fingerprint: str
) -> Peer:
    """Pin ``description``'s keys as a new peer and return it, if ``fingerprint`` is its
    signing key's. Raises ``FED-120`` on a mismatch (nothing is stored), ``FED-123`` if
    the node, or its key, is already a peer."""
    if not same_fingerprint(fingerprint, description.fingerprint):
        raise DomainError(
            "FED-120", params={"found": description.fingerprint, "expected": fingerprint.strip()}
        )
    holder = session.scalar(
        select(Peer).join(PeerKey).where(PeerKey.kid == description.fingerprint)
    )
    existing = session.scalar(select(Peer).where(Peer.node_id == description.node_id))
    if existing is not None or holder is not None:
        raise DomainError("FED-123", params={"node_id": (existing or holder).node_id})  # type: ignore[union-attr]
    peer = Peer(
        node_id=description.node_id,
        name=description.name,
        country=description.country,
        url=description.url,
    )
    session.add(peer)
    _pin(peer, description)
    session.flush()
    audit.record(
        session,
        ctx,
        "federation.peer_add",
        object_type="peer",
        object_id=peer.node_id,
        detail={"fingerprint": description.fingerprint, "url": peer.url},
    )
    return peer


def refused_pin(ctx: AuditContext, url: str, error: DomainError) -> dict[str, Any]:
    """Return the audit entry of a refused ``peers add`` (written on its own, since the
    refused work is rolled back)."""
    return audit.draft(
        ctx,
        "federation.peer_add",
        object_type="peer",
        object_id=url[:64],
        outcome=Outcome.DENIED,
        detail={"code": error.code, **{k: str(v) for k, v in error.params.items()}},
    )


def _pin(peer: Peer, description: Description) -> None:
    for use, jwk in (
        (KeyUse.SIGNING, description.signing),
        (KeyUse.ENCRYPTION, description.encryption),
    ):
        peer.keys.append(PeerKey(kid=jwk["kid"], use=use, public_jwk=json.dumps(jwk)))


def get_peer(session: Session, node_id: str) -> Peer:
    peer = session.scalar(select(Peer).where(Peer.node_id == node_id))
    if peer is None:
        raise DomainError("FED-124", params={"node_id": node_id})
    return peer


def current_key(peer: Peer, use: KeyUse) -> PeerKey:
    return next(k for k in peer.keys if k.use == use and k.valid_until is None)


def refresh_peer(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    peer: Peer,
    description: Description,
    now: dt.datetime | None = None,
) -> bool:
    """Follow a key rotation announced in ``description``; return whether keys changed.

    A new signing key is accepted only with a rotation statement signed by the key
    pinned now (``FED-129`` otherwise: pin again, out of band). The replaced keys still
    verify until the end of the overlap the peer announced, capped by ours.
    """
    now = now or utcnow()
    if description.node_id != peer.node_id:
        raise DomainError("FED-122", params={"problem": "another node id"})
    pinned = current_key(peer, KeyUse.SIGNING)
    if description.fingerprint == pinned.kid:
        if current_key(peer, KeyUse.ENCRYPTION).kid == description.encryption["kid"]:
            return False
    elif not _vouched(description, peer.node_id, pinned):
        raise DomainError("FED-129")
    cap = now + dt.timedelta(hours=settings.federation_key_overlap_hours)
    for key in [k for k in peer.keys if k.valid_until is None]:
        key.valid_until = min(description.previous.get(key.kid, now), cap)
    _pin(peer, description)
    session.flush()
    audit.record(
        session,
        ctx,
        "federation.peer_keys_rotate",
        object_type="peer",
        object_id=peer.node_id,
        detail={"previous": pinned.kid, "fingerprint": description.fingerprint},
    )
    return True


def _vouched(description: Description, node_id: str, pinned: PeerKey) -> bool:
    """Return whether the rotation statement, signed by ``pinned``, names the new key."""
    if description.rotation is None:
        return False
    token = description.rotation.encode()
    try:
        header = envelopes.unverified(token, MAX_DESCRIPTION_BYTES).header
    except envelopes.NotAnEnvelope:
        return False
    if header["typ"] != ROTATION_TYPE or header["kid"] != pinned.kid:
        return False
    payload = envelopes.verified_payload(token, pinned.jwk, MAX_DESCRIPTION_BYTES)
    if payload is None:
        return False
    statement = json.loads(payload)
    expected = {"node": node_id, "previous": pinned.kid, "signing": description.fingerprint}
    return all(statement.get(k) == v for k, v in expected.items())


def join_group(session: Session, ctx: AuditContext, code: str, peer: Peer) -> PeerGroup:
    """Add ``peer`` to the group ``code`` (created on first use); return the group."""
    group = session.scalar(select(PeerGroup).where(PeerGroup.code == code))
    if group is None:
        group = PeerGroup(code=code)
        session.add(group)
        session.flush()
    member = select(PeerGroupMember).where(
        PeerGroupMember.group_id == group.id, PeerGroupMember.peer_id == peer.id
    )
    if session.scalar(member) is None:
        session.add(PeerGroupMember(group_id=group.id, peer_id=peer.id))
        session.flush()
        audit.record(
            session,
            ctx,
            "federation.group_join",
            object_type="peer_group",
            object_id=code,
            detail={"peer": peer.node_id},
        )
    return group


def get_group(session: Session, code: str) -> PeerGroup:
    group = session.scalar(select(PeerGroup).where(PeerGroup.code == code))
    if group is None:
        raise DomainError("FED-130", params={"group": code})
    return group
