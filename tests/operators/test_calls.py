"""ExportCampaignCallsOperator against the simulator over HTTP, writing real files through ObjectStoragePath."""

from __future__ import annotations

import csv
import gzip
import json
import sys
import tracemalloc
from collections import Counter

import pytest

from airflow_provider_sigmamind import paging
from airflow_provider_sigmamind.compat import ObjectStoragePath
from airflow_provider_sigmamind.exceptions import SigmaMindAuthError, SigmaMindInvalidInputError
from airflow_provider_sigmamind.models import CALL_COLUMNS, parse_call
from airflow_provider_sigmamind.operators.calls import ExportCampaignCallsOperator
from airflow_provider_sigmamind.simulator import Fault
from airflow_provider_sigmamind.simulator.calls import CallMix, Outcome

COLUMNS = [name for name, _, _ in CALL_COLUMNS]


def export(campaign_id: str, path, **kwargs) -> dict:
    return ExportCampaignCallsOperator(task_id="export", campaign_id=campaign_id, path=path, **kwargs).execute({})


@pytest.fixture
def campaign(simulator) -> str:
    """A completed campaign of 37 calls between two other campaigns' calls."""
    simulator.add_campaign(status="completed", calls=11)
    cid = simulator.add_campaign(status="completed", calls=37, concurrent_calls=4)["campaignId"]
    simulator.add_campaign(status="completed", calls=5)
    return cid


def expected_records(simulator, campaign_id: str) -> list[dict]:
    return [parse_call(c).record() for c in simulator.calls_of(campaign_id)]


def test_jsonl_holds_the_campaigns_calls_and_the_xcom_summarises_them(sigmamind_conn, simulator, campaign, tmp_path):
    target = tmp_path / "out" / "calls.jsonl"

    result = export(campaign, f"file://{target}", page_size=10)

    lines = target.read_text().splitlines()
    assert [json.loads(line) for line in lines] == expected_records(simulator, campaign)
    served = simulator.calls_of(campaign)
    assert result["path"] == f"file://{target}"
    assert (result["format"], result["campaignId"], result["calls"]) == ("jsonl", campaign, 37)
    assert result["byStatus"] == dict(Counter(c["status"] for c in served))
    assert result["byTerminationReason"] == dict(Counter(c["terminationReason"] for c in served))
    durations = sorted(c["duration"] for c in served)
    assert result["totalDurationSeconds"] == sum(durations)
    assert result["medianDurationSeconds"] == durations[18]
    assert len(json.dumps(result)) < 1500  # small enough for XCom
    assert [r.query["page"] for r in simulator.requests] == [str(n) for n in range(6)]  # 53 calls, 10 a page


def test_csv_has_a_header_and_one_row_per_call(sigmamind_conn, simulator, campaign, tmp_path):
    target = tmp_path / "calls.csv"

    export(campaign, str(target), format="csv")

    with target.open(newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == COLUMNS
    expected = expected_records(simulator, campaign)
    assert len(rows) == 1 + len(expected)
    first = dict(zip(COLUMNS, rows[1], strict=True))
    assert first["call_id"] == expected[0]["call_id"]
    assert json.loads(first["variables"]) == expected[0]["variables"]
    assert first["recording_url"] == (expected[0]["recording_url"] or "")


def test_parquet_has_typed_columns(sigmamind_conn, simulator, campaign, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    target = tmp_path / "calls.parquet"

    export(campaign, ObjectStoragePath(f"file://{target}"), format="parquet")

    table = pq.read_table(target)
    assert table.column_names == COLUMNS
    assert table.num_rows == 37
    assert str(table.schema.field("start_time").type) == "timestamp[ms, tz=UTC]"
    assert str(table.schema.field("duration_seconds").type) == "double"
    expected = expected_records(simulator, campaign)
    assert table.column("call_id").to_pylist() == [r["call_id"] for r in expected]
    assert table.column("start_time").to_pylist()[0].isoformat(timespec="milliseconds") == expected[0]["start_time"]


def test_parquet_without_pyarrow_is_a_clear_error_before_anything_is_sent(
    sigmamind_conn, simulator, campaign, tmp_path, monkeypatch
):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
    with pytest.raises(SigmaMindInvalidInputError, match=r"format='parquet' needs pyarrow.*\[parquet\]"):
        export(campaign, str(tmp_path / "calls.parquet"), format="parquet")
    assert simulator.requests == []
    assert list(tmp_path.iterdir()) == []


def test_a_gz_name_compresses(sigmamind_conn, simulator, campaign, tmp_path):
    target = tmp_path / "calls.jsonl.gz"
    export(campaign, str(target))
    with gzip.open(target, "rt") as file:
        assert len(file.read().splitlines()) == 37


def test_a_rerun_replaces_the_file_and_a_failed_one_leaves_the_old_one_whole(
    sigmamind_conn, simulator, campaign, tmp_path
):
    target = tmp_path / "calls.jsonl"
    target.write_text('{"old": true}\n')
    (tmp_path / ".calls.jsonl.0123456789ab.part").write_text('{"half": ')  # what a killed run left

    simulator.inject(Fault.status(401), times=None)
    simulator.inject(Fault.body(json.dumps({"data": simulator.calls_of(campaign)[:10], "hasNext": True})))
    with pytest.raises(SigmaMindAuthError):
        export(campaign, str(target), page_size=10)
    assert target.read_text() == '{"old": true}\n'  # the failed run wrote nothing under the real name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls.jsonl"]  # and cleaned up after itself

    simulator.clear_faults()
    export(campaign, str(target))
    assert len(target.read_text().splitlines()) == 37
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls.jsonl"]


def test_progress_is_logged_while_paging(sigmamind_conn, simulator, campaign, tmp_path, capsys):
    export(campaign, str(tmp_path / "calls.jsonl"), page_size=10, progress_interval=0)
    out = capsys.readouterr().out
    assert f"Exporting: 1 calls of campaign '{campaign}': 12 calls read in 2 pages" in out  # 11 others first
    assert f"Exported 37 calls of campaign '{campaign}': 53 calls read in 6 pages" in out
    assert "calls/s" in out


def test_a_campaign_without_calls_writes_an_empty_file(sigmamind_conn, simulator, tmp_path):
    cid = simulator.add_campaign(status="completed")["campaignId"]
    result = export(cid, str(tmp_path / "calls.csv"), format="csv")
    assert (tmp_path / "calls.csv").read_text().splitlines() == [",".join(COLUMNS)]
    assert (result["calls"], result["medianDurationSeconds"], result["byStatus"]) == (0, None, {})


def test_the_median_and_total_follow_the_mix(sigmamind_conn, simulator, tmp_path):
    mix = CallMix(
        outcomes=(
            Outcome("ended", 3, {"customer_ended_call": 1}, (100, 100)),
            Outcome("not-connected", 1, {"busy": 1}),
        ),
        odd_reasons=0,
    )
    cid = simulator.add_campaign(status="completed", calls=400, call_mix=mix)["campaignId"]
    result = export(cid, str(tmp_path / "calls.jsonl"))
    connected = sum(n for status, n in result["byStatus"].items() if status in ("ended", "completed"))
    assert result["totalDurationSeconds"] == 100 * connected
    assert result["medianDurationSeconds"] == (100 if connected > 200 else 0)
    assert set(result["byTerminationReason"]) == {"customer_ended_call", "busy"}


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("calls.jsonl", "a URL or an absolute path"),
        ("file:///tmp/exports/", "names a directory"),
        ("", "an ObjectStoragePath or a URL"),
        (None, "an ObjectStoragePath or a URL"),
    ],
)
def test_a_path_that_cannot_be_written_is_refused_before_anything_is_sent(sigmamind_conn, simulator, path, message):
    with pytest.raises(SigmaMindInvalidInputError, match=message):
        export("camp_X", path)
    assert simulator.requests == []


def test_arguments_are_checked_when_the_dag_is_parsed():
    with pytest.raises(ValueError, match="format must be one of"):
        ExportCampaignCallsOperator(task_id="e", campaign_id="c", path="/x", format="xlsx")
    with pytest.raises(ValueError, match="page_size"):
        ExportCampaignCallsOperator(task_id="e", campaign_id="c", path="/x", page_size=0)
    assert {"campaign_id", "path"} <= set(ExportCampaignCallsOperator.template_fields)


def test_memory_does_not_grow_with_the_number_of_calls(sigmamind_conn, simulator, tmp_path, monkeypatch):
    monkeypatch.setattr(paging, "DEDUP_WINDOW", 500)
    peaks = []
    # Both exports write several of the writer's one-megabyte chunks (2,000 calls are about 1.2 MB of
    # JSONL), so that the difference is only the number of calls.
    for count in (2_000, 8_000):
        cid = simulator.add_campaign(status="completed", calls=count)["campaignId"]
        tracemalloc.start()
        try:
            export(cid, str(tmp_path / f"calls-{count}.jsonl"), page_size=250)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        simulator.remove_campaign(cid)
    assert peaks[1] < peaks[0] * 1.5, peaks  # four times the calls, about the same peak
