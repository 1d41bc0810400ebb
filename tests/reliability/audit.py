"""The secret audit: a pytest plugin that fails any test through which the canary API key leaks.

``tests/conftest.py`` loads it (``pytest_plugins``) for the WHOLE suite, and every test that talks to
the simulator uses the session's unique canary key (``CANARY_API_KEY``). The audit records what a
user, an operator or a log reader could see, and fails the test (an error at teardown) whose
records hold the canary. What it records, per test:

- **output**: every captured section pytest reports (stdout, stderr, log records, at setup, call
  and teardown), whatever a test took with ``capsys``/``capfd.readouterr()``, every log record
  that reached the root logger (formatted, with its traceback), warnings, and the test's id;
- **exceptions**: the text of a failure (``longrepr``); every exception a ``pytest.raises`` caught,
  with ``str``, ``repr`` and the formatted chain of causes and contexts; every
  :class:`SigmaMindError` created, with its chain, as it stands when the test ends;
- **objects**: ``repr()`` of every hook, connection config, operator, sensor and trigger created,
  the operators' template fields (rendered, when the test rendered them), every trigger's
  ``serialize()`` output (its kwargs), every ``TriggerEvent`` payload;
- **the wire**: every request every simulator received: request line (raw path and query), headers
  (the simulator keeps all but ``X-API-Key``, which it only compares) and body.

At the end of the session it also reads the SQLite metadata DB (XComs, rendered template fields,
trigger rows, task-instance ``next_kwargs``, DAG-run conf: every byte of the file and its journal)
and every other file under the test ``AIRFLOW_HOME`` (task logs): a hit there fails the session.

Objects are found by wrapping, for the session, the ``__new__`` of the provider's classes (the
simulator's, hook's, trigger's, operators') and ``__init__`` of ``SigmaMindError`` and
``TriggerEvent``: nothing is mocked, the wrappers only remember the instance. Leaks are reported
with the canary replaced by ``<canary>``, so the report itself does not spread it.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import re
import sys
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: Modules whose classes are tracked, and how: "new" wraps ``__new__``, "init" wraps ``__init__``.
TRACKED: dict[str, tuple[str, ...]] = {
    "airflow_provider_sigmamind.hooks.sigmamind": ("SigmaMindHook", "SigmaMindConfig"),
    "airflow_provider_sigmamind.triggers.campaign": ("CampaignStatusTrigger",),
    "airflow_provider_sigmamind.simulator.server": ("SigmaMindSimulator",),
}
#: Modules whose BaseOperator subclasses are all tracked.
OPERATOR_MODULES = ("airflow_provider_sigmamind.operators.campaign", "airflow_provider_sigmamind.sensors.campaign")
EXCERPT = 60


@dataclass(frozen=True)
class Leak:
    """One place the secret was found.

    :param surface: the kind of place (``output``, ``exception``, ``object``, ``wire``, ``db``, ``file``).
    :param where: which one exactly.
    :param excerpt: the text around it, with the secret replaced by ``<canary>``.
    """

    surface: str
    where: str
    excerpt: str


@dataclass
class SecretAudit:
    """Scans texts for one secret; counts what it scanned and keeps what it found.

    :param secret: the string that must appear nowhere.
    """

    secret: str
    scanned: Counter[str] = field(default_factory=Counter)
    scanned_bytes: int = 0
    leaks: list[Leak] = field(default_factory=list)

    def scan(self, surface: str, where: str, value: object) -> bool:
        """Look for the secret in ``value`` (text, bytes, or anything else through ``repr``)."""
        if isinstance(value, bytes | bytearray):
            text = bytes(value).decode("utf-8", "replace")
            size = len(value)
        else:
            text = value if isinstance(value, str) else _safe_repr(value)
            size = len(text)
        if self.secret not in text:
            # The key in another spelling: JSON \uXXXX escapes, \/ or percent-encoding, mixed freely.
            text = unescaped(text)
        hit = self.secret if self.secret in text else None
        self.scanned[surface] += 1
        self.scanned_bytes += size
        if hit is None:
            return False
        at = text.find(self.secret)
        excerpt = text[max(0, at - EXCERPT) : at + len(self.secret) + EXCERPT] if at >= 0 else "(binary)"
        self.leaks.append(Leak(surface, where, excerpt.replace(self.secret, "<canary>")))
        return True

    def scan_exception(self, where: str, exc: BaseException) -> None:
        """An exception, its causes and contexts: ``str``, ``repr``, args and the formatted chain."""
        for i, link in enumerate(exception_chain(exc)):
            name = f"{where}: {type(link).__name__}" + (f" (chained #{i})" if i else "")
            self.scan("exception", name, f"{link!s}\n{link!r}\n{link.args!r}")
        self.scan("exception", f"{where}: traceback", "".join(traceback.format_exception(exc)))

    def scan_object(self, where: str, obj: object) -> None:
        """``repr()``, plus a trigger's ``serialize()`` and an operator's template fields."""
        self.scan("object", f"{where}: repr({type(obj).__name__})", _safe_repr(obj))
        triggers = sys.modules.get("airflow.triggers.base")
        if triggers is not None and isinstance(obj, triggers.BaseTrigger):
            self.scan("object", f"{where}: {type(obj).__name__}.serialize()", _safe_call(obj.serialize))
        for name in getattr(obj, "template_fields", ()) or ():
            self.scan("object", f"{where}: {type(obj).__name__}.{name}", _safe_repr(getattr(obj, name, None)))
        payload = getattr(obj, "payload", None)
        if type(obj).__name__ == "TriggerEvent":
            self.scan("object", f"{where}: TriggerEvent payload", json.dumps(payload, default=str))

    def scan_requests(self, where: str, simulator: Any) -> None:
        """Every request a simulator recorded: request line, headers (no ``X-API-Key``) and body."""
        for n, request in enumerate(getattr(simulator, "requests", [])):
            line = f"{request.method} {request.raw_path} {request.query!r} {request.headers!r}"
            self.scan("wire", f"{where}: request #{n} line and headers", line)
            self.scan("wire", f"{where}: request #{n} body", request.body)


_JSON_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_BACKSLASHED = re.compile(r"\\(.)", re.DOTALL)
_PERCENT = re.compile(r"%([0-9a-fA-F]{2})")


def unescaped(text: str) -> str:
    """``text`` with JSON ``\\uXXXX`` escapes, a backslash before any other character (``\\/``,
    ``\\-``) and percent-encoding undone (written apart from the provider's own blanking, so that a
    bug there cannot hide here)."""
    if "\\" not in text and "%" not in text:
        return text
    text = _BACKSLASHED.sub(r"\1", _JSON_ESCAPE.sub(lambda m: chr(int(m[1], 16)), text))
    return _PERCENT.sub(lambda m: chr(int(m[1], 16)), text)


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from or while handling (``__cause__``, ``__context__``)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as exc:  # a repr that fails is not a leak
        return f"<repr failed: {type(exc).__name__}>"


def _safe_call(func: Callable[[], object]) -> str:
    try:
        return _safe_repr(func())
    except Exception as exc:
        return f"<call failed: {type(exc).__name__}>"


# -- the session plugin ------------------------------------------------------------------------


class _Recorder(logging.Handler):
    """Keeps every log record that reaches the root logger during a test, formatted."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.texts.append(self.format(record))
        except Exception:
            self.texts.append(f"<unformattable record from {record.name}>")


class SessionAudit:
    """The audit of one pytest session: instruments the classes, scans each test, reports."""

    def __init__(self, secret: str, airflow_home: Path) -> None:
        self.audit = SecretAudit(secret)
        self.airflow_home = airflow_home
        self.objects: list[object] = []
        self.errors: list[BaseException] = []
        self.outputs: list[tuple[str, str]] = []
        self.nodeid = ""
        self.item_start = 0
        self.item_sections: set[tuple[str, str]] = set()
        self.tests = 0
        self.recorder = _Recorder()
        self._patched: set[str] = set()
        self._undo: list[Callable[[], None]] = []

    # instrumentation -------------------------------------------------------------------------

    def install(self) -> None:
        """Patch pytest's capture and ``raises`` (once), and what is imported of the provider."""
        if not self._patched:
            self._patch_pytest()
            logging.getLogger().addHandler(self.recorder)
            self._undo.append(lambda: logging.getLogger().removeHandler(self.recorder))
        for module_name, names in TRACKED.items():
            module = sys.modules.get(module_name)
            for name in names:
                if module is not None and f"{module_name}.{name}" not in self._patched:
                    self._track_new(getattr(module, name))
                    self._patched.add(f"{module_name}.{name}")
        for module_name in OPERATOR_MODULES:
            module = sys.modules.get(module_name)
            if module is None or module_name in self._patched:
                continue
            from airflow.providers.common.compat.sdk import BaseOperator

            for value in vars(module).values():
                if isinstance(value, type) and issubclass(value, BaseOperator) and value.__module__ == module_name:
                    self._track_new(value)
            self._patched.add(module_name)
        exceptions = sys.modules.get("airflow_provider_sigmamind.exceptions")
        if exceptions is not None and "SigmaMindError" not in self._patched:
            self._track_init(exceptions.SigmaMindError, self.errors)
            self._patched.add("SigmaMindError")
        triggers_base = sys.modules.get("airflow.triggers.base")
        if triggers_base is not None and "TriggerEvent" not in self._patched:
            self._track_init(triggers_base.TriggerEvent, self.objects)
            self._patched.add("TriggerEvent")

    def _track_new(self, cls: type) -> None:
        """Remember every instance of ``cls`` (and its subclasses) from its ``__new__``."""
        had_own = "__new__" in cls.__dict__
        original = cls.__dict__.get("__new__")
        objects = self.objects

        def __new__(klass: type, *args: Any, **kwargs: Any) -> Any:
            instance = object.__new__(klass)
            objects.append(instance)
            return instance

        cls.__new__ = staticmethod(__new__)  # type: ignore[assignment]

        def undo() -> None:
            if had_own:
                cls.__new__ = original  # type: ignore[assignment]
            else:
                del cls.__new__

        self._undo.append(undo)

    def _track_init(self, cls: type, into: list[Any]) -> None:
        original = cls.__init__

        @functools.wraps(original)
        def __init__(instance: Any, *args: Any, **kwargs: Any) -> None:
            original(instance, *args, **kwargs)
            into.append(instance)

        cls.__init__ = __init__  # type: ignore[misc]
        self._undo.append(lambda: setattr(cls, "__init__", original))

    def _patch_pytest(self) -> None:
        from _pytest.capture import CaptureFixture
        from _pytest.raises import RaisesExc

        audit = self
        readouterr = CaptureFixture.readouterr

        @functools.wraps(readouterr)
        def recording_readouterr(fixture: Any) -> Any:
            result = readouterr(fixture)
            audit.outputs.append(("readouterr", f"{result.out}\n{result.err}"))
            return result

        exit_ = RaisesExc.__exit__

        @functools.wraps(exit_)
        def recording_exit(context: Any, exc_type: Any, exc: Any, tb: Any) -> Any:
            if exc is not None:
                audit.audit.scan_exception(f"{audit.nodeid}: pytest.raises", exc)
            return exit_(context, exc_type, exc, tb)

        CaptureFixture.readouterr = recording_readouterr  # type: ignore[method-assign]
        RaisesExc.__exit__ = recording_exit  # type: ignore[method-assign]
        self._undo.append(lambda: setattr(CaptureFixture, "readouterr", readouterr))
        self._undo.append(lambda: setattr(RaisesExc, "__exit__", exit_))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    # per test ------------------------------------------------------------------------------------

    def start_item(self, nodeid: str) -> None:
        """A test begins: what is found from now on is its own."""
        self.nodeid = nodeid
        self.item_start = len(self.audit.leaks)
        self.item_sections.clear()

    def item_leaks(self) -> list[Leak]:
        """What was found since the current test began."""
        return self.audit.leaks[self.item_start :]

    def scan_report(self, report: pytest.TestReport) -> None:
        """Scan a phase's report and everything recorded since the last one."""
        scan = self.audit.scan
        if report.when == "setup":
            scan("output", f"{report.nodeid}: test id", report.nodeid)
        for title, text in report.sections:
            if (title, text) not in self.item_sections:  # each phase's report repeats the earlier ones
                self.item_sections.add((title, text))
                scan("output", f"{report.nodeid}: {title}", text)
        if report.longrepr is not None:
            scan("exception", f"{report.nodeid}: failure ({report.when})", str(report.longrepr))
        for where, text in self.outputs:
            scan("output", f"{report.nodeid}: {where}", text)
        for text in self.recorder.texts:
            scan("output", f"{report.nodeid}: log record", text)
        self.outputs.clear()
        self.recorder.texts.clear()
        if report.when == "teardown":  # objects and errors as they stand when the test is over
            for error in self.errors:
                self.audit.scan_exception(f"{report.nodeid}: SigmaMindError", error)
            for obj in self.objects:
                try:
                    if type(obj).__name__ == "SigmaMindSimulator":
                        self.audit.scan_requests(f"{report.nodeid}: {_safe_repr(obj)}", obj)
                    else:
                        self.audit.scan_object(report.nodeid, obj)
                except Exception as exc:  # e.g. an instance whose __init__ raised: half-built, not a leak
                    self.audit.scanned["unreadable"] += 1
                    self.audit.scan("object", f"{report.nodeid}: unreadable {type(obj).__name__}", str(exc))
            self.objects.clear()
            self.errors.clear()

    # end of session ----------------------------------------------------------------------------

    def scan_airflow_home(self) -> None:
        """Every byte of the metadata DB (and journal) and every file under AIRFLOW_HOME."""
        if not self.airflow_home.is_dir():
            return
        for path in sorted(self.airflow_home.rglob("*")):
            if path.is_file():
                surface = "db" if ".db" in path.name else "file"
                try:
                    data = path.read_bytes()
                except OSError:
                    continue
                if self.audit.scan(surface, str(path), data) and surface == "db":
                    self._locate_in_db(path)

    def _locate_in_db(self, path: Path) -> None:
        """Name the tables and columns a DB hit is in (the byte scan only says "somewhere")."""
        import sqlite3

        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
                for column in columns:
                    query = f'SELECT COUNT(*) FROM "{table}" WHERE instr(CAST("{column}" AS BLOB), CAST(? AS BLOB)) > 0'
                    (count,) = db.execute(query, (self.audit.secret,)).fetchone()
                    if count:
                        self.audit.leaks.append(Leak("db", f"{path.name}: {table}.{column}", f"{count} row(s)"))

    def summary_lines(self) -> list[str]:
        scanned = ", ".join(f"{n} {surface}" for surface, n in sorted(self.audit.scanned.items()))
        lines = [
            f"canary occurrences: {len(self.audit.leaks)} "
            f"(tests audited: {self.tests}; texts scanned: {scanned}; {self.audit.scanned_bytes / 1e6:.1f} MB)"
        ]
        lines += [f"  LEAK [{leak.surface}] {leak.where}: {leak.excerpt!r}" for leak in self.audit.leaks]
        return lines


_session: SessionAudit | None = None


def current() -> SessionAudit | None:
    """The running session's audit (``None`` when the plugin is not loaded)."""
    return _session


def pytest_sessionstart(session: pytest.Session) -> None:
    global _session
    conftest = importlib.import_module("tests.environment")  # the canary and the test AIRFLOW_HOME
    _session = SessionAudit(conftest.CANARY_API_KEY, Path(conftest.AIRFLOW_HOME))


def pytest_collection_finish(session: pytest.Session) -> None:
    if _session is not None:
        _session.install()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _session is not None:
        _session.install()  # classes imported since the last test are tracked from now on
        _session.start_item(item.nodeid)
        _session.tests += 1


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    if _session is None:
        return
    report: pytest.TestReport = outcome.get_result()
    _session.scan_report(report)
    if report.when == "teardown":
        found = _session.item_leaks()
        if found:
            report.outcome = "failed"
            lines = [f"secret audit: the canary API key leaked in {len(found)} place(s):"]
            lines += [f"  [{leak.surface}] {leak.where}: {leak.excerpt!r}" for leak in found]
            report.longrepr = "\n".join(lines)


def pytest_warning_recorded(warning_message: Any, when: str, nodeid: str, location: Any) -> None:
    if _session is not None:
        _session.audit.scan("output", f"{nodeid or when}: warning", str(warning_message.message))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _session is None:
        return
    before = len(_session.audit.leaks)
    _session.scan_airflow_home()
    _session.uninstall()
    if len(_session.audit.leaks) > before:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _session is None:
        return
    terminalreporter.section("secret audit")
    for line in _session.summary_lines():
        terminalreporter.write_line(line)
