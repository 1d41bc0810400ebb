"""A PostgreSQL server of a test's own, from Debian's binaries (``make postgresql`` installs them):
on a free port of 127.0.0.1, in a temporary directory, gone afterwards. For the stacks that need a
production-like metadata database (the chaos test, the example DAGs on a deployment)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.ui.airflow_stack import free_port

PG_BIN = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin"))), None)


def _as_postgres(*command: str) -> list[str]:
    """Run a PostgreSQL binary as the ``postgres`` user when we are root (the server refuses root)."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


def require_postgres() -> None:
    """Skip, saying what is missing, where the server binaries or Airflow's drivers are absent."""
    if PG_BIN is None:
        pytest.skip("PostgreSQL is not installed (`make postgresql`, or apt-get install -y postgresql)")
    pytest.importorskip("psycopg2", reason="the test extra's psycopg2-binary is needed")
    pytest.importorskip("asyncpg", reason="the test extra's asyncpg is needed (Airflow's async engine)")


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server with an empty ``airflow`` database; yields its SQLAlchemy URL."""
    require_postgres()
    data = Path(tempfile.mkdtemp(prefix="sigmamind-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(f"{PG_BIN}/initdb", "-D", str(data / "db"), "-U", "postgres", "--auth=trust", "-E", "UTF8"),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off"
    try:
        subprocess.run(
            _as_postgres(
                f"{PG_BIN}/pg_ctl", "-D", str(data / "db"), "-o", options, "-l", str(data / "pg.log"), "-w", "start"
            ),
            check=True,
            capture_output=True,
        )
        subprocess.run(
            _as_postgres(f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "airflow"),
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/airflow"
    finally:
        subprocess.run(
            _as_postgres(f"{PG_BIN}/pg_ctl", "-D", str(data / "db"), "-m", "immediate", "stop"), capture_output=True
        )
        shutil.rmtree(data, ignore_errors=True)
