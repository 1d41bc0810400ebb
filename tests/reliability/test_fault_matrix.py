"""The fault matrix: every fault the simulator can serve, in every mode, with the exact outcome.

Each scenario is a script of answers for one campaign (simulator faults or statuses, one per GET;
then ``live``, or the last answer forever). It runs in four columns (see ``harness.py``):

- ``hook``: one ``get_campaign``; the script starts at once.
- ``poke``, ``reschedule``, ``deferrable``: the sensor; the script starts after one ``scheduled``
  answer, so the faults hit a wait in progress (and, in deferrable mode, the trigger).

Every cell asserts the outcome (the status, a success with the XCom, ``AirflowSensorTimeout`` or the
named exception), the number of requests the simulator received, and for failures that the message
still says why. Settings: 2 retries per call (3 attempts), zero backoff, ``max_consecutive_errors=3``.
The poke and reschedule columns cap ``Retry-After`` at 0: they run the hook column's sync funnel,
whose waits the hook column measures (the deferrable column measures the async funnel's).
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from airflow_provider_sigmamind.defaults import MAX_RESPONSE_BYTES
from airflow_provider_sigmamind.exceptions import SigmaMindError
from airflow_provider_sigmamind.retry import RetryPolicy
from airflow_provider_sigmamind.simulator import MISSING, Fault
from tests import helpers
from tests.helpers import CANARY_API_KEY, connection_json
from tests.reliability.harness import MODES, Outcome, run_mode

#: Zero backoff; ``Retry-After`` honoured up to 1 s; a deadline no scenario reaches unless it means to.
FAST = dataclasses.replace(helpers.FAST, retry_after_max=1.0, deadline=20)  # Retry-After scenarios wait up to 1 s
#: Sensor ``timeout`` (poke and deferrable columns) for scenarios that must end by themselves.
LONG = 30.0


@dataclass(frozen=True)
class Ctx:
    """What a script step may need: the campaign's id and the "other host" for redirects."""

    cid: str
    other_url: str


Step = Fault | str | Callable[[Ctx], Fault | str]


@dataclass(frozen=True)
class Expect:
    """One cell: the outcome, how many requests (an int, or an inclusive range), and time bounds."""

    result: str
    requests: int | tuple[int, int]
    min_seconds: float = 0.0
    max_seconds: float = 60.0


@dataclass(frozen=True)
class Scenario:
    """One row of the matrix.

    :param name: the row's name (the test id).
    :param steps: the answers, one per GET.
    :param then: the answer after the steps; ``None`` repeats the last step forever.
    :param hook: the hook column.
    :param sensors: the three sensor columns, or one :class:`Expect` for all.
    :param reason: a phrase every failure's message must keep (the reason is not lost).
    :param timeout: the connection's per-request ``timeout`` extra.
    :param policy: the retry policy (backoff, ``Retry-After`` cap, deadline).
    :param sensor_timeout: the sensor's ``timeout`` in the poke and deferrable columns.
    :param sensor_kwargs: more sensor arguments.
    :param refused: point the connection at a port where nothing listens.
    :param memory_mb: bound on traced memory growth during the wait, in MB.
    :param check: more assertions: ``check(mode, outcome, ctx, other)``, ``other`` being the second simulator.
    """

    name: str
    steps: tuple[Step, ...]
    hook: Expect
    sensors: Expect | dict[str, Expect]
    then: str | None = "live"
    reason: str | None = None
    timeout: float = 5.0
    policy: RetryPolicy = FAST
    sensor_timeout: float = LONG
    sensor_kwargs: dict[str, Any] = field(default_factory=dict)
    refused: bool = False
    memory_mb: float | None = None
    check: Callable[..., None] | None = None

    def expect(self, mode: str) -> Expect:
        if mode == "hook":
            return self.hook
        return self.sensors[mode] if isinstance(self.sensors, dict) else self.sensors


def body(**fields: Any) -> Callable[[Ctx], Fault]:
    """A 200 answer with a campaign for the id asked (``MISSING`` drops a field)."""

    def build(ctx: Ctx) -> Fault:
        payload = {
            "campaignId": ctx.cid,
            "campaignName": "Matrix",
            "campaignStatus": "live",
            "scheduledDate": None,
            "concurrentCalls": 5,
            "errors": [],
            **fields,
        }
        return Fault.body(json.dumps({k: v for k, v in payload.items() if v is not MISSING}))

    return build


def permanent(name: str, step: Step, error: str, reason: str, **kwargs: Any) -> Scenario:
    """A fault that fails every mode at once: one request for the hook, the look before it for sensors."""
    return Scenario(name, (step,), hook=Expect(error, 1), sensors=Expect(error, 2), reason=reason, **kwargs)


def transient(name: str, steps: tuple[Step, ...], **kwargs: Any) -> Scenario:
    """Faults the hook retries away within one call: the hook gets ``live``, sensors succeed."""
    n = len(steps) + 1
    hook = kwargs.pop("hook", Expect("live", n))
    sensors = kwargs.pop("sensors", Expect("success:live", n + 1))
    return Scenario(name, steps, hook=hook, sensors=sensors, **kwargs)


def forever(
    name: str,
    step: Step,
    error: str,
    reason: str,
    attempts: int | tuple[int, int] = 3,
    hook_seconds: float = 60.0,
    **kwargs: Any,
) -> Scenario:
    """A transient fault that never ends: the hook gives up after its attempts; poke and deferrable
    fail after 3 failed polls in a row; reschedule forgets the count at every try and times out."""
    span = (attempts, attempts) if isinstance(attempts, int) else attempts
    lo, hi = span
    polls = (1 + 3 * lo, 1 + 3 * hi)
    return Scenario(
        name,
        (step,),
        then=None,
        hook=Expect(error, (lo, hi), max_seconds=hook_seconds),
        sensors={
            "poke": Expect(error, polls),
            "reschedule": Expect("AirflowSensorTimeout", polls),
            "deferrable": Expect(error, polls),
        },
        reason=reason,
        **kwargs,
    )


def last_look_in_time(scenario: Scenario) -> Scenario:
    """A ``forever`` scenario whose attempts are slow: in the reschedule column the last try, past the
    sensor's deadline, has one request timeout, so it makes one attempt instead of its 2 or 3."""
    assert isinstance(scenario.sensors, dict)
    lo, hi = scenario.sensors["reschedule"].requests  # type: ignore[misc]
    per_try = (lo - 1) // 3, (hi - 1) // 3
    tries = (1 + 2 * per_try[0] + 1, 1 + 2 * per_try[1] + 1)
    return replace(scenario, sensors={**scenario.sensors, "reschedule": Expect("AirflowSensorTimeout", tries)})


def retry_after(name: str, value: str | Callable[[], str], *, waits: bool) -> Scenario:
    """429 with a ``Retry-After`` once, then ``live``; ``waits``: the 1 s cap is waited in full."""
    bounds = {"min_seconds": 1.0, "max_seconds": 5.0} if waits else {"max_seconds": 0.9}

    def step(ctx: Ctx) -> Fault:
        return Fault.rate_limit(retry_after=value() if callable(value) else value)

    # The deferrable column asserts the wait only: its run includes the sensor's look, the deferral
    # and an event loop, whose time on a busy machine says nothing about Retry-After.
    deferred = {"min_seconds": 1.0} if waits else {}
    return Scenario(
        name,
        (step,),
        hook=Expect("live", 2, **bounds),
        sensors={
            "poke": Expect("success:live", 3),
            "reschedule": Expect("success:live", 3),
            "deferrable": Expect("success:live", 3, **deferred),
        },
    )


def check_no_request_reached_the_other_host(mode: str, outcome: Outcome, ctx: Ctx, other: Any) -> None:
    assert other.requests == [], "the redirect was followed"
    assert other.stats["total_connections"] == 0


def check_attempts(mode: str, outcome: Outcome, ctx: Ctx, other: Any) -> None:
    if mode == "hook":
        assert outcome.error.attempts == 3
        assert "connection refused" in str(outcome.error)
    elif mode in ("poke", "deferrable"):  # deferrable: the trigger goes on counting from the sensor's look
        assert "3 polls in a row failed" in str(outcome.error)


def check_errors(expected: list[str]) -> Callable[..., None]:
    def check(mode: str, outcome: Outcome, ctx: Ctx, other: Any) -> None:
        if mode == "hook":
            assert outcome.value.errors == expected
        else:
            assert outcome.value["campaignId"] == ctx.cid

    return check


SCENARIOS = [
    # -- HTTP statuses that will not change on a retry ----------------------------------------
    permanent("401", Fault.status(401), "SigmaMindAuthError", "rejected the API key"),
    permanent("403", Fault.status(403), "SigmaMindAuthError", "may not access this"),
    permanent("404", Fault.status(404), "SigmaMindNotFoundError", "was not found (HTTP 404"),
    permanent("400", Fault.status(400), "SigmaMindRejectedError", "HTTP 400"),
    permanent("422", Fault.status(422), "SigmaMindRejectedError", "HTTP 422"),
    permanent("501", Fault.server_error(501), "SigmaMindServerError", "HTTP 501"),
    # -- 429 and Retry-After ------------------------------------------------------------------
    retry_after("429 Retry-After seconds", "1", waits=True),
    retry_after(
        "429 Retry-After HTTP-date",
        lambda: format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True),
        waits=True,
    ),
    retry_after("429 Retry-After past date", "Wed, 21 Oct 2015 07:28:00 GMT", waits=False),
    retry_after("429 Retry-After garbage", "soon, maybe", waits=False),
    retry_after("429 Retry-After huge (capped)", "86400", waits=True),
    forever("429 forever", Fault.rate_limit(retry_after=0), "SigmaMindRateLimitError", "rate limit"),
    # -- server errors -----------------------------------------------------------------------------
    *(transient(f"{code} twice then 200", (Fault.server_error(code),) * 2) for code in (500, 502, 503, 504)),
    transient("408 then 200", (Fault.status(408),)),
    forever("503 forever", Fault.server_error(503), "SigmaMindServerError", "HTTP 503"),
    # -- the network -------------------------------------------------------------------------------
    Scenario(
        "connection refused",
        ("live",),
        then=None,
        hook=Expect("SigmaMindTransportError", 0),  # nothing listens, so nothing is recorded
        sensors={
            "poke": Expect("SigmaMindTransportError", 0),
            "reschedule": Expect("AirflowSensorTimeout", 0),
            "deferrable": Expect("SigmaMindTransportError", 0),
        },
        reason="connection refused",
        refused=True,
        check=check_attempts,
    ),
    transient("reset before the body", (Fault.drop(),)),
    transient("reset mid-body", (Fault.reset_mid_body(),)),
    transient(
        "read timeout",
        (Fault.slow(3.0),),
        timeout=0.4,
        hook=Expect("live", 2, min_seconds=0.4, max_seconds=2.5),
    ),
    last_look_in_time(
        forever(
            "trickle forever (deadline)",
            Fault.trickle(interval=0.05),
            "SigmaMindTransportError",
            "did not finish within the request timeout",
            attempts=(2, 3),
            hook_seconds=1.5,  # the 0.4 s deadline stops the call, whatever the server keeps sending
            timeout=0.2,
            policy=replace(FAST, deadline=0.4),
        )
    ),
    permanent(
        "redirect to another host",
        lambda ctx: Fault.redirect(f"{ctx.other_url}/v1/campaigns/{ctx.cid}", code=307),
        "SigmaMindResponseError",
        "redirect, which is not followed",
        check=check_no_request_reached_the_other_host,
    ),
    # -- 200 with a body that is not a campaign ---------------------------------------------------
    permanent("200 HTML", Fault.malformed("html"), "SigmaMindResponseError", "an HTML page"),
    permanent("200 empty body", Fault.malformed("empty"), "SigmaMindResponseError", "an empty body"),
    permanent("200 truncated JSON", Fault.malformed("truncated"), "SigmaMindResponseError", "truncated or invalid"),
    permanent("200 JSON array", Fault.malformed("array"), "SigmaMindResponseError", "got list"),
    permanent("200 JSON scalar", Fault.malformed("scalar"), "SigmaMindResponseError", "got int"),
    permanent(
        "200 of 50 MB",
        Fault.huge(50 * 1024 * 1024),
        "SigmaMindResponseError",
        f"larger than {MAX_RESPONSE_BYTES // 2**20} MiB",
        memory_mb=30,
    ),
    # -- campaignStatus --------------------------------------------------------------------------
    permanent("status missing", body(campaignStatus=MISSING), "SigmaMindResponseError", "has no campaignStatus"),
    permanent("status null", body(campaignStatus=None), "SigmaMindResponseError", "has no campaignStatus"),
    permanent("status a number", body(campaignStatus=1), "SigmaMindResponseError", "campaignStatus is int"),
    transient("status unknown, then live", ("archived",), hook=Expect("unknown", 1)),
    Scenario(
        "status unknown forever",
        ("archived",),
        then=None,
        hook=Expect("unknown", 1),
        sensors={
            "poke": Expect("AirflowSensorTimeout", (2, 60)),
            "reschedule": Expect("AirflowSensorTimeout", 4),
            "deferrable": Expect("AirflowSensorTimeout", (2, 60)),
        },
        sensor_timeout=0.3,
    ),
    Scenario("status ' LIVE '", (" LIVE ",), hook=Expect("live", 1), sensors=Expect("success: LIVE ", 2)),
    Scenario(
        "status 'Completed' awaiting only live",
        ("Completed",),
        hook=Expect("completed", 1),
        sensors=Expect("SigmaMindCampaignStatusError", 2),
        reason="is completed and can never become live",
        sensor_kwargs={"target_statuses": ["live"]},
    ),
    Scenario(
        "status 'PAUSED' as a failure status",
        ("PAUSED",),
        hook=Expect("paused", 1),
        sensors=Expect("SigmaMindCampaignStatusError", 2),
        reason="is paused, which is a failure status",
        sensor_kwargs={"failure_statuses": ["paused"]},
    ),
    # -- errors, and whose campaign it is ----------------------------------------------------------
    Scenario(
        "errors null",
        (body(errors=None),),
        hook=Expect("live", 1),
        sensors=Expect("success:live", 2),
        check=check_errors([]),
    ),
    Scenario(
        "errors a string",
        (body(errors="Row 3: invalid phone number"),),
        hook=Expect("live", 1),
        sensors=Expect("success:live", 2),
        check=check_errors(["Row 3: invalid phone number"]),
    ),
    Scenario(
        "errors a list of objects",
        (body(errors=[{"row": 3, "message": "invalid phone number"}, {"row": 7}]),),
        hook=Expect("live", 1),
        sensors=Expect("success:live", 2),
        check=check_errors(["invalid phone number", '{"row": 7}']),
    ),
    permanent(
        "another campaignId",
        body(campaignId="camp_SomeoneElse0001"),
        "SigmaMindResponseError",
        "but the API answered with 'camp_SomeoneElse0001'",
    ),
]


def _requests_ok(expected: int | tuple[int, int], actual: int) -> bool:
    if isinstance(expected, int):
        return actual == expected
    return expected[0] <= actual <= expected[1]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_fault_matrix(scenario: Scenario, mode: str, sigmamind_simulator_factory, monkeypatch, request) -> None:
    request.node.user_properties.append(("matrix", (scenario.name, mode)))
    simulator = sigmamind_simulator_factory(api_key=CANARY_API_KEY)
    other = sigmamind_simulator_factory(api_key=CANARY_API_KEY)
    url = simulator.url
    if scenario.refused:
        dead = sigmamind_simulator_factory(api_key=CANARY_API_KEY)
        url = dead.url
        dead.stop()
    monkeypatch.setenv("AIRFLOW_CONN_SIGMAMIND_DEFAULT", connection_json(url, timeout=scenario.timeout, max_retries=2))
    cid = "camp_" + secrets.token_hex(8)
    ctx = Ctx(cid=cid, other_url=other.url)
    script = [step(ctx) if callable(step) else step for step in scenario.steps]
    if scenario.then is not None:
        script.append(scenario.then)
    prefix = [] if mode == "hook" else ["scheduled"]  # sensors: the faults hit a wait in progress
    simulator.add_campaign(cid, name=f"{scenario.name} ({mode})", script=prefix + script)

    policy = scenario.policy if mode in ("hook", "deferrable") else replace(scenario.policy, retry_after_max=0)
    if scenario.memory_mb is not None:
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
    try:
        outcome = run_mode(
            mode,
            cid,
            policy=policy,
            timeout=scenario.sensor_timeout,
            max_consecutive_errors=3,
            **scenario.sensor_kwargs,
        )
    finally:
        if scenario.memory_mb is not None:
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    expected = scenario.expect(mode)

    assert outcome.result == expected.result, f"{mode}: {outcome.result} ({outcome.error!r})"
    received = len(simulator.requests_for(cid))
    assert _requests_ok(expected.requests, received), f"{mode}: {received} requests, expected {expected.requests}"
    assert expected.min_seconds <= outcome.elapsed <= expected.max_seconds, f"{mode}: took {outcome.elapsed:.2f}s"
    if outcome.error is not None:
        text = f"{outcome.error} {outcome.error!r}"
        assert CANARY_API_KEY not in text
        if isinstance(outcome.error, SigmaMindError) and scenario.reason:
            assert scenario.reason in str(outcome.error), f"{mode}: the reason was lost: {outcome.error}"
            assert cid in str(outcome.error), f"{mode}: the campaign is not named: {outcome.error}"
    if scenario.memory_mb is not None:
        growth_mb = (peak - before) / 1e6
        request.node.user_properties.append(("memory_mb", round(growth_mb, 1)))
        assert growth_mb < scenario.memory_mb, f"{mode}: memory grew by {growth_mb:.1f} MB"
    if scenario.check is not None:
        scenario.check(mode, outcome, ctx, other)
    assert all(r.api_key_sent and r.authorized for r in simulator.requests_for(cid))


# -- the drivers against real Airflow: dag.test() on SQLite, the trigger run in-line -----------------

#: 503 forever, with ``Retry-After: 0`` so the hook's default policy retries without waiting.
UNAVAILABLE = Fault.status(503, headers={"Retry-After": "0"})
REAL_OUTCOMES = {
    "poke": "SigmaMindServerError",
    "reschedule": "AirflowSensorTimeout",
    "deferrable": "SigmaMindServerError",
}


@pytest.fixture(scope="module")
def deferrable_dag(airflow_db):
    from tests.dagruns import example_dag

    return example_dag("example_sigmamind_deferrable")


@pytest.mark.integration
@pytest.mark.parametrize("mode", list(REAL_OUTCOMES))
def test_real_airflow_agrees_with_the_drivers_on_5xx_forever(
    deferrable_dag, sigmamind_conn, simulator, monkeypatch, request, mode
):
    """The row the modes disagree on, in real Airflow: reschedule mode forgets the failed polls."""
    request.node.user_properties.append(("dag_test", mode))
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState, TaskInstanceState
    from sqlalchemy import select

    cid = simulator.add_campaign(name=f"503 forever ({mode})", script=["scheduled", UNAVAILABLE])["campaignId"]
    sensor = deferrable_dag.get_task("wait_until_live")
    for name, value in {
        "deferrable": mode == "deferrable",
        "mode": "reschedule" if mode == "reschedule" else "poke",
        "poke_interval": 0.05,
        "timeout": 1.0,
        "max_consecutive_errors": 3,
    }.items():
        monkeypatch.setattr(sensor, name, value)
    failures: list[BaseException] = []
    monkeypatch.setattr(sensor, "on_failure_callback", [lambda context: failures.append(context["exception"])])

    run = deferrable_dag.test(run_conf={"campaign_id": cid})

    assert run.state == DagRunState.FAILED
    assert [type(f).__name__ for f in failures] == [REAL_OUTCOMES[mode]]
    requests = len(simulator.requests_for(cid))
    if mode == "reschedule":
        assert requests >= 4, requests
        assert (requests - 1) % 3 == 0, requests  # 1 look, then 3 attempts per try
    else:
        assert requests == 10, requests  # 1 look, then 3 failed polls of 3 attempts
        assert "3 polls in a row failed" in str(failures[0])
    with create_session() as session:
        ti = session.scalars(
            select(TaskInstance).where(TaskInstance.run_id == run.run_id, TaskInstance.task_id == "wait_until_live")
        ).one()
        xcom = session.scalars(select(XComModel).where(XComModel.run_id == run.run_id)).all()
    assert ti.state == TaskInstanceState.FAILED
    assert xcom == []


# -- the table in docs/reliability.md is this one ------------------------------------------------------


def _cell(expect: Expect) -> str:
    result = expect.result
    if result.startswith("success:"):
        result = "success"
    elif result == "AirflowSensorTimeout":
        result = "timeout"
    elif result.startswith("SigmaMind"):
        result = result.removeprefix("SigmaMind")
    else:
        result = f"`{result}`"
    if isinstance(expect.requests, int):
        requests = str(expect.requests)
    else:
        lo, hi = expect.requests
        requests = str(lo) if lo == hi else (f"≥{lo}" if hi >= 50 else f"{lo}\u2013{hi}")
    if expect.min_seconds and expect.max_seconds >= 60:
        took = f" · ≥{expect.min_seconds:g} s"
    elif expect.min_seconds:
        took = f" · {expect.min_seconds:g}\u2013{expect.max_seconds:g} s"
    elif expect.max_seconds < 60:
        took = f" · <{expect.max_seconds:g} s"
    else:
        took = ""
    return f"{result} · {requests}{took}"


def render_matrix() -> str:
    """The fault matrix as the Markdown table docs/reliability.md shows (each cell: the outcome, the
    requests the simulator received, the time the wait took when that is asserted).

    After changing a scenario: ``python -c "import tests.conftest; from tests.reliability.test_fault_matrix
    import render_matrix; print(render_matrix())"`` and paste the table into docs/reliability.md.
    """
    lines = [
        "| scenario | hook | poke | reschedule | deferrable | the error still says |",
        "|---|---|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        cells = [_cell(scenario.expect(mode)) for mode in MODES]
        reason = f"“{scenario.reason}”" if scenario.reason else ""
        lines.append(f"| {scenario.name} | {' | '.join(cells)} | {reason} |")
    return "\n".join(lines) + "\n"


def test_the_documented_matrix_is_the_tested_one():
    from tests.helpers import ROOT

    doc = (ROOT / "docs" / "reliability.md").read_text()
    assert render_matrix() in doc, "docs/reliability.md: paste the output of render_matrix() (see its docstring)"
