"""Exactly-once create and create-and-wait, in real Airflow: ``dag.test()`` on SQLite, real task retries,
real HTTP to the simulator, whose faults lose the create's answer after the campaign was made."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow import settings
from airflow.utils.state import DagRunState

from airflow_provider_sigmamind.durable import CAMPAIGN_ID_KEY, CREATE_SENT_KEY, create_once, find_campaign
from airflow_provider_sigmamind.exceptions import SigmaMindRejectedError
from airflow_provider_sigmamind.hooks.sigmamind import SigmaMindHook
from airflow_provider_sigmamind.operators.campaign import CreateCampaignOperator
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.version_compat import AIRFLOW_V_3_3_PLUS
from tests.dagruns import DagBag, xcoms
from tests.helpers import CANARY_API_KEY, connection_json

CSV = "Phone Number,Customer Name\n+14155550101,Michael\n"
FIELDS = {"sip_phone_number": "+14155552671", "agent_id": "agent_D5D0p7TUs66TTAEAx", "contacts": CSV}

#: Why a test runs on Airflow 3.3 only.
NEEDS_STORE = "needs the task state store (Airflow 3.3)"


def named(simulator, name: str) -> list[dict[str, Any]]:
    """The simulator's campaigns called ``name``."""
    with SigmaMindHook() as hook:
        return [c.payload for c in hook.list_campaigns() if c.name == name]


def posts(simulator) -> int:
    return sum(r.method == "POST" for r in simulator.requests)


DAGS = Path(__file__).parent / "dags"


@pytest.fixture
def dags(airflow_db, monkeypatch):
    """The DAGs of ``tests/operators/dags``, parsed; ``dag.test()`` syncs that folder as the DAG bundle."""
    monkeypatch.setattr(settings, "DAGS_FOLDER", str(DAGS))
    bag = DagBag(str(DAGS))
    assert not bag.import_errors, bag.import_errors
    return bag


def run_dag(dags, dag_id: str, name: str):
    return dags.get_dag(dag_id).test(run_conf={"name": name})


def test_a_lost_answer_then_task_retries_make_exactly_one_campaign(dags, sigmamind_conn, simulator, capsys):
    """The create is processed, then the connection drops mid-answer: the retry adopts it by name."""
    simulator.inject(Fault.reset_mid_body(), times=1)

    run = run_dag(dags, "exactly_once_create", "lost_answer")

    assert run.state == DagRunState.SUCCESS
    (campaign,) = named(simulator, "lost_answer")
    assert posts(simulator) == 1
    assert xcoms(run.run_id)[("create", "return_value")]["campaignId"] == campaign["campaignId"]


def test_a_5xx_that_created_nothing_is_created_by_the_retry(dags, sigmamind_conn, simulator):
    """A 503 in place of the answer created nothing: the retry looks, finds nothing, and creates once."""
    simulator.inject(Fault.status(503), times=1)

    run = run_dag(dags, "exactly_once_create", "unavailable_once")

    assert run.state == DagRunState.SUCCESS
    (campaign,) = named(simulator, "unavailable_once")
    assert posts(simulator) == 2
    assert xcoms(run.run_id)[("create", "return_value")]["campaignId"] == campaign["campaignId"]


@pytest.mark.skipif(not AIRFLOW_V_3_3_PLUS, reason=NEEDS_STORE + "; below it a retry adopts by name")
def test_a_name_taken_before_the_first_try_is_not_adopted(dags, sigmamind_conn, simulator):
    """A 409 on the first try (the name is another campaign's): the retries fail too, adopting nothing."""
    other = simulator.add_campaign(name="taken")

    run = run_dag(dags, "exactly_once_create", "taken")

    assert run.state == DagRunState.FAILED
    assert [c["campaignId"] for c in named(simulator, "taken")] == [other["campaignId"]]
    assert posts(simulator) == 3  # each try was refused by SigmaMind; none took the other campaign
    assert ("create", "return_value") not in xcoms(run.run_id)


class Store:
    """A task state store as Airflow 3.3 gives one (``get``/``set``), kept across tries in a dict."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value


class Try:
    def __init__(self, number: int) -> None:
        self.try_number = number


def test_a_recorded_id_is_reused_without_posting(sigmamind_conn, simulator, capsys):
    served = simulator.add_campaign(name="made before")
    store = Store()
    store.set(CAMPAIGN_ID_KEY, served["campaignId"])

    with SigmaMindHook() as hook:
        campaign = create_once(hook, {"task_state_store": store, "ti": Try(2)}, "made before", _never, _log())

    assert campaign.campaign_id == served["campaignId"]
    assert posts(simulator) == 0
    assert not any(r.path == "/v1/campaigns" and r.method == "GET" for r in simulator.requests)


def test_a_refused_create_clears_the_marker(sigmamind_conn, simulator):
    simulator.add_campaign(name="dup")
    store = Store()
    operator = CreateCampaignOperator(task_id="c", campaign_name="dup", **FIELDS)

    with pytest.raises(SigmaMindRejectedError, match=r"409|taken"):
        operator.execute({"task_state_store": store, "ti": Try(1)})

    assert store.data == {CREATE_SENT_KEY: False}


def test_without_a_store_only_retries_look_the_name_up(sigmamind_conn, simulator):
    """Below Airflow 3.3: the first try posts; try 2 finds the campaign by name."""
    operator = CreateCampaignOperator(task_id="c", campaign_name="old airflow", **FIELDS)
    first = operator.execute({"ti": Try(1)})
    again = operator.execute({"ti": Try(2)})

    assert again["campaignId"] == first["campaignId"]
    assert posts(simulator) == 1
    with SigmaMindHook() as hook:
        assert find_campaign(hook, "old airflow") is not None
        assert find_campaign(hook, "nobody") is None


def _never() -> Any:
    raise AssertionError("the create must not be sent")


def _log() -> Any:
    import logging

    return logging.getLogger("test")


# -- create and wait ------------------------------------------------------------------------------


@pytest.mark.skipif(
    not AIRFLOW_V_3_3_PLUS,
    reason=NEEDS_STORE + "; below it the retry finds the campaign by name",
)
@pytest.mark.parametrize("mode", ["poke", "deferrable"])
def test_create_and_wait_then_a_retry_resumes_the_wait(dags, wait_simulator, mode, capsys):
    """Try 1 creates, then runs out of ``execution_timeout`` while waiting; try 2 resumes the wait on the
    same campaign, which completes 3 s after its create."""
    run = run_dag(dags, f"exactly_once_wait_{mode}", f"wait {mode}")

    assert run.state == DagRunState.SUCCESS, capsys.readouterr().out[-3000:]
    (campaign,) = named(wait_simulator, f"wait {mode}")
    assert posts(wait_simulator) == 1
    result = xcoms(run.run_id)[("create", "return_value")]
    assert result["campaignId"] == campaign["campaignId"]
    assert result["campaignStatus"] == "completed"
    log = capsys.readouterr().out
    assert "AirflowTaskTimeout" in log  # try 1 ran out of time while waiting
    assert "Reusing campaign" in log  # try 2 found the id in the task state store


@pytest.fixture
def wait_simulator(sigmamind_simulator_factory, monkeypatch):
    """A simulator whose campaigns stay live 3 s, and ``sigmamind_default`` pointing at it."""
    simulator = sigmamind_simulator_factory(api_key=CANARY_API_KEY, live_duration=3.0)
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIGMAMIND_DEFAULT",
        connection_json(simulator.url, timeout=5, max_retries=2, backoff_initial=0, backoff_max=0),
    )
    return simulator
