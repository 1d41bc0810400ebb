"""Text cut short for messages (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_sigmamind.text import ELLIPSIS, clip, one_line, shorten


def test_clip_keeps_what_fits_and_cuts_the_rest_to_the_limit():
    assert clip("abc", 3) == "abc"
    assert clip("abcd", 3) == "ab…"
    assert clip("abcd", 1) == "…"
    with pytest.raises(ValueError, match="limit must be at least 1"):
        clip("abc", 0)


def test_shorten_quotes_like_repr_and_keeps_the_quotes_when_cutting():
    assert shorten("Q4 Outreach") == "'Q4 Outreach'"
    assert shorten(None) == "None"
    assert shorten(0) == "0"
    assert shorten("x" * 100, 10) == "'xxxxxxx…'"
    assert shorten("it's\n" * 40, 12) == "\"it's\\nit'…\""  # escapes are never cut in half
    assert shorten(list(range(100)), 12) == "[0, 1, 2, 3…"


def test_one_line_puts_any_white_space_on_one_line():
    assert one_line("  Bad\r\n\tRequest   here ") == "Bad Request here"
    assert one_line("word " * 100, 20) == "word word word word…"


@given(st.one_of(st.text(), st.binary(), st.lists(st.integers())), st.integers(min_value=1, max_value=120))
def test_shorten_never_exceeds_its_limit_and_is_repr_when_it_fits(value, limit):
    shown = shorten(value, limit)
    assert len(shown) <= limit
    if len(repr(value)) <= limit:
        assert shown == repr(value)
    else:
        assert ELLIPSIS in shown


@given(st.text(), st.integers(min_value=1, max_value=120))
def test_one_line_has_no_line_breaks_and_never_exceeds_its_limit(text, limit):
    shown = one_line(text, limit)
    assert len(shown) <= limit
    assert "\n" not in shown
    assert "\r" not in shown
