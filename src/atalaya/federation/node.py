"""This node's identity: created once (``atalaya node init``), described to peers at
``/.well-known/atalaya-node``, and its keys rotated (``atalaya node rotate-keys``).

The description's authoritative part is ``signed``: a JWS, by the node's signing key,
of the id, name, country, URL and every public key. A peer that pinned the signing key
by its fingerprint therefore also trusts the encryption key, and nothing a proxy could
change in the plain copy. After a rotation, ``rotation`` is a JWS by the previous
signing key naming its successor, so peers can follow the change without a new
fingerprint; the previous public keys are published until the overlap ends.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.audit import service as audit
from atalaya.audit.service import AuditContext
from atalaya.db import utcnow
from atalaya.errors import DomainError
from atalaya.federation import keys
from atalaya.federation.envelopes import sign, timestamp
from atalaya.federation.keys import ENCRYPTION_CURVE, SIGNING_CURVE, NodeKeys
from atalaya.federation.models import KeyUse, NodeIdentity, NodeKey
from atalaya.settings import Settings

PROTOCOL = "atalaya-federation/1"
DESCRIPTOR_TYPE = "atalaya-node+jws"
ROTATION_TYPE = "atalaya-rotation+jws"
NODE_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,63}")
COUNTRY = re.compile(r"[A-Z]{2}")


def check_node_id(value: str) -> str:
    if not NODE_ID.fullmatch(value):
        raise DomainError("FED-131", field="id")
    return value


def init_node(
    session: Session,
    ctx: AuditContext,
    settings: Settings,
    *,
    node_id: str,
    name: str,
    country: str,
    url: str,
) -> tuple[NodeIdentity, NodeKeys]:
    """Create the node's identity and its keys (or adopt key files an operator put in
    place); return both. Raises ``FED-117`` if the node already has an identity."""
    if (existing := session.scalar(select(NodeIdentity))) is not None:
        raise DomainError("FED-117", params={"node_id": existing.node_id})
    check_node_id(node_id)
    if not COUNTRY.fullmatch(country):
        raise DomainError("REC-119", field="country")
    if not url.startswith(("https://", "http://")):
        raise DomainError("API-104", field="url")
    node = NodeIdentity(node_id=node_id, name=name, country=country, url=url.rstrip("/"))
    node_keys = NodeKeys(
        keys.provision(keys.signing_key_path(settings), SIGNING_CURVE),
        keys.provision(keys.encryption_key_path(settings), ENCRYPTION_CURVE),
    )
    session.add(node)
    session.add_all(_key_rows(node_keys))
    session.flush()
    audit.record(
        session,
        ctx,
        "federation.node_init",
        object_type="node",
        object_id=node_id,
        detail={"fingerprint": node_keys.kid, "country": country, "url": node.url},
    )
    return node, node_keys


def _key_rows(node_keys: NodeKeys, proof: str | None = None) -> list[NodeKey]:
    return [
        NodeKey(
            kid=key.thumbprint(),
            use=use,
            public_jwk=json.dumps(keys.public_jwk(key)),
            rotation_proof=proof if use == KeyUse.SIGNING else None,
        )
        for key, use in (
            (node_keys.signing, KeyUse.SIGNING),
            (node_keys.encryption, KeyUse.ENCRYPTION),
        )
    ]


def identity(session: Session) -> NodeIdentity:
    """Return this node's identity; ``FED-118`` before ``atalaya node init``."""
    node = session.scalar(select(NodeIdentity))
    if node is None:
        raise DomainError("FED-118")
    return node


def current_keys(session: Session) -> dict[KeyUse, NodeKey]:
    rows = session.scalars(select(NodeKey).where(NodeKey.retired_at.is_(None))).all()
    return {row.use: row for row in rows}


def load_keys(session: Session, settings: Settings) -> NodeKeys:
    """Return the private keys from their files, checked against the published ones
    (``FED-119`` if a file holds another key: it was replaced, or restored from an
    older backup)."""
    node_keys = NodeKeys.load(settings)
    published = current_keys(session)
    pairs = (
        (KeyUse.SIGNING, node_keys.signing, keys.signing_key_path(settings)),
        (KeyUse.ENCRYPTION, node_keys.encryption, keys.encryption_key_path(settings)),
    )
    for use, key, path in pairs:
        if use not in published or published[use].kid != key.thumbprint():
            raise DomainError("FED-119", params={"path": str(path)})
    return node_keys


def published_keys(session: Session, now: dt.datetime) -> list[NodeKey]:
    """Return the node's public keys that still verify at ``now``: current first."""
    rows = session.scalars(select(NodeKey).order_by(NodeKey.id.desc())).all()
    return [r for r in rows if r.retired_at is None or (r.valid_until and r.valid_until > now)]


def describe(
    session: Session, settings: Settings, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Return the node's description, with its signed copy (see the module's docstring)."""
    now = now or utcnow()
    node = identity(session)
    node_keys = load_keys(session, settings)
    rows = published_keys(session, now)
    statement = {
        "protocol": PROTOCOL,
        "id": node.node_id,
        "name": node.name,
        "country": node.country,
        "url": node.url,
        "keys": [r.jwk for r in rows if r.retired_at is None],
        "previous_keys": [
            {**r.jwk, "valid_until": timestamp(r.valid_until)}
            for r in rows
            if r.retired_at is not None and r.valid_until is not None
        ],
        "rotation": next(
            (r.rotation_proof for r in rows if r.use == KeyUse.SIGNING and r.retired_at is None),
            None,
        ),
    }
    return {
        **statement,
        "fingerprint": node_keys.kid,
        "signed": sign(statement, node_keys.signing, DESCRIPTOR_TYPE),
    }


def rotate_keys(
    session: Session, ctx: AuditContext, settings: Settings, now: dt.datetime | None = None
) -> NodeKeys:
    """Replace the node's keys; return the new ones.

    The old public keys stay published, and valid, for ``federation_key_overlap_hours``;
    the old encryption key is kept (``*.previous``) to open envelopes sealed to it
    meanwhile. The old signing key signs the statement naming its successor, then is
    forgotten.
    """
    now = now or utcnow()
    node = identity(session)
    old = load_keys(session, settings)
    new = NodeKeys(keys.generate(SIGNING_CURVE), keys.generate(ENCRYPTION_CURVE), old.encryption)
    proof = sign(
        {"node": node.node_id, "previous": old.kid, "signing": new.kid, "at": timestamp(now)},
        old.signing,
        ROTATION_TYPE,
    )
    until = now + dt.timedelta(hours=settings.federation_key_overlap_hours)
    for row in current_keys(session).values():
        row.retired_at, row.valid_until = now, until
    session.add_all(_key_rows(new, proof))
    session.flush()
    encryption_path = keys.encryption_key_path(settings)
    keys.write_key(keys.previous_path(encryption_path), old.encryption)
    keys.write_key(encryption_path, new.encryption)
    keys.write_key(keys.signing_key_path(settings), new.signing)
    audit.record(
        session,
        ctx,
        "federation.keys_rotate",
        object_type="node",
        object_id=node.node_id,
        detail={"previous": old.kid, "fingerprint": new.kid, "valid_until": timestamp(until)},
    )
    return new
