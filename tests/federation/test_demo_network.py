"""``atalaya demo network``: three nodes as processes, exchanging alerts and queries
under the agreements between two pairs of them, and none between the third pair."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import free_port

pytestmark = pytest.mark.slow


def test_the_demo_network_exchanges_alerts_and_queries_under_its_agreements(
    tmp_path: Path,
) -> None:
    # The nodes take this port and the next two.
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "atalaya", "demo", "network", "--directory", str(tmp_path),
         "--base-port", str(port), "--incidents", "60", "--no-stay"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    received = {line.split(" received: ")[0]: line for line in lines if " received: " in line}
    # Guatemala gets Mexico's alerts, and not the United States' deportation notice.
    assert received["gt-pnc"].count("from mx-sspc") == 2 and "us-cbp" not in received["gt-pnc"]
    assert received["us-cbp"].count("from mx-sspc") == 2
    assert received["mx-sspc"] == "mx-sspc received: deportation from us-cbp"
    (hit,) = [line for line in lines if "(recorded on mx-sspc)" in line]
    (miss,) = [line for line in lines if "(recorded nowhere)" in line]
    assert "mx-sspc: hit " in hit and "mx-sspc: no hit" in miss
    assert f"http://127.0.0.1:{port + 2}" in done.stdout
