"""Envelopes: JSON messages between nodes, signed as compact JWS (Ed25519, RFC 9864's
fully specified ``Ed25519`` algorithm), with a confidential body encrypted to the
recipient's X25519 key as compact JWE (ECDH-ES+A256KW, A256GCM).

The signed payload is ``{id, sender, recipient, type, created, expires, body}``, or
``body_jwe`` instead of ``body`` when the body is confidential. The JWE's protected
header repeats the envelope id, sender and recipient, so a ciphertext lifted into
another envelope fails to open. Only these algorithms are accepted, whatever a header
says: the registries below allow nothing else.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey
from joserfc.registry import HeaderParameter, is_str

SIGNATURE_ALGORITHM = "Ed25519"
KEY_ALGORITHM = "ECDH-ES+A256KW"
CONTENT_ENCRYPTION = "A256GCM"
ENVELOPE_TYPE = "atalaya-envelope+jws"
SIGNED_HEADER = frozenset({"alg", "kid", "typ"})
_BOUND = ("aid", "asd", "arc")  # envelope id, sender, recipient, in the JWE header
_JWE_HEADERS = {name: HeaderParameter(f"Atalaya {name}", is_str, True) for name in _BOUND}


def signature_registry(max_payload: int) -> jws.JWSRegistry:
    registry = jws.JWSRegistry(algorithms=[SIGNATURE_ALGORITHM])
    registry.max_payload_length = max_payload
    return registry


def encryption_registry(max_ciphertext: int) -> jwe.JWERegistry:
    registry = jwe.JWERegistry(
        header_registry=_JWE_HEADERS, algorithms=[KEY_ALGORITHM, CONTENT_ENCRYPTION]
    )
    registry.max_ciphertext_length = max_ciphertext
    return registry


def new_envelope_id(now_ms: int | None = None) -> str:
    """Return a new UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms & (2**48 - 1)) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return str(uuid.UUID(int=value))


def timestamp(moment: dt.datetime) -> str:
    """Return ``moment`` as envelopes write it: RFC 3339, UTC, whole seconds."""
    return moment.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Envelope:
    """An envelope's claims, before signing or after verification."""

    id: str
    sender: str
    recipient: str
    type: str
    created: dt.datetime
    expires: dt.datetime
    body: dict[str, Any]

    def claims(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender": self.sender,
            "recipient": self.recipient,
            "type": self.type,
            "created": timestamp(self.created),
            "expires": timestamp(self.expires),
        }


def sign(payload: dict[str, Any], key: OKPKey, typ: str = ENVELOPE_TYPE) -> str:
    """Return ``payload`` signed by ``key`` as a compact JWS naming the key by ``kid``."""
    header = {"alg": SIGNATURE_ALGORITHM, "kid": key.thumbprint(), "typ": typ}
    registry = signature_registry(len(canonical(payload)))
    return jws.serialize_compact(header, canonical(payload), key, registry=registry)


def seal(
    envelope: Envelope,
    signing_key: OKPKey,
    recipient_key: dict[str, Any] | None = None,
) -> str:
    """Return ``envelope`` signed with ``signing_key``; with ``recipient_key`` (the
    recipient's public X25519 JWK), its body is encrypted to that key first."""
    payload = envelope.claims()
    if recipient_key is None:
        payload["body"] = envelope.body
    else:
        payload["body_jwe"] = encrypt_body(envelope, recipient_key)
    return sign(payload, signing_key)


def encrypt_body(envelope: Envelope, recipient_key: dict[str, Any]) -> str:
    key = OKPKey.import_key(recipient_key)
    plaintext = canonical(envelope.body)
    header = {
        "alg": KEY_ALGORITHM,
        "enc": CONTENT_ENCRYPTION,
        "kid": key.thumbprint(),
        "aid": envelope.id,
        "asd": envelope.sender,
        "arc": envelope.recipient,
    }
    registry = encryption_registry(len(plaintext) + 64)
    return jwe.encrypt_compact(header, plaintext, key, registry=registry)


@dataclass(frozen=True)
class Unverified:
    """What a compact JWS says before its signature is checked: the header, to find
    the key by ``kid``. Nothing in it is to be believed yet."""

    header: dict[str, Any]
    token: bytes


class NotAnEnvelope(ValueError):
    """The token is not a compact JWS of the one accepted shape."""


def unverified(token: bytes, max_payload: int) -> Unverified:
    """Return the header of ``token``; raise ``NotAnEnvelope`` if it is not a compact JWS
    whose header holds exactly ``alg`` (our one algorithm), ``kid`` and ``typ``."""
    try:
        obj = jws.extract_compact(token, registry=signature_registry(max_payload))
    except (JoseError, ValueError, TypeError) as error:
        raise NotAnEnvelope(str(error)) from error
    header = obj.headers()
    if set(header) != SIGNED_HEADER or header["alg"] != SIGNATURE_ALGORITHM:
        raise NotAnEnvelope("unexpected JWS header")
    if not isinstance(header["kid"], str):
        raise NotAnEnvelope("unexpected JWS header")
    return Unverified(header, token)


def verified_payload(token: bytes, public_key: dict[str, Any], max_payload: int) -> bytes | None:
    """Return the payload of ``token`` if ``public_key`` signed it, else ``None``."""
    try:
        obj = jws.deserialize_compact(
            token, OKPKey.import_key(public_key), registry=signature_registry(max_payload)
        )
    except JoseError:
        return None
    return obj.payload


def decrypt_body(
    token: str, keys: list[OKPKey], envelope: Envelope, max_ciphertext: int
) -> dict[str, Any] | None:
    """Return the body in the JWE ``token`` if one of ``keys`` opens it and it belongs
    to ``envelope`` (same id, sender and recipient); else ``None``."""
    registry = encryption_registry(max_ciphertext)
    header = _protected_header(token)
    if header is None:
        return None
    bound = (envelope.id, envelope.sender, envelope.recipient)
    if tuple(header.get(name) for name in _BOUND) != bound:
        return None
    key = next((k for k in keys if k.thumbprint() == header.get("kid")), None)
    if key is None:
        return None
    try:
        plaintext = jwe.decrypt_compact(token, key, registry=registry).plaintext
        body = json.loads(plaintext or b"")
    except (JoseError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _protected_header(token: str) -> dict[str, Any] | None:
    """Return the (unauthenticated) protected header of a compact JWE, or ``None``."""
    segment = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    return header if isinstance(header, dict) else None


def unverified_payload(token: str) -> bytes:
    """Return the payload of a compact JWS without checking its signature (to find the
    key that should have made it); raise ``ValueError`` if it cannot be decoded."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    return base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
