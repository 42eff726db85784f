"""Hit/no-hit: what both nodes agree on before a query travels.

An identifier (VIN, plate, document number, firearm serial) or a person (the sound
keys of their names and a full date of birth) is reduced to its normalised form and
*blinded*: HMAC-SHA256 under a key that the two nodes derive each on its own side, from
the X25519 secret of their pinned encryption keys (HKDF-SHA256). Neither sends the key;
a third node, or a database dump without the private key files, cannot undo it.

The key changes when either node rotates its keys; ``key_id`` names the two encryption
keys it came from, so a query made under another key is refused (``FED-154``) rather
than answered "no hit" by mistake.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc.jwk import OKPKey

from atalaya.datafiles import read_commented_csv
from atalaya.errors import DomainError
from atalaya.federation.envelopes import canonical
from atalaya.matching import names
from atalaya.matching.identifiers import (
    normalise_document_number,
    normalise_plate,
    normalise_serial,
    normalise_vin,
)

KEY_SALT = b"atalaya-hit-key/1"
ANSWER_TYPE = "hit.answer"
FOLLOWUP_TYPE = "hit.followup"
# Follow-ups are information requests about a record: an agreement must allow them.
FOLLOWUP_CLASS = "case:information_request"
# Answers are short-lived: they are read at once by the node that asked.
ANSWER_LIFETIME = dt.timedelta(minutes=5)
QUERY_LIFETIME = dt.timedelta(minutes=5)
# How long the answering node resolves the references it gave, for a follow-up. Both
# sides know it: the asking node refuses to follow up an older hit itself.
REFERENCE_LIFETIME = dt.timedelta(days=30)
MAX_REFERENCES = 20


@dataclass(frozen=True)
class Kind:
    """What can be asked about: its code, the envelope type (one per data class) and how
    a value of it is normalised (``None``: not usable)."""

    code: str
    envelope_type: str
    data_class: str
    normalise: Callable[[str], str | None]


KINDS = {
    kind.code: kind
    for kind in (
        Kind("vin", "hit.vehicle", "hit:vehicle", normalise_vin),
        Kind("plate", "hit.vehicle", "hit:vehicle", normalise_plate),
        Kind("document", "hit.document", "hit:document", normalise_document_number),
        Kind("firearm", "hit.firearm", "hit:firearm", normalise_serial),
        Kind("person", "hit.person", "hit:person", lambda value: value or None),
    )
}
QUERY_TYPES = {kind.envelope_type: kind.data_class for kind in KINDS.values()}


def kind_named(code: str) -> Kind:
    """Return the kind ``code``; ``FED-153`` if there is none."""
    if code not in KINDS:
        raise DomainError(
            "FED-153", field="type", params={"value": code, "choices": ", ".join(KINDS)}
        )
    return KINDS[code]


@cache
def purposes() -> tuple[str, ...]:
    """Return the codes of ``data/hit_purposes.csv``."""
    text = resources.files("atalaya.federation").joinpath("data/hit_purposes.csv").read_text()
    return tuple(row["code"] for _, row in read_commented_csv(text).rows)


def checked_purpose(code: str) -> str:
    if code not in purposes():
        raise DomainError(
            "FED-151", field="purpose", params={"value": code, "choices": ", ".join(purposes())}
        )
    return code


def person_form(given_names: str, surnames: str, date_of_birth: str) -> str | None:
    """Return the form a person is blinded in: the sorted sound keys of their names'
    words (no accents, case, particles or order; ``Vásquez`` and ``Vazquez`` agree) and
    the full date of birth; ``None`` without a given name, a surname and a full date."""
    try:
        born = dt.date.fromisoformat(date_of_birth.strip())
    except ValueError:
        return None
    if len(date_of_birth.strip()) != 10 or not (names.words(given_names) and names.words(surnames)):
        return None
    return f"{' '.join(names.sounds(given_names, surnames))}|{born.isoformat()}"


@dataclass(frozen=True)
class Question:
    """What a user asks about, before it is normalised."""

    kind: str
    purpose: str
    value: str = ""
    given_names: str = ""
    surnames: str = ""
    date_of_birth: str = ""

    def normalised(self) -> tuple[Kind, str]:
        """Return the kind and the normalised form to blind; ``FED-150``/``152`` if
        nothing usable is left, ``FED-151``/``153`` for unknown codes."""
        kind = kind_named(self.kind)
        checked_purpose(self.purpose)
        if kind.code == "person":
            form = person_form(self.given_names, self.surnames, self.date_of_birth)
            if form is None:
                raise DomainError("FED-152", field="date_of_birth")
            return kind, form
        normal = kind.normalise(self.value)
        if normal is None:
            raise DomainError("FED-150", field="value", params={"kind": kind.code})
        return kind, normal


@dataclass(frozen=True)
class SharedKey:
    """The blinding key of two nodes, and the pair of encryption keys it came from."""

    secret: bytes
    key_id: str


def shared_key(
    own_node: str, own_key: OKPKey, peer_node: str, peer_key: dict[str, Any]
) -> SharedKey:
    """Return the key ``own_node`` shares with ``peer_node``: HKDF-SHA256 of the X25519
    secret of ``own_key`` (private) and ``peer_key`` (the peer's pinned public JWK),
    bound to both node ids and both keys' thumbprints. The peer derives the same."""
    private = own_key.private_key
    public = OKPKey.import_key(peer_key).public_key
    if not isinstance(private, X25519PrivateKey) or not isinstance(public, X25519PublicKey):
        raise DomainError("FED-119", params={"path": "X25519"})
    ordered = sorted([(own_node, own_key.thumbprint()), (peer_node, str(peer_key["kid"]))])
    info = canonical({"purpose": "hit-no-hit", "nodes": ordered})
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=KEY_SALT, info=info)
    secret = hkdf.derive(private.exchange(public))
    return SharedKey(secret, ":".join(kid for _, kid in ordered))


def blind(key: SharedKey, kind: str, normalised: str) -> str:
    """Return the HMAC-SHA256 of ``kind`` and ``normalised`` under ``key``, base64url."""
    mac = hmac.new(key.secret, f"{kind}\x1f{normalised}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")
