"""A throwaway PostgreSQL cluster in a temporary directory, for the test suite.

Used when ``--db=postgresql`` is given without ``ATALAYA_TEST_POSTGRES_URL``. As root
(CI), the cluster runs as the ``postgres`` system user, since initdb refuses root.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def find_pg_bin() -> Path | None:
    """Return the directory holding ``pg_ctl`` and ``initdb``, if PostgreSQL is installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    found = shutil.which("pg_ctl")
    if found:
        candidates.insert(0, os.path.realpath(found))
    for candidate in candidates:
        directory = Path(candidate).parent
        if (directory / "initdb").exists():
            return directory
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a fresh cluster on 127.0.0.1 and yield its URL; stop and delete it after."""
    bindir = find_pg_bin()
    if bindir is None:
        raise RuntimeError("PostgreSQL is not installed (no pg_ctl found)")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    root = Path(tempfile.mkdtemp(prefix="atalaya-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if as_root:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    run = lambda *cmd: subprocess.run([*prefix, *cmd], check=True, capture_output=True)  # noqa: E731
    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    # No autovacuum: every test rolls its transaction back, and autovacuum, finding
    # tables full of dead rows, records them as empty (no live rows in many pages).
    # The planner then takes the next test's rows for none and joins them by nested
    # loops over full scans: a join in tests/observatory/test_snic.py ran for minutes.
    # Tables never vacuumed are estimated from their size instead.
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c autovacuum=off"
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-w",
        "-l",
        str(root / "log"),
        "start",
    )
    try:
        run(
            str(bindir / "createdb"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            "postgres",
            "atalaya",
        )
        yield f"postgresql://postgres@127.0.0.1:{port}/atalaya"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            check=False,
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if find_pg_bin() else 1)
