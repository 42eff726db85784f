"""Throughput and p99 latency of an authenticated, audited GET, against a bare endpoint.

Both servers run with 2 uvicorn worker processes on 127.0.0.1; ``wrk`` (Debian package
``wrk``, 2 threads, 16 connections) loads them in alternating rounds, so that noise on
the machine hits all alike. The baseline is the same JSON from a bare ``async def``
FastAPI endpoint; a bare plain ``def`` endpoint (run in FastAPI's thread pool) is
measured too, for reference. Reports medians over the rounds and the ratio of
Atalaya's throughput to the bare endpoint's. Target (issue 2): at least 0.40.

    python benchmarks/api_throughput.py [--rounds 5] [--seconds 10] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/v1/users/alice"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(command: list[str], env: dict[str, str], port: int) -> Iterator[str]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                httpx.get(url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(url: str, seconds: int, token: str | None, path: str = PATH) -> tuple[float, float]:
    """Return (requests per second, p99 latency in ms) of one wrk run."""
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    output = subprocess.run(
        [*command, url + path], capture_output=True, text=True, check=True
    ).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, p99


def atalaya_env(tmp: Path, database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ATALAYA_DATABASE_URL": database_url,
            "ATALAYA_DATA_DIR": str(tmp / "var"),
            "ATALAYA_SECRET_KEY": "benchmark-secret",
        }
    )
    return env


def atalaya(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-m", "atalaya", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp / 'bench.db'}"
        return
    sys.path.insert(0, str(ROOT / "tests"))
    from postgres_cluster import throwaway_cluster

    with throwaway_cluster() as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        env = atalaya_env(tmp, stack.enter_context(database(args.database, tmp)))
        atalaya(env, "db", "upgrade")
        atalaya(env, "demo", "--quiet")
        token = atalaya(env, "tokens", "create", "alice", "--days", "1").strip().splitlines()[-1]
        port_a, port_b = free_port(), free_port()
        ours = stack.enter_context(
            server(
                [sys.executable, "-m", "atalaya", "serve", "--port", str(port_a), "--workers", "2"],
                env,
                port_a,
            )
        )
        bare = stack.enter_context(
            server(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "bare_app:app",
                    "--app-dir",
                    str(ROOT / "benchmarks"),
                    "--port",
                    str(port_b),
                    "--workers",
                    "2",
                    "--no-access-log",
                ],
                env,
                port_b,
            )
        )
        body_ours = httpx.get(ours + PATH, headers={"Authorization": f"Bearer {token}"}).json()
        assert body_ours == httpx.get(bare + PATH).json(), (
            "the two endpoints must return the same JSON"
        )
        wrk(ours, 2, token), wrk(bare, 2, None)  # warm up both
        results: dict[str, list[tuple[float, float]]] = {"bare": [], "bare_sync": [], "atalaya": []}
        for _ in range(args.rounds):
            results["bare"].append(wrk(bare, args.seconds, None))
            results["bare_sync"].append(wrk(bare, args.seconds, None, "/sync" + PATH))
            results["atalaya"].append(wrk(ours, args.seconds, token))
        audited = atalaya(env, "audit", "verify")
    report = summarise(results, args)
    report["audit_verify"] = audited.strip()
    out = ROOT / "benchmarks" / "out"
    out.mkdir(exist_ok=True)
    (out / f"api_throughput-{args.database}.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


def summarise(
    results: dict[str, list[tuple[float, float]]], args: argparse.Namespace
) -> dict[str, object]:
    median = {
        name: (statistics.median(r for r, _ in runs), statistics.median(p for _, p in runs))
        for name, runs in results.items()
    }
    ratios = [a[0] / b[0] for a, b in zip(results["atalaya"], results["bare"], strict=True)]
    sync_ratios = [
        a[0] / b[0] for a, b in zip(results["atalaya"], results["bare_sync"], strict=True)
    ]
    return {
        "database": args.database,
        "rounds": args.rounds,
        "seconds_per_round": args.seconds,
        "bare_rps_median": round(median["bare"][0], 1),
        "bare_p99_ms_median": round(median["bare"][1], 2),
        "atalaya_rps_median": round(median["atalaya"][0], 1),
        "atalaya_p99_ms_median": round(median["atalaya"][1], 2),
        "bare_sync_rps_median": round(median["bare_sync"][0], 1),
        "bare_sync_p99_ms_median": round(median["bare_sync"][1], 2),
        "throughput_ratio_median": round(statistics.median(ratios), 3),
        "throughput_ratios": [round(r, 3) for r in ratios],
        "ratio_to_sync_bare_median": round(statistics.median(sync_ratios), 3),
        "target_ratio": 0.40,
    }


if __name__ == "__main__":
    main()
