"""Pre-flight checks of contact lists (pure: no I/O, no Airflow)."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_sigmamind import campaign_fields, contacts, schedule
from airflow_provider_sigmamind.contacts import check_contacts, check_phone_number, rows_to_csv, variable_name
from airflow_provider_sigmamind.simulator.campaigns import csv_row_errors

GOOD = "Phone Number,Customer Name,Order ID\r\n+14155552671,Michael,12345\r\n+14155550102,Priya,12346\r\n"


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


def test_a_cell_with_quotes_or_a_line_break_is_quoted_as_the_api_quotes_it():
    """The API's phrasing puts the raw value between single quotes: no Python escaping."""
    data = 'Phone,Name\n"+1 (415) it\'s\n555",A\n'
    assert check_contacts(data).problems == ("Row 1: invalid phone number '+1 (415) it's\n555'",)
    assert list(check_contacts(data, phone_check="e164").problems) == csv_row_errors(data.encode())


# -- names that moved out -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "home"),
    [
        ("local_schedule", schedule),
        ("schedule_instant", schedule),
        ("campaign_field_problems", campaign_fields),
        ("update_field_problems", campaign_fields),
        ("MAX_CAMPAIGN_NAME_LENGTH", campaign_fields),
        ("MAX_AGENT_ID_LENGTH", campaign_fields),
        ("E164_PATTERN", campaign_fields),
    ],
)
def test_names_that_moved_are_still_importable_from_contacts_for_a_release(name, home):
    assert getattr(contacts, name) is getattr(home, name)
    if name != "E164_PATTERN":  # still a contact-list matter: the pattern every contact number must match
        assert name not in contacts.__all__
        assert name in contacts.__doc__
