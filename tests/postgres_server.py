"""A throwaway PostgreSQL server for end-to-end tests: initdb in a temporary directory, started on
a free loopback port, removed afterwards.

PostgreSQL refuses to run as root; as root the server runs as the ``postgres`` user (which the
Debian package creates) through ``runuser``. Authentication is ``trust`` on loopback only.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.system_tools import postgres_bin


@dataclass(frozen=True)
class PostgresServer:
    bin_dir: Path
    port: int
    user: str = "postgres"
    database: str = "postgres"
    host: str = "127.0.0.1"

    def query(self, sql: str) -> list[list[str]]:
        """Rows of ``sql`` as lists of text (psql's unaligned output, tab-separated)."""
        done = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-At",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                self.database,
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return [line.split("\t") for line in done.stdout.splitlines() if line]


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "postgres"], check=True)
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin()
    prefix = _as_server_user()
    # Not pytest's tmp_path: its parents are private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="pg-e2e-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if prefix:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    subprocess.run(
        [
            *prefix,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        capture_output=True,
        check=True,
    )
    port = _free_port()
    log = (root / "server.log").open("w")
    server = subprocess.Popen(
        [
            *prefix,
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(sockets),
            "-F",
            "-c",
            "max_connections=20",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        pg = PostgresServer(bin_dir=bin_dir, port=port)
        for _ in range(300):
            if server.poll() is not None:
                raise RuntimeError((root / "server.log").read_text()[-2000:])
            ready = subprocess.run(
                [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        yield pg
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(root, ignore_errors=True)
