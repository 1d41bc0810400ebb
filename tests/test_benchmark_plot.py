"""The plot of docs/performance.md draws the scale stages' figures, not those of other stages at the same N."""

from __future__ import annotations

from tests.benchmarks import plot
from tests.benchmarks.bench_fanout import BATCH_STAGE, SCALE_STAGES


def summary(stage: int, n: int, cpu_ms: float, p99_ms: float) -> dict[str, object]:
    return {
        "stage": stage,
        "client": "provider",
        "n": n,
        "campaigns": n,
        "budget": None,
        "cpu_ms": [cpu_ms],
        "p99_ms": p99_ms,
        "overloaded_after": None,
    }


def test_a_batch_stage_at_the_same_n_does_not_replace_the_one_get_point() -> None:
    one_get = summary(SCALE_STAGES[-1], 10_000, cpu_ms=0.40, p99_ms=430.0)
    batch = summary(BATCH_STAGE, 10_000, cpu_ms=0.18, p99_ms=294.0)  # distinct campaigns, no budget too

    assert plot.points([one_get, batch], "provider", "cpu") == [(10_000, 0.40, False)]
    assert plot.points([one_get, batch], "provider", "p99") == [(10_000, 430.0, False)]
