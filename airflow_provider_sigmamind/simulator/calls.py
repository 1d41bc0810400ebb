"""The calls of the SigmaMind simulator: what a live campaign dials, and ``/v1/calls``.

A campaign with contacts dials them in order, at most ``concurrentCalls`` at once: each call holds
its line for one *slot* of the simulator clock (the campaign's live window divided evenly, so the
last round ends as the campaign completes; :attr:`CallMix.call_seconds` for a campaign with no end).
A call is ``in-progress`` during its slot and then has its outcome. Time runs faster than on a real
line: ``duration`` is drawn from the outcome's range (tens of seconds to minutes) while the slot may
last a fraction of a second, and ``endTime`` is ``startTime`` plus ``duration``.

Nothing is stored per call: call ``i`` of a campaign is generated from the campaign's seed and ``i``
whenever it is served, so a campaign can hold a million calls at the cost of one object. The status
filter of the list is served from one array of indexes per status, built on first use.

Drift, as SigmaMind's reference shows it: statuses from the newer enum (``ended``, ``not-connected``,
``error``) or the older one (``completed``, ``failed``), ``variables`` or ``dynamicVariables`` to
match, ``recordingUrl`` in the newer generation only; termination reasons outside the documented set
(``inactive``, ``user_ended_call``); phone numbers as strings or bare numbers; call ids ``call_…`` or
``call-…``; null times and duration while a call is in progress.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import itertools
import math
import string
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from airflow_provider_sigmamind.simulator.campaigns import PHONE_PATTERN, Campaign, snake_case

#: Every status the call list accepts as a filter (both generations of the enum).
CALL_STATUSES = ("scheduled", "in-progress", "completed", "failed", "ended", "not-connected", "error")
#: The older generation's name for each newer final status.
OLDER_STATUS = {"ended": "completed", "not-connected": "failed", "error": "failed"}
#: Reasons the API's own examples use outside the documented enum, for the reasons they stand in for.
ODD_REASONS = {"customer_ended_call": "user_ended_call", "inactivity": "inactive"}
_MASK = (1 << 64) - 1
_UNIT = 1 / 65536
_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class Outcome:
    """One way a call can end, and how often.

    :param status: the final status in the newer enum (``ended``, ``not-connected``, ``error``);
        the older generation serves it as ``completed`` or ``failed``.
    :param weight: how often, relative to the other outcomes.
    :param reasons: termination reason -> relative weight.
    :param duration: the smallest and largest ``duration`` in whole seconds.
    """

    status: str
    weight: float
    reasons: Mapping[str, float]
    duration: tuple[int, int] = (0, 0)

    def __post_init__(self) -> None:
        if self.weight < 0 or not self.reasons or any(w < 0 for w in self.reasons.values()):
            raise ValueError(f"outcome {self.status!r}: weights must be >= 0 and reasons not empty")
        low, high = self.duration
        if not 0 <= low <= high:
            raise ValueError(f"outcome {self.status!r}: duration must be (low, high) with 0 <= low <= high")


DEFAULT_OUTCOMES = (
    Outcome(
        "ended",
        0.6,
        {"customer_ended_call": 0.5, "agent_ended_call": 0.3, "inactivity": 0.1, "voicemail": 0.1},
        (15, 420),
    ),
    Outcome("not-connected", 0.3, {"no-answer": 0.6, "busy": 0.4}),
    Outcome("error", 0.1, {"failed": 1.0}, (0, 3)),
)


def _cumulative(weights: Sequence[float]) -> list[float]:
    total = sum(weights)
    if total <= 0:
        raise ValueError("at least one weight must be > 0")
    return [value / total for value in itertools.accumulate(weights)]


@dataclass(frozen=True)
class CallMix:
    """What the simulated calls are like: outcomes, durations, reasons and drift.

    :param outcomes: the possible outcomes with their weights.
    :param generation: ``"newer"`` (``ended``/``not-connected``/``error``, ``dynamicVariables``,
        ``recordingUrl``), ``"older"`` (``completed``/``failed``, ``variables``) or ``"mixed"`` (each
        call one or the other).
    :param odd_reasons: share of the reasons that have an undocumented twin served as that twin.
    :param numeric_phones: share of phone numbers served as bare numbers instead of strings.
    :param call_seconds: simulator-clock seconds a call holds its line when the campaign has no end.
    :param seed: varies the calls; the same seed serves a campaign of the same id the same calls.
    """

    outcomes: tuple[Outcome, ...] = DEFAULT_OUTCOMES
    generation: Literal["newer", "older", "mixed"] = "mixed"
    odd_reasons: float = 0.1
    numeric_phones: float = 0.2
    call_seconds: float = 0.2
    seed: int = 0
    _tables: tuple[list[float], list[list[float]]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.generation not in ("newer", "older", "mixed"):
            raise ValueError("generation must be 'newer', 'older' or 'mixed'")
        if not (0 <= self.odd_reasons <= 1 and 0 <= self.numeric_phones <= 1):
            raise ValueError("odd_reasons and numeric_phones are shares between 0 and 1")
        if self.call_seconds < 0:
            raise ValueError("call_seconds must be >= 0")
        if not self.outcomes:
            raise ValueError("outcomes must not be empty")
        tables = (
            _cumulative([o.weight for o in self.outcomes]),
            [_cumulative(list(o.reasons.values())) for o in self.outcomes],
        )
        object.__setattr__(self, "_tables", tables)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallMix:
        """Build a mix from JSON (the admin API): outcomes as ``{"status", "weight", "reasons", "duration"}``.

        :param data: the decoded JSON object.
        """
        args = dict(data)
        if "outcomes" in args:
            args["outcomes"] = tuple(
                Outcome(o["status"], o["weight"], o["reasons"], tuple(o.get("duration", (0, 0))))
                for o in args["outcomes"]
            )
        return cls(**args)

    def final(self, h: int, older: bool) -> tuple[str, str, int]:
        """The served status, reason and duration of the call whose hash is ``h``."""
        cumulative, reason_tables = self._tables
        index = min(bisect.bisect_right(cumulative, (h & 0xFFFF) * _UNIT), len(self.outcomes) - 1)
        outcome = self.outcomes[index]
        reasons = list(outcome.reasons)
        reason = reasons[min(bisect.bisect_right(reason_tables[index], (h >> 16 & 0xFFFF) * _UNIT), len(reasons) - 1)]
        if reason in ODD_REASONS and (h >> 32 & 0xFFFF) * _UNIT < self.odd_reasons:
            reason = ODD_REASONS[reason]
        low, high = outcome.duration
        duration = low + (h >> 48) % (high - low + 1)
        status = OLDER_STATUS.get(outcome.status, outcome.status) if older else outcome.status
        return status, reason, duration


def _iso(instant: datetime) -> str:
    """A UTC instant as the API writes it (``2025-09-25T19:00:00.000Z``), faster than ``iso_utc``."""
    return instant.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def _hash(value: int) -> int:
    """SplitMix64: 64 well-mixed bits from an integer (cheap, and the same in every process)."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def check_counts(*, calls: object, concurrent_calls: object) -> None:
    """Refuse a number of contacts below 0 or of lines below 1 (``ValueError``)."""
    for name, value, least in (("calls", calls, 0), ("concurrent_calls", concurrent_calls, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be a whole number >= {least}, got {value!r}")


def contacts_from_csv(data: bytes) -> list[tuple[str, dict[str, str]]]:
    """The contacts a campaign dials: (phone, variables) of each row whose phone is valid.

    :param data: the uploaded CSV (already checked by :func:`~.campaigns.csv_row_errors`).
    """
    rows = [row for row in csv.reader(io.StringIO(data.decode("utf-8-sig"))) if any(cell.strip() for cell in row)]
    header = [cell.strip() for cell in rows[0]]
    phone = next(i for i, name in enumerate(header) if "phone" in name.lower())
    names = [(i, snake_case(name) or f"column_{i + 1}") for i, name in enumerate(header) if i != phone]
    contacts = []
    for row in rows[1:]:
        cells = [cell.strip() for cell in row] + [""] * (len(header) - len(row))
        if PHONE_PATTERN.fullmatch(cells[phone]):
            contacts.append((cells[phone], {name: cells[i] for i, name in names}))
    return contacts


@dataclass
class CallPlan:
    """The calls of one campaign: how many, whom, and when, from which every call is generated.

    :param campaign: the campaign dialling (its timeline, status and ``concurrentCalls`` are read live).
    :param count: how many contacts it dials.
    :param mix: what the calls are like.
    :param key: eight letters and digits in every call id of this campaign (see :func:`plan_key`).
    :param prefix: ``call_`` or ``call-``.
    :param origin: the simulator clock when the plan was made.
    :param wall_origin: the UTC wall time at ``origin``.
    :param contacts: (phone, variables) per contact; ``None`` generates them.
    """

    campaign: Campaign
    count: int
    mix: CallMix
    key: str
    prefix: str
    origin: float
    wall_origin: datetime
    contacts: list[tuple[str, dict[str, str]]] | None = None
    _by_status: dict[str, array[int]] | None = field(default=None, repr=False)
    _base: int = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._base = _hash(self.mix.seed ^ _digest(self.campaign.campaign_id))

    @property
    def lines(self) -> int:
        return max(1, self.campaign.concurrent_calls)

    @property
    def rounds(self) -> int:
        return -(-self.count // self.lines)

    def timing(self) -> tuple[float, float]:
        """``(start, slot)``: when the first round is dialled and how long each round lasts."""
        start = self.campaign.live_at if self.campaign.live_at is not None else self.origin
        end = self.campaign.complete_at
        if end is not None and self.rounds:
            return start, max(0.0, end - start) / self.rounds
        return start, self.mix.call_seconds

    def progress(self, now: float) -> tuple[int, int]:
        """``(finished, dialled)``: calls over, and calls started (in-progress ones included), at ``now``."""
        status = self.campaign.status_at(now)
        if status == "completed":
            return self.count, self.count
        if status == "scheduled":
            return 0, 0
        start, slot = self.timing()
        if now < start:
            return 0, 0
        done = self.rounds if slot <= 0 else min(self.rounds, math.floor((now - start) / slot))
        return min(self.count, done * self.lines), min(self.count, (done + 1) * self.lines)

    def hash_of(self, index: int) -> int:
        """64 random bits of call ``index``, the same every time it is served."""
        return _hash(self._base ^ index)

    def final_status(self, index: int) -> str:
        """The status call ``index`` has once it is over."""
        h = self.hash_of(index)
        return self.mix.final(h, self._older(_hash(h)))[0]

    def _older(self, h2: int) -> bool:
        generation = self.mix.generation
        return generation == "older" or (generation == "mixed" and bool(h2 & 1))

    def matching(self, status: str | None, now: float) -> Sequence[int]:
        """The indexes of the calls listed at ``now`` with ``status`` (every dialled one for ``None``)."""
        finished, dialled = self.progress(now)
        if status is None:
            return range(dialled)
        if status == "in-progress":
            return range(finished, dialled)
        if status == "scheduled":
            return range(0)
        if self._by_status is None:
            self._by_status = {}
            for index in range(self.count):
                self._by_status.setdefault(self.final_status(index), array("q")).append(index)
        indexes = self._by_status.get(status, array("q"))
        return indexes[: bisect.bisect_left(indexes, finished)]

    def call(self, index: int, now: float, campaign_payload: dict[str, Any]) -> dict[str, Any]:
        """Call ``index`` as the API serves it at ``now``.

        :param index: which contact.
        :param now: the simulator clock.
        :param campaign_payload: the campaign as served now (shared by every call of one answer).
        """
        h = self.hash_of(index)
        h2 = _hash(h)
        older = self._older(h2)
        start, slot = self.timing()
        finished, _ = self.progress(now)
        started = self.wall_origin + timedelta(seconds=start + (index // self.lines) * slot - self.origin)
        phone, variables = self._contact(index)
        numeric = (h2 >> 8 & 0xFFFF) * _UNIT < self.mix.numeric_phones
        start_text = _iso(started)
        call: dict[str, Any] = {
            "callId": f"{self.prefix}{self.key}{index:09d}",
            "callType": "outbound",
            "phoneNumber": int(phone[1:]) if numeric and phone[1:].isdigit() else phone,
            "campaign": campaign_payload,
            "status": "in-progress",
            "startTime": start_text,
            "endTime": None,
            "createdAt": start_text,
            "updatedAt": start_text,
            "duration": None,
            "terminationReason": None,
            "variables" if older else "dynamicVariables": variables,
            "agent": {"name": "Simulated Agent", "agentId": self.campaign.agent_id, "status": "Live"},
        }
        if index < finished:
            status, reason, duration = self.mix.final(h, older)
            ended = _iso(started + timedelta(seconds=duration))
            call.update(status=status, terminationReason=reason, duration=duration, endTime=ended, updatedAt=ended)
            if not older and status == "ended":
                call["recordingUrl"] = f"https://recordings.sim.invalid/{call['callId']}.wav"
        return call

    def _contact(self, index: int) -> tuple[str, dict[str, str]]:
        if self.contacts is not None:
            return self.contacts[index]
        return f"+1415{(5550000 + index) % 10_000_000:07d}", {"customer_name": f"Contact {index}"}


def _digest(text: str) -> int:
    """A stable 64-bit digest of ``text`` (``hash()`` of a str changes with every process)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def plan_key(campaign_id: str, attempt: int) -> str:
    """Eight letters and digits for a campaign's call ids, the same for the same campaign id."""
    value, letters = _digest(f"{attempt}:{campaign_id}"), []
    for _ in range(8):
        value, digit = divmod(value, len(_ALPHABET))
        letters.append(_ALPHABET[digit])
    return "".join(letters)


class CallBook:
    """Every campaign's call plan, in the order the campaigns were added (the list's order).

    :param mix: the default mix for new plans.
    """

    def __init__(self, mix: CallMix | None = None) -> None:
        self.mix = mix or CallMix()
        self.plans: dict[str, CallPlan] = {}
        self._by_key: dict[str, CallPlan] = {}

    def add(
        self,
        campaign: Campaign,
        *,
        now: float,
        wall_now: datetime,
        count: int | None = None,
        contacts: list[tuple[str, dict[str, str]]] | None = None,
        mix: CallMix | None = None,
    ) -> None:
        """Give a campaign its calls: ``contacts`` (from its CSV), or ``count`` generated ones.

        A campaign already completed when its plan is made dialled in the past.
        """
        count = len(contacts) if contacts is not None else count or 0
        if not count:
            return
        attempt = 0
        while plan_key(campaign.campaign_id, attempt) in self._by_key:
            attempt += 1
        key = plan_key(campaign.campaign_id, attempt)
        plan = CallPlan(campaign, count, mix or self.mix, key, "call_", now, wall_now, contacts)
        plan.prefix = "call-" if plan.hash_of(-1) & 1 else "call_"  # both forms are seen in the docs
        if campaign.status_at(now) == "completed" and campaign.complete_at is None:
            _, slot = plan.timing()  # every call, its duration included, lies before now
            longest = max(outcome.duration[1] for outcome in plan.mix.outcomes)
            plan.wall_origin = wall_now - timedelta(seconds=plan.rounds * slot + longest)
        self.plans[campaign.campaign_id] = plan
        self._by_key[key] = plan

    def remove(self, campaign_id: str) -> None:
        """Forget a campaign's calls (a deleted campaign's calls are gone too)."""
        plan = self.plans.pop(campaign_id, None)
        if plan is not None:
            del self._by_key[plan.key]

    def clear(self) -> None:
        self.plans.clear()
        self._by_key.clear()

    def find(self, call_id: str, now: float) -> tuple[CallPlan, int] | None:
        """The plan and index of a call that exists at ``now``, else ``None``."""
        plan = self._by_key.get(call_id[5:13])
        digits = call_id[13:]
        if plan is None or not call_id.startswith(plan.prefix) or not (digits.isdigit() and len(digits) == 9):
            return None
        index = int(digits)
        return (plan, index) if index < plan.progress(now)[1] else None

    def page(self, status: str | None, now: float, page: int, size: int) -> tuple[list[dict[str, Any]], int]:
        """The calls on one page of the list (oldest campaign first, then in dialling order), and the total."""
        selections = [(plan, plan.matching(status, now)) for plan in self.plans.values()]
        total = sum(len(indexes) for _, indexes in selections)
        wanted, served = range(page * size, (page + 1) * size), []
        offset = 0
        for plan, indexes in selections:
            low, high = max(wanted.start - offset, 0), min(wanted.stop - offset, len(indexes))
            if low < high:
                campaign_payload = plan.campaign.payload(now)
                served += [plan.call(indexes[i], now, campaign_payload) for i in range(low, high)]
            offset += len(indexes)
        return served, total

    def calls_of(self, campaign_id: str, now: float) -> Iterator[dict[str, Any]]:
        """Every call of one campaign listed at ``now`` (for tests and the Python API)."""
        plan = self.plans.get(campaign_id)
        if plan is not None:
            payload = plan.campaign.payload(now)
            yield from (plan.call(index, now, payload) for index in plan.matching(None, now))
