"""The deferred wait's event protocol, defined once: what the trigger sends and what the sensor makes of it.

A :class:`~airflow_provider_sigmamind.triggers.campaign.CampaignStatusTrigger` ends with exactly one
event, a small JSON object built here; ``CampaignStatusSensor.execute_complete`` reads it with
:func:`outcome`, which returns the campaign payload or raises the exception poke mode would have
raised: the same class, with the same attributes (``message``, ``status_code``, ``server_message``,
``path``, ``campaign_id``, ``retry_after``, ``attempts``).

The events:

- ``{"status": "success", "campaign": <payload as SigmaMind sent it>}``
- ``{"status": "failure", "message": ..., "campaign_id": ...}``: a failure status, or one that can
  never become a target (:class:`~airflow_provider_sigmamind.exceptions.SigmaMindCampaignStatusError`).
- ``{"status": "error", "error_class": ..., "message": ..., "campaign_id": ..., "status_code": ...,
  "server_message": ..., "path": ..., "retry_after": ..., "attempts": ...}`` (and ``"retryable"`` when
  the error overrides its class's): an error of the provider (``error_class`` names it, one of
  :mod:`airflow_provider_sigmamind.exceptions`), an Airflow error that poke mode raises as well
  (the deadline: ``"AirflowSensorTimeout"``, a missing connection: ``"AirflowNotFoundException"``),
  or an unexpected exception in the triggerer.

Events of the previous release (an ``error`` without the newer fields) are still understood: the
missing attributes are ``None``.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_sigmamind import exceptions
from airflow_provider_sigmamind.compat import AirflowNotFoundException, AirflowSensorTimeout, AirflowTaskTimeout
from airflow_provider_sigmamind.exceptions import SigmaMindCampaignStatusError, SigmaMindError

__all__ = [
    "TIMEOUT_ERROR_CLASS",
    "error_event",
    "error_of",
    "failure_event",
    "outcome",
    "success_event",
    "timeout_event",
]

#: ``error_class`` of the event sent when the deadline passes (the sensor raises ``AirflowSensorTimeout``).
TIMEOUT_ERROR_CLASS = AirflowSensorTimeout.__name__

#: Airflow's own errors that poke mode raises too, rebuilt by name with their message.
_AIRFLOW_ERRORS: dict[str, type[BaseException]] = {
    cls.__name__: cls for cls in (AirflowSensorTimeout, AirflowTaskTimeout, AirflowNotFoundException)
}
#: The attributes of a :class:`SigmaMindError` that an event carries, besides its class and message.
_ERROR_FIELDS = ("status_code", "server_message", "path", "retry_after", "attempts")


def success_event(payload: Any) -> dict[str, Any]:
    """The wait reached a target status; ``payload`` is the campaign as SigmaMind sent it."""
    return {"status": "success", "campaign": payload}


def failure_event(reason: str, campaign_id: str) -> dict[str, Any]:
    """The campaign reached a status that fails the wait (poke mode raises ``SigmaMindCampaignStatusError``)."""
    return {"status": "failure", "message": reason, "campaign_id": campaign_id}


def timeout_event(message: str, campaign_id: str, *, error_class: str = TIMEOUT_ERROR_CLASS) -> dict[str, Any]:
    """The deadline passed undecided (poke mode raises ``AirflowSensorTimeout``).

    :param error_class: ``"AirflowTaskTimeout"`` when the task's ``execution_timeout`` was the deadline.
    """
    return {"status": "error", "error_class": error_class, "message": message, "campaign_id": campaign_id}


def error_event(exc: BaseException, campaign_id: str) -> dict[str, Any]:
    """An error that ended the wait: everything :func:`outcome` needs to raise it again, as primitives.

    :param exc: the error, a :class:`SigmaMindError` (its attributes travel) or any other exception
        (only its class name and message travel).
    :param campaign_id: the campaign waited for, named when ``exc`` names none.
    """
    event: dict[str, Any] = {
        "status": "error",
        "error_class": type(exc).__name__,
        "message": str(exc) or type(exc).__name__,
        "campaign_id": campaign_id,
        "status_code": None,
    }
    if isinstance(exc, SigmaMindError):
        event["message"] = exc.message
        event["campaign_id"] = exc.campaign_id
        event.update({name: getattr(exc, name) for name in _ERROR_FIELDS})
        if "retryable" in vars(exc):  # set for this one error, not left to its class
            event["retryable"] = exc.retryable
    return event


def _provider_error_class(name: str) -> type[SigmaMindError] | None:
    """The exported :class:`SigmaMindError` subclass called ``name``, if there is one."""
    cls = getattr(exceptions, name, None) if name in exceptions.__all__ else None
    return cls if isinstance(cls, type) and issubclass(cls, SigmaMindError) else None


def outcome(event: object, *, campaign_id: str) -> Any:
    """What a trigger's event means for the sensor: the campaign payload, or the exception poke mode raises.

    :param event: the trigger's event, as ``execute_complete`` received it.
    :param campaign_id: the sensor's campaign, for events that name none.
    :returns: the campaign payload of a ``success`` event.
    :raises SigmaMindCampaignStatusError: for a ``failure`` event.
    :raises SigmaMindError: the subclass an ``error`` event names, with its attributes; the base class
        for an event that is not understood or names an exception of no known class.
    :raises AirflowSensorTimeout: when the trigger reached the sensor's deadline (and the other
        Airflow errors poke mode raises as they are: ``AirflowTaskTimeout``, ``AirflowNotFoundException``).
    """
    error = error_of(event, campaign_id=campaign_id)
    if error is not None:
        raise error
    assert isinstance(event, dict)
    return event.get("campaign")


def error_of(event: object, *, campaign_id: str) -> BaseException | None:
    """The exception :func:`outcome` raises for ``event``, or ``None`` for a ``success`` event."""
    if not isinstance(event, dict) or event.get("status") not in ("success", "failure", "error"):
        return SigmaMindError(f"the trigger sent no usable event for campaign {campaign_id!r}: {event!r}")
    if event["status"] == "success":
        return None
    message = str(event.get("message") or "no reason given")
    named = event.get("campaign_id", campaign_id)
    if event["status"] == "failure":
        return SigmaMindCampaignStatusError(message, campaign_id=named)
    error_class = str(event.get("error_class") or "")
    if error_class in _AIRFLOW_ERRORS:
        return _AIRFLOW_ERRORS[error_class](message)
    cls = _provider_error_class(error_class)
    if cls is None:
        return SigmaMindError(f"{error_class or 'error'} in the triggerer: {message}", campaign_id=named)
    retryable = event.get("retryable")
    return cls(
        message,
        campaign_id=named,
        retryable=retryable if isinstance(retryable, bool) else None,
        **{name: event.get(name) for name in _ERROR_FIELDS},
    )
