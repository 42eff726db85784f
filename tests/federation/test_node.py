"""Node identity: keys in private files, a description peers can check, rotation."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.errors import DomainError
from atalaya.federation import keys, node, peers
from atalaya.federation.models import NodeKey
from atalaya.settings import Settings
from conftest import TEST_CONTEXT

from .conftest import LOCAL


def test_init_writes_private_key_files_and_stores_public_keys_only(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    own = settings.model_copy(update={"data_dir": tmp_path})
    _, node_keys = node.init_node(
        session, TEST_CONTEXT, own, node_id="mx-test", name="T", country="MX", url="https://t"
    )
    for path in (tmp_path / "node_signing_key.pem", tmp_path / "node_encryption_key.pem"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert b"PRIVATE KEY" in path.read_bytes()
    stored = session.scalars(select(NodeKey.public_jwk)).all()
    assert len(stored) == 2 and not any('"d"' in jwk for jwk in stored)
    assert node_keys.kid == node_keys.signing.thumbprint()


def test_init_adopts_key_files_named_by_settings(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    signing = keys.generate(keys.SIGNING_CURVE)
    keys.write_key(tmp_path / "mounted.pem", signing)
    own = settings.model_copy(
        update={"data_dir": tmp_path / "var", "signing_key_file": tmp_path / "mounted.pem"}
    )
    _, node_keys = node.init_node(
        session, TEST_CONTEXT, own, node_id="mx-test", name="T", country="MX", url="https://t"
    )
    assert node_keys.kid == signing.thumbprint()


def test_a_key_file_others_can_read_is_refused(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    keys.write_key(path, keys.generate(keys.SIGNING_CURVE))
    path.chmod(0o644)
    with pytest.raises(DomainError) as refused:
        keys.read_key(path, keys.SIGNING_CURVE)
    assert refused.value.code == "FED-119"


def test_a_second_init_is_refused(
    session: Session, local: node.NodeIdentity, settings: Settings
) -> None:
    with pytest.raises(DomainError) as refused:
        node.init_node(
            session,
            TEST_CONTEXT,
            settings,
            node_id="xx-other",
            name="X",
            country="MX",
            url="https://x",
        )
    assert refused.value.code == "FED-117"


def test_a_bad_node_id_is_refused(session: Session, settings: Settings) -> None:
    with pytest.raises(DomainError) as refused:
        node.init_node(
            session,
            TEST_CONTEXT,
            settings,
            node_id="MX SSPC",
            name="X",
            country="MX",
            url="https://x",
        )
    assert refused.value.code == "FED-131"


def test_the_well_known_description_is_public_and_self_signed(
    client: TestClient, local: node.NodeIdentity
) -> None:
    response = client.get("/.well-known/atalaya-node")
    assert response.status_code == 200
    document = response.json()
    assert (document["id"], document["country"], document["url"]) == (
        LOCAL,
        "MX",
        "https://mx-sspc.test",
    )
    assert sorted(k["use"] for k in document["keys"]) == ["enc", "sig"]
    assert all("d" not in k for k in document["keys"])
    description = peers.read_description(document)
    assert description.fingerprint == document["fingerprint"]
    assert description.encryption["crv"] == "X25519"


def test_a_description_altered_in_transit_is_refused(
    client: TestClient, local: node.NodeIdentity
) -> None:
    document = client.get("/.well-known/atalaya-node").json()
    header, payload, signature = document["signed"].split(".")
    forged = payload[:-4] + ("AAAA" if payload[-4:] != "AAAA" else "BBBB")
    with pytest.raises(DomainError) as refused:
        peers.read_description({"signed": f"{header}.{forged}.{signature}"})
    assert refused.value.code == "FED-122"


def test_no_description_before_init(client: TestClient) -> None:
    response = client.get("/.well-known/atalaya-node")
    assert response.status_code == 409
    assert response.json()["code"] == "FED-118"


def test_rotation_publishes_the_old_key_until_the_overlap_ends(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    own = settings.model_copy(update={"data_dir": tmp_path, "federation_key_overlap_hours": 2})
    _, old = node.init_node(
        session, TEST_CONTEXT, own, node_id="mx-test", name="T", country="MX", url="https://t"
    )
    now = dt.datetime.now(dt.UTC)
    new = node.rotate_keys(session, TEST_CONTEXT, own, now)
    previous = keys.previous_path(keys.encryption_key_path(own))
    assert stat.S_IMODE(previous.stat().st_mode) == 0o600
    assert node.load_keys(session, own).kid == new.kid != old.kid
    during = node.describe(session, own, now + dt.timedelta(hours=1))
    after = node.describe(session, own, now + dt.timedelta(hours=3))
    assert {k["kid"] for k in during["previous_keys"]} == {old.kid, old.encryption.thumbprint()}
    assert after["previous_keys"] == []
    assert peers.read_description(after).fingerprint == new.kid
