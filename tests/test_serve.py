"""A real server with several worker processes: sessions and sign-in throttling hold
across processes, because they live in the database; workers slow to start are waited
for."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from atalaya.demo import DEMO_PASSWORD
from atalaya.settings import Settings
from conftest import free_port

pytestmark = pytest.mark.slow


def test_a_web_session_works_whichever_worker_answers(live_server: str) -> None:
    with httpx.Client(base_url=live_server) as client:
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        data = {"username": "alice", "password": DEMO_PASSWORD, "csrf_token": token.group(1)}
        assert client.post("/login", data=data).status_code == 303
        for _ in range(20):
            assert client.get("/api/v1/me").json()["username"] == "alice"


def test_every_worker_logs_each_request_with_its_request_id(
    live_server: str, server_log: Path
) -> None:
    # A connection each, so that both workers answer some.
    ids = {httpx.get(f"{live_server}/healthz").headers["x-request-id"] for _ in range(40)}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        logged = set(
            re.findall(
                r"INFO \[([0-9a-f]{32})\] atalaya.access: GET /healthz 200", server_log.read_text()
            )
        )
        if ids <= logged:
            break
        time.sleep(0.2)
    assert ids <= logged
    workers = set(re.findall(r"Started server process \[(\d+)\]", server_log.read_text()))
    assert len(workers) == 2


def test_failed_sign_ins_are_counted_across_workers(live_server: str) -> None:
    with httpx.Client(base_url=live_server) as client:
        for _ in range(5):
            response = client.post(
                "/api/v1/auth/token", json={"username": "bob", "password": "wrong-one"}
            )
            assert response.status_code == 401
        locked = client.post(
            "/api/v1/auth/token", json={"username": "bob", "password": DEMO_PASSWORD}
        )
        assert locked.status_code == 429
        assert locked.json()["code"] == "AUTH-105"


# ``atalaya`` as the installed command is: a script that imports the command line, and
# that each worker process runs again on starting (``multiprocessing`` spawns them, as
# ``__mp_main__``), before it can answer its supervisor. Here that takes SLOW_START
# seconds more, as on a loaded machine.
SLOW_COMMAND = """
import os, sys, time
from atalaya.cli import main
if __name__ == "__mp_main__":
    time.sleep(float(os.environ["SLOW_START"]))
if __name__ == "__main__":
    sys.exit(main())
"""


def test_workers_that_start_slowly_are_waited_for_not_restarted(
    cli_env: Settings, tmp_path: Path
) -> None:
    command = tmp_path / "atalaya_slow.py"
    command.write_text(SLOW_COMMAND)
    log_path = tmp_path / "serve.log"
    port = free_port()
    env = os.environ | {"SLOW_START": "8"}  # more than uvicorn's 5 s
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(command), "serve", "--port", str(port), "--workers", "2"],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
        )
        try:
            assert _answers(f"http://127.0.0.1:{port}/healthz", within=60), log_path.read_text()
        finally:
            process.terminate()
            process.wait(timeout=30)
    text = log_path.read_text()
    assert "died" not in text
    assert len(set(re.findall(r"Started server process \[(\d+)\]", text))) == 2


def _answers(url: str, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            time.sleep(0.2)
    return False


def test_forwarded_headers_do_not_dodge_the_address_lock(live_server: str) -> None:
    """No proxy is trusted by default, not even one on 127.0.0.1 (uvicorn's own default):
    a client that writes X-Forwarded-For is still the address it calls from."""
    with httpx.Client(base_url=live_server) as client:
        for guess in range(5):
            response = client.post(
                "/api/v1/auth/token",
                json={"username": f"guess-{guess}", "password": "wrong-one"},
                headers={"X-Forwarded-For": f"198.51.100.{guess}"},
            )
            assert response.status_code == 401
        locked = client.post(
            "/api/v1/auth/token",
            json={"username": "alice", "password": DEMO_PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.99"},
        )
        assert (locked.status_code, locked.json()["code"]) == (429, "AUTH-105")
