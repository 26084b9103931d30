"""The payload's size, and the cost of the one serializer.

Issue 3's goal: the worst-case session object (every endpoint, every counter at its
bound, the longest version, the longest value of every enum) <= 700 bytes; the spec's
hard limit is 1 KB ("<1KB data per session"). Sizes are exact byte counts of what
``serialize_body`` writes, so they need no floor. For scale, the spec's example and a
full queue (50 sessions, the queue's bound) are measured too.

The serializer's cost is a ratio against its floor, measured alternately in the same
run: a bare ``json.dumps(...).encode()`` of the same 50 sessions.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shimmy_onboard.outbox import MAX_QUEUED_SESSIONS
from shimmy_onboard.payload import (
    largest_report,
    serialize_body,
    serialize_report,
    validate_report,
)

GOAL_BYTES = 700
LIMIT_BYTES = 1024
RUNS = 301
SPEC_EXAMPLE = {
    "session_id": "550e8400-e29b-41d4-a716-446655440000",
    "timestamp": "2025-01-15T10:30:00Z",
    "version": "1.3.2",
    "platform": "windows-x64",
    "metrics": {
        "daily_active_usage": True,
        "session_duration_minutes": 120,
        "requests_per_session": 47,
        "total_tokens_generated": 2350,
        "models_used_count": 2,
        "api_endpoints_used": ["/v1/chat/completions", "/v1/models"],
        "integration_type": "vscode",
        "deployment_type": "development",
        "hardware_tier": "workstation",
        "region_indicator": "americas",
        "avg_response_time_ms": 1250,
        "peak_requests_per_hour": 15,
        "gpu_detected": True,
        "gpu_vendor": "nvidia",
    },
}


def _median_seconds(work: Callable[[], object], floor: Callable[[], object]) -> tuple[float, float]:
    """Medians of ``work`` and ``floor``, run alternately so both see the same machine."""
    work_times: list[float] = []
    floor_times: list[float] = []
    for _ in range(RUNS):
        for function, times in ((work, work_times), (floor, floor_times)):
            start = time.perf_counter()
            function()
            times.append(time.perf_counter() - start)
    return statistics.median(work_times), statistics.median(floor_times)


def _skeleton_bytes(report: dict[str, Any]) -> int:
    """The bytes no value can save: keys, quotes, colons, commas, braces."""
    leaves = {key: 0 for key in report if key != "metrics"}
    metrics = {key: 0 for key in report["metrics"]}
    # Every value written as one byte ("0"), then those bytes taken off again.
    hollow = len(serialize_report({**leaves, "metrics": metrics}))
    return hollow - len(leaves) - len(metrics)


def main() -> int:
    worst = largest_report()
    validate_report(worst)  # the worst case is a valid object, not an impossible one
    worst_size = len(serialize_report(worst))
    verdict = "OK" if worst_size <= GOAL_BYTES else f"MISS by {worst_size - GOAL_BYTES} bytes"
    print(f"worst-case session object: {worst_size} bytes (goal <= {GOAL_BYTES}) {verdict}")
    hard = "OK" if worst_size < LIMIT_BYTES else "OVER"
    print(
        f"worst-case session object: {worst_size / LIMIT_BYTES:.0%} of the spec's 1 KB "
        f"(limit < {LIMIT_BYTES}) {hard}"
    )
    print(
        f"of which the spec's field names and JSON punctuation: {_skeleton_bytes(worst)} bytes "
        "(fixed by the spec; the rest is values)"
    )
    print(f"the spec's example session object: {len(serialize_report(SPEC_EXAMPLE))} bytes")

    queue: list[dict[str, Any]] = [worst] * MAX_QUEUED_SESSIONS
    body = serialize_body(queue)
    print(f"a full queue ({MAX_QUEUED_SESSIONS} worst-case sessions), one body: {len(body)} bytes")

    def bare() -> bytes:
        return json.dumps(queue, separators=(",", ":"), ensure_ascii=False).encode("utf-8")

    assert bare() == body, "serialize_body must write what json.dumps writes"
    work, floor = _median_seconds(lambda: serialize_body(queue), bare)
    print(
        f"serialize_body of {MAX_QUEUED_SESSIONS} sessions: {work / floor:.2f}x a bare "
        f"json.dumps of them ({work * 1e6:.0f} us vs {floor * 1e6:.0f} us)"
    )
    return 0 if worst_size < LIMIT_BYTES else 1


if __name__ == "__main__":
    raise SystemExit(main())
