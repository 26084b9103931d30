"""The events reader over a 1,000,000-line file, against a bare ``json.loads`` loop.

The floor is the least any reader of the file must do: open it as UTF-8 text and
``json.loads`` every line (text mode is the faster of the two bare loops; decoding bytes
in ``json.loads`` costs more). The reader does that and everything else: the line-length
cap, the UTF-8 check, time stamps, validation, the whole aggregation. Runs alternate;
the medians are compared.

The file is a busy session as Shimmy writes it: a start event, then requests about ten a
second for a little over a day (so time stamps repeat and hours roll over), a few
clients, models and endpoints, an end event. Generated in a temporary directory.

Goal (issue 3): <= 1.5x the bare loop.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from shimmy_onboard.recorder import read_events

LINES = 1_000_000
RUNS = 3
GOAL = 1.5

ENDPOINTS = ("/v1/chat/completions", "/v1/models", "/v1/completions", "/api/generate")
AGENTS = ("Continue/0.9.1 (vscode)", "OpenAI/Python 1.30.1", "curl/8.5.0", "Zed/0.150.2")
MODELS = ("llama-3-8b-instruct", "phi-3-mini-4k", "qwen2-7b-instruct")


def write_session(path: Path, lines: int) -> None:
    started = datetime(2025, 1, 15, 8, 30, tzinfo=timezone.utc)
    # One time stamp string per second, not per line: generating must not dominate.
    stamps = [
        (started + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for second in range(lines // 10 + 2)
    ]
    template = (
        '{{"type": "request", "ts": "{ts}", "endpoint": "{endpoint}", "status": 200, '
        '"latency_ms": {latency}, "tokens": {tokens}, "model": "{model}", '
        '"user_agent": "{agent}"}}\n'
    )
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"type": "start", "ts": stamps[0], "version": "1.3.2"}) + "\n")
        out.writelines(
            template.format(
                ts=stamps[i // 10],
                endpoint=ENDPOINTS[i % len(ENDPOINTS)],
                latency=200 + (i * 7919) % 3000,
                tokens=(i * 31) % 500,
                model=MODELS[i % len(MODELS)],
                agent=AGENTS[i % len(AGENTS)],
            )
            for i in range(lines - 2)
        )
        out.write(json.dumps({"type": "end", "ts": stamps[-1]}) + "\n")


def bare_loop(path: Path) -> float:
    started = time.perf_counter()
    with path.open(encoding="utf-8") as events:
        for line in events:
            json.loads(line)
    return time.perf_counter() - started


def reader(path: Path) -> float:
    started = time.perf_counter()
    report = read_events(path, env={})
    elapsed = time.perf_counter() - started
    assert report.lines_read == LINES and report.skipped == 0, report
    assert report.summary.requests_per_session == LINES - 2, report
    return elapsed


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "events.jsonl")
        write_session(path, LINES)
        floor: list[float] = []
        measured: list[float] = []
        for _ in range(RUNS):
            floor.append(bare_loop(path))
            measured.append(reader(path))
    floor_s = statistics.median(floor)
    measured_s = statistics.median(measured)
    ratio = measured_s / floor_s
    ok = ratio <= GOAL
    print(
        f"events reader over {LINES:,} lines: {ratio:.2f}x a bare json.loads loop "
        f"({measured_s:.2f} s vs {floor_s:.2f} s) (goal <= {GOAL:g}x) {'OK' if ok else 'MISS'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
