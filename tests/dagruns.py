"""Reading what a ``dag.test()`` run left in the metadata DB, and loading the example DAGs."""

from __future__ import annotations

from airflow.dag_processing.dagbag import DagBag
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from sqlalchemy import select

from tests.conftest import ROOT


def example_dag(dag_id: str):
    """Parse ``example_dags/`` (asserting it has no import errors) and return one DAG."""
    bag = DagBag(str(ROOT / "example_dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def run_states(run_id: str) -> dict[str, str | None]:
    """Each task's state in a run."""
    with create_session() as session:
        tis = session.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id)).all()
        return {ti.task_id: ti.state for ti in tis}


def xcoms(run_id: str) -> dict[tuple[str, str], object]:
    """Every XCom of a run, by (task id, key)."""
    with create_session() as session:
        rows = session.scalars(select(XComModel).where(XComModel.run_id == run_id)).all()
        return {(row.task_id, row.key): row.value for row in rows}
