"""Reading what a ``dag.test()`` run left in the metadata DB, and loading the example DAGs.

Also the one place where the tests reach Airflow internals that moved between the supported versions.
"""

from __future__ import annotations

from typing import Any

from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session
from sqlalchemy import select

from airflow_provider_sigmamind.version_compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS
from tests.helpers import ROOT

try:  # Airflow 3.1+
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow 2.11 and 3.0
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
try:  # Airflow 3: the XCom table, its values stored as JSON
    from airflow.models.xcom import XComModel
except ImportError:  # Airflow 2.11: the table is BaseXCom's, its values serialized
    from airflow.models.xcom import BaseXCom as XComModel  # type: ignore[no-redef]

__all__ = ["DagBag", "XComModel", "activate_assets", "example_dag", "run_states", "xcom_value", "xcoms"]


def example_dag(dag_id: str):
    """Parse ``example_dags/`` (asserting it has no import errors) and return one DAG."""
    bag = DagBag(str(ROOT / "example_dags"))  # examples off: AIRFLOW__CORE__LOAD_EXAMPLES, tests/environment.py
    assert not bag.import_errors, bag.import_errors
    return bag.get_dag(dag_id)


def activate_assets(*dags: Any) -> None:
    """On Airflow 3.0, write ``dags`` to the metadata DB as a deployment's DAG processor does.

    Airflow 3.0's ``dag.test()`` does not write the DAG to the DB (3.1's does), so its assets are never
    activated and an outlet on them is refused (``AirflowInactiveAssetInInletOrOutletException``).
    Elsewhere there is nothing to do.
    """
    if AIRFLOW_V_3_1_PLUS or not AIRFLOW_V_3_0_PLUS:
        return
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.models.dag import DAG as SchedulerDAG
    from airflow.serialization.serialized_objects import SerializedDAG

    DagBundlesManager().sync_bundles_to_db()
    serialized = [SerializedDAG.deserialize_dag(SerializedDAG.serialize_dag(dag)) for dag in dags]
    SchedulerDAG.bulk_write_to_db("dags-folder", None, serialized)


def run_states(run_id: str) -> dict[str, str | None]:
    """Each task's state in a run."""
    with create_session() as session:
        tis = session.scalars(select(TaskInstance).where(TaskInstance.run_id == run_id)).all()
        return {ti.task_id: ti.state for ti in tis}


def xcom_value(row: Any) -> Any:
    """An XCom row's value as the task returned it (Airflow 2.11 stores it serialized)."""
    deserialize = getattr(XComModel, "deserialize_value", None)
    return deserialize(row) if deserialize is not None and isinstance(row.value, bytes) else row.value


def xcoms(run_id: str) -> dict[tuple[str, str], object]:
    """Every XCom of a run, by (task id, key)."""
    with create_session() as session:
        rows = session.scalars(select(XComModel).where(XComModel.run_id == run_id)).all()
        return {(row.task_id, row.key): xcom_value(row) for row in rows}
