"""Federation fixtures: this node (``mx-sspc``, in the test's transaction) and a foreign
node (``co-ponal``: its own database, keys and application, reached over HTTP)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from atalaya.app import create_app
from atalaya.db import make_engine, utcnow
from atalaya.federation import node, peers
from atalaya.federation.agreements import Terms, add_agreement
from atalaya.federation.envelopes import Envelope, new_envelope_id, seal
from atalaya.federation.keys import NodeKeys
from atalaya.federation.models import Peer
from atalaya.migrations import upgrade
from atalaya.settings import Settings
from conftest import TEST_CONTEXT, make_settings

LOCAL = "mx-sspc"
FOREIGN = "co-ponal"
FOREIGN_URL = "https://co-ponal.test"


@dataclass
class ForeignNode:
    """Another node: its settings, its app behind an HTTP client, its private keys."""

    settings: Settings
    client: TestClient

    @property
    def keys(self) -> NodeKeys:
        return NodeKeys.load(self.settings)

    def envelope(self, **overrides: Any) -> Envelope:
        now = utcnow()
        values: dict[str, Any] = {
            "id": new_envelope_id(),
            "sender": FOREIGN,
            "recipient": LOCAL,
            "type": "node.ping",
            "created": now,
            "expires": now + dt.timedelta(hours=1),
            "body": {"note": "hello"},
        }
        values.update(overrides)
        return Envelope(**values)

    def sealed(self, recipient_key: dict[str, Any] | None = None, **overrides: Any) -> str:
        return seal(self.envelope(**overrides), self.keys.signing, recipient_key)


def start_foreign_node(root: Path) -> ForeignNode:
    """Migrate a database for a foreign node under ``root``, give it an identity."""
    settings = make_settings(f"sqlite:///{root / 'foreign.db'}", root / "var")
    engine = make_engine(settings)
    upgrade(engine)
    with Session(engine) as session:
        node.init_node(
            session,
            TEST_CONTEXT,
            settings,
            node_id=FOREIGN,
            name="Policía Nacional de Colombia",
            country="CO",
            url=FOREIGN_URL,
        )
        session.commit()
    engine.dispose()
    return ForeignNode(settings, TestClient(create_app(settings), base_url=FOREIGN_URL))


def rotate(foreign: ForeignNode) -> None:
    """Rotate the foreign node's keys, as ``atalaya node rotate-keys`` there would."""
    engine = make_engine(foreign.settings)
    with Session(engine) as session:
        node.rotate_keys(session, TEST_CONTEXT, foreign.settings)
        session.commit()
    engine.dispose()


@pytest.fixture(scope="session")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForeignNode]:
    """A foreign node shared by the tests that do not change it."""
    foreign = start_foreign_node(tmp_path_factory.mktemp("foreign"))
    yield foreign
    foreign.client.close()


@pytest.fixture
def local(session: Session, settings: Settings) -> node.NodeIdentity:
    """This node, with its identity (keys in the session's data directory)."""
    identity, _ = node.init_node(
        session,
        TEST_CONTEXT,
        settings,
        node_id=LOCAL,
        name="Secretaría de Seguridad y Protección Ciudadana",
        country="MX",
        url="https://mx-sspc.test",
    )
    session.commit()
    return identity


def pin(session: Session, foreign: ForeignNode) -> Peer:
    description = peers.fetch_description(foreign.client, FOREIGN_URL)
    peer = peers.add_peer(session, TEST_CONTEXT, description, description.fingerprint)
    session.commit()
    return peer


@pytest.fixture
def peer(session: Session, local: node.NodeIdentity, foreign: ForeignNode) -> Peer:
    """The foreign node pinned as a peer, with an agreement to receive pings from it."""
    peer = pin(session, foreign)
    add_agreement(session, TEST_CONTEXT, Terms(receive=["node:ping"]), peer=peer)
    session.commit()
    return peer
