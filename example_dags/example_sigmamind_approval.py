"""Ask a person before dialing: check the contact list, show the report, create the campaign on approval.

build_contact_list -> preflight (the pre-flight report: contacts, columns, problems) ->
approve_dialing (an ``ApprovalOperator``: the report is shown in the Airflow UI's "Required
actions", with Approve and Reject) -> create_campaign, which runs only on Approve (Reject skips it).

Needs Airflow 3.1+ (human-in-the-loop operators, in the standard provider) and a running triggerer
(the approval waits there); on earlier versions this file defines no DAG. Nothing here touches the
network at parse time.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.exceptions import AirflowOptionalProviderFeatureException
from airflow.providers.common.compat.sdk import DAG, Param, task

from airflow_provider_sigmamind.contacts import check_contacts, rows_to_csv
from airflow_provider_sigmamind.operators.campaign import CreateCampaignOperator

try:
    from airflow.providers.standard.operators.hitl import ApprovalOperator
except (ImportError, AirflowOptionalProviderFeatureException):  # Airflow < 3.1 (the module refuses to load)
    ApprovalOperator = None

if ApprovalOperator is not None:
    with DAG(
        dag_id="example_sigmamind_approval",
        description="Check a contact list, ask a person to approve, then create the SigmaMind campaign.",
        schedule=None,
        start_date=pendulum.datetime(2025, 1, 1, tz="UTC"),
        catchup=False,
        params={
            "sip_phone_number": Param("+14155552671", type="string", pattern=r"^\+[1-9][0-9]{6,14}$"),
            "agent_id": Param("agent_D5D0p7TUs66TTAEAx", type="string", minLength=1, maxLength=64),
        },
        tags=["example", "sigmamind", "approval"],
    ) as dag:

        @task
        def build_contact_list() -> list[dict[str, str]]:
            """The contacts to call."""
            return [
                {"Phone Number": "+14155550101", "Customer Name": "Michael"},
                {"Phone Number": "+14155550102", "Customer Name": "Priya"},
            ]

        # [START howto_approval_before_dialing]
        @task
        def preflight(rows: list[dict[str, Any]]) -> dict[str, Any]:
            """The pre-flight report, checked as SigmaMind would check the list; fails on any problem."""
            report = check_contacts(rows_to_csv(rows), required_variables=["customer_name"])
            if not report.ok:
                raise ValueError("the contact list has problems:\n" + "\n".join(report.problems))
            text = (
                f"**{report.contacts} contacts**, phone column `{report.phone_column}`, "
                f"variables {', '.join(report.variables) or 'none'}; no problems found."
            )
            return {"contacts": report.contacts, "variables": list(report.variables), "text": text}

        contacts = build_contact_list()
        report = preflight(contacts)
        approve_dialing = ApprovalOperator(
            task_id="approve_dialing",
            subject="Dial campaign 'Approval demo {{ run_id }}'?",
            body="{{ ti.xcom_pull(task_ids='preflight')['text'] }}",
            response_timeout=timedelta(hours=4),  # no answer by then: the task fails, nothing is dialed
        )
        create_campaign = CreateCampaignOperator(
            task_id="create_campaign",
            campaign_name="Approval demo {{ run_id }}",
            sip_phone_number="{{ params.sip_phone_number }}",
            agent_id="{{ params.agent_id }}",
            contacts=contacts,
            required_variables=["customer_name"],
        )
        report >> approve_dialing >> create_campaign
        # [END howto_approval_before_dialing]
