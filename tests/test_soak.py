"""Soak: two server processes of two workers each, on one database, under twenty
concurrent clients writing and reading (issue 12, finding 1: the node froze for good
after a few concurrent writes). Every request is answered without a server error, every
acknowledged write is stored once, and the audit chain verifies."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from concurrent_writes import (
    atalaya_servers,
    audit_chain_intact,
    mixed_load,
    stored_references,
)

from atalaya.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def alice_token(cli_env: Settings) -> str:
    from typer.testing import CliRunner

    from atalaya.cli import app

    result = CliRunner().invoke(app, ["tokens", "create", "alice"])
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_two_servers_of_two_workers_take_concurrent_writes_without_freezing(
    cli_env: Settings, alice_token: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    env = dict(os.environ)
    with atalaya_servers(env, tmp_path / "servers.log") as servers:
        tally = mixed_load(servers.urls, alice_token, total=300, clients=20, prefix="SOAK")
        # Still answering afterwards, every worker (a frozen one would time out).
        for url in servers.urls:
            for _ in range(4):
                started = time.monotonic()
                assert httpx.get(url + "/healthz", timeout=5).status_code == 200
                assert time.monotonic() - started < 5
    assert tally.transport_errors == []
    assert tally.server_errors == 0, tally.statuses
    writes = tally.latencies["write"]
    assert len(tally.acknowledged) == len(writes) > 50  # every write was acknowledged
    stored = stored_references(cli_env.database_url, "SOAK")
    assert set(stored) == set(tally.acknowledged)
    assert set(stored.values()) == {1}
    assert audit_chain_intact(env)
