"""Pre-flight checks of contact lists and campaign fields (pure: no I/O, no Airflow)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_sigmamind.contacts import (
    campaign_field_problems,
    check_contacts,
    check_phone_number,
    local_schedule,
    rows_to_csv,
    schedule_instant,
    update_field_problems,
    variable_name,
)
from airflow_provider_sigmamind.simulator.campaigns import csv_row_errors

GOOD = "Phone Number,Customer Name,Order ID\r\n+14155552671,Michael,12345\r\n+14155550102,Priya,12346\r\n"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
FIELDS = {"campaign_name": "Q4 Outreach", "sip_phone_number": "+14155552671", "agent_id": "agent_D5D0p7TUs66TTAEAx"}


def csv_text(*lines: str) -> str:
    return "\r\n".join(lines) + "\r\n"


# -- contact lists ------------------------------------------------------------------------------


def test_a_good_list_has_no_problems_and_is_described():
    report = check_contacts(GOOD)

    assert report.ok
    assert report.problems == ()
    assert report.contacts == 2
    assert report.phone_column == "Phone Number"
    assert report.variables == ("customer_name", "order_id")


def test_problems_use_the_apis_phrasing_and_row_numbering():
    data = csv_text(
        "Phone Number,Customer Name,Order ID",
        "+14155550101,Ann,1",
        "+14155550102,Bob,2",
        "+14155550103,,3",  # row 3
        "+14155550104,Dan,4",
        "+14155550105,Eve,5",
        "+14155550106,Fay,6",
        "+1234,Gus,7",  # row 7
    )

    assert check_contacts(data).problems == (
        "Row 3: missing required variable 'customer_name'",
        "Row 7: invalid phone number '+1234'",
    )


def test_every_problem_is_reported_not_just_the_first():
    data = csv_text(
        "Phone Number,Customer Name,Order ID",
        "14155550101,,",  # no +, two empty variables
        "+14155550102,Bob,2,extra",  # one value too many
        "+14155550102,Cy",  # duplicate number, one value short, so order_id is missing
    )

    assert check_contacts(data).problems == (
        "Row 1: invalid phone number '14155550101'",
        "Row 1: missing required variable 'customer_name'",
        "Row 1: missing required variable 'order_id'",
        "Row 2: 4 values but the header has 3 columns",
        "Row 3: 2 values but the header has 3 columns",
        "Row 3: missing required variable 'order_id'",
        "Row 3: duplicate phone number '+14155550102' (also in row 2)",
    )


@pytest.mark.parametrize(
    "data",
    [
        csv_text("Phone Number,Customer Name,Order ID", "+14155550101,Ann,1", "+1234,,2", "+14155550103,Cy,", "oops,,"),
        csv_text("phone,first name,lastName", "", "+1 415 555 0101,A,B", "", "+14155550102,,", "+99,x,y"),
        "\ufeffMobile Phone;Name\n+14155550101;A\n",  # one column, since the delimiter is a comma
    ],
)
def test_rows_are_numbered_and_worded_exactly_as_the_simulated_api_reports_them(data):
    """For the problems both sides know (pattern and missing variables), the client's pre-flight
    list equals what the simulator puts in the campaign's ``errors`` for the same upload."""
    ours = check_contacts(data, phone_check="e164").problems
    api = csv_row_errors(data.encode())
    assert list(ours) == api


def test_blank_lines_are_skipped_and_not_counted():
    data = "Phone Number,Name\n\n+14155550101,A\n , \n+1234,B\n"

    report = check_contacts(data)

    assert report.contacts == 2
    assert report.problems == ("Row 2: invalid phone number '+1234'",)


def test_cells_are_trimmed_before_checking():
    assert check_contacts("Phone Number , Name \n +14155550101 , Ann \n").ok


def test_header_problems():
    data = csv_text("Mobile,Customer Name,,customer_name", "+14155550101,A,x,B")

    assert check_contacts(data).problems == (
        "Header: no phone number column (a header containing 'phone'); the headers are "
        "'Mobile', 'Customer Name', '', 'customer_name'",
        "Header: column 3 has no name",
        "Header: columns 'Customer Name' and 'customer_name' both become variable 'customer_name'",
    )


def test_required_variables_narrow_the_check_and_must_exist():
    data = csv_text("Phone Number,Customer Name,Notes", "+14155550101,Ann,", "+14155550102,,call after 5")

    assert check_contacts(data).problems == (
        "Row 1: missing required variable 'notes'",
        "Row 2: missing required variable 'customer_name'",
    )
    assert check_contacts(data, required_variables=["Customer Name"]).problems == (
        "Row 2: missing required variable 'customer_name'",
    )
    assert check_contacts(data, required_variables=["Phone Number", "customer_name"]).problems == (
        "Row 2: missing required variable 'customer_name'",
    )
    assert check_contacts(data, required_variables="customer_name").problems == (
        "Row 2: missing required variable 'customer_name'",
    )
    assert check_contacts(data, required_variables=["customer_name", "order_id"]).problems == (
        "Header: no column for required variable 'order_id'",
        "Row 2: missing required variable 'customer_name'",
    )


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ("", "Contact list: empty; it needs a header row and at least one contact"),
        ("\n \n", "Contact list: empty; it needs a header row and at least one contact"),
        ("Phone Number,Name\n", "Contact list: no contacts below the header row"),
        (
            b"Phone Number,Name\n+14155550101,Jos\xe9\n",
            "Contact list: not UTF-8 text (line 2, byte 34); save it as 'CSV UTF-8'",
        ),
    ],
)
def test_unusable_files(data, problem):
    assert check_contacts(data).problems == (problem,)


def test_a_utf8_bom_is_not_part_of_the_first_header():
    report = check_contacts("\ufeffPhone,Name\n+14155550101,José\n".encode())
    assert report.ok
    assert report.phone_column == "Phone"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("+14155552671", None),
        ("+442079460958", None),
        ("+919876543210", None),
        ("+1234", ""),  # too short for the pattern: the API's own message
        ("14155552671", ""),  # no plus
        ("+1 415 555 2671", ""),  # formatted
        ("+04155552671", ""),  # country codes do not start with 0
        ("", ""),
        ("+4155552671", "too short for country code +41"),  # a US number that lost its 1: Swiss, and too short
        ("+1415555267", "too short for country code +1"),  # a digit short
        ("+141555526710", "too long for country code +1"),
        ("+99912345678", "no country uses its calling code"),
        ("+10005551234", "not a number in use for country code +1"),  # NANP area codes never start with 0
    ],
)
def test_phone_numbers_must_be_e164_and_able_to_exist(number, reason):
    assert check_phone_number(number) == reason
    assert check_phone_number(number, phone_check="e164") == (None if reason != "" else "")


def test_numbers_that_only_match_the_pattern_get_a_reason():
    data = csv_text("Phone Number,Name", "+4155552671,Ann", "+1234,Bob")

    assert check_contacts(data).problems == (
        "Row 1: invalid phone number '+4155552671' (too short for country code +41)",
        "Row 2: invalid phone number '+1234'",
    )
    assert check_contacts(data, phone_check="e164").problems == ("Row 2: invalid phone number '+1234'",)
    with pytest.raises(ValueError, match="phone_check must be one of valid, e164"):
        check_contacts(data, phone_check="strict")  # type: ignore[arg-type]


def test_long_values_are_cut_in_messages():
    problems = check_contacts(csv_text("Phone,Name", "+" + "9" * 200 + ",A")).problems
    assert len(problems[0]) < 120
    assert problems[0].endswith("…'")


@pytest.mark.parametrize(
    ("header", "name"),
    [("Customer Name", "customer_name"), ("customerName", "customer_name"), (" Order ID ", "order_id"), ("A-b", "a_b")],
)
def test_variable_names_follow_the_header(header, name):
    assert variable_name(header) == name


# -- rows to CSV ---------------------------------------------------------------------------------


def test_rows_become_csv_with_every_key_in_first_seen_order():
    rows = [
        {"Phone Number": "+14155550101", "Customer Name": 'Ann "the boss", Jr.'},
        {"Phone Number": "+14155550102", "Order ID": 12345, "Customer Name": None},
    ]

    text = rows_to_csv(rows)

    assert list(csv.reader(io.StringIO(text))) == [
        ["Phone Number", "Customer Name", "Order ID"],
        ["+14155550101", 'Ann "the boss", Jr.', ""],
        ["+14155550102", "", "12345"],
    ]
    assert check_contacts(text).problems == (
        "Row 1: missing required variable 'order_id'",
        "Row 2: missing required variable 'customer_name'",
    )


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["+14155550101"], "contact 1 is a str, not a mapping"),
        ([{"Phone": "+14155550101", "Tags": ["a"]}], "contact 1: the value for 'Tags' is a list"),
    ],
)
def test_rows_that_cannot_be_csv(rows, message):
    with pytest.raises(ValueError, match=message):
        rows_to_csv(rows)


cell_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1).filter(
    lambda text: text.strip() != ""
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(cell_text, cell_text), min_size=1, max_size=8))
def test_any_text_survives_the_round_trip_through_csv(values):
    """Commas, quotes, line breaks and non-ASCII in a cell never break a row or shift a column."""
    rows = [
        {"Phone Number": f"+1415555{index:04d}", "Customer Name": name, "Order ID": order}
        for index, (name, order) in enumerate(values, start=100)
    ]
    text = rows_to_csv(rows)

    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert parsed == [{key: str(value) for key, value in row.items()} for row in rows]
    assert check_contacts(text.encode()).ok


# -- campaign fields ----------------------------------------------------------------------------


def test_good_fields_have_no_problems():
    assert campaign_field_problems(**FIELDS, concurrent_calls=5, variables={"promo": "SPRING"}) == []


def test_every_bad_field_is_reported():
    problems = campaign_field_problems(
        campaign_name="x" * 129,
        sip_phone_number="4155552671",
        agent_id="",
        concurrent_calls=0,
        variables={"when": datetime(2026, 1, 1)},
        scheduled_date="2026-02-30",
        scheduled_time="9:00",
        scheduled_timezone="Mars/Olympus_Mons",
        now=NOW,
    )

    assert problems == [
        "campaign_name is 129 characters long; the limit is 128",
        "sip_phone_number '4155552671' is not an E.164 number (^\\+[1-9][0-9]{6,14}$, e.g. +14155552671)",
        "agent_id is empty; it must be 1 to 64 characters",
        "concurrent_calls must be a whole number of at least 1, got 0",
        "variables cannot be sent as JSON: Object of type datetime is not JSON serializable",
        "scheduled_date '2026-02-30' is not a date in YYYY-MM-DD form",
        "scheduled_time '9:00' is not a 24-hour time in HH:mm:ss form",
        "scheduled_timezone 'Mars/Olympus_Mons' is not an IANA time zone (e.g. America/Los_Angeles)",
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"agent_id": "a" * 65}, "agent_id is 65 characters long; the limit is 64"),
        ({"campaign_name": None}, "campaign_name must be text of 1 to 128 characters, got NoneType"),
        ({"concurrent_calls": True}, "concurrent_calls must be a whole number of at least 1, got True"),
        ({"concurrent_calls": "5"}, "concurrent_calls must be a whole number of at least 1, got '5'"),
        ({"variables": ["a"]}, "variables must be a mapping of variable names to values (a JSON object), got list"),
        ({"sip_phone_number": "+1 415 555 2671"}, "sip_phone_number '+1 415 555 2671' is not an E.164 number"),
    ],
)
def test_one_bad_field(changes, problem):
    fields = {**FIELDS, **changes}
    (found,) = campaign_field_problems(**fields)
    assert found.startswith(problem)


@pytest.mark.parametrize(
    ("date", "time", "zone", "utc"),
    [
        ("2026-07-01", "09:00:00", "America/Los_Angeles", "2026-07-01T16:00:00+00:00"),  # PDT, UTC-7
        ("2026-12-01", "09:00:00", "America/Los_Angeles", "2026-12-01T17:00:00+00:00"),  # PST, UTC-8
        ("2026-07-01", "09:00:00", "Asia/Kolkata", "2026-07-01T03:30:00+00:00"),  # UTC+5:30
        ("2026-07-01", "00:30:00", "Pacific/Auckland", "2026-06-30T12:30:00+00:00"),  # the day before in UTC
        ("2026-07-01", "09:00:00", "UTC", "2026-07-01T09:00:00+00:00"),
    ],
)
def test_a_local_schedule_is_the_right_utc_instant(date, time, zone, utc):
    assert schedule_instant(date, time, zone).isoformat() == utc
    assert (
        campaign_field_problems(**FIELDS, scheduled_date=date, scheduled_time=time, scheduled_timezone=zone, now=NOW)
        == []
    )


@pytest.mark.parametrize(
    ("date", "time", "zone", "problem"),
    [
        (
            "2026-05-31",
            "23:00:00",
            "UTC",
            "the schedule 2026-05-31 23:00:00 in UTC (2026-05-31T23:00:00Z) is in the past",
        ),
        # 12:00 UTC is 05:00 in Los Angeles: 04:59:59 there has passed, 05:00:00 has not.
        ("2026-06-01", "04:59:59", "America/Los_Angeles", "(2026-06-01T11:59:59Z) is in the past"),
        ("2026-03-08", "02:30:00", "America/New_York", "does not exist: the clocks skip that time"),
        ("2026-11-01", "01:30:00", "America/New_York", "is ambiguous: that time happens twice"),
        ("2026-06-01", "24:00:00", "UTC", "scheduled_time '24:00:00' is not a 24-hour time"),
        ("2026-6-1", "10:00:00", "UTC", "scheduled_date '2026-6-1' is not a date in YYYY-MM-DD form"),
        ("2026-07-01", "10:00:00", "america/los_angeles", "scheduled_timezone 'america/los_angeles' is not an IANA"),
        ("2026-07-01", "10:00:00", " UTC", "scheduled_timezone ' UTC' is not an IANA time zone"),
        ("2026-07-01", "10:00:00", "../../etc/passwd", "is not an IANA time zone"),
        (
            "2026-07-01",
            None,
            "UTC",
            "needs scheduled_date, scheduled_time and scheduled_timezone; missing scheduled_time",
        ),
    ],
)
def test_bad_schedules(date, time, zone, problem):
    problems = campaign_field_problems(
        **FIELDS, scheduled_date=date, scheduled_time=time, scheduled_timezone=zone, now=NOW
    )
    assert len(problems) == 1
    assert problem in problems[0]


def test_now_is_the_real_clock_by_default():
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    for instant, expected in ((tomorrow, 0), (yesterday, 1)):
        schedule = local_schedule(instant, "Europe/Paris")
        assert len(campaign_field_problems(**FIELDS, **schedule)) == expected


def test_schedule_instant_raises_with_the_problems():
    with pytest.raises(ValueError, match="scheduled_timezone 'PST' is not an IANA time zone"):
        schedule_instant("2026-07-01", "09:00:00", "PST")


def test_local_schedule_rounds_up_to_the_next_second_and_round_trips():
    instant = datetime(2026, 7, 1, 16, 0, 0, 250_000, tzinfo=UTC)

    schedule = local_schedule(instant, "America/Los_Angeles")

    assert schedule == {
        "scheduled_date": "2026-07-01",
        "scheduled_time": "09:00:01",
        "scheduled_timezone": "America/Los_Angeles",
    }
    assert schedule_instant(*schedule.values()) == datetime(2026, 7, 1, 16, 0, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="timezone-aware"):
        local_schedule(datetime(2026, 7, 1), "UTC")
    with pytest.raises(ValueError, match="not an IANA time zone"):
        local_schedule(instant, "Nowhere/Land")


def test_update_checks_only_the_fields_given():
    assert update_field_problems({"concurrent_calls": 3}) == []
    assert update_field_problems({"scheduled_time": "10:00:00"}) == []  # the API merges the rest
    assert update_field_problems({"scheduled": "yes", "status": "live"}) == [
        "scheduled must be True or False, got 'yes'",
        "status is not a field that can be updated",
    ]
    past = {"scheduled_date": "2026-05-01", "scheduled_time": "10:00:00", "scheduled_timezone": "Europe/Paris"}
    assert update_field_problems(past, now=NOW) == [
        "the schedule 2026-05-01 10:00:00 in Europe/Paris (2026-05-01T08:00:00Z) is in the past"
    ]
