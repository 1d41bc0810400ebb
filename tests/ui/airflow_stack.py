"""A real Airflow deployment in an isolated AIRFLOW_HOME, for the checks that need whole processes.

``AirflowStack`` runs the components a deployment runs (``api-server``, ``scheduler``,
``dag-processor``, ``triggerer``) on one SQLite metadata DB with the LocalExecutor, all on
127.0.0.1, with the provider installed (this venv), ``[core] test_connection = Enabled`` and
SimpleAuthManager giving everyone admin access (no login page, no token needed for the REST API).

Every component starts in a session of its own (so also a process group of its own, led by it).
Stopping sends SIGTERM to each component, last started first, and waits: Airflow stops its own
children then (executor workers, task processes, the trigger runner). Whatever is still alive in one
of those sessions afterwards (a component that ignored SIGTERM, a child it left orphaned) is killed
by process group and reported by :meth:`AirflowStack.stop`, so a check can fail on it.

The scheduler and triggerer run with ``--skip-serve-logs``: their log servers bind a fixed port
on every interface, and the API server reads the task logs from this home's disk anyway.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

import psutil

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
SIMPLE_AUTH_MANAGER = "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
#: The long-running components, in start order; each has a health entry of this name in /monitor/health.
COMPONENTS = ("api-server", "dag-processor", "scheduler", "triggerer")
_HEALTH_KEY = {"dag-processor": "dag_processor", "scheduler": "scheduler", "triggerer": "triggerer"}
_ARGS = {"scheduler": ("--skip-serve-logs",), "triggerer": ("--skip-serve-logs",)}
#: How often waits poll the REST API, and how long a component may take to stop after SIGTERM.
POLL_SECONDS = 0.5
STOP_TIMEOUT = 30.0
FINISHED = ("success", "failed")
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only, whatever the env says
T = TypeVar("T")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AirflowStack:
    """Airflow components sharing one home; use as a context manager (or :meth:`start` / :meth:`stop`).

    :param home: an empty directory to use as AIRFLOW_HOME (the SQLite DB, logs and each component's
        output, ``<component>.log``, go there).
    :param components: which of :data:`COMPONENTS` to run; ``api-server`` always runs.
    :param dags_folder: the DAGs folder (``example_dags/``).
    :param env: more environment for every Airflow process (a connection, a setting).
    :param component_env: more environment for one component (and the processes it starts), by name.
    :param startup_timeout: seconds allowed for the components to become healthy.
    :param database_url: the metadata DB's SQLAlchemy URL (PostgreSQL, say); default: SQLite in ``home``.
    """

    def __init__(
        self,
        *,
        home: Path,
        components: Iterable[str] = ("api-server",),
        dags_folder: Path = ROOT / "example_dags",
        env: Mapping[str, str] | None = None,
        component_env: Mapping[str, Mapping[str, str]] | None = None,
        startup_timeout: float = 150.0,
        database_url: str | None = None,
    ) -> None:
        wanted = {"api-server", *components}
        unknown = wanted - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown components {sorted(unknown)}; choose from {COMPONENTS}")
        self.components = [name for name in COMPONENTS if name in wanted]
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        self.env: dict[str, str] = {
            **inherited,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url or f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            # xcom()'s ?deserialize=true: Airflow 3.0 refuses it unless this is on (later versions ignore it).
            "AIRFLOW__API__ENABLE_XCOM_DESERIALIZE_SUPPORT": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            # The scheduler's own health server binds a fixed port (8974); /monitor/health suffices.
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # One secret for the API server, the task processes and the triggerer, whatever airflow.cfg says.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            **(env or {}),
        }
        self.component_env = {name: dict(extra) for name, extra in (component_env or {}).items()}
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._outputs: dict[str, IO[bytes]] = {}
        self._sessions: set[int] = set()  # ids of the sessions started here (= their leaders' pids)
        self._token: str | None = None  # the REST API's bearer token, where Airflow asks for one
        #: What stop() had to do that is Airflow's own doing, not a problem of the provider's.
        self.notes: list[str] = []

    def __enter__(self) -> AirflowStack:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- processes -------------------------------------------------------------------------------

    def airflow(
        self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300.0
    ) -> subprocess.CompletedProcess[str]:
        """Run one ``airflow`` CLI command in this home; output is captured, the exit code not checked.

        On timeout the command and everything it started are killed, and ``RuntimeError`` raised
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
            self._kill_sessions({proc.pid})
            stdout, stderr = proc.communicate()
            raise RuntimeError(
                f"`airflow {' '.join(args)}` did not finish in {timeout:.0f}s; its output ends with:\n"
                f"{stdout[-3000:]}\n{stderr[-3000:]}"
            ) from None
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)

    def start(self) -> None:
        """Migrate the metadata DB, start the components, return once each one reports healthy.

        :raises RuntimeError: a component exited, or was not healthy in ``startup_timeout`` seconds
            (everything started is stopped first).
        """
        self.home.mkdir(parents=True, exist_ok=True)
        migrate = self.airflow("db", "migrate")
        if migrate.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{migrate.stdout[-3000:]}\n{migrate.stderr[-3000:]}")
        for name in self.components:
            self._launch(name)
        try:
            self.wait_for(self._healthy, timeout=self.startup_timeout, what="the components to be healthy")
        except BaseException:
            self.stop()
            raise

    def _launch(self, name: str) -> None:
        output = self._outputs[name] = (self.home / f"{name}.log").open("ab")
        self._procs[name] = subprocess.Popen(
            [AIRFLOW, name, *_ARGS.get(name, ())],
            env={**self.env, **self.component_env.get(name, {})},
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._sessions.add(self._procs[name].pid)

    def kill(self, name: str) -> None:
        """``kill -9`` one component and everything in its session (its workers, task processes)."""
        proc = self._procs.pop(name)
        self._kill_sessions({proc.pid})
        proc.wait(10)
        self._outputs.pop(name).close()

    def restart(self, name: str) -> None:
        """Start a component :meth:`kill` stopped again, and wait until it reports healthy."""
        self._launch(name)
        self.wait_for(self._healthy, timeout=self.startup_timeout, what=f"{name} to be healthy again")

    def _healthy(self) -> bool:
        try:
            health = self.api("GET", "/api/v2/monitor/health")
        except OSError:  # the API server is not listening yet
            return False
        return all(
            (health.get(_HEALTH_KEY[name]) or {}).get("status") == "healthy"
            for name in self.components
            if name in _HEALTH_KEY
        )

    def check_alive(self) -> None:
        """Raise ``RuntimeError`` with the end of its output if a component has exited."""
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}")

    def log(self, name: str = "api-server") -> str:
        """A component's output so far."""
        path = self.home / f"{name}.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def processes(self) -> Sequence[psutil.Process]:
        """Every live process of the sessions this stack started: the components and all they started,
        even those whose parent has exited (what must be gone once a check is over).

        Task processes move to process groups of their own, but stay in their component's session.
        """
        found = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error, OSError):
                if os.getsid(process.pid) in self._sessions and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
        return found

    def stop(self) -> list[str]:
        """Stop every component, last started first; idempotent.

        Each gets SIGTERM and up to ``STOP_TIMEOUT`` seconds to stop its own children and exit. Then
        every process left in one of this stack's sessions is killed, by process group. A scheduler
        stuck on an idle executor worker (:meth:`_waits_on_idle_workers`) is killed at once, noted in
        :attr:`notes` and warned about, and is not a problem.

        :return: what had to be killed, one line each (empty when everything stopped by itself).
        """
        problems: list[str] = []
        stopped = []
        for name in reversed(list(self._procs)):
            proc = self._procs.pop(name)
            stopped.append(proc)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    if self._waits_on_idle_workers(proc.pid):
                        self.notes.append(f"{name}: Airflow's LocalExecutor.end() waited on an idle worker; killed")
                        warnings.warn(self.notes[-1], stacklevel=2)
                        self._kill_sessions({proc.pid})
                    else:
                        problems.append(f"{name} (pid {proc.pid}) did not exit within {STOP_TIMEOUT:.0f}s of SIGTERM")
            self._outputs.pop(name).close()
        for process in self.processes():
            with contextlib.suppress(psutil.Error):
                problems.append(f"left running: pid {process.pid} {' '.join(process.cmdline())[:100]!r}")
        self._kill_sessions(self._sessions)
        for proc in stopped:
            proc.wait(10)
        return problems

    def _waits_on_idle_workers(self, leader: int) -> bool:
        """Whether a component that did not stop is a scheduler in Airflow's ``LocalExecutor.end()``,
        joining workers one of which never took its poison pill: every other process of its session
        is an idle executor worker (no task, so no code of the provider's, runs in them). A race of
        Airflow's own (seen on 3.3.2, rarely; compare apache/airflow#67870), not the provider's."""
        others = [p for p in self.processes() if _session(p) == leader and p.pid != leader]
        with contextlib.suppress(psutil.Error):
            return bool(others) and all(
                "LocalExecutor" in (title := " ".join(p.cmdline())) and "<idle>" in title for p in others
            )
        return False

    def _kill_sessions(self, sessions: set[int]) -> None:
        """SIGKILL every process group that has a live member in one of ``sessions``, then reap."""
        members = [p for p in self.processes() if _session(p) in sessions]
        for group in {_group(p) for p in members}:
            if group is None:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signal.SIGKILL)
        psutil.wait_procs(members, timeout=10)

    # -- the REST API ----------------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call the REST API (``/api/v2/...``) and return the decoded JSON answer.

        Airflow 3.0 and 3.2+ let every request in as admin (``simple_auth_manager_all_admins``); 3.1
        asks for a token, which ``/auth/token`` hands out in that mode: taken on the first 401.

        :raises urllib.error.HTTPError: for an answer that is not 2xx (its body in the message).
        """
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers=headers,
        )
        try:
            with _NO_PROXY.open(request, timeout=30) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            if err.code == 401 and not self._token and path.startswith("/api/"):
                self._token = self.api("GET", "/auth/token")["access_token"]
                return self.api(method, path, body)
            err.msg = f"{err.msg}: {err.read()[:2000].decode(errors='replace')}"
            raise

    def wait_for(self, probe: Callable[[], T | None], *, timeout: float, what: str) -> T:
        """Poll ``probe`` every ``POLL_SECONDS`` until it returns something truthy, and return that.

        :raises RuntimeError: a component exited meanwhile, or ``timeout`` seconds passed.
        """
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            result = probe()
            if result:
                return result
            if time.monotonic() > deadline:
                raise RuntimeError(f"waited {timeout:.0f}s for {what}")
            time.sleep(POLL_SECONDS)

    def wait_for_dags(self, dag_ids: Iterable[str], *, timeout: float = 120.0) -> None:
        """Wait until the dag-processor has parsed each DAG; fail at once on an import error."""
        wanted = set(dag_ids)

        def parsed() -> bool:
            errors = self.api("GET", "/api/v2/importErrors")["import_errors"]
            if errors:
                raise AssertionError(f"DAG import errors: {errors}")
            return wanted <= {dag["dag_id"] for dag in self.api("GET", "/api/v2/dags?limit=100")["dags"]}

        self.wait_for(parsed, timeout=timeout, what=f"the DAGs {sorted(wanted)} to be parsed")

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Trigger a run of ``dag_id`` (as the UI's Trigger button does) and return its run id."""
        run = self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": dict(conf or {})})
        return str(run["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> str:
        """A DAG run's state."""
        return str(self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"])

    def wait_for_runs(self, runs: Mapping[str, str], *, timeout: float) -> dict[str, str]:
        """Wait until every run (``{dag_id: run_id}``) has finished; return ``{dag_id: state}``."""
        states: dict[str, str] = {}

        def finished() -> bool:
            states.update({dag_id: self.run_state(dag_id, run_id) for dag_id, run_id in runs.items()})
            return all(state in FINISHED for state in states.values())

        try:
            self.wait_for(finished, timeout=timeout, what="the DAG runs to finish")
        except RuntimeError as err:
            raise RuntimeError(f"{err}; states {states}") from None
        return states

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """Each task's state in a run."""
        answer = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")
        return {ti["task_id"]: ti["state"] for ti in answer["task_instances"]}

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """One XCom value of a run, deserialised."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}?deserialize=true"
        return self.api("GET", path)["value"]

    def events(self, event: str) -> list[dict[str, Any]]:
        """The audit log's entries of one kind (e.g. ``state mismatch``), oldest first."""
        return list(self.api("GET", f"/api/v2/eventLogs?event={urllib.parse.quote(event)}&limit=100")["event_logs"])


def _session(process: psutil.Process) -> int | None:
    with contextlib.suppress(OSError, psutil.Error):
        return os.getsid(process.pid)
    return None


def _group(process: psutil.Process) -> int | None:
    with contextlib.suppress(OSError, psutil.Error):
        return os.getpgid(process.pid)
    return None
