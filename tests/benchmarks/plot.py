"""Draw docs/img/fanout.svg from the benchmark's own figures (docs/performance-figures.json).

``make bench`` writes the figures; ``python -m tests.benchmarks.plot`` redraws the plot from them:
CPU per poll and p99 poll lateness against N, for this provider, the per-poll-client baseline and
the raw floor. Plain SVG written by hand: no plotting library needed. A point drawn hollow is a run
that could not keep up (stopped by the benchmark's watchdog; its figures cover the whole run).
"""

from __future__ import annotations

import json
import math
import sys
from html import escape
from pathlib import Path
from typing import Any

from tests.benchmarks.bench_fanout import SCALE_STAGES

FIGURES = Path("docs/performance-figures.json")
OUTPUT = Path("docs/img/fanout.svg")
#: Client -> (label, colour), in legend order.
SERIES = {
    "provider": ("this provider", "#1f77b4"),
    "per_poll": ("new aiohttp session per poll", "#d62728"),
    "raw": ("raw asyncio streams (floor)", "#7f7f7f"),
}
PANEL_W, PANEL_H, MARGIN = 360, 240, 56


def points(summaries: list[dict[str, Any]], client: str, field: str) -> list[tuple[int, float, bool]]:
    """(N, value, could-not-keep-up) of ``client`` at each N of the scale stages (``SCALE_STAGES``: one
    GET per wait, distinct campaigns, no budget; the batch stage has distinct campaigns too)."""
    out = {}
    for s in summaries:
        if s["client"] == client and s["stage"] in SCALE_STAGES:
            value = statistics_median(s["cpu_ms"]) if field == "cpu" else s["p99_ms"]
            if value is not None and not math.isnan(value):
                out[s["n"]] = (s["n"], value, s["overloaded_after"] is not None)
    return [out[n] for n in sorted(out)]


def statistics_median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def panel(x0: float, title: str, unit: str, series: dict[str, list[tuple[int, float, bool]]], log_y: bool) -> str:
    """One chart: N on a log axis, the value on a linear (or log) one."""
    ns = sorted({n for pts in series.values() for n, _, _ in pts})
    values = [v for pts in series.values() for _, v, _ in pts]
    if not ns or not values:
        return ""
    lo_n, hi_n = math.log10(min(ns)) - 0.1, math.log10(max(ns)) + 0.1
    if log_y:
        lo_v, hi_v = math.floor(math.log10(max(min(values), 1e-3))), math.ceil(math.log10(max(values)))
        hi_v = max(hi_v, lo_v + 1)
        ticks = [10.0**e for e in range(lo_v, hi_v + 1)]
        scale = lambda v: (math.log10(max(v, 10.0**lo_v)) - lo_v) / (hi_v - lo_v)  # noqa: E731
    else:
        top = nice(max(values))
        ticks = [top * i / 4 for i in range(5)]
        scale = lambda v: v / top  # noqa: E731
    left, top_y = x0 + MARGIN, 40
    width, height = PANEL_W - MARGIN - 10, PANEL_H - 40 - 40
    x = lambda n: left + (math.log10(n) - lo_n) / (hi_n - lo_n) * width  # noqa: E731
    y = lambda v: top_y + height - scale(v) * height  # noqa: E731
    parts = [
        f'<text x="{left + width / 2}" y="24" text-anchor="middle" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{left}" y="{top_y}" width="{width}" height="{height}" fill="none" stroke="#999"/>',
    ]
    for tick in ticks:
        ty = y(tick)
        label = f"{tick:g}"
        parts.append(f'<line x1="{left}" x2="{left + width}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
    for n in ns:
        parts.append(f'<text x="{x(n):.1f}" y="{top_y + height + 16}" text-anchor="middle" font-size="11">{n:,}</text>')
    parts.append(
        f'<text x="{left + width / 2}" y="{top_y + height + 34}" text-anchor="middle" font-size="12">'
        "N deferred sensors (10 s interval)</text>"
    )
    parts.append(
        f'<text transform="translate({x0 + 14},{top_y + height / 2}) rotate(-90)" text-anchor="middle" '
        f'font-size="12">{escape(unit)}</text>'
    )
    for client, pts in series.items():
        colour = SERIES[client][1]
        if len(pts) > 1:
            path = " ".join(f"{x(n):.1f},{y(v):.1f}" for n, v, _ in pts)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for n, v, stopped in pts:
            fill = "white" if stopped else colour
            parts.append(
                f'<circle cx="{x(n):.1f}" cy="{y(v):.1f}" r="4" fill="{fill}" stroke="{colour}" stroke-width="2">'
                f"<title>{escape(SERIES[client][0])}, N={n:,}: {v:.2f} {escape(unit)}</title></circle>"
            )
    return "\n".join(parts)


def nice(value: float) -> float:
    """A round axis top at or above ``value``."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= value)


def draw(figures: dict[str, Any]) -> str:
    summaries = figures["summaries"]
    cpu = {c: points(summaries, c, "cpu") for c in SERIES}
    late = {c: points(summaries, c, "p99") for c in SERIES}
    cpu = {c: p for c, p in cpu.items() if p}
    late = {c: p for c, p in late.items() if p}
    width, height = 2 * PANEL_W + 20, PANEL_H + 50
    legend = []
    lx = MARGIN
    for client in cpu:
        label, colour = SERIES[client]
        legend.append(f'<circle cx="{lx}" cy="{PANEL_H + 22}" r="4" fill="{colour}"/>')
        legend.append(f'<text x="{lx + 8}" y="{PANEL_H + 26}" font-size="12">{escape(label)}</text>')
        lx += 16 + 7 * len(label)
    legend.append(f'<text x="{lx}" y="{PANEL_H + 26}" font-size="11" fill="#555">hollow: could not keep up</text>')
    machine = figures.get("machine", {})
    note = f"{machine.get('nproc', '?')} cores, {machine.get('cpu', '')}; Python {machine.get('python', '?')}"
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif">',
            '<rect width="100%" height="100%" fill="white"/>',
            panel(0, "CPU per poll", "ms of CPU per poll (log)", cpu, log_y=True),
            panel(PANEL_W + 20, "p99 poll lateness", "ms late (log)", late, log_y=True),
            *legend,
            f'<text x="{width - 8}" y="{height - 6}" text-anchor="end" font-size="10" fill="#777">'
            f"{escape(note)}</text>",
            "</svg>",
            "",
        ]
    )


def main(figures_path: Path = FIGURES, output: Path = OUTPUT) -> Path:
    figures = json.loads(figures_path.read_text())
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(draw(figures))
    return output


if __name__ == "__main__":
    args = sys.argv[1:]
    print(main(*(Path(a) for a in args)) if args else main())
