"""``atalaya demo network``: three nodes on 127.0.0.1 (Mexico, Guatemala, the United
States), each its own ``atalaya serve`` process and SQLite database, with agreements
between two pairs of them (MX-GT, MX-US; none between GT and US), exchanging alerts
and hit/no-hit queries, so that a new user sees the exchange at work.

Everything is done as an operator would: through the ``atalaya`` commands of each node
(``db upgrade``, ``demo``, ``node init``, ``peers add`` with the fingerprint that
``node show`` printed, ``agreements add``, ``tokens create``, ``hits query``) and their
HTTP API. A second run on the same directory reuses what the first set up.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from atalaya.demo import DEMO_PASSWORD

ALERTS = ["alert:wanted", "alert:missing", "alert:stolen_vehicle", "alert:stolen_firearm",
          "alert:stolen_document", "alert:deportation"]  # fmt: skip
HITS = ["hit:vehicle", "hit:document", "hit:firearm", "hit:person"]


@dataclass(frozen=True)
class DemoNode:
    node_id: str
    name: str
    country: str
    # The agency and users created on a node other than Mexico's (which has the demo world).
    agency: tuple[str, str, str] | None = None
    users: tuple[tuple[str, str], ...] = ()


NODES = (
    DemoNode("mx-sspc", "Secretaría de Seguridad y Protección Ciudadana (demo)", "MX"),
    DemoNode(
        "gt-pnc",
        "Policía Nacional Civil de Guatemala (demo)",
        "GT",
        ("GT-PNC", "Policía Nacional Civil", "GT"),
        (("gt-officer", "officer"), ("gt-supervisor", "supervisor")),
    ),
    DemoNode(
        "us-cbp",
        "U.S. Customs and Border Protection (demo)",
        "US",
        ("US-CBP", "Customs and Border Protection", "US"),
        (("us-officer", "officer"), ("us-supervisor", "supervisor")),
    ),
)
# Who exchanges what with whom (both ways): Guatemala and the United States, none.
AGREEMENTS = (
    ("mx-sspc", "gt-pnc", [*ALERTS, *HITS]),
    ("mx-sspc", "us-cbp", ["alert:wanted", "alert:stolen_vehicle", "alert:deportation",
                           "hit:vehicle", "hit:person", "hit:document"]),
)  # fmt: skip


@dataclass
class Running:
    """A node being served: where, its command environment, its tokens."""

    node: DemoNode
    port: int
    directory: Path
    tokens: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ATALAYA_DATABASE_URL": f"sqlite:///{self.directory / 'atalaya.db'}",
            "ATALAYA_DATA_DIR": str(self.directory),
            "ATALAYA_PUBLIC_URL": self.url,
            "ATALAYA_NODE_ID": self.node.node_id,
            "ATALAYA_FEDERATION_RETRY_BASE_SECONDS": "0.5",
            "ATALAYA_FEDERATION_WORKER_POLL_SECONDS": "0.5",
        }

    def atalaya(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """Run an ``atalaya`` command for this node; return its output."""
        # Our own program, with arguments this module writes.
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "atalaya", *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{self.node.node_id}: atalaya {' '.join(args)}: {done.stderr}")
        return done.stdout

    def token(self, username: str) -> dict[str, str]:
        if username not in self.tokens:
            output = self.atalaya("tokens", "create", username)
            self.tokens[username] = output.strip().splitlines()[-1]
        return {"Authorization": f"Bearer {self.tokens[username]}"}


def prepare(running: Running, incidents: int) -> str:
    """Set up a node's database, demo data and identity (once); return its fingerprint."""
    first = not (running.directory / "atalaya.db").exists()
    running.directory.mkdir(parents=True, exist_ok=True)
    running.atalaya("db", "upgrade")
    node = running.node
    if node.agency is None:
        running.atalaya("demo", "--incidents", str(incidents), "--quiet")
    elif first:
        code, name, area = node.agency
        running.atalaya("agencies", "add", code, "--name", name, "--level", "federal",
                        "--area", area)  # fmt: skip
        for username, role in node.users:
            running.atalaya("users", "add", username, "--agency", code, "--role", role,
                            stdin=DEMO_PASSWORD + "\n")  # fmt: skip
    shown = running.atalaya("node", "show", check=False)
    if "fingerprint" not in shown:
        shown = running.atalaya("node", "init", "--id", node.node_id, "--name", node.name,
                                "--country", node.country, "--url", running.url)  # fmt: skip
    found = re.search(r"fingerprint: (\S+)", shown)
    assert found is not None, shown
    return found.group(1)


@contextmanager
def served(running: Running) -> Iterator[None]:
    """Serve the node (with its embedded delivery worker) while the block runs."""
    log = (running.directory / "serve.log").open("ab")
    process = subprocess.Popen(  # noqa: S603 - our own program
        [sys.executable, "-m", "atalaya", "serve", "--host", "127.0.0.1", "--port",
         str(running.port)],
        env=running.env, stdout=log, stderr=log,
    )  # fmt: skip
    try:
        wait_for(lambda: _healthy(running.url), f"{running.node.node_id} to serve", 60)
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.25)
    raise RuntimeError(f"timed out waiting for {what}")


def connect(nodes: dict[str, Running], fingerprints: dict[str, str]) -> None:
    """Pin each pair's keys by fingerprint and record their agreement, both ways."""
    for a, b, classes in AGREEMENTS:
        for here, there in ((nodes[a], nodes[b]), (nodes[b], nodes[a])):
            listed = here.atalaya("peers", "list")
            if there.node.node_id in listed:
                continue
            here.atalaya("peers", "add", there.url, "--fingerprint",
                         fingerprints[there.node.node_id])  # fmt: skip
            joined = ",".join(classes)
            here.atalaya("agreements", "add", "--peer", there.node.node_id, "--send", joined,
                         "--receive", joined)  # fmt: skip


def exchange(nodes: dict[str, Running], say: Callable[[str], None]) -> dict[str, Any]:
    """Issue alerts and ask hit/no-hit queries across the network; return what happened."""
    mx, gt, us = nodes["mx-sspc"], nodes["gt-pnc"], nodes["us-cbp"]
    diana = mx.token("diana")
    vin = _a_recorded_vin(mx)
    review = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 180 * 86400))
    stolen = {
        "type": "stolen_vehicle",
        "summary": "Camioneta robada en Ciudad Juárez.",
        "review_date": review,
        "vehicle": {"vin": vin},
    }
    wanted = {
        "type": "wanted",
        "summary": "Orden de aprehensión por homicidio.",
        "review_date": review,
        "warrant_reference": "DEMO-OA-2026-0042",
        "person": {
            "given_names": "Juan Carlos",
            "surnames": "Pérez López",
            "date_of_birth": "1990-05-17",
            "sex": "male",
            "nationality": "MX",
        },
    }
    deported = {
        "type": "deportation",
        "summary": "Repatriation of a Mexican national.",
        "review_date": review,
        "person": {
            "given_names": "Luis",
            "surnames": "Ramírez Soto",
            "date_of_birth": "1985-02-03",
            "sex": "male",
            "nationality": "MX",
        },
        "deportation": {
            "deporting_country": "US",
            "arrival_date": review,
            "arrival_place": "Ciudad Juárez, Chihuahua",
            "criminal_record": "Robbery (2019), as the agreement allows.",
        },
    }
    issued = [
        _post(mx, "/api/v1/alerts", stolen, diana)["uid"],
        _post(mx, "/api/v1/alerts", wanted, diana)["uid"],
        _post(us, "/api/v1/alerts", deported, us.token("us-supervisor"))["uid"],
    ]
    say("alerts issued: a stolen vehicle and a wanted person on mx-sspc, a deportation "
        "notice on us-cbp")  # fmt: skip
    received = {
        "gt-pnc": wait_for(lambda: _received(gt, 2), "gt-pnc to receive mx-sspc's alerts"),
        "us-cbp": wait_for(lambda: _received(us, 2), "us-cbp to receive mx-sspc's alerts"),
        "mx-sspc": wait_for(lambda: _received(mx, 1), "mx-sspc to receive the notice"),
    }
    for node_id, alerts in received.items():
        say(f"{node_id} received: " + "; ".join(f"{a['type']} from {a['owner_node']}"
                                               for a in alerts))  # fmt: skip
    gt_alerts = {a["uid"] for a in received["gt-pnc"]}
    hit = gt.atalaya("hits", "query", "--type", "vin", "--value", vin, "--purpose",
                     "border_check", "--user", "gt-officer")  # fmt: skip
    miss = gt.atalaya("hits", "query", "--type", "vin", "--value", "1HGCM82633A004352",
                      "--purpose", "border_check", "--user", "gt-officer")  # fmt: skip
    say(f"gt-pnc asks its peers about VIN {vin} (recorded on mx-sspc): {hit.strip()}")
    say(f"gt-pnc asks about VIN 1HGCM82633A004352 (recorded nowhere): {miss.strip()}")
    return {"issued": issued, "received": received, "gt_alerts": gt_alerts,
            "hit": hit, "miss": miss}  # fmt: skip


def _a_recorded_vin(mx: Running) -> str:
    """The VIN of a vehicle recorded stolen in one of the Mexican node's incidents."""
    for line in mx.atalaya("records", "export", "--format", "jsonl").splitlines():
        for vehicle in json.loads(line).get("vehicles", []):
            if vehicle.get("status") == "stolen" and vehicle.get("vin"):
                return str(vehicle["vin"])
    raise RuntimeError("mx-sspc has no demo vehicle recorded stolen with a VIN")


def _post(node: Running, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    response = httpx.post(node.url + path, json=body, headers=headers, timeout=30)
    if response.status_code >= 400:
        raise RuntimeError(f"{node.node.node_id} {path}: {response.text}")
    return response.json()


def _received(node: Running, at_least: int) -> list[dict[str, Any]] | None:
    user = "diana" if node.node.agency is None else node.node.users[1][0]
    response = httpx.get(node.url + "/api/v1/alerts", params={"origin": "received"},
                         headers=node.token(user), timeout=10)  # fmt: skip
    items: list[dict[str, Any]] = response.json().get("items", [])
    return items if len(items) >= at_least else None


def run(
    directory: Path,
    base_port: int,
    incidents: int,
    say: Callable[[str], None],
    wait: Callable[[], None],
) -> dict[str, Any]:
    """Set up and serve the three nodes, exchange, report with ``say``, then keep them
    served until ``wait`` returns; return what the exchange did."""
    nodes = {
        node.node_id: Running(node, base_port + index, directory / node.node_id)
        for index, node in enumerate(NODES)
    }
    fingerprints = {}
    for running in nodes.values():
        say(f"preparing {running.node.node_id} in {running.directory}")
        fingerprints[running.node.node_id] = prepare(running, incidents)
    with ExitStack() as stack:
        for running in nodes.values():
            stack.enter_context(served(running))
        connect(nodes, fingerprints)
        done = exchange(nodes, say)
        for running in nodes.values():
            users = ", ".join(u for u, _ in running.node.users) or "alice, bob, diana, ..."
            say(f"{running.node.node_id} ({running.node.country}): {running.url}  "
                f"users: {users}  password: {DEMO_PASSWORD}")  # fmt: skip
        say("agreements: mx-sspc <-> gt-pnc, mx-sspc <-> us-cbp; none between gt-pnc and us-cbp")
        wait()
    return done
