"""What the SigmaMind API's answers share: the error of a bad body, instants, and the page envelope.

Pure: no I/O and no Airflow. Instants are ISO-8601 UTC, with or without milliseconds. Lists answer
``{"data": [...], "page": 0, "size": 10, "totalCount": 125, "totalPages": 13, "hasNext": true,
"hasPrevious": false}``; the campaign list spells the total
``totalCount``, the call list ``totalCounts``, and either may come with only part of the envelope.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

__all__ = ["ListPage", "PayloadError", "count", "parse_instant", "parse_list"]

T = TypeVar("T")


class PayloadError(ValueError):
    """A response body that is not what was asked for (raised by the parsers, mapped by the hook)."""


_ISO_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def parse_instant(value: object) -> datetime | None:
    """An ISO-8601 date-time as an aware ``datetime`` in UTC; ``None`` when absent, unreadable or not
    representable in UTC (the raw value stays in the payload), the same in every mode.

    Only ISO-8601 date-times are read: a looser parser would turn ``"now"`` or ``"5"`` into a date.
    A time without an offset is taken as UTC.
    """
    if not isinstance(value, str) or not _ISO_INSTANT.match(value):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: an instant whose UTC time is outside years 1-9999
        return None


def count(value: object) -> int | None:
    """A non-negative whole number from a list envelope, else ``None`` (absent or unreadable)."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


@dataclass(frozen=True, kw_only=True)
class ListPage:
    """The envelope of one list page, and what it says about the pages after it.

    Subclasses are frozen dataclasses that add the page's items (a field of their own, first and
    positional) and an ``items`` property returning them:

    :param page: the zero-based page number the API reports, or ``None``.
    :param size: the page size the API reports, or ``None``.
    :param total_count: ``totalCount`` or ``totalCounts`` (whichever is readable), or ``None``.
    :param total_pages: ``totalPages``, or ``None``.
    :param has_next: ``hasNext``, or ``None`` when absent.
    """

    page: int | None
    size: int | None
    total_count: int | None
    total_pages: int | None
    has_next: bool | None

    @property
    def items(self) -> Sequence[Any]:
        """The items on this page."""
        raise NotImplementedError

    @property
    def says_where_it_ends(self) -> bool:
        """Whether the envelope has anything (``hasNext``, ``totalPages``, a total) that marks the end."""
        return self.has_next is not None or self.total_pages is not None or self.total_count is not None

    def has_more(self, page: int, size: int, listed: int | None = None) -> bool:
        """Whether a page follows page ``page`` (asked with ``size``).

        Trusts ``hasNext``, else ``totalPages``, else the total against the items ``listed`` so far;
        with none of them, a full page means there may be more. An empty page never has a
        successor (no endless paging).

        :param listed: items read so far, this page included (default: as if every page were full).
        """
        if not self.items:
            return False
        if self.has_next is not None:
            return self.has_next
        if self.total_pages is not None:
            return page + 1 < self.total_pages
        if self.total_count is not None:
            return (listed if listed is not None else (page + 1) * (self.size or size)) < self.total_count
        return len(self.items) >= (self.size or size)


def parse_list(
    payload: object, parse_item: Callable[[Any], T], *, total: tuple[str, str]
) -> tuple[list[T], dict[str, Any]]:
    """Split a list answer into its parsed items and its envelope (the keyword arguments of a page).

    :param payload: the decoded JSON body.
    :param parse_item: parses one item, raising :class:`PayloadError` if it is not one.
    :param total: the two spellings of the total, the list's own first (``("totalCounts", "totalCount")``).
    :raises PayloadError: when the body is not an object, ``data`` is not a list, or an item is unusable.
    """
    if not isinstance(payload, dict):
        raise PayloadError(f"expected a JSON object, got {type(payload).__name__}")
    data = payload.get("data")
    if not isinstance(data, list):
        raise PayloadError("the list has no 'data' array")
    items = []
    for index, item in enumerate(data):
        try:
            items.append(parse_item(item))
        except PayloadError as exc:
            raise PayloadError(f"item {index} of the list: {exc}") from None
    first, second = total
    total_count = count(payload.get(first))
    if total_count is None:
        total_count = count(payload.get(second))
    has_next = payload.get("hasNext")
    envelope = {
        "page": count(payload.get("page")),
        "size": count(payload.get("size")) or None,
        "total_count": total_count,
        "total_pages": count(payload.get("totalPages")),
        "has_next": has_next if isinstance(has_next, bool) else None,
    }
    return items, envelope
