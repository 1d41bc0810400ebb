"""A real Airflow API server (UI included) in an isolated AIRFLOW_HOME, for the browser check.

Started with the provider installed (this venv), ``[core] test_connection = Enabled`` and
SimpleAuthManager giving everyone admin access (no login page), bound to 127.0.0.1 on a free port.
Every process it starts is stopped again, children before parents.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

import psutil

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
#: uvicorn's line once the app serves requests.
READY_LINE = re.compile(r"Application startup complete|Uvicorn running on")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process_tree(proc: subprocess.Popen[bytes] | subprocess.Popen[str], *, timeout: float = 15.0) -> None:
    """Stop ``proc`` and everything it started: the children first (deepest first), then ``proc``.

    SIGTERM, then SIGKILL for whatever is still alive after ``timeout`` seconds.
    """
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    depth = {child.pid: _depth(child, proc.pid) for child in children}
    for level in sorted(set(depth.values()), reverse=True):
        _terminate([child for child in children if depth[child.pid] == level], timeout=timeout)
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


def _depth(process: psutil.Process, root_pid: int) -> int:
    """How many generations ``process`` is below ``root_pid``."""
    level = 0
    with contextlib.suppress(psutil.Error):
        while process.pid != root_pid:
            parent = process.parent()
            if parent is None:
                break
            process, level = parent, level + 1
    return level


def _terminate(processes: list[psutil.Process], *, timeout: float) -> None:
    """SIGTERM ``processes``, then SIGKILL those still alive after ``timeout`` seconds."""
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=timeout)


class AirflowUI:
    """An Airflow API server serving the UI on ``url``; use as a context manager.

    :param home: an empty directory to use as AIRFLOW_HOME (the SQLite DB and logs go there).
    :param dags_folder: the DAGs folder (``example_dags/``).
    :param startup_timeout: seconds allowed for the server to start.
    """

    def __init__(
        self, *, home: Path, dags_folder: Path = ROOT / "example_dags", startup_timeout: float = 120.0
    ) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / "api-server.log"
        self.startup_timeout = startup_timeout
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        self.env: dict[str, str] = {
            **inherited,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # One worker process: with the default 32, forked all at once, `dags test --use-executor`
            # sometimes hangs in LocalExecutor.end() after the run has finished (Airflow 3.3.2).
            "AIRFLOW__CORE__PARALLELISM": "1",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            # One secret for the API server and the task processes, whatever airflow.cfg says.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
        }
        self._proc: subprocess.Popen[str] | None = None
        self._sessions: set[int] = set()  # ids of the sessions started here (= their leaders' pids)
        self._reader: threading.Thread | None = None
        self._ready = False
        self._settled = threading.Event()  # set on the ready line, or when the output ends

    def __enter__(self) -> AirflowUI:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def airflow(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300.0
    ) -> subprocess.CompletedProcess[str]:
        """Run one ``airflow`` CLI command in this home; output is captured, the exit code not checked.

        On timeout the command and everything it started are stopped, and ``RuntimeError`` raised
        with the end of its output.
        """
        proc = subprocess.Popen(
            [AIRFLOW, *args],
            env={**self.env, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self._sessions.add(proc.pid)
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_process_tree(proc)
            stdout, stderr = proc.communicate()
            raise RuntimeError(
                f"`airflow {' '.join(args)}` did not finish in {timeout:.0f}s; its output ends with:\n"
                f"{stdout[-3000:]}\n{stderr[-3000:]}"
            ) from None
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)

    def start(self) -> None:
        """Migrate the metadata DB, start the API server, return once it serves requests."""
        self.home.mkdir(parents=True, exist_ok=True)
        migrate = self.airflow("db", "migrate")
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-3000:]}")
        self._proc = subprocess.Popen(
            [AIRFLOW, "api-server"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        self._sessions.add(self._proc.pid)
        assert self._proc.stdout is not None
        self._reader = threading.Thread(target=self._pump, args=(self._proc.stdout,), daemon=True)
        self._reader.start()
        if not self._settled.wait(timeout=self.startup_timeout):
            self.stop()
            raise RuntimeError(f"the API server did not start in {self.startup_timeout:.0f}s:\n{self.log()}")
        if not self._ready:
            self.stop()
            raise RuntimeError(f"the API server exited during startup:\n{self.log()}")

    def _pump(self, stream: IO[str]) -> None:
        """Copy the server's output to ``log_path``, noting when it is ready and when it ends."""
        with self.log_path.open("a", encoding="utf-8") as log:
            for line in stream:
                log.write(line)
                log.flush()
                if not self._ready and READY_LINE.search(line):
                    self._ready = True
                    self._settled.set()
        self._settled.set()

    def log(self) -> str:
        """The API server's output so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """Stop the API server and its children; idempotent."""
        if self._proc is not None:
            stop_process_tree(self._proc)
            self._proc = None
        if self._reader is not None:
            self._reader.join(timeout=10)
            self._reader = None

    def dags_test(
        self, dag_id: str, conf: Mapping[str, object], *, env: Mapping[str, str], timeout: float = 180.0
    ) -> subprocess.CompletedProcess[str]:
        """``airflow dags test --use-executor`` into this home's metadata DB, so the UI shows the run.

        The LocalExecutor runs each task in a supervised process that writes the task's log file
        (plain ``dags test`` runs tasks in-process and leaves the UI without logs); those processes
        reach the Execution API of this API server.
        """
        return self.airflow("dags", "test", "--use-executor", dag_id, "-c", json.dumps(conf), env=env, timeout=timeout)

    def processes(self) -> Sequence[psutil.Process]:
        """Every live process of the sessions this object started: the API server, a ``dags test``
        and its executor's workers, ... (what must be gone once the check is over).

        Each command starts in a session of its own, so its descendants are found even when their
        parent has exited. (Their environment cannot tell: Airflow's process titles overwrite it.)
        """
        found = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error, OSError):
                if os.getsid(process.pid) in self._sessions and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
        return found
