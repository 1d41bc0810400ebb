"""One wait for a campaign, shared by the sensor (poke and reschedule modes) and the trigger.

The sensor and the trigger differ only in how they sleep between polls and how they report the end
(a return value or exception, or an event). Everything else is here, once: checking the wait's
settings, judging each observation (:func:`~airflow_provider_sigmamind.models.judge`), logging
status changes and the first unknown status, and counting failed polls in a row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from collections.abc import Iterable
from typing import Any

from airflow_provider_sigmamind.exceptions import SigmaMindError
from airflow_provider_sigmamind.models import Campaign, CampaignStatus, Verdict, judge, parse_statuses
from airflow_provider_sigmamind.retry import RetryPolicy

__all__ = ["CampaignWatch", "next_poll_at", "poll_place", "poll_policy", "wait_settings"]


def poll_place(campaign_id: str, now: float, interval: float) -> float:
    """Where a wait on ``campaign_id`` that begins at ``now`` has its polls: the first moment from
    ``now`` on at the campaign's own place in the interval. Its polls after the first are due an
    interval apart from there (:func:`next_poll_at`), so the second comes one to two intervals
    after the wait began and no two polls of it are due closer than an interval.

    The place is a hash of the campaign id (as Prometheus spreads its scrapes by a hash of the
    target), not the moment the wait began: waits that begin together (a triggerer restarting, many
    tasks deferring at once) poll spread over the interval instead of together for good, and waits
    on one campaign poll together (one coalesced request can answer them all).
    """
    if interval <= 0:
        return now
    digest = hashlib.blake2b(campaign_id.encode(), digest_size=8).digest()
    offset = int.from_bytes(digest, "big") / 2**64 * interval
    return offset + math.ceil((now - offset) / interval) * interval


def next_poll_at(due: float, now: float, interval: float) -> float:
    """When the poll after one due at ``due`` is due: ``interval`` later, whenever that one ran.

    A poll a busy event loop woke late (behind a garbage collection, say) keeps its wait's place:
    waits deferred at different times stay spread over the interval instead of bunching behind every
    pause, which in a triggerer of thousands would grow into bursts of requests (docs/performance.md).
    A wait more than an interval behind (a poll that retried that long) skips to its next place.
    """
    if interval <= 0:
        return now
    due += interval
    if due < now:
        due += math.ceil((now - due) / interval) * interval
    return due


def wait_settings(
    target_statuses: Iterable[str | CampaignStatus] | str,
    failure_statuses: Iterable[str | CampaignStatus] | str | None,
    max_consecutive_errors: object,
) -> tuple[list[CampaignStatus], list[CampaignStatus], int]:
    """Check what a wait is told to wait for.

    :returns: the target statuses and failure statuses (sorted) and the failed-poll limit.
    :raises ValueError: naming the parameter at fault.
    """
    targets = sorted(parse_statuses(target_statuses, what="target_statuses"))
    failures = sorted(parse_statuses(failure_statuses, what="failure_statuses"))
    if not targets:
        raise ValueError("target_statuses: give at least one status to wait for")
    overlap = set(targets) & set(failures)
    if overlap:
        raise ValueError(f"target_statuses and failure_statuses overlap: {', '.join(sorted(s.value for s in overlap))}")
    if (
        isinstance(max_consecutive_errors, bool)
        or not isinstance(max_consecutive_errors, int)
        or max_consecutive_errors < 1
    ):
        raise ValueError(f"max_consecutive_errors must be a whole number >= 1, got {max_consecutive_errors!r}")
    return targets, failures, max_consecutive_errors


def poll_policy(
    policy: RetryPolicy, *, timeout: float, deadline: float | None, now: float | None = None
) -> RetryPolicy:
    """The retry policy for one poll of a wait that ends at ``deadline``: the hook's, cut to the time left.

    A poll may retry until the wait's deadline, and always has one request ``timeout`` (the last look
    at the deadline), so a wait ends at most one request timeout after its deadline, however long the
    hook's own retry budget (``policy.deadline``, 300 s by default).

    :param policy: the hook's retry policy.
    :param timeout: the hook's per-request timeout, in seconds.
    :param deadline: when the wait ends (epoch seconds), or ``None`` for never.
    :param now: the time (epoch seconds); default: now.
    """
    if deadline is None:
        return policy
    budget = max(deadline - (time.time() if now is None else now), timeout)
    return policy if budget >= policy.deadline else dataclasses.replace(policy, deadline=budget)


class CampaignWatch:
    """The state of one wait: the last status seen, whether an unknown one was warned about, and
    how many polls in a row have failed.

    :param targets: statuses that end the wait successfully.
    :param failures: statuses that fail it at once.
    :param max_consecutive_errors: failed polls in a row after which the wait fails.
    :param log: where status changes, warnings and tolerated failures are logged.
    :param started: when the wait began (epoch seconds), for "after N s of waiting"; default: now.
    :param last_status: the raw status last seen by whoever watched before (the sensor, before it
        deferred), so that an unchanged status is not logged as a change.
    :param consecutive_errors: failed polls in a row already counted by whoever watched before.
    """

    def __init__(
        self,
        *,
        targets: Iterable[CampaignStatus],
        failures: Iterable[CampaignStatus],
        max_consecutive_errors: int,
        log: Any,
        started: float | None = None,
        last_status: str | None = None,
        consecutive_errors: int = 0,
    ) -> None:
        self.targets = frozenset(targets)
        self.failures = frozenset(failures)
        self.max_consecutive_errors = max_consecutive_errors
        self.log = log
        self.started = time.time() if started is None else started
        self.consecutive_errors = consecutive_errors
        self.last_status = last_status
        # An unknown status seen before was warned about then.
        self._warned_unknown = last_status is not None and CampaignStatus.parse(last_status) is CampaignStatus.UNKNOWN
        # The last verdict and the campaign and status it judged: most polls see what the last one saw.
        self._judged: tuple[str, str | None, Verdict] | None = None

    def poll_failed(self, err: SigmaMindError) -> None:
        """Record a poll that raised ``err``; re-raise it when it is permanent or one too many in a row."""
        if not err.retryable:
            raise err
        self.consecutive_errors += 1
        if self.consecutive_errors >= self.max_consecutive_errors:
            raise err.add_detail(f"; {self.consecutive_errors} polls in a row failed, giving up")
        self.log.warning(
            "Poll failed (%d of %d in a row tolerated): %s",
            self.consecutive_errors,
            self.max_consecutive_errors - 1,
            err,
        )

    def observe(self, campaign: Campaign) -> Verdict:
        """Judge one observation, logging a status change, the end, or the first unknown status."""
        self.consecutive_errors = 0
        judged = self._judged
        if judged is not None and judged[0] == campaign.campaign_id and judged[1] == campaign.raw_status:
            verdict = judged[2]
        else:
            verdict = judge(
                campaign.status,
                targets=self.targets,
                failures=self.failures,
                raw_status=campaign.raw_status,
                campaign_id=campaign.campaign_id,
            )
            self._judged = (campaign.campaign_id, campaign.raw_status, verdict)
        if campaign.raw_status != self.last_status:
            waited = time.time() - self.started
            self.log.info(
                "Campaign %r is now %r after %.1fs of waiting", campaign.campaign_id, campaign.raw_status, waited
            )
            self.last_status = campaign.raw_status
        if verdict.outcome == "success":
            self.log.info("Done: %s", campaign.summary())
        elif campaign.status is CampaignStatus.UNKNOWN and not self._warned_unknown:
            self.log.warning("%s", verdict.reason)
            self._warned_unknown = True
        return verdict
