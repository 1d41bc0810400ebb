"""Writing calls to a file, streaming, in bounded memory: the formats, the summary, the atomic move.

No Airflow and no HTTP here: the export operator
(:class:`~airflow_provider_sigmamind.operators.calls.ExportCampaignCallsOperator`) feeds it the
calls the hook lists and an ``ObjectStoragePath`` (or any path object with ``open``, ``rename``,
``unlink``, ``parent``, ``glob`` and ``name``, as fsspec's universal paths have).

* **Formats.** ``jsonl`` (one JSON object per line, ``variables`` as an object), ``csv`` (a header
  row, ``variables`` as JSON text) and ``parquet`` (typed columns: timestamps in UTC, the duration
  as a double; needs ``pyarrow``). The columns are :data:`~airflow_provider_sigmamind.models.CALL_COLUMNS`.
  A ``jsonl`` or ``csv`` target whose name ends in ``.gz`` is written gzip-compressed.
* **Atomic.** The file is written under a hidden temporary name beside the target
  (``.calls.jsonl.<random>.part``) and moved onto the target only once complete, so a reader never
  sees half a file under the real name; a failed write removes its temporary file, and the next run
  removes any a killed one left.
* **Summary.** Calls by status and by termination reason (at most :data:`MAX_KEYS` distinct values
  each, the rest under ``(other)``), total duration, and the median from a histogram of whole
  seconds (exact for whole-second durations, within half a second otherwise; durations of a day or
  more share one bucket), so a million calls cost a few hundred kilobytes at most.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import IO, Any, Protocol

from airflow_provider_sigmamind.exceptions import SigmaMindInvalidInputError
from airflow_provider_sigmamind.models import CALL_COLUMNS, Call

__all__ = ["FORMATS", "MAX_KEYS", "CallSummary", "Progress", "check_format", "write_calls"]

FORMATS = ("jsonl", "csv", "parquet")
#: Distinct statuses (and reasons) a summary names; more are counted under ``(other)``.
MAX_KEYS = 50
#: Whole seconds the duration histogram resolves; longer calls share its last bucket.
HISTOGRAM_SECONDS = 86_400
#: Rows per Parquet row group: the most rows held in memory at once.
PARQUET_ROWS = 10_000
_COLUMNS = [name for name, _, _ in CALL_COLUMNS]
_TIMESTAMPS = {name for name, kind, _ in CALL_COLUMNS if kind == "timestamp"}


class WritablePath(Protocol):
    """What the export needs of a path: an ``ObjectStoragePath`` has all of it."""

    @property
    def name(self) -> str: ...

    @property
    def parent(self) -> Any: ...

    def open(self, mode: str) -> IO[bytes]: ...

    def rename(self, target: Any) -> Any: ...

    def unlink(self) -> None: ...


def check_format(value: object) -> str:
    """The export format, checked: ``jsonl``, ``csv`` or ``parquet`` (only where ``pyarrow`` imports).

    :raises SigmaMindInvalidInputError: for another format, or Parquet without ``pyarrow``.
    """
    if value not in FORMATS:
        raise SigmaMindInvalidInputError(f"format must be one of {', '.join(FORMATS)}, got {value!r}")
    if value == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise SigmaMindInvalidInputError(
                "format='parquet' needs pyarrow, which this worker cannot import: install "
                "'airflow-provider-sigmamind[parquet]' (or pyarrow), or export jsonl or csv"
            ) from None
    return str(value)


class CallSummary:
    """Counts and durations of the calls exported, in bounded memory, as a small JSON-safe dict."""

    def __init__(self) -> None:
        self.calls = 0
        self.by_status: Counter[str] = Counter()
        self.by_reason: Counter[str] = Counter()
        self.timed = 0
        self.total_seconds = 0.0
        self.histogram: Counter[int] = Counter()

    def add(self, call: Call) -> None:
        """Count one call."""
        self.calls += 1
        _count(self.by_status, call.status_text)
        _count(self.by_reason, call.reason_text)
        if call.duration is not None:
            self.timed += 1
            self.total_seconds += call.duration
            self.histogram[min(round(call.duration), HISTOGRAM_SECONDS)] += 1

    def median_seconds(self) -> float | None:
        """The median duration from the histogram (``None`` when no call has one)."""
        if not self.timed:
            return None
        low, high = (self.timed - 1) // 2, self.timed // 2  # the middle one or two, zero-based
        seen, values = 0, list[int]()
        for seconds in sorted(self.histogram):
            seen += self.histogram[seconds]
            while len(values) < 2 and seen > (low, high)[len(values)]:
                values.append(seconds)
            if len(values) == 2:
                break
        return (values[0] + values[1]) / 2

    def as_dict(self) -> dict[str, Any]:
        """The summary for XCom: counts by status and reason, total and median duration in seconds."""
        total = self.total_seconds
        return {
            "calls": self.calls,
            "byStatus": dict(self.by_status.most_common()),
            "byTerminationReason": dict(self.by_reason.most_common()),
            "callsWithDuration": self.timed,
            "totalDurationSeconds": int(total) if total.is_integer() else round(total, 3),
            "medianDurationSeconds": self.median_seconds(),
        }


def _count(counter: Counter[str], value: str | None) -> None:
    key = "(none)" if value is None else value
    if key in counter or len(counter) < MAX_KEYS:
        counter[key] += 1
    else:
        counter["(other)"] += 1


class Progress(Iterator[Call]):
    """Passes calls through, logging every ``every`` seconds how far the listing has got.

    :param calls: a listing with ``pages`` and ``listed`` counters (see :mod:`~airflow_provider_sigmamind.paging`).
    :param log: where the lines go.
    :param what: the subject of the log lines (``campaign 'camp_…'``).
    :param every: seconds between two lines.
    """

    def __init__(self, calls: Iterator[Call], log: logging.Logger | Any, what: str, every: float = 30.0) -> None:
        self.calls = calls
        self.log = log
        self.what = what
        self.every = every
        self.exported = 0
        self.started = self._last = time.monotonic()

    def __next__(self) -> Call:
        call = next(self.calls)
        self.exported += 1
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self.report()
        return call

    def report(self, done: bool = False) -> None:
        """Log one line: calls exported, calls read, pages read, and the rate."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        listed, pages = getattr(self.calls, "listed", self.exported), getattr(self.calls, "pages", 0)
        self.log.info(
            "%s %d calls of %s: %d calls read in %d pages in %.1fs (%.0f calls/s)",
            "Exported" if done else "Exporting:",
            self.exported,
            self.what,
            listed,
            pages,
            elapsed,
            listed / elapsed,
        )


def write_calls(calls: Iterable[Call], target: WritablePath, format: str) -> CallSummary:
    """Write ``calls`` to ``target`` in ``format``, atomically, and return their summary.

    :param calls: the calls, consumed once.
    :param target: where the file goes (replaced if it exists).
    :param format: ``jsonl``, ``csv`` or ``parquet`` (see :func:`check_format`).
    """
    format = check_format(format)
    summary = CallSummary()
    _remove_stale(target)
    temporary = target.parent / f".{target.name}.{uuid.uuid4().hex[:12]}.part"
    try:
        with temporary.open("wb") as raw:
            compressed = format != "parquet" and target.name.endswith(".gz")
            binary: Any = gzip.GzipFile(fileobj=raw, mode="wb") if compressed else contextlib.nullcontext(raw)
            with binary as stream:
                _WRITERS[format](calls, stream, summary)
        temporary.rename(target)
    except BaseException:
        with contextlib.suppress(Exception):
            temporary.unlink()
        raise
    return summary


def _remove_stale(target: WritablePath) -> None:
    """Remove the temporary files a killed run of this export left beside ``target``."""
    with contextlib.suppress(Exception):  # a store that cannot list still gets its file written
        for stale in target.parent.glob(f".{target.name}.*.part"):
            stale.unlink()


class _Chunks:
    """Text gathered into chunks of about a megabyte before each write (a store's file object, and
    Airflow's lineage wrapper around it, cost something per call).

    :param binary: the file to write the UTF-8 bytes to.
    """

    def __init__(self, binary: IO[bytes]) -> None:
        self.binary = binary
        self.parts: list[str] = []
        self.size = 0

    def write(self, text: str) -> None:
        self.parts.append(text)
        self.size += len(text)
        if self.size >= 1 << 20:
            self.flush()

    def flush(self) -> None:
        if self.parts:
            self.binary.write("".join(self.parts).encode("utf-8"))
            self.parts, self.size = [], 0


def _jsonl(calls: Iterable[Call], binary: IO[bytes], summary: CallSummary) -> None:
    out = _Chunks(binary)
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=str).encode
    for call in calls:
        summary.add(call)
        out.write(dumps(call.record()) + "\n")
    out.flush()


def _csv(calls: Iterable[Call], binary: IO[bytes], summary: CallSummary) -> None:
    out = _Chunks(binary)
    writer = csv.writer(out)
    writer.writerow(_COLUMNS)
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=str).encode
    for call in calls:
        summary.add(call)
        record = call.record()
        record["variables"] = dumps(record["variables"])
        writer.writerow(["" if value is None else value for value in record.values()])
    out.flush()


def parquet_schema() -> Any:
    """The Parquet schema of an export: strings, UTC timestamps (ms), a double, JSON as text."""
    import pyarrow as pa

    types = {"string": pa.string(), "json": pa.string(), "double": pa.float64(), "timestamp": pa.timestamp("ms", "UTC")}
    return pa.schema([(name, types[kind]) for name, kind, _ in CALL_COLUMNS])


def _parquet(calls: Iterable[Call], binary: IO[bytes], summary: CallSummary) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema()
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False, default=str).encode
    with pq.ParquetWriter(binary, schema, compression="zstd") as writer:
        columns: dict[str, list[Any]] = {name: [] for name in _COLUMNS}
        for call in calls:
            summary.add(call)
            record = call.record()
            record["variables"] = dumps(record["variables"])
            for name in _TIMESTAMPS:
                record[name] = getattr(call, name)
            duration = record["duration_seconds"]
            record["duration_seconds"] = None if duration is None else float(duration)
            for name, value in record.items():
                columns[name].append(value)
            if len(columns["call_id"]) >= PARQUET_ROWS:
                writer.write_table(pa.table(columns, schema=schema))
                columns = {name: [] for name in _COLUMNS}
        if columns["call_id"] or not summary.calls:
            writer.write_table(pa.table(columns, schema=schema))


_WRITERS = {"jsonl": _jsonl, "csv": _csv, "parquet": _parquet}
