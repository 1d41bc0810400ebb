"""The SigmaMind simulator: a local asyncio HTTP/1.1 server that speaks the campaign API.

It runs its own event loop in a daemon thread, so a test and a console process use it the same way,
and it holds thousands of keep-alive connections (no thread per connection).
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import os
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from airflow_provider_sigmamind.simulator.admin import admin_response
from airflow_provider_sigmamind.simulator.api import CallApi, CampaignApi
from airflow_provider_sigmamind.simulator.calls import CallBook, CallMix, check_counts
from airflow_provider_sigmamind.simulator.campaigns import MISSING, Campaign, error_body, new_campaign_id, timeline
from airflow_provider_sigmamind.simulator.faults import Fault, FaultQueue
from airflow_provider_sigmamind.simulator.protocol import MAX_HEAD, ProtocolError, Request, Response, read_request
from airflow_provider_sigmamind.simulator.recording import RecordedRequest, RecordEntry, record_request
from airflow_provider_sigmamind.simulator.state import load_campaigns, save_campaigns
from airflow_provider_sigmamind.simulator.wire import send, serve_fault

DEFAULT_API_KEY = "sim-test-key"
LOOPBACK = "127.0.0.1"
_log = logging.getLogger(__name__)
_DEMO_ERRORS = ["Row 3: missing required variable 'customer_name'", "Row 7: invalid phone number '+1234'"]


class SigmaMindSimulator:
    """A local stand-in for the SigmaMind campaign API, listening on 127.0.0.1 only.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. All methods are thread-safe.

    :param api_key: the key every API request must send in ``X-API-Key``.
    :param host: must be ``127.0.0.1``.
    :param port: the port; 0 picks a free one.
    :param seed_demo: add four demo campaigns (again after every :meth:`reset`).
    :param live_duration: seconds a created campaign stays live before it is completed.
    :param clock: monotonic clock driving campaign timelines; pass your own to move time by hand.
    :param record_limit: how many recorded requests to keep (the oldest are dropped).
    :param ssl_context: serve HTTPS with this server context (its certificate for ``localhost``)
        instead of plain HTTP; for tests of TLS, proxies and CA bundles.
    :param max_page_size: cap every list page at this many items, silently (the real API documents
        no maximum; a server may still have one).
    :param list_envelope: the list envelope's fields to send besides ``data`` (default: all of
        ``page``, ``size``, ``totalCount``, ``totalPages``, ``hasNext``, ``hasPrevious``; the call
        list spells its total ``totalCounts``, and either name selects it).
    :param call_mix: what the campaigns' calls are like (outcomes, durations, reasons, drift);
        see :mod:`~airflow_provider_sigmamind.simulator.calls`.
    :param state_file: a JSON file that keeps the campaigns across restarts (not their calls): read
        when the simulator is made (the demo campaigns are added only when it holds none), written
        after every change (:mod:`~airflow_provider_sigmamind.simulator.state`).
    """

    def __init__(
        self,
        *,
        api_key: str = DEFAULT_API_KEY,
        host: str = LOOPBACK,
        port: int = 0,
        seed_demo: bool = False,
        live_duration: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        record_limit: int = 100_000,
        ssl_context: ssl.SSLContext | None = None,
        max_page_size: int | None = None,
        list_envelope: Collection[str] | None = None,
        call_mix: CallMix | None = None,
        state_file: str | os.PathLike[str] | None = None,
    ) -> None:
        if host != LOOPBACK:
            raise ValueError("the simulator only binds 127.0.0.1")
        if not api_key:
            raise ValueError("api_key must not be empty")
        if live_duration < 0:
            raise ValueError("live_duration must be >= 0")
        self.api_key = api_key
        self.host = host
        self._port = port
        self._key = api_key.encode()
        self._seed_demo = seed_demo
        self._live_duration = live_duration
        self._clock = clock
        self._lock = threading.RLock()
        self._api = CampaignApi(
            lock=self._lock,
            clock=clock,
            live_duration=live_duration,
            max_page_size=max_page_size,
            list_envelope=list_envelope,
            calls=CallBook(call_mix),
        )
        self._campaigns = self._api.campaigns
        self._calls = self._api.calls
        self._call_api = CallApi(lock=self._lock, clock=clock, calls=self._calls, paging=self._api.paging)
        self._faults = FaultQueue()
        self._records: deque[RecordEntry] = deque(maxlen=record_limit)
        self._stats = dict.fromkeys(
            ("open_connections", "peak_open_connections", "total_requests", "total_connections"), 0
        )
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._ssl_context = ssl_context
        self._state_file = state_file
        if state_file is not None:
            self._campaigns.update(load_campaigns(state_file, clock))
        if seed_demo and not self._campaigns:
            self._seed()

    def __repr__(self) -> str:
        """Describe the simulator without its key."""
        return f"SigmaMindSimulator(url={self.url!r}, running={self.running})"

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The listening port (the requested one until started)."""
        return self._port

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT`` (``https://localhost:PORT`` when serving TLS)."""
        if self._ssl_context is not None:
            return f"https://localhost:{self._port}"
        return f"http://{self.host}:{self._port}"

    @property
    def running(self) -> bool:
        """Whether the server thread is serving."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> SigmaMindSimulator:
        """Start serving in a daemon thread; return self once the socket listens.

        Raises the bind error (e.g. port in use) if listening fails.
        """
        if self.running:
            return self
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, name="sigmamind-simulator", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        return self

    def stop(self) -> None:
        """Close every connection and the listening socket, and join the thread. Idempotent."""
        thread = self._thread
        if thread is None:
            return
        if thread is threading.current_thread():
            raise RuntimeError("stop() cannot be called from the simulator's own thread")
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None and thread.is_alive():
            loop.call_soon_threadsafe(event.set)
        thread.join()
        self._thread = None

    def __enter__(self) -> SigmaMindSimulator:
        """Start the simulator."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the simulator."""
        self.stop()

    def _run(self) -> None:
        """Thread body: run the server's event loop until stopped."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start(); the thread must not die silently
            self._startup_error = self._startup_error or exc
        finally:
            self._ready.set()
            loop.close()
            self._loop = None

    async def _serve(self) -> None:
        """Listen, wait for stop, then close all connections."""
        self._stop_event = asyncio.Event()
        try:
            server = await asyncio.start_server(
                self._serve_connection, self.host, self._port, limit=MAX_HEAD, backlog=4096, ssl=self._ssl_context
            )
        except OSError as exc:
            self._startup_error = exc
            return
        self._port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            for task, writer in list(self._connections.items()):
                writer.transport.abort()
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await server.wait_closed()

    async def _serve_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve requests on one connection until either side closes it.

        :param reader: the connection's reader.
        :param writer: the connection's writer.
        """
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = writer
        with self._lock:
            self._stats["open_connections"] += 1
            self._stats["total_connections"] += 1
            self._stats["peak_open_connections"] = max(
                self._stats["peak_open_connections"], self._stats["open_connections"]
            )
        try:
            while True:
                try:
                    request = await read_request(reader, writer)
                except ProtocolError as exc:
                    body = error_body(exc.status, exc.message, "")
                    await send(writer, None, Response(exc.status, body), None)
                    break
                if request is None or not await self._answer(request, reader, writer):
                    break
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away mid-request or mid-response
        except asyncio.CancelledError:
            pass  # stop(): end quietly (Python 3.11's stream callback logs a cancelled handler)
        except Exception:
            _log.exception("SigmaMind simulator failed while answering; closing the connection")
        finally:
            self._connections.pop(task, None)
            with self._lock:
                self._stats["open_connections"] -= 1
            writer.close()

    # -- answering -------------------------------------------------------------------------------

    async def _answer(self, request: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; return whether the connection stays open.

        :param request: the request.
        :param reader: the connection's reader.
        :param writer: the connection's writer.
        """
        path = request.target.partition("?")[0]
        if path == "/_sim" or path.startswith("/_sim/"):
            peer = writer.get_extra_info("peername") or ("",)
            return await send(writer, request, admin_response(self, request, str(peer[0])), None)
        entry = record_request(request, self._key, self._clock)
        with self._lock:
            self._records.append(entry)
            self._stats["total_requests"] += 1
            fault = self._faults.take(entry.request.campaign_id)
        if fault is not None:
            return await self._serve_fault(fault, request, entry, reader, writer, None)
        return await self._serve_api(request, entry, reader, writer)

    async def _serve_api(
        self, request: Request, entry: RecordEntry, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer as the API would, including a campaign's script entry.

        :param request: the request.
        :param entry: its record.
        :param reader: the connection's reader.
        :param writer: the connection's writer.
        """
        response, script_fault = self._respond(request, entry)
        if script_fault is not None:
            return await self._serve_fault(script_fault, request, entry, reader, writer, response)
        if request.method == "GET" and entry.request.campaign_id is not None and response.status == 200:
            served = json.loads(response.body)
            entry.campaign_status = served.get("campaignStatus") if isinstance(served, dict) else None
        return await send(writer, request, response, entry)

    def _respond(self, request: Request, entry: RecordEntry) -> tuple[Response, Fault | None]:
        """The API's answer (and a campaign script's fault, if any), from the endpoint the path names.

        :param request: the request.
        :param entry: its record.
        """
        if request.segments[:3] == ["", "v1", "calls"]:
            return self._call_api.respond(request, entry.request), None
        answer = self._api.respond(request, entry.request)
        if request.method != "GET":
            self._save_state()
        return answer

    async def _serve_fault(
        self,
        fault: Fault,
        request: Request,
        entry: RecordEntry,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        normal: Response | None,
    ) -> bool:
        """Serve a fault; return whether the connection stays open.

        :param fault: the fault.
        :param request: the request.
        :param entry: its record.
        :param reader: the connection's reader.
        :param writer: the connection's writer.
        :param normal: the normal answer when already computed (script faults), else None.
        """
        entry.fault = entry.fault or fault.kind
        if fault.kind == "slow":
            await asyncio.sleep(fault.delay)
            if fault.then is not None:
                return await self._serve_fault(fault.then, request, entry, reader, writer, normal)
            if normal is not None:
                return await send(writer, request, normal, entry)
            return await self._serve_api(request, entry, reader, writer)
        return await serve_fault(
            fault, request, entry, reader, writer, lambda: normal or self._respond(request, entry)[0]
        )

    # -- the Python API --------------------------------------------------------------------------

    def add_campaign(
        self,
        campaign_id: str | None = None,
        *,
        name: str = "Simulated Campaign",
        status: str = "live",
        live_after: float | None = None,
        complete_after: float | None = None,
        script: list[str | Fault] | None = None,
        errors: list[str] | None = None,
        overrides: dict[str, Any] | None = None,
        concurrent_calls: int = 5,
        calls: int = 0,
        call_mix: CallMix | None = None,
    ) -> dict[str, Any]:
        """Add a campaign and return its payload as the API would serve it.

        Names need not be unique here (only the create endpoint enforces that).

        :param campaign_id: the id; default ``camp_`` and 16 random letters and digits.
        :param name: ``campaignName``.
        :param status: the status served when there is no timeline or script (any string, even unknown).
        :param live_after: seconds from now until live (``scheduled`` before); sets ``scheduledDate``.
        :param complete_after: seconds from now until ``completed``.
        :param script: statuses (served verbatim) or faults, one per GET of this campaign; the last
            repeats forever. Injected faults take precedence and do not consume an entry.
        :param errors: the CSV row errors to serve (``[]`` when None).
        :param overrides: fields merged into the payload last; a value of ``MISSING`` removes the field.
        :param concurrent_calls: ``concurrentCalls``: how many of its calls are in progress at once.
        :param calls: how many contacts it dials (generated, not stored: a million cost nothing);
            dialled from when it is live, all over once it is completed.
        :param call_mix: what its calls are like (default: the simulator's ``call_mix``).
        """
        now, wall_now = self._clock(), datetime.now(UTC)
        live_at, complete_at, scheduled_date = timeline(
            now=now, wall_now=wall_now, live_after=live_after, complete_after=complete_after
        )
        check_counts(calls=calls, concurrent_calls=concurrent_calls)
        for entry in script or []:
            if not isinstance(entry, str | Fault):
                raise TypeError(f"script entries must be str or Fault, not {type(entry).__name__}")
        try:
            json.dumps({key: value for key, value in (overrides or {}).items() if value is not MISSING})
        except (TypeError, ValueError):
            raise ValueError("overrides must be JSON-serialisable (or MISSING)") from None
        campaign = Campaign(
            campaign_id=new_campaign_id() if campaign_id is None else campaign_id,
            name=name,
            status=status,
            live_at=live_at,
            complete_at=complete_at,
            scheduled=live_after is not None or status == "scheduled",
            scheduled_date=scheduled_date,
            errors=None if errors is None else list(errors),
            overrides=copy.deepcopy(overrides or {}),
            script=list(script or []),
            concurrent_calls=concurrent_calls,
        )
        if not campaign.campaign_id:
            raise ValueError("campaign_id must not be empty")
        with self._lock:
            if campaign.campaign_id in self._campaigns:
                raise ValueError(f"campaign {campaign.campaign_id} already exists")
            self._campaigns[campaign.campaign_id] = campaign
            self._calls.add(campaign, now=now, wall_now=wall_now, count=calls, mix=call_mix)
            self._save_state()
            return copy.deepcopy(campaign.payload(now))

    def calls_of(self, campaign_id: str) -> list[dict[str, Any]]:
        """The calls of one campaign as ``GET /v1/calls`` serves them now, in dialling order.

        :param campaign_id: the campaign.
        """
        with self._lock:
            return copy.deepcopy(list(self._calls.calls_of(campaign_id, self._clock())))

    def set_status(self, campaign_id: str, status: str) -> None:
        """Pin a campaign's status, dropping its timeline and script. KeyError if unknown.

        :param campaign_id: the campaign.
        :param status: the status to serve from now on.
        """
        with self._lock:
            self._campaigns[campaign_id].force_status(status)
            self._save_state()

    def remove_campaign(self, campaign_id: str) -> None:
        """Remove a campaign (GETs answer 404 after). KeyError if unknown.

        :param campaign_id: the campaign.
        """
        with self._lock:
            del self._campaigns[campaign_id]
            self._save_state()
            self._calls.remove(campaign_id)

    def campaign(self, campaign_id: str) -> dict[str, Any]:
        """Return a campaign's current payload without consuming a script entry. KeyError if unknown.

        :param campaign_id: the campaign.
        """
        with self._lock:
            return copy.deepcopy(self._campaigns[campaign_id].payload(self._clock()))

    def inject(self, fault: Fault, *, campaign_id: str | None = None, times: int | None = 1) -> None:
        """Queue a fault for the next ``times`` matching API requests (faults queued first serve first).

        Injected faults act before the key is checked (they stand for the network or a proxy) and
        before a campaign's script, which they do not advance.

        :param fault: the fault.
        :param campaign_id: match only requests for this campaign id; None matches every API request.
        :param times: how many requests; None means forever.
        """
        if not isinstance(fault, Fault):
            raise TypeError("fault must be a Fault")
        if times is not None and (not isinstance(times, int) or times < 1):
            raise ValueError("times must be a positive int or None")
        with self._lock:
            self._faults.add(fault, campaign_id, times)

    def clear_faults(self) -> None:
        """Drop every queued fault (scripts are untouched)."""
        with self._lock:
            self._faults.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the recorded API requests, oldest first."""
        with self._lock:
            return [entry.freeze() for entry in self._records]

    def requests_for(self, campaign_id: str) -> list[RecordedRequest]:
        """The recorded requests addressed to one campaign id.

        :param campaign_id: the decoded campaign id.
        """
        with self._lock:
            return [e.freeze() for e in self._records if e.request.campaign_id == campaign_id]

    @property
    def stats(self) -> dict[str, int]:
        """Connection and request counters: open, peak open, total requests, total connections."""
        with self._lock:
            return dict(self._stats)

    def reset(self) -> None:
        """Forget campaigns, faults, recorded requests and counters (the demo campaigns come back)."""
        with self._lock:
            self._campaigns.clear()
            self._calls.clear()
            self._faults.clear()
            self._records.clear()
            self._stats["total_requests"] = self._stats["total_connections"] = 0
            self._stats["peak_open_connections"] = self._stats["open_connections"]
            if self._seed_demo:
                self._seed()
            self._save_state()

    def _save_state(self) -> None:
        """Write the campaigns to the state file, if the simulator has one."""
        if self._state_file is not None:
            with self._lock:
                save_campaigns(self._state_file, self._campaigns, self._clock)

    def _seed(self) -> None:
        """Add the demo campaigns."""
        self.add_campaign("camp_DemoLive0000001", name="Demo Live Campaign", status="live", calls=8)
        self.add_campaign("camp_DemoSched000001", name="Demo Scheduled Campaign", live_after=5.0, complete_after=15.0)
        self.add_campaign(
            "camp_DemoDone000001", name="Demo Completed Campaign", status="completed", errors=_DEMO_ERRORS, calls=20
        )
        self.add_campaign("camp_DemoPaused00001", name="Demo Paused Campaign", status="paused")
