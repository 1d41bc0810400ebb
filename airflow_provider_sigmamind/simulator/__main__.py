"""Console command ``sigmamind-simulator``: serve the SigmaMind simulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from types import FrameType

from airflow_provider_sigmamind.simulator.server import DEFAULT_API_KEY, SigmaMindSimulator

KEY_VARIABLE = "SIGMAMIND_SIMULATOR_API_KEY"


def _raise_open_file_limit() -> None:
    """Lift the soft limit on open files to the hard limit, so thousands of clients can connect."""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    """Run the simulator in the foreground; return the exit code.

    :param argv: command-line arguments (default: ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(
        prog="sigmamind-simulator", description="Serve a local SigmaMind AI API simulator."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (only 127.0.0.1 is allowed)")
    parser.add_argument("--port", type=int, default=8765, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--api-key",
        default=os.environ.get(KEY_VARIABLE) or DEFAULT_API_KEY,
        help=f"key clients must send (default: ${KEY_VARIABLE}, else the built-in test key)",
    )
    parser.add_argument("--seed-demo", action="store_true", help="add the demo campaigns")
    parser.add_argument("--live-duration", type=float, default=5.0, help="seconds a created campaign stays live")
    parser.add_argument("--state-file", default=None, help="JSON file keeping the campaigns across restarts")
    args = parser.parse_args(argv)
    try:
        simulator = SigmaMindSimulator(
            api_key=args.api_key,
            host=args.host,
            port=args.port,
            seed_demo=args.seed_demo,
            live_duration=args.live_duration,
            state_file=args.state_file,
        )
    except ValueError as exc:
        parser.error(str(exc))
    _raise_open_file_limit()
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        simulator.start()
    except OSError as exc:
        print(f"sigmamind-simulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"SigmaMind simulator listening on {simulator.url}", flush=True)
    try:
        stopping.wait()
    finally:
        simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
