"""API paths with the caller's ids in them: each id checked, and percent-encoded as exactly one segment.

Pure: no I/O and no Airflow. SigmaMind's ids are opaque (``XiQEBcj9cc5TFRB4``, ``camp_…``,
``call-…``): no prefix is ever added or stripped, and every id is percent-encoded
(``quote(id, safe="")``) so that it can never reach another path.
"""

from __future__ import annotations

from urllib.parse import quote

from airflow_provider_sigmamind.exceptions import SigmaMindInvalidInputError
from airflow_provider_sigmamind.text import has_control_chars, shorten

__all__ = [
    "CALLS_PATH",
    "CAMPAIGNS_PATH",
    "MAX_CAMPAIGN_ID_LENGTH",
    "MAX_ID_LENGTH",
    "call_path",
    "campaign_path",
    "item_path",
    "validate_campaign_id",
    "validate_id",
]

MAX_ID_LENGTH = 256
MAX_CAMPAIGN_ID_LENGTH = MAX_ID_LENGTH

#: The API's two collections; an item's path is one of them plus its id (:func:`item_path`).
CAMPAIGNS_PATH = "/v1/campaigns"
CALLS_PATH = "/v1/calls"


def validate_id(value: object, *, name: str) -> str:
    """Check that ``value`` can be sent as exactly one URL path segment, and return it.

    :param value: the id as the caller gave it.
    :param name: the parameter's name in messages (``campaign_id``, ``call_id``).
    :raises SigmaMindInvalidInputError: for anything but a non-blank string of at most 256
        characters without control characters, or for the dot segments ``.`` and ``..``.
    """
    if not isinstance(value, str):
        raise SigmaMindInvalidInputError(
            f"{name} must be a string, got {type(value).__name__} (did a template render to nothing?)"
        )
    if (
        0 < len(value) <= MAX_ID_LENGTH
        and value.isprintable()
        and not value[0].isspace()
        and not value[-1].isspace()
        and value not in (".", "..")
    ):
        return value  # the common case, checked at the cost of a poll's microsecond
    shown = shorten(value, 64)
    if not value.strip():
        raise SigmaMindInvalidInputError(f"{name} is blank ({shown}); pass the {name.removesuffix('_id')}'s id")
    if value != value.strip():
        raise SigmaMindInvalidInputError(f"{name} {shown} has leading or trailing white space")
    if len(value) > MAX_ID_LENGTH:
        raise SigmaMindInvalidInputError(f"{name} is {len(value)} characters long; the limit is {MAX_ID_LENGTH}")
    if has_control_chars(value):
        raise SigmaMindInvalidInputError(f"{name} {shown} contains control characters (CR, LF, NUL, ...)")
    if value in (".", ".."):
        raise SigmaMindInvalidInputError(f"{name} {shown} is not an id but a relative path")
    return value


def item_path(collection: str, value: object, *, name: str) -> str:
    """``{collection}/{id}`` with the id validated and percent-encoded as one path segment.

    :param collection: the collection's path, ``/v1/campaigns`` or ``/v1/calls``.
    :param value: the id.
    :param name: the parameter's name in messages.
    """
    return f"{collection}/" + _segment(validate_id(value, name=name))


def _segment(value: str) -> str:
    """A valid id percent-encoded as one path segment.

    Not cached: a triggerer polling more campaigns than a cache holds would miss at every poll (waits
    ask in a cycle), and each miss leaves a cache entry that outlives young collections, so it costs
    the collector more than ``quote``'s half a microsecond."""
    return quote(value, safe="")


def validate_campaign_id(campaign_id: object) -> str:
    """Check that ``campaign_id`` can be sent as exactly one URL path segment (see :func:`validate_id`).

    Ids are opaque (``XiQEBcj9cc5TFRB4``, ``camp_…``, ``camp-…``): no prefix is added or stripped.

    :raises SigmaMindInvalidInputError: for anything but a non-blank string of at most 256
        characters without control characters, or for the dot segments ``.`` and ``..``.
    """
    return validate_id(campaign_id, name="campaign_id")


def campaign_path(campaign_id: object) -> str:
    """``/v1/campaigns/{id}`` with the id validated and percent-encoded as one path segment."""
    return item_path(CAMPAIGNS_PATH, campaign_id, name="campaign_id")


def call_path(call_id: object) -> str:
    """``/v1/calls/{id}`` with the id validated and percent-encoded as one path segment."""
    return item_path(CALLS_PATH, call_id, name="call_id")
