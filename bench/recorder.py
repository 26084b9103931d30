"""SessionRecorder: cost per event against a bare dict loop, and memory over 1,000,000 events.

The floor is the least a program that counts requests could do: ``counts[endpoint] += 1``
over the same events. The recorder does all of its work per event (validation, the
endpoint allow-list, User-Agent classification, the distinct-model fingerprint, the
per-hour peak), called as a caller in process would call it, with the request time taken
from the clock. Each round times the floor and then the recorder over the same events, so
that both see the same machine load; the figure is the median of the rounds' ratios.

Memory: resident set size (``/proc/self/statm``) after 1,000 events and after 1,000,000,
the events generated on the fly so that only the recorder can grow. A second figure does
the same with every event naming a new model and a new User-Agent (the hostile case, where
the model fingerprints fill up to MAX_MODELS), for information.

Goals (issue 3): per event <= 10x the bare loop; RSS after 1,000,000 events within 1 MB
of that after 1,000.
"""

from __future__ import annotations

import gc
import os
import statistics
import sys
import time
from collections.abc import Iterator

from shimmy_onboard.recorder import SessionRecorder

EVENTS = 20_000
ROUNDS = 61
TIME_GOAL = 10.0
MEMORY_GOAL_BYTES = 1024 * 1024

ENDPOINTS = ("/v1/chat/completions", "/v1/models", "/v1/completions", "/health", "/api/tags")
AGENTS = ("Continue/0.9 (vscode)", "curl/8.5.0", "OpenAI/Python 1.30.1", None)
MODELS = ("llama-3-8b", "phi-3-mini", "qwen2-7b")
Event = tuple[str, float, int, str, "str | None"]


def realistic_events(count: int) -> list[Event]:
    """A busy session: a handful of endpoints, clients and models, varying numbers."""
    return [
        (
            ENDPOINTS[i % len(ENDPOINTS)],
            100.0 + i % 900,
            i % 200,
            MODELS[i % len(MODELS)],
            AGENTS[i % len(AGENTS)],
        )
        for i in range(count)
    ]


def bare_loop(events: list[Event]) -> float:
    counts: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
    started = time.perf_counter()
    for endpoint, _latency, _tokens, _model, _agent in events:
        counts[endpoint] += 1
    return time.perf_counter() - started


def recorder_loop(recorder: SessionRecorder, events: list[Event]) -> float:
    record = recorder.record_request
    started = time.perf_counter()
    for endpoint, latency, tokens, model, agent in events:
        record(endpoint, latency_ms=latency, tokens=tokens, model=model, user_agent=agent)
    return time.perf_counter() - started


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def generated(count: int, hostile: bool) -> Iterator[Event]:
    for i in range(count):
        if hostile:
            yield ("/v1/chat/completions", 250.0, 10, f"model-{i}", f"client/{i}")
        else:
            yield (ENDPOINTS[i % 5], 100.0 + i % 900, i % 200, MODELS[i % 3], AGENTS[i % 4])


def memory_growth(hostile: bool) -> int:
    recorder = SessionRecorder(env={})
    record = recorder.record_request
    for endpoint, latency, tokens, model, agent in generated(1_000, hostile):
        record(endpoint, latency_ms=latency, tokens=tokens, model=model, user_agent=agent)
    gc.collect()
    after_thousand = resident_bytes()
    for endpoint, latency, tokens, model, agent in generated(999_000, hostile):
        record(endpoint, latency_ms=latency, tokens=tokens, model=model, user_agent=agent)
    gc.collect()
    growth = resident_bytes() - after_thousand
    assert recorder.summary().requests_per_session == 1_000_000
    return growth


def main() -> int:
    if not os.path.exists("/proc/self/statm"):
        print("this bench reads /proc/self/statm: run it on Linux", file=sys.stderr)
        return 2
    # Memory first, in a process that has not yet built the timing events.
    growth = memory_growth(hostile=False)
    hostile_growth = memory_growth(hostile=True)

    events = realistic_events(EVENTS)
    recorder = SessionRecorder(env={})
    floor: list[float] = []
    measured: list[float] = []
    for _ in range(ROUNDS):
        floor.append(bare_loop(events))
        measured.append(recorder_loop(recorder, events))
    assert recorder.summary().requests_per_session == EVENTS * ROUNDS
    ratio = statistics.median(m / f for m, f in zip(measured, floor, strict=True))
    floor_ns = statistics.median(floor) / EVENTS * 1e9
    measured_ns = statistics.median(measured) / EVENTS * 1e9

    ok = ratio <= TIME_GOAL
    print(
        f"recorder per event: {ratio:.1f}x a bare dict loop "
        f"({measured_ns:.0f} ns vs {floor_ns:.0f} ns) (goal <= {TIME_GOAL:g}x) "
        f"{'OK' if ok else 'MISS'}"
    )
    memory_ok = growth <= MEMORY_GOAL_BYTES
    print(
        f"recorder RSS growth from 1,000 to 1,000,000 events: {growth / 1024:.0f} KiB "
        f"(goal <= 1024 KiB) {'OK' if memory_ok else 'MISS'}"
    )
    print(
        f"recorder RSS growth, every event a new model and client (hostile): "
        f"{hostile_growth / 1024:.0f} KiB (for information: fingerprints stop at MAX_MODELS)"
    )
    return 0 if ok and memory_ok else 1


if __name__ == "__main__":
    sys.exit(main())
