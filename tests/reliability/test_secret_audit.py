"""The secret audit itself (tests/reliability/audit.py): it is wired into this session, it finds a
planted canary on every surface it claims to watch, and a leak fails the test it happened in.

The audit's verdict on the whole suite is its summary line (``canary occurrences: 0``); these tests
make sure that a 0 there means something.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from airflow.triggers.base import TriggerEvent

from airflow_provider_sigmamind.exceptions import SigmaMindError, SigmaMindServerError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.operators.campaign import GetCampaignOperator
from airflow_provider_sigmamind.sensors.campaign import CampaignStatusSensor
from airflow_provider_sigmamind.simulator import SigmaMindSimulator
from airflow_provider_sigmamind.triggers.campaign import CampaignStatusTrigger
from tests.helpers import CANARY_API_KEY, ROOT
from tests.reliability import audit
from tests.reliability.audit import SecretAudit, SessionAudit

PLANTED = "planted-secret-7f3c9a"


# -- the scanner ---------------------------------------------------------------------------------


def test_finds_the_secret_in_text_bytes_and_reprs_and_masks_it_in_the_report():
    scanner = SecretAudit(PLANTED)
    assert not scanner.scan("output", "clean", "nothing here")
    assert scanner.scan("output", "text", f"key={PLANTED};")
    assert scanner.scan("wire", "bytes", b"X: " + PLANTED.encode())
    assert scanner.scan("object", "repr", {"nested": [PLANTED]})
    assert [leak.surface for leak in scanner.leaks] == ["output", "wire", "object"]
    assert all(PLANTED not in leak.excerpt and "<canary>" in leak.excerpt for leak in scanner.leaks)
    assert sum(scanner.scanned.values()) == 4


@pytest.mark.parametrize(
    "spelling",
    [
        "".join(f"\\u{ord(c):04x}" for c in PLANTED),  # every character JSON-escaped
        "".join(f"\\u{ord(c):04X}" if c == "-" else c for c in PLANTED),  # only the dashes
        PLANTED.replace("-", "\\-"),  # a backslash before a character
        "".join(f"%{ord(c):02X}" for c in PLANTED),  # percent-encoded
        "".join(f"%{ord(c):02x}" if c in "-7" else c for c in PLANTED),  # partly, lower case
    ],
    ids=["json-escaped", "escaped-dash", "backslash", "percent", "percent-partly"],
)
def test_finds_the_secret_in_its_escaped_spellings(spelling):
    scanner = SecretAudit(PLANTED)
    assert PLANTED not in spelling
    assert scanner.scan("output", "text", f'{{"echo": "{spelling}"}}')
    assert scanner.scan("wire", "bytes", spelling.encode())
    assert len(scanner.leaks) == 2


def test_finds_the_secret_anywhere_in_an_exception_chain():
    def raise_chain() -> None:
        try:
            try:
                raise KeyError(f"inner {PLANTED}")
            except KeyError as inner:
                raise ValueError("middle") from inner
        except ValueError:
            raise SigmaMindServerError("outer, clean") from None  # context kept, only hidden

    scanner = SecretAudit(PLANTED)
    with pytest.raises(SigmaMindError) as excinfo:
        raise_chain()
    scanner.scan_exception("chain", excinfo.value)
    assert {leak.where for leak in scanner.leaks} >= {"chain: KeyError (chained #2)"}


def test_finds_the_secret_in_objects_triggers_events_and_requests(simulator):
    scanner = SecretAudit(PLANTED)
    scanner.scan_object("op", GetCampaignOperator(task_id="t", campaign_id=f"camp-{PLANTED}"))
    scanner.scan_object("trigger", CampaignStatusTrigger(campaign_id="c", sigmamind_conn_id=PLANTED))
    scanner.scan_object("event", TriggerEvent({"status": "error", "message": PLANTED}))
    import http.client

    connection = http.client.HTTPConnection(simulator.host, simulator.port, timeout=5)
    connection.request("GET", f"/v1/campaigns/x?k={PLANTED}", headers={"X-Debug": PLANTED})
    connection.getresponse().read()
    connection.close()
    scanner.scan_requests("sim", simulator)
    wheres = " | ".join(leak.where for leak in scanner.leaks)
    assert "op: GetCampaignOperator.campaign_id" in wheres
    assert "trigger: CampaignStatusTrigger.serialize()" in wheres
    assert "event: TriggerEvent payload" in wheres
    assert "sim: request #0 line and headers" in wheres


def test_finds_the_secret_in_the_metadata_db_and_names_the_column(tmp_path):
    with sqlite3.connect(tmp_path / "airflow.db") as db:
        db.execute("CREATE TABLE xcom (key TEXT, value BLOB)")
        db.execute("INSERT INTO xcom VALUES (?, ?)", ("return_value", f'{{"k": "{PLANTED}"}}'.encode()))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "attempt=1.log").write_text("clean\n")
    session = SessionAudit(PLANTED, tmp_path)
    session.scan_airflow_home()
    assert [(leak.surface, leak.where) for leak in session.audit.leaks][-1] == ("db", "airflow.db: xcom.value")
    assert session.audit.scanned["file"] == 1


# -- wired into this session -----------------------------------------------------------------------


def test_the_audit_runs_in_this_session_and_watches_what_it_claims(sigmamind_conn, simulator, capsys):
    session = audit.current()
    assert session is not None, "tests/conftest.py must load tests.reliability.audit"
    assert session.audit.secret == CANARY_API_KEY
    objects_before, errors_before = len(session.objects), len(session.errors)

    hook = SigmaMindHook()
    sensor = CampaignStatusSensor(task_id="wait", campaign_id="camp_Audit", deferrable=True)
    trigger = CampaignStatusTrigger(campaign_id="camp_Audit")
    event = TriggerEvent({"status": "success"})
    tracked = session.objects[objects_before:]
    for obj in (hook, sensor, trigger, event, simulator):
        assert any(t is obj for t in tracked) or obj is simulator, type(obj).__name__
    assert any(o is simulator for o in session.objects)

    scanned = session.audit.scanned["exception"]
    with pytest.raises(SigmaMindError):
        hook.get_campaign("camp_DoesNotExist")
    assert session.audit.scanned["exception"] > scanned  # pytest.raises is watched
    assert len(session.errors) > errors_before  # so is every SigmaMindError

    print("to stdout")
    logging.getLogger("audit.selftest").warning("a record")
    assert capsys.readouterr().out.endswith("to stdout\n")
    assert session.outputs[-1][0] == "readouterr"
    assert any("a record" in text for text in session.recorder.texts)
    asyncio.run(hook.aclose())
    hook.close()


# -- a leak fails the test it happened in ----------------------------------------------------------

LEAKY_TESTS = """
import http.client
import logging

import pytest

from airflow_provider_sigmamind.simulator import SigmaMindSimulator
from tests.environment import CANARY_API_KEY


def test_clean():
    assert True


def test_leak_printed():
    print("debug:", CANARY_API_KEY)


def test_leak_logged():
    logging.getLogger("leaky").warning("key %s", CANARY_API_KEY)


def test_leak_in_a_caught_exception():
    with pytest.raises(ValueError):
        raise ValueError("bad key " + CANARY_API_KEY)


def test_leak_on_the_wire():
    with SigmaMindSimulator(api_key=CANARY_API_KEY) as sim:
        connection = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
        connection.request("GET", "/v1/campaigns/x?api_key=" + CANARY_API_KEY)
        connection.getresponse().read()
        connection.close()
"""


def test_a_leak_fails_the_test_it_happened_in_and_the_report_masks_it(tmp_path):
    test_file = tmp_path / "test_leaky.py"
    test_file.write_text(textwrap.dedent(LEAKY_TESTS))
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(test_file),
            "-p",
            "tests.reliability.audit",
            "-p",
            "no:cacheprovider",
            "-q",
            "-rE",
            "--rootdir",
            str(tmp_path),
            "-c",
            str(tmp_path / "pytest.ini"),
        ],
        cwd=ROOT,
        env={**_env(), "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "5 passed, 4 errors" in out, out
    for name, surface in [
        ("test_leak_printed", "output"),
        ("test_leak_logged", "output"),
        ("test_leak_in_a_caught_exception", "exception"),
        ("test_leak_on_the_wire", "wire"),
    ]:
        assert f"ERROR at teardown of {name}" in out, (name, out)
        assert f"[{surface}]" in out, (surface, out)
    assert "ERROR at teardown of test_clean" not in out
    assert "<canary>" in out
    # printed 1, logged 2 (pytest's capture, the audit's own handler), raised 2 (text, traceback), sent 1
    assert "canary occurrences: 6" in out
    assert "test_leaky.py::test_leak_in_a_caught_exception: pytest.raises" in out


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}


def test_the_simulator_never_records_the_key_header(simulator):
    """The wire surface excludes exactly one thing, the key header the simulator only compares."""
    assert isinstance(simulator, SigmaMindSimulator)
    import http.client

    connection = http.client.HTTPConnection(simulator.host, simulator.port, timeout=5)
    connection.request("GET", "/v1/campaigns/x", headers={"X-API-Key": CANARY_API_KEY})
    connection.getresponse().read()
    connection.close()
    (request,) = simulator.requests
    assert request.api_key_sent
    assert request.authorized
    assert CANARY_API_KEY not in repr(request)
    assert "x-api-key" not in request.headers


# -- tracebacks that show local variables ------------------------------------------------------


def rendered_with_locals(error: BaseException) -> str:
    """``error``'s traceback as Airflow 3.0's pretty console prints it: rich, every frame's locals.

    (Airflow's own ``Connection`` shows its password there, in any frame that holds one: task logs
    print no locals. What the provider can do is keep the key out of its own objects and frames.)
    """
    import io

    from rich.console import Console
    from rich.traceback import Traceback

    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(
        Traceback.from_exception(type(error), error, error.__traceback__, show_locals=True, max_frames=100)
    )
    return out.getvalue()


def failure_of(call) -> BaseException:
    try:
        call()
    except Exception as err:
        return err
    raise AssertionError("expected a failure")


def lines_with_the_key(text: str) -> list[str]:
    """The lines of ``text`` that hold the key, the key itself masked (for a failure's message)."""
    return [line.replace(CANARY_API_KEY, "<canary>") for line in text.splitlines() if CANARY_API_KEY in line]


def test_a_failed_request_s_traceback_with_locals_shows_no_key(simulator, monkeypatch):
    from airflow_provider_sigmamind.simulator import Fault
    from tests.helpers import connection_json

    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(simulator.url, max_retries=0))
    cid = simulator.add_campaign()["campaignId"]
    simulator.inject(Fault.server_error(500), times=1)
    error = failure_of(lambda: SigmaMindHook().get_campaign(cid))
    assert isinstance(error, SigmaMindServerError)
    text = rendered_with_locals(error)
    assert "in request" in text  # the hook's frames are shown...
    assert "route = " in text  # ...with their locals
    assert lines_with_the_key(text) == []
