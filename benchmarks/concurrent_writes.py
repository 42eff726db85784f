"""Concurrent writes from several processes: 2 servers x 2 workers on one database.

Twenty clients send a mix of writes and reads (incidents recorded, listed and read with
their audit entries, profiles, ``/healthz``) spread over two ``atalaya serve --workers 2``
processes that share one database, as a node with several front-end processes runs.
Reports server errors, transport errors, acknowledged writes that were not stored (or
were stored twice), whether the audit chain verifies, and throughput with p50 and p99
latency per kind of request. The baseline, in the same run and under the same load, is
a bare FastAPI application (two processes of two workers, plain ``def`` routes) that
inserts and reads the same kind of rows in one table of the same engine, with no
authentication, validation or audit.

    python benchmarks/concurrent_writes.py [--database sqlite|postgresql]
        [--requests 2000] [--clients 20] [--rounds 3]

The soak test (tests/test_soak.py) runs the same load, smaller, through ``mixed_load``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Shares of the mix, by kind of request.
MIX = {"write": 40, "list": 20, "read": 20, "profile": 10, "health": 10}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(command: list[str], env: dict[str, str], log: Path) -> Iterator[str]:
    """Start ``command`` (which listens on the port in its ``--port``); yield its URL once
    ``/healthz`` answers; stop it after."""
    port = command[command.index("--port") + 1]
    url = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not start: see {log}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def atalaya_servers(
    env: dict[str, str], log: Path, servers: int = 2, workers: int = 2
) -> ExitStack:
    """Return a stack holding ``servers`` Atalaya processes of ``workers`` workers each;
    ``stack.urls`` lists their URLs."""
    stack = ExitStack()
    urls = []
    for _ in range(servers):
        command = [sys.executable, "-m", "atalaya", "serve", "--port", str(free_port())]
        command += ["--workers", str(workers)]
        urls.append(stack.enter_context(serving(command, env, log)))
    stack.urls = urls  # type: ignore[attr-defined]
    return stack


def incident(reference: str) -> dict[str, Any]:
    """Return an incident for alice's agency (Juárez) with a victim and a stolen car."""
    return {
        "reference": reference,
        "occurred_from": "2026-11-20T22:15",
        "reported_at": "2026-11-20T23:40:00Z",
        "area": "MX-08-037",
        "place_type": "street",
        "narrative": "Disparos en la vía pública (carga concurrente).",
        "offences": [{"iccs": "0101", "weapon": "firearm"}],
        "persons": [
            {"role": "victim", "given_names": "Juan Carlos", "surnames": "Pérez López",
             "sex": "male", "age": 27, "nationality": "MX"}
        ],
    }  # fmt: skip


@dataclass
class Tally:
    """What a load run saw."""

    statuses: Counter[int] = field(default_factory=Counter)
    transport_errors: list[str] = field(default_factory=list)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    acknowledged: list[str] = field(default_factory=list)  # references answered 201
    seconds: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values()) + len(self.transport_errors)

    def note(self, kind: str, status: int | None, seconds: float, error: str = "") -> None:
        with self.lock:
            self.latencies.setdefault(kind, []).append(seconds)
            if status is None:
                self.transport_errors.append(error)
            else:
                self.statuses[status] += 1


def mixed_load(
    urls: list[str],
    token: str,
    *,
    total: int,
    clients: int,
    prefix: str,
    seed: int = 12,
    atalaya: bool = True,
) -> Tally:
    """Send ``total`` requests of ``MIX`` from ``clients`` threads, spread over ``urls``;
    return the tally. Written references start with ``prefix``. With ``atalaya=False``
    the paths are the bare baseline's (``bare_writes.py``)."""
    rng = random.Random(seed)
    kinds = [k for k, share in MIX.items() for _ in range(share)]
    plan = [(i, rng.choice(kinds), urls[i % len(urls)]) for i in range(total)]
    tally = Tally()
    recorded: list[str] = []  # ids of incidents written so far, to read back
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "client"):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            local.client = httpx.Client(headers=headers, timeout=120)
        return local.client  # type: ignore[no-any-return]

    def one(step: tuple[int, str, str]) -> None:
        index, kind, url = step
        method, path, body = _request(kind, index, prefix, recorded, atalaya)
        started = time.perf_counter()
        try:
            response = client().request(method, url + path, json=body)
        except httpx.TransportError as error:
            tally.note(kind, None, time.perf_counter() - started, repr(error))
            return
        tally.note(kind, response.status_code, time.perf_counter() - started)
        if kind == "write" and response.status_code == 201:
            with tally.lock:
                tally.acknowledged.append(body["reference"])  # type: ignore[index]
                recorded.append(str(response.json()["id"]))

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, plan))
    tally.seconds = time.perf_counter() - started
    return tally


def _request(
    kind: str, index: int, prefix: str, recorded: list[str], atalaya: bool
) -> tuple[str, str, dict[str, Any] | None]:
    base = "/api/v1" if atalaya else "/bare"
    if kind == "write":
        return "POST", f"{base}/incidents", incident(f"{prefix}-{index:06d}")
    if kind == "list":
        return "GET", f"{base}/incidents?limit=5", None
    if kind == "read":
        target = recorded[-1] if recorded else "1"
        return "GET", f"{base}/incidents/{target}", None
    if kind == "profile":
        return "GET", "/api/v1/users/alice" if atalaya else "/bare/users/alice", None
    return "GET", "/healthz", None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


# ---- the benchmark itself ---------------------------------------------------------


def _environment(url: str, data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        ATALAYA_DATABASE_URL=url,
        ATALAYA_DATA_DIR=str(data_dir),
        ATALAYA_SECRET_KEY="benchmark-secret-key-not-for-production",
        ATALAYA_LANGUAGE="en",
    )
    return env


def _atalaya(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "atalaya", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def prepared_node(url: str, data_dir: Path) -> tuple[dict[str, str], str]:
    """Migrate ``url``, load the demo world without incidents; return the environment
    and a bearer token for alice."""
    env = _environment(url, data_dir)
    _atalaya(env, "db", "upgrade")
    _atalaya(env, "demo", "--incidents", "0", "--quiet")
    token = _atalaya(env, "tokens", "create", "alice").strip().splitlines()[-1]
    return env, token


def stored_references(url: str, prefix: str) -> Counter[str]:
    """Return how many times each reference under ``prefix`` is stored."""
    from sqlalchemy import create_engine, text

    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            rows = c.execute(
                text("SELECT reference FROM incidents WHERE reference LIKE :p"),
                {"p": prefix + "-%"},
            )
            return Counter(r[0] for r in rows)
    finally:
        engine.dispose()


def audit_chain_intact(env: dict[str, str]) -> bool:
    done = subprocess.run(
        [sys.executable, "-m", "atalaya", "audit", "verify"], env=env, capture_output=True
    )
    return done.returncode == 0


def report(name: str, tally: Tally) -> dict[str, Any]:
    every = [s for values in tally.latencies.values() for s in values]
    return {
        "name": name,
        "requests": tally.requests,
        "seconds": round(tally.seconds, 2),
        "per_second": round(tally.requests / tally.seconds, 1),
        "server_errors": tally.server_errors,
        "transport_errors": len(tally.transport_errors),
        "statuses": dict(sorted(tally.statuses.items())),
        "p50_ms": round(percentile(every, 0.50) * 1000, 1),
        "p99_ms": round(percentile(every, 0.99) * 1000, 1),
        "p99_ms_by_kind": {
            k: round(percentile(v, 0.99) * 1000, 1) for k, v in sorted(tally.latencies.items())
        },
    }


def run(database: str, requests: int, clients: int, rounds: int) -> dict[str, Any]:
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url, bare_url = _databases(stack, database, work)
        env, token = prepared_node(url, work / "var")
        log = work / "servers.log"
        atalaya = stack.enter_context(atalaya_servers(env, log))
        bare = stack.enter_context(_bare_servers(bare_url, log))
        rows: list[dict[str, Any]] = []
        lost = doubled = 0
        for round_ in range(rounds):
            prefix = f"BENCH-{round_}"
            tally = mixed_load(atalaya.urls, token, total=requests, clients=clients, prefix=prefix)
            stored = stored_references(url, prefix)
            lost += len(set(tally.acknowledged) - set(stored))
            doubled += sum(1 for n in stored.values() if n > 1)
            rows.append(report("atalaya", tally))
            base = mixed_load(
                bare.urls, "", total=requests, clients=clients, prefix=prefix, atalaya=False
            )
            rows.append(report("bare", base))
        intact = audit_chain_intact(env)
    return _summary(database, requests, clients, rows, lost, doubled, intact)


def _summary(
    database: str,
    requests: int,
    clients: int,
    rows: list[dict[str, Any]],
    lost: int,
    doubled: int,
    intact: bool,
) -> dict[str, Any]:
    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in rows if r["name"] == name)

    ours, bare = median("atalaya", "per_second"), median("bare", "per_second")
    return {
        "database": database,
        "requests_per_round": requests,
        "clients": clients,
        "rounds": rows,
        "atalaya_server_errors": sum(r["server_errors"] for r in rows if r["name"] == "atalaya"),
        "atalaya_transport_errors": sum(
            r["transport_errors"] for r in rows if r["name"] == "atalaya"
        ),
        "bare_errors": sum(
            r["server_errors"] + r["transport_errors"] for r in rows if r["name"] == "bare"
        ),
        "lost_writes": lost,
        "writes_stored_twice": doubled,
        "audit_chain_intact": intact,
        "median_per_second": {"atalaya": ours, "bare": bare},
        "ratio": round(ours / bare, 3),
        "median_p50_ms": {"atalaya": median("atalaya", "p50_ms"), "bare": median("bare", "p50_ms")},
        "median_p99_ms": {"atalaya": median("atalaya", "p99_ms"), "bare": median("bare", "p99_ms")},
    }


def _databases(stack: ExitStack, database: str, work: Path) -> tuple[str, str]:
    if database == "sqlite":
        return f"sqlite:///{work / 'atalaya.db'}", f"sqlite:///{work / 'bare.db'}"
    sys.path.insert(0, str(ROOT / "tests"))
    from postgres_cluster import throwaway_cluster  # type: ignore[import-not-found]

    url = stack.enter_context(throwaway_cluster())
    from sqlalchemy import create_engine, text

    admin = create_engine(
        "postgresql+psycopg://" + url.removeprefix("postgresql://"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as c:
        c.execute(text("CREATE DATABASE bare"))
    admin.dispose()
    return url, url.rsplit("/", 1)[0] + "/bare"


@contextmanager
def _bare_servers(url: str, log: Path) -> Iterator[Any]:
    env = dict(os.environ, BARE_DATABASE_URL=url)
    with ExitStack() as stack:
        urls = []
        for _ in range(2):
            port = str(free_port())
            command = [sys.executable, "-m", "uvicorn", "bare_writes:app", "--port", port]
            command += ["--workers", "2", "--no-access-log", "--app-dir", str(ROOT / "benchmarks")]
            urls.append(stack.enter_context(serving(command, env, log)))
        stack.urls = urls  # type: ignore[attr-defined]
        yield stack


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.database, args.requests, args.clients, args.rounds), indent=2))


if __name__ == "__main__":
    main()
