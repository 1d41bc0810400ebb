"""Creating and changing a campaign, short of HTTP: what the hook sends, and the errors around it.

Before a create: the contact list read into the bytes to upload, the list and the fields checked,
and every problem raised in one :class:`~airflow_provider_sigmamind.exceptions.SigmaMindInvalidInputError`
(or logged, with ``validate="warn"``). Before an update: the fields checked the same way. After a
failed create: what its error must add, since a create is never retried (whether the campaign may
exist anyway, and how to find out).

The hook's ``create_campaign`` and ``update_campaign`` are these steps around one request each.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_provider_sigmamind.campaign_fields import CampaignChanges, NewCampaign
from airflow_provider_sigmamind.contacts import (
    PHONE_CHECKS,
    VALIDATE_MODES,
    PhoneCheck,
    ValidateMode,
    check_contacts,
    rows_to_csv,
)
from airflow_provider_sigmamind.exceptions import (
    SigmaMindError,
    SigmaMindInvalidInputError,
    SigmaMindRateLimitError,
    SigmaMindRejectedError,
    SigmaMindResponseError,
    SigmaMindServerError,
    SigmaMindTLSError,
    SigmaMindTransportError,
)
from airflow_provider_sigmamind.text import shorten

if TYPE_CHECKING:
    from airflow.sdk.types import Logger

    from airflow_provider_sigmamind.models import Campaign

__all__ = [
    "DEFAULT_FILE_NAME",
    "MAX_PROBLEMS_SHOWN",
    "CreateRequest",
    "contact_bytes",
    "create_request",
    "explain_create_failure",
    "may_have_created",
    "problems_error",
    "report_created",
    "update_body",
]

#: Problems quoted in one exception message; the full list is on the error's ``problems``.
MAX_PROBLEMS_SHOWN = 100
#: The file name of an upload that did not come from a file.
DEFAULT_FILE_NAME = "contacts.csv"

Contacts = str | bytes | os.PathLike[str] | Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class CreateRequest:
    """The body of one create: its form fields and its contact file, checked.

    :param form: the multipart form fields, by API name.
    :param file_name: the name the contact file is uploaded under.
    :param contacts: the contact file, exactly as uploaded.
    """

    form: dict[str, str]
    file_name: str
    contacts: bytes

    @property
    def files(self) -> dict[str, tuple[str, bytes, str]]:
        """The multipart file part: ``{"file": (file_name, contacts, "text/csv")}``."""
        return {"file": (self.file_name, self.contacts, "text/csv")}


def create_request(
    campaign: NewCampaign,
    contacts: Contacts,
    *,
    file_name: str | None,
    validate: ValidateMode,
    required_variables: Iterable[str] | None,
    phone_check: PhoneCheck,
    log: Logger,
) -> CreateRequest:
    """Check a create before it is sent, and return what to send.

    :param campaign: the new campaign's fields.
    :param contacts: CSV text or bytes, a path, or rows (mappings of column to value).
    :param file_name: the upload's file name (default: the path's, else ``contacts.csv``).
    :param validate: ``"error"`` raises on any problem, ``"warn"`` logs them, ``"off"`` does not look.
    :param required_variables: variables every row must have (``None``: every column).
    :param phone_check: ``"valid"`` or ``"e164"``.
    :param log: where ``"warn"`` writes the problems, and a clean check says so.
    :raises SigmaMindInvalidInputError: for a bad option, unreadable contacts, or (``validate="error"``)
        every problem found, on its ``problems`` attribute.
    """
    if validate not in VALIDATE_MODES:
        raise SigmaMindInvalidInputError(f"validate must be one of {', '.join(VALIDATE_MODES)}, got {validate!r}")
    if phone_check not in PHONE_CHECKS:
        raise SigmaMindInvalidInputError(f"phone_check must be one of {', '.join(PHONE_CHECKS)}, got {phone_check!r}")
    data = contact_bytes(contacts)
    if file_name is None:
        file_name = Path(contacts).name if isinstance(contacts, os.PathLike) else DEFAULT_FILE_NAME
    if validate != "off":
        report = check_contacts(data, required_variables=required_variables, phone_check=phone_check)
        problems = [*campaign.problems(), *report.problems]
        what = f"campaign {shorten(campaign.campaign_name)}"
        if problems and validate == "error":
            raise problems_error(f"{what} was not created", problems)
        if problems:
            log.warning("%s", _problems_text(f"{what} will be created despite", problems))
        else:
            log.info("Contact list checked: %d contacts, no problems found", report.contacts)
    try:
        form = campaign.form()
    except ValueError as exc:
        raise SigmaMindInvalidInputError(str(exc)) from None
    return CreateRequest(form=form, file_name=file_name, contacts=data)


def update_body(changes: CampaignChanges, campaign_id: str) -> dict[str, Any]:
    """The JSON body of an update, after checking it.

    :param changes: the fields to change.
    :param campaign_id: the campaign, for the messages.
    :raises SigmaMindInvalidInputError: when nothing is given, or listing every problem found.
    """
    if not changes.given():
        raise SigmaMindInvalidInputError(
            f"nothing to update for campaign {shorten(campaign_id)}: pass at least one field"
        )
    problems = changes.problems()
    if problems:
        raise problems_error(f"campaign {shorten(campaign_id)} was not updated", problems)
    return changes.json_body()


def contact_bytes(contacts: object) -> bytes:
    """The contact list as the bytes to upload, from CSV text or bytes, a path, or rows.

    :param contacts: ``str`` (CSV text, sent as UTF-8), ``bytes``, an ``os.PathLike`` (read), or a
        sequence of mappings (written with :func:`~airflow_provider_sigmamind.contacts.rows_to_csv`).
    :raises SigmaMindInvalidInputError: for a file that cannot be read, rows that cannot be CSV, or
        anything else.
    """
    if isinstance(contacts, bytes):
        return contacts
    if isinstance(contacts, str):
        return contacts.encode("utf-8")
    if isinstance(contacts, os.PathLike):
        try:
            return Path(contacts).read_bytes()
        except OSError as exc:
            raise SigmaMindInvalidInputError(
                f"contacts: cannot read {os.fspath(contacts)!r}: {exc.strerror or type(exc).__name__}"
            ) from None
    if isinstance(contacts, Sequence) and not isinstance(contacts, bytearray):
        try:
            return rows_to_csv(contacts).encode("utf-8")
        except ValueError as exc:
            raise SigmaMindInvalidInputError(f"contacts: {exc}") from None
    raise SigmaMindInvalidInputError(
        f"contacts must be CSV text, bytes, a path or a list of rows (mappings), got {type(contacts).__name__}"
    )


def problems_error(what: str, problems: Sequence[str]) -> SigmaMindInvalidInputError:
    """One error listing every problem: the first :data:`MAX_PROBLEMS_SHOWN` in its message, all on ``problems``.

    :param what: what did not happen, e.g. ``"campaign 'Q4' was not created"``.
    :param problems: the problems, in order.
    """
    error = SigmaMindInvalidInputError(_problems_text(f"{what}:", problems))
    error.problems = list(problems)  # type: ignore[attr-defined]
    return error


def _problems_text(what: str, problems: Sequence[str]) -> str:
    noun = "problem" if len(problems) == 1 else "problems"
    lines = [f"{what} {len(problems)} {noun} found before sending:"]
    lines += [f"  - {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    return "\n".join(lines)


def may_have_created(error: SigmaMindError) -> bool:
    """Whether a create that raised ``error`` may have created the campaign anyway.

    True after a timeout, a dropped connection, a 5xx or an unreadable answer; false when SigmaMind
    refused the request (4xx) or the connection never got as far as TLS.
    """
    return isinstance(error, SigmaMindServerError | SigmaMindResponseError) or (
        isinstance(error, SigmaMindTransportError) and not isinstance(error, SigmaMindTLSError)
    )


def explain_create_failure(error: SigmaMindError, campaign_name: object) -> SigmaMindError:
    """Add to a failed create's error whether the campaign may exist anyway, and what to do.

    A create is sent once: after a timeout, a dropped connection, a 5xx or an unreadable answer
    SigmaMind may have created the campaign, so the error says to look for it before creating it
    again; a 409 is most likely an earlier attempt whose answer was lost; a 429 created nothing.

    :param error: the error the request raised; changed in place and returned.
    :param campaign_name: the name the create sent.
    """
    name = shorten(campaign_name)
    if isinstance(error, SigmaMindRateLimitError):
        return error.add_detail("; nothing was created (rate limited), so creating it again later is safe")
    if may_have_created(error):
        return error.add_detail(
            f"; the create was sent once and not retried, because SigmaMind may have created campaign {name} "
            "anyway: look for it (SigmaMindHook.list_campaigns(), ListCampaignsOperator or the dashboard) "
            "before creating it again"
        )
    if isinstance(error, SigmaMindRejectedError) and error.status_code == 409:
        return error.add_detail(
            f"; campaign names are unique per account and {name} is taken, perhaps by an earlier "
            "attempt whose answer was lost"
        )
    return error


def report_created(campaign: Campaign, log: Logger) -> None:
    """Log a created campaign, and every contact-list row error SigmaMind reported with it."""
    log.info("Created %s", campaign.summary())
    if campaign.errors:
        rows = "\n".join(f"  - {error}" for error in campaign.errors)
        log.warning(
            "SigmaMind reported %d contact-list row error(s) for campaign %r:\n%s",
            len(campaign.errors),
            campaign.campaign_id,
            rows,
        )
