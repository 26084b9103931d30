"""Session aggregation: SessionRecorder and the events reader (issue 3, item 3)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shimmy_onboard import recorder as recorder_module
from shimmy_onboard.clock import Clock
from shimmy_onboard.recorder import (
    MAX_DURATION_MINUTES,
    MAX_LATENCY_MS,
    MAX_LINE_LENGTH,
    MAX_MODELS,
    MAX_REQUESTS,
    MAX_TOKENS,
    EventsReport,
    SessionRecorder,
    SessionSummary,
    classify_endpoint,
    classify_user_agent,
    read_events,
)
from shimmy_onboard.vocab import DeploymentType, Endpoint, IntegrationType

UTC = timezone.utc
START = datetime(2025, 1, 15, 8, 30, tzinfo=UTC)
PLANTED_MODEL = "planted-secret-model-7f3a9c.gguf"


def fixed_clock(moment: datetime = START + timedelta(hours=2)) -> Clock:
    return lambda: moment


def new_recorder(**kwargs: object) -> SessionRecorder:
    """A recorder on a clean machine: no CI, no container markers, a fixed clock."""
    options: dict[str, object] = {"env": {}, "root": Path("/nonexistent-root")}
    options.update(kwargs)
    return SessionRecorder(START, **options)  # type: ignore[arg-type]


def write_lines(path: Path, lines: Iterable[str | bytes]) -> Path:
    with path.open("wb") as out:
        for line in lines:
            out.write(line if isinstance(line, bytes) else line.encode("utf-8"))
            out.write(b"\n")
    return path


def event(kind: str = "request", ts: object = "2025-01-15T08:31:02Z", **fields: object) -> str:
    return json.dumps({"type": kind, "ts": ts, **fields})


def request(ts: object = "2025-01-15T08:31:02Z", **fields: object) -> str:
    body: dict[str, object] = {
        "endpoint": "/v1/chat/completions",
        "status": 200,
        "latency_ms": 100,
        "tokens": 10,
        "model": "m",
        "user_agent": "curl/8.5.0",
    }
    body.update(fields)
    return event("request", ts, **body)


def read(path: Path, **kwargs: object) -> EventsReport:
    options: dict[str, object] = {"env": {}, "root": Path("/nonexistent-root")}
    options.update(kwargs)
    return read_events(path, **options)  # type: ignore[arg-type]


# --- Endpoints -------------------------------------------------------------------------

ENDPOINT_TABLE = [
    ("/v1/chat/completions", Endpoint.CHAT_COMPLETIONS),
    ("/v1/completions", Endpoint.COMPLETIONS),
    ("/v1/models", Endpoint.MODELS),
    ("/v1/messages", Endpoint.MESSAGES),
    ("/api/generate", Endpoint.API_GENERATE),
    ("/api/models", Endpoint.API_MODELS),
    ("/api/tags", Endpoint.API_TAGS),
    ("/health", Endpoint.HEALTH),
    ("/metrics", Endpoint.METRICS),
    ("/ws/generate", Endpoint.WS_GENERATE),
    ("/v1/chat/completions?stream=true&key=sk-abc", Endpoint.CHAT_COMPLETIONS),
    ("/v1/chat/completions#section", Endpoint.CHAT_COMPLETIONS),
    ("/v1/chat/completions/", Endpoint.CHAT_COMPLETIONS),
    ("/health//", Endpoint.HEALTH),
    ("/v1/models/llama-3-8b-instruct.Q4_K_M.gguf", Endpoint.MODELS),
    ("/v1/models/llama-3?user=alice@example.com", Endpoint.MODELS),
    ("/api/models/phi-3/load", Endpoint.API_MODELS),
    ("http://127.0.0.1:11435/v1/models", Endpoint.MODELS),
    ("https://shimmy.internal/api/generate?x=1", Endpoint.API_GENERATE),
    ("/proxy://host/v1/models", Endpoint.OTHER),
    ("/V1/Models", Endpoint.OTHER),
    ("/v1/chat/completions/extra", Endpoint.OTHER),
    ("/v1/modelsX", Endpoint.OTHER),
    ("/home/alice/models/llama.gguf", Endpoint.OTHER),
    ("/", Endpoint.OTHER),
    ("", Endpoint.OTHER),
    ("other", Endpoint.OTHER),
    ("?/v1/models", Endpoint.OTHER),
]


@pytest.mark.parametrize(("path", "expected"), ENDPOINT_TABLE)
def test_endpoints_go_through_the_allow_list(path: str, expected: Endpoint) -> None:
    assert classify_endpoint(path) is expected


def test_a_path_parameter_or_query_never_reaches_the_summary() -> None:
    recorder = new_recorder()
    for path in ("/v1/models/secret-model.gguf", "/v1/chat/completions?key=sk-123", "/x/alice"):
        assert recorder.record_request(path)
    used = recorder.summary().api_endpoints_used
    assert used == (Endpoint.CHAT_COMPLETIONS, Endpoint.MODELS, Endpoint.OTHER)
    assert all(isinstance(item, Endpoint) for item in used)


def test_endpoints_used_are_sorted_by_value_and_listed_once() -> None:
    recorder = new_recorder()
    for path in ("/ws/generate", "/api/tags", "/v1/models", "/api/tags", "/health", "/nope"):
        recorder.record_request(path)
    used = [e.value for e in recorder.summary().api_endpoints_used]
    assert used == sorted(used) == ["/api/tags", "/health", "/v1/models", "/ws/generate", "other"]


# --- User agents -----------------------------------------------------------------------

ELECTRON = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)"
USER_AGENT_TABLE = [
    (f"{ELECTRON} Code/1.85.1 Chrome/114.0 Electron/25.9.7 Safari/537.36", IntegrationType.VSCODE),
    ("vscode-languageclient/9.0", IntegrationType.VSCODE),
    (f"{ELECTRON} Cursor/0.42.3 Code/1.93.1 Chrome/124 Electron/30 Safari", IntegrationType.CURSOR),
    ("Continue/0.9.191 (vscode 1.85.1)", IntegrationType.CONTINUE),
    ("continue-dev", IntegrationType.CONTINUE),
    ("Zed/0.150.2 (linux; x86_64)", IntegrationType.ZED),
    ("Open WebUI/0.3.10", IntegrationType.OPEN_WEBUI),
    ("open-webui", IntegrationType.OPEN_WEBUI),
    ("SillyTavern/1.12.4", IntegrationType.SILLYTAVERN),
    (f"{ELECTRON} SillyTavern Chrome/120", IntegrationType.SILLYTAVERN),
    ("aider/0.50.1 OpenAI/Python 1.40.0", IntegrationType.AIDER),
    ("OpenAI/Python 1.30.1", IntegrationType.OPENAI_SDK),
    ("OpenAI/JS 4.52.0", IntegrationType.OPENAI_SDK),
    ("openai-node/4.0", IntegrationType.OPENAI_SDK),
    ("langchain-openai/0.1 OpenAI/Python 1.30", IntegrationType.LANGCHAIN),
    ("curl/8.5.0", IntegrationType.CURL),
    ("CURL/7.88", IntegrationType.CURL),
    ("Mozilla/5.0 (Windows NT 10.0; Win64) Chrome/120.0 Safari/537.36", IntegrationType.BROWSER),
    ("python-requests/2.31.0", IntegrationType.OTHER),
    ("Optimized-Serialized-Client/1.0", IntegrationType.OTHER),  # "zed" inside words
    ("raider/2", IntegrationType.OTHER),  # "aider" inside a word
    ("libcurl-based", IntegrationType.OTHER),
    ("", IntegrationType.OTHER),
    (None, IntegrationType.OTHER),
]


@pytest.mark.parametrize(("user_agent", "expected"), USER_AGENT_TABLE)
def test_user_agents_name_their_client(user_agent: str | None, expected: IntegrationType) -> None:
    assert classify_user_agent(user_agent) is expected


def test_the_most_frequent_client_is_the_integration_type() -> None:
    recorder = new_recorder()
    agents: list[str | None] = ["curl/8", "curl/8", "curl/8", "Continue/0.9", "Continue/0.9", None]
    for agent in agents:
        recorder.record_request("/v1/models", user_agent=agent)
    assert recorder.summary().integration_type is IntegrationType.CURL


def test_a_tie_goes_to_the_client_named_first_in_the_vocabulary() -> None:
    recorder = new_recorder()
    for agent in ["curl/8", "Continue/0.9", "curl/8", "Continue/0.9"]:
        recorder.record_request("/v1/models", user_agent=agent)
    assert recorder.summary().integration_type is IntegrationType.CONTINUE

    other_or_browser = new_recorder()
    for maybe_agent in [None, "Mozilla/5.0", "wget/1.21", "Mozilla/5.0"]:
        other_or_browser.record_request("/v1/models", user_agent=maybe_agent)
    assert other_or_browser.summary().integration_type is IntegrationType.BROWSER


def test_no_requests_means_integration_none_and_not_active() -> None:
    summary = new_recorder().summary(START + timedelta(minutes=5))
    assert summary.integration_type is IntegrationType.NONE
    assert summary.daily_active_usage is False
    assert summary.requests_per_session == 0
    assert summary.api_endpoints_used == ()
    assert summary.avg_response_time_ms == 0
    assert summary.peak_requests_per_hour == 0


def test_requests_without_a_user_agent_are_other() -> None:
    recorder = new_recorder()
    recorder.record_request("/health")
    assert recorder.summary().integration_type is IntegrationType.OTHER


# --- Counters --------------------------------------------------------------------------


def test_counters_are_counted_exactly() -> None:
    recorder = new_recorder()
    for i in range(7):
        assert recorder.record_request(
            "/v1/chat/completions", latency_ms=100 * (i + 1), tokens=i, model=f"m{i % 3}"
        )
    summary = recorder.summary(START + timedelta(minutes=90, seconds=59))
    assert summary.daily_active_usage is True
    assert summary.requests_per_session == 7
    assert summary.total_tokens_generated == sum(range(7))
    assert summary.models_used_count == 3
    assert summary.avg_response_time_ms == 400
    assert summary.session_duration_minutes == 90


def test_average_latency_rounds_half_up_and_ignores_requests_without_one() -> None:
    recorder = new_recorder()
    recorder.record_request("/v1/models", latency_ms=1)
    recorder.record_request("/v1/models", latency_ms=2.0)
    recorder.record_request("/v1/models")  # no latency: not part of the mean
    assert recorder.summary().avg_response_time_ms == 2


def test_a_latency_over_the_maximum_counts_as_the_maximum() -> None:
    recorder = new_recorder()
    assert recorder.record_request("/v1/models", latency_ms=MAX_LATENCY_MS * 50)
    assert recorder.record_request("/v1/models", latency_ms=10**400)
    assert recorder.summary().avg_response_time_ms == MAX_LATENCY_MS


@pytest.mark.parametrize(
    "bad",
    [
        {"tokens": -1},
        {"tokens": 1.5},
        {"tokens": True},
        {"tokens": "10"},
        {"latency_ms": -0.5},
        {"latency_ms": float("nan")},
        {"latency_ms": float("inf")},
        {"latency_ms": True},
        {"latency_ms": "fast"},
        {"status": 99},
        {"status": 600},
        {"status": "200"},
        {"model": 42},
        {"user_agent": ["curl"]},
        {"at": float("nan")},
        {"at": "yesterday"},
        {"at": True},
        {"at": datetime.min.replace(tzinfo=timezone(timedelta(hours=5)))},
    ],
)
def test_an_invalid_value_rejects_the_whole_request(bad: dict[str, object]) -> None:
    recorder = new_recorder()
    assert recorder.record_request("/v1/models", **bad) is False  # type: ignore[arg-type]
    assert recorder.record_request(["/v1/models"]) is False  # type: ignore[arg-type]
    assert recorder.record_request(None) is False  # type: ignore[arg-type]
    summary = recorder.summary()
    assert summary.requests_per_session == 0
    assert summary.total_tokens_generated == 0
    assert summary.api_endpoints_used == ()
    assert summary.models_used_count == 0


def test_duration_is_whole_minutes_and_never_negative() -> None:
    recorder = new_recorder()
    assert recorder.summary(START + timedelta(seconds=59)).session_duration_minutes == 0
    assert recorder.summary(START + timedelta(minutes=2, seconds=59)).session_duration_minutes == 2
    before = recorder.summary(START - timedelta(hours=1))
    assert before.session_duration_minutes == 0
    assert before.ended_at == before.started_at == START


def test_times_are_aware_utc_whatever_was_given() -> None:
    naive = SessionRecorder(datetime(2025, 1, 15, 8, 30), env={})
    summary = naive.summary(datetime(2025, 1, 15, 10, 0, tzinfo=timezone(timedelta(hours=2))))
    assert summary.started_at == START and summary.started_at.tzinfo is UTC
    assert summary.ended_at == datetime(2025, 1, 15, 8, 0, tzinfo=UTC) + timedelta(minutes=30)
    assert summary.session_duration_minutes == 0  # the end was before the start


def test_the_clock_gives_start_end_and_request_times_when_none_are_passed() -> None:
    now = [START]
    recorder = SessionRecorder(clock=lambda: now[0], env={})
    for minute in (0, 10, 20):
        now[0] = START + timedelta(minutes=minute)
        recorder.record_request("/v1/models")
    now[0] = START + timedelta(hours=1, minutes=45)
    recorder.record_request("/v1/models")
    summary = recorder.summary()
    assert summary.started_at == START
    assert summary.ended_at == now[0]
    assert summary.session_duration_minutes == 105
    assert summary.peak_requests_per_hour == 3


def test_the_system_clock_is_used_by_default() -> None:
    before = datetime.now(UTC)
    recorder = SessionRecorder(env={})
    assert recorder.record_request("/v1/models")
    summary = recorder.summary()
    assert before <= summary.started_at <= summary.ended_at <= datetime.now(UTC)
    assert summary.peak_requests_per_hour == 1


def test_totals_are_clamped_to_the_bounds_the_payload_enforces() -> None:
    recorder = new_recorder()
    for _ in range(3):
        recorder.record_request("/v1/models", tokens=MAX_TOKENS)
    summary = recorder.summary(START + timedelta(days=5000))
    assert summary.total_tokens_generated == MAX_TOKENS
    assert summary.session_duration_minutes == MAX_DURATION_MINUTES
    assert summary.requests_per_session == 3 <= MAX_REQUESTS


# --- Distinct models -------------------------------------------------------------------


def test_models_are_counted_distinct() -> None:
    recorder = new_recorder()
    for name in ["a", "b", "a", "c", "b", "a", "", None]:
        recorder.record_request("/v1/chat/completions", model=name)
    assert recorder.summary().models_used_count == 3


def test_ten_thousand_distinct_models_are_counted_exactly_then_the_count_stops() -> None:
    recorder = new_recorder()
    for i in range(MAX_MODELS):
        recorder.record_request("/v1/chat/completions", model=f"model-{i}")
        recorder.record_request("/v1/chat/completions", model=f"model-{i}")
    assert recorder.summary().models_used_count == MAX_MODELS == 10_000
    for i in range(2_000):
        recorder.record_request("/v1/chat/completions", model=f"more-{i}")
    assert recorder.summary().models_used_count == MAX_MODELS


def held_by(root: object) -> list[object]:
    """Every object ``root`` holds, however deep, short of modules, classes and globals."""
    module_globals = {id(vars(module)) for module in list(sys.modules.values())}
    seen: set[int] = set()
    held: list[object] = []
    stack: list[object] = [root]
    while stack:
        item = stack.pop()
        if id(item) in seen or id(item) in module_globals or isinstance(item, (type, type(sys))):
            continue
        seen.add(id(item))
        held.append(item)
        stack.extend(gc.get_referents(item))
    return held


def test_model_names_are_nowhere_in_the_recorder() -> None:
    recorder = new_recorder()
    recorder.record_request("/v1/models", model=PLANTED_MODEL, user_agent="curl/8")
    recorder.record_request("/v1/models", model=PLANTED_MODEL.upper(), user_agent="curl/8")
    assert recorder.summary().models_used_count == 2
    assert "planted" not in repr(recorder).lower()
    held = held_by(recorder)
    assert len(held) > 10  # the counters are in there: the walk does reach them
    for item in held:
        assert not (isinstance(item, str) and "planted" in item.lower())
        assert not (isinstance(item, bytes) and b"planted" in item.lower())


def test_model_names_stay_out_of_every_module_level_table() -> None:
    recorder = new_recorder()
    recorder.record_request("/v1/models", model=PLANTED_MODEL)
    recorder.record_request(f"/v1/models/{PLANTED_MODEL}")
    recorder.record_request(f"/v1/chat/completions?model={PLANTED_MODEL}")
    recorder.record_request(f"/api/show/{PLANTED_MODEL}")
    assert recorder.summary().api_endpoints_used == (
        Endpoint.CHAT_COMPLETIONS,
        Endpoint.MODELS,
        Endpoint.OTHER,
    )
    for item in held_by(vars(recorder_module)):
        assert not (isinstance(item, str) and "planted" in item)


def test_route_spellings_are_remembered_but_nothing_else() -> None:
    recorder = new_recorder()
    for path in ("/health/", "/v1/models/x", "/nope", "/health?x=1"):
        recorder.record_request(path)
    assert "/health/" in recorder_module._ENDPOINT_MEMO
    for path in ("/v1/models/x", "/nope", "/health?x=1"):
        assert path not in recorder_module._ENDPOINT_MEMO
    long_spelling = "/health" + "/" * 100_000
    assert recorder.record_request(long_spelling)
    assert long_spelling not in recorder_module._ENDPOINT_MEMO


def test_with_a_fixed_hash_seed_models_are_fingerprinted_with_a_keyed_blake2b() -> None:
    probe = (
        "from shimmy_onboard import recorder as r\n"
        "rec = r.SessionRecorder(env={})\n"
        "for name in ['a', 'b', 'a', 'c']: rec.record_request('/v1/models', model=name)\n"
        "print(r._fingerprint is r._blake2b_fingerprint, rec.summary().models_used_count)\n"
    )
    for seed, keyed_blake2b in (("0", True), ("1234", True), ("random", False)):
        result = subprocess.run(
            [sys.executable, "-c", probe],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert result.stdout.split() == [str(keyed_blake2b), "3"], seed


def test_blake2b_fingerprints_are_keyed_per_process() -> None:
    probe = "from shimmy_onboard import recorder as r; print(r._blake2b_fingerprint('llama-3'))"
    outputs = {
        subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(outputs) == 2


# --- Peak per hour ---------------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_peak_is_the_busiest_clock_hour_across_a_boundary() -> None:
    recorder = new_recorder()
    for moment in ["2025-01-15T10:59:57"] * 3 + ["2025-01-15T11:00:00"] * 4:
        recorder.record_request("/v1/models", at=at(moment))
    # Seven requests within four seconds, but no clock hour had more than four.
    assert recorder.summary().peak_requests_per_hour == 4
    for moment in ["2025-01-15T12:30:00"] * 2:
        recorder.record_request("/v1/models", at=at(moment))
    assert recorder.summary().peak_requests_per_hour == 4


def test_an_earlier_hour_that_is_no_longer_current_keeps_its_peak() -> None:
    recorder = new_recorder()
    for moment in ["2025-01-15T09:10:00"] * 5 + ["2025-01-15T10:00:00", "2025-01-15T13:00:00"]:
        recorder.record_request("/v1/models", at=at(moment))
    assert recorder.summary().peak_requests_per_hour == 5


def test_a_late_request_from_the_previous_hour_still_counts_in_that_hour() -> None:
    recorder = new_recorder()
    for moment in ["2025-01-15T10:59:59", "2025-01-15T11:00:01", "2025-01-15T10:59:58"]:
        recorder.record_request("/v1/models", at=at(moment))
    assert recorder.summary().peak_requests_per_hour == 2


def test_a_request_older_than_the_kept_hours_counts_everywhere_but_the_peak() -> None:
    recorder = new_recorder()
    for moment in ["2025-01-15T10:00:00", "2025-01-15T11:00:00", "2025-01-15T12:00:00"]:
        recorder.record_request("/v1/models", at=at(moment), tokens=1)
    recorder.record_request("/v1/models", at=at("2025-01-15T10:30:00"), tokens=1)
    summary = recorder.summary()
    assert summary.requests_per_session == 4
    assert summary.total_tokens_generated == 4
    assert summary.peak_requests_per_hour == 1


def test_request_times_are_placed_in_their_utc_hour() -> None:
    recorder = new_recorder()
    plus_two = timezone(timedelta(hours=2))
    recorder.record_request("/v1/models", at=datetime(2025, 1, 15, 12, 59, tzinfo=plus_two))
    recorder.record_request("/v1/models", at=datetime(2025, 1, 15, 10, 30))  # naive: UTC
    recorder.record_request("/v1/models", at=at("2025-01-15T10:45:00").timestamp())
    recorder.record_request("/v1/models", at=at("2025-01-15T11:00:00"))
    assert recorder.summary().peak_requests_per_hour == 3


# --- Deployment type -------------------------------------------------------------------


def summary_with(
    root: Path,
    env: dict[str, str],
    requests: int = 1,
    duration: timedelta = timedelta(minutes=30),
) -> SessionSummary:
    recorder = SessionRecorder(START, env=env, root=root)
    for _ in range(requests):
        recorder.record_request("/v1/models", at=START)
    return recorder.summary(START + duration)


def test_a_quiet_short_session_is_development(tmp_path: Path) -> None:
    assert summary_with(tmp_path, {}).deployment_type is DeploymentType.DEVELOPMENT
    assert summary_with(tmp_path, {}, requests=1000).deployment_type is DeploymentType.DEVELOPMENT
    exactly_eight_hours = summary_with(tmp_path, {}, duration=timedelta(hours=8))
    assert exactly_eight_hours.deployment_type is DeploymentType.DEVELOPMENT


def test_over_a_thousand_requests_or_eight_hours_is_production(tmp_path: Path) -> None:
    busy = summary_with(tmp_path, {}, requests=1001)
    assert busy.deployment_type is DeploymentType.PRODUCTION
    long = summary_with(tmp_path, {}, duration=timedelta(hours=8, minutes=1))
    assert long.deployment_type is DeploymentType.PRODUCTION


@pytest.mark.parametrize("marker", [".dockerenv", "run/.containerenv"])
def test_container_markers_mean_container(tmp_path: Path, marker: str) -> None:
    (tmp_path / marker).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / marker).touch()
    summary = summary_with(tmp_path, {}, requests=2000)
    assert summary.deployment_type is DeploymentType.CONTAINER


def test_kubernetes_means_container(tmp_path: Path) -> None:
    summary = summary_with(tmp_path, {"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
    assert summary.deployment_type is DeploymentType.CONTAINER
    blank = summary_with(tmp_path, {"KUBERNETES_SERVICE_HOST": " "})
    assert blank.deployment_type is DeploymentType.DEVELOPMENT


@pytest.mark.parametrize(
    ("value", "is_ci"), [("1", True), ("true", True), ("0", False), ("", False), ("false", False)]
)
def test_ci_is_read_as_the_consent_resolver_reads_it(
    tmp_path: Path, value: str, is_ci: bool
) -> None:
    (tmp_path / ".dockerenv").touch()  # CI wins over a container
    summary = summary_with(tmp_path, {"CI": value})
    assert (summary.deployment_type is DeploymentType.CI) is is_ci
    if not is_ci:
        assert summary.deployment_type is DeploymentType.CONTAINER


def test_the_process_environment_is_used_when_none_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    recorder = SessionRecorder(START, root=tmp_path)
    assert recorder.summary(START).deployment_type is DeploymentType.CI


# --- Constant memory -------------------------------------------------------------------


def allocated_while(work: Iterable[None]) -> list[int]:
    """Traced bytes in use after each step of ``work``."""
    sizes = []
    tracemalloc.start()
    try:
        for _ in work:
            gc.collect()
            sizes.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    return sizes


def test_memory_stays_flat_however_many_requests() -> None:
    recorder = new_recorder()
    agents = ["curl/8", "Continue/0.9", None, "OpenAI/Python 1.3"]

    def steps() -> Iterable[None]:
        for step in range(4):
            for i in range(15_000):
                recorder.record_request(
                    "/v1/chat/completions",
                    latency_ms=i % 700,
                    tokens=i % 90,
                    model=f"model-{i % 5}",
                    user_agent=agents[i % 4],
                    at=START + timedelta(minutes=step * 40 + i // 500),
                )
            yield None

    first, *later = allocated_while(steps())
    assert max(later) - first < 16 * 1024
    assert recorder.summary().requests_per_session == 60_000


def test_hostile_variety_fills_the_bounded_tables_and_then_stops_growing() -> None:
    recorder = new_recorder()

    def steps() -> Iterable[None]:
        for step in range(4):
            for i in range(11_000):
                unique = f"{step}-{i}"
                recorder.record_request(
                    f"/unknown/{unique}",
                    latency_ms=1,
                    model=f"model-{unique}",
                    user_agent=f"client/{unique}",
                    at=START + timedelta(hours=step * 3 + i % 3),
                )
            assert len(recorder_module._ENDPOINT_MEMO) <= recorder_module._MEMO_ENTRIES
            yield None

    # By the second step the model fingerprints have reached MAX_MODELS and the memo
    # of User-Agents its limit: after that, nothing grows.
    _first, second, *later = allocated_while(steps())
    assert max(later) - second < 16 * 1024
    assert recorder.summary().models_used_count == MAX_MODELS


# --- The events file -------------------------------------------------------------------

DESIGN_EXAMPLE = [
    '{"type": "start", "ts": "2025-01-15T08:30:00Z", "version": "1.3.2"}',
    '{"type": "request", "ts": "2025-01-15T08:31:02Z", "endpoint": "/v1/chat/completions", '
    '"status": 200, "latency_ms": 1250, "tokens": 50, "model": "llama-3-8b", '
    '"user_agent": "Continue/0.9"}',
    '{"type": "end", "ts": "2025-01-15T10:30:00Z"}',
]


def test_the_design_example_is_read_as_written(tmp_path: Path) -> None:
    report = read(write_lines(tmp_path / "events.jsonl", DESIGN_EXAMPLE))
    assert report.lines_read == 3 and report.skipped == 0 and report.unknown_types == 0
    assert report.summary == SessionSummary(
        started_at=START,
        ended_at=START + timedelta(hours=2),
        version="1.3.2",
        daily_active_usage=True,
        session_duration_minutes=120,
        requests_per_session=1,
        total_tokens_generated=50,
        models_used_count=1,
        api_endpoints_used=(Endpoint.CHAT_COMPLETIONS,),
        integration_type=IntegrationType.CONTINUE,
        deployment_type=DeploymentType.DEVELOPMENT,
        avg_response_time_ms=1250,
        peak_requests_per_hour=1,
    )


def test_the_reader_and_the_recorder_aggregate_alike(tmp_path: Path) -> None:
    agents = ["curl/8", "Zed/0.1", None, "Mozilla/5.0"]
    paths = ["/v1/models/x", "/api/tags", "/nope?x=1", "/health"]
    recorder = new_recorder()
    lines = [event("start", "2025-01-15T08:30:00Z")]
    for i in range(300):
        moment = START + timedelta(seconds=37 * i)
        fields = {
            "endpoint": paths[i % 4],
            "latency_ms": (i * 13) % 900 + 0.25,
            "tokens": i % 17,
            "model": f"m{i % 7}",
            "user_agent": agents[i % 4 if i % 5 else 1],
        }
        lines.append(event("request", moment.strftime("%Y-%m-%dT%H:%M:%SZ"), **fields))
        assert recorder.record_request(**fields, at=moment)  # type: ignore[arg-type]
    lines.append(event("end", "2025-01-15T12:00:00Z"))
    report = read(write_lines(tmp_path / "events.jsonl", lines))
    assert report.skipped == 0
    assert report.summary == recorder.summary(START + timedelta(hours=3, minutes=30))


HOSTILE_LINES: list[str | bytes] = [
    "{not json",
    '{"type": "request", "ts": "2025-01-15T08:31:02Z", "endpoint": "/v1/models"',
    b'{"type": "request", "ts": "2025-01-15T08:31:02Z", "endpoint": "/v1/\xff\xfe"}',
    b"\xc3\x28",
    "[1, 2, 3]",
    '"just a string"',
    "42",
    "null",
    "{} {}",
    '{"type": "request", "ts": "2025-01-15T08:31:02Z", "endpoint": "/v1/models"} trailing',
    request(latency_ms=float("nan")).replace("NaN", "NaN"),
    request(latency_ms=0).replace('"latency_ms": 0', '"latency_ms": Infinity'),
    request(latency_ms=0).replace('"latency_ms": 0', '"latency_ms": -Infinity'),
    request(latency_ms=0).replace('"latency_ms": 0', '"latency_ms": 1e999'),
    request(latency_ms=-5),
    request(latency_ms="fast"),
    request(latency_ms=True),
    request(tokens=-1),
    request(tokens=2.5),
    request(tokens="50"),
    request(tokens=0).replace('"tokens": 0', '"tokens": ' + "9" * 5000),
    request(status="200"),
    request(status=-200),
    request(endpoint=5),
    request(endpoint=None),
    request(endpoint=["/v1/models"]),
    request(model=["llama"]),
    request(model=7),
    request(user_agent={"name": "curl"}),
    request(ts="yesterday"),
    request(ts=1736930000),
    request(ts=None),
    request(ts="2025-13-45T99:99:99Z"),
    json.dumps({"type": "request", "endpoint": "/v1/models"}),  # no time
    json.dumps({"ts": "2025-01-15T08:31:02Z", "endpoint": "/v1/models"}),  # no type
    event(kind="request").replace('"request"', "5"),
    event("start", version=132),
    event("end", ts="not a time"),
    "[" * 20_000 + "]" * 20_000,  # deep nesting, under the line limit: RecursionError
    '{"a":' * 6_000 + "1" + "}" * 6_000,
]


def test_every_kind_of_malformed_line_is_skipped_and_counted(tmp_path: Path) -> None:
    good = request(ts="2025-01-15T08:40:00Z", tokens=7)
    lines = [*DESIGN_EXAMPLE[:1], *HOSTILE_LINES, good, *DESIGN_EXAMPLE[2:]]
    report = read(write_lines(tmp_path / "events.jsonl", lines))
    assert report.lines_read == len(lines)
    assert report.skipped == len(HOSTILE_LINES)
    assert report.unknown_types == 0
    summary = report.summary
    assert summary.requests_per_session == 1
    assert summary.total_tokens_generated == 7
    assert summary.version == "1.3.2"
    assert summary.started_at == START and summary.ended_at == START + timedelta(hours=2)


@pytest.mark.parametrize("line", HOSTILE_LINES, ids=range(len(HOSTILE_LINES)))
def test_a_malformed_line_alone_is_never_fatal(tmp_path: Path, line: str | bytes) -> None:
    report = read(write_lines(tmp_path / "events.jsonl", [line]), clock=fixed_clock())
    assert (report.lines_read, report.skipped, report.unknown_types) == (1, 1, 0)
    assert report.summary.requests_per_session == 0


def test_a_null_optional_field_counts_as_absent(tmp_path: Path) -> None:
    lines = [
        request(status=None, latency_ms=None, tokens=None, model=None, user_agent=None),
        request(tokens=5, latency_ms=300),
    ]
    report = read(write_lines(tmp_path / "events.jsonl", lines))
    assert report.skipped == 0
    assert report.summary.requests_per_session == 2
    assert report.summary.total_tokens_generated == 5
    assert report.summary.avg_response_time_ms == 300
    assert report.summary.models_used_count == 1


def test_unknown_event_types_are_counted_apart(tmp_path: Path) -> None:
    lines = [
        *DESIGN_EXAMPLE,
        event("model_loaded", name="llama"),
        json.dumps({"type": "shutdown"}),  # an unknown type needs no time
        event("Request"),
    ]
    report = read(write_lines(tmp_path / "events.jsonl", lines))
    assert (report.skipped, report.unknown_types) == (0, 3)
    assert report.summary.requests_per_session == 1


def test_blank_lines_crlf_a_byte_order_mark_and_spaces_are_read(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    body = "\r\n".join(["\ufeff" + DESIGN_EXAMPLE[0], "", "   ", "  " + DESIGN_EXAMPLE[1] + "  "])
    path.write_text(body + "\r\n\r\n" + DESIGN_EXAMPLE[2], encoding="utf-8", newline="")
    report = read(path)
    assert report.skipped == 0
    assert report.summary.requests_per_session == 1
    assert report.summary.version == "1.3.2"
    assert report.summary.session_duration_minutes == 120


def test_an_overlong_line_is_skipped_without_losing_the_next(tmp_path: Path) -> None:
    huge = request(user_agent="x" * (3 * MAX_LINE_LENGTH))
    lines = [DESIGN_EXAMPLE[0], huge, DESIGN_EXAMPLE[1], DESIGN_EXAMPLE[2]]
    report = read(write_lines(tmp_path / "events.jsonl", lines))
    assert (report.lines_read, report.skipped) == (4, 1)
    assert report.summary.requests_per_session == 1


def test_a_line_just_under_the_limit_is_read(tmp_path: Path) -> None:
    line = request(user_agent="")
    padded = line[:-1] + " " * (MAX_LINE_LENGTH - len(line) - 1) + "}"
    assert len(padded) == MAX_LINE_LENGTH - 1
    report = read(write_lines(tmp_path / "events.jsonl", [padded]))
    assert (report.skipped, report.summary.requests_per_session) == (0, 1)


def test_a_huge_line_is_never_held_in_memory_whole(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    with path.open("w") as out:
        out.write('{"type": "request", "user_agent": "' + "a" * 30_000_000 + '"}\n')
        out.write(DESIGN_EXAMPLE[1] + "\n")
    tracemalloc.start()
    try:
        report = read(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (report.skipped, report.summary.requests_per_session) == (1, 1)
    assert peak < 2 * 1024 * 1024


def test_the_file_is_streamed_so_its_length_does_not_matter(tmp_path: Path) -> None:
    def peak_while_reading(requests: int) -> int:
        path = tmp_path / f"events-{requests}.jsonl"
        moments = (START + timedelta(seconds=i) for i in range(requests))
        write_lines(
            path,
            (
                request(ts=m.strftime("%Y-%m-%dT%H:%M:%SZ"), model=f"m{i % 9}")
                for i, m in enumerate(moments)
            ),
        )
        tracemalloc.start()
        try:
            report = read(path)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert report.summary.requests_per_session == requests
        return peak

    small, large = peak_while_reading(100), peak_while_reading(20_000)
    assert large - small < 32 * 1024


def test_without_start_or_end_the_events_bound_the_session(tmp_path: Path) -> None:
    lines = [
        request(ts="2025-01-15T09:05:00Z"),
        request(ts="2025-01-15T09:00:00Z"),  # out of order: the earliest is the start
        request(ts="2025-01-15T09:47:30Z"),
        request(ts="2025-01-15T09:20:00Z"),
    ]
    summary = read(write_lines(tmp_path / "events.jsonl", lines), clock=fixed_clock()).summary
    assert summary.started_at == at("2025-01-15T09:00:00")
    assert summary.ended_at == at("2025-01-15T09:47:30")
    assert summary.session_duration_minutes == 47


def test_a_file_without_events_starts_at_its_mtime_and_ends_now(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "events.jsonl", ["garbage", ""])
    os.utime(path, (START.timestamp(), START.timestamp()))
    now = START + timedelta(minutes=75)
    report = read(path, clock=fixed_clock(now))
    assert report.summary.started_at == START
    assert report.summary.ended_at == now
    assert report.summary.session_duration_minutes == 75
    assert report.summary.integration_type is IntegrationType.NONE
    assert report.summary.daily_active_usage is False


def test_an_empty_file_is_an_empty_session(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.touch()
    report = read(path, clock=fixed_clock())
    assert (report.lines_read, report.skipped, report.unknown_types) == (0, 0, 0)
    assert report.summary.requests_per_session == 0


def test_the_first_start_and_the_last_end_win(tmp_path: Path) -> None:
    lines = [
        event("start", "2025-01-15T08:30:00Z", version="1.3.2"),
        event("start", "2025-01-15T09:30:00Z", version="9.9.9"),
        request(ts="2025-01-15T08:45:00Z"),
        event("end", "2025-01-15T10:00:00Z"),
        event("end", "2025-01-15T10:30:00Z"),
    ]
    summary = read(write_lines(tmp_path / "events.jsonl", lines)).summary
    assert summary.started_at == START
    assert summary.ended_at == START + timedelta(hours=2)
    assert summary.version == "1.3.2"


def test_a_start_without_a_version_leaves_the_version_unknown(tmp_path: Path) -> None:
    lines = [event("start"), event("start", version="x" * 1000), DESIGN_EXAMPLE[1]]
    summary = read(write_lines(tmp_path / "events.jsonl", lines)).summary
    assert summary.version is None


def test_time_stamps_with_offsets_and_fractions_are_understood(tmp_path: Path) -> None:
    lines = [
        event("start", "2025-01-15T10:30:00.250+02:00"),
        request(ts="2025-01-15T08:59:59.999Z"),
        request(ts="2025-01-15T09:00:00+00:00"),
        request(ts="2025-01-15T09:10:00"),  # no offset: UTC
        event("end", "2025-01-15T10:30:00z"),
    ]
    report = read(write_lines(tmp_path / "events.jsonl", lines))
    assert report.skipped == 0
    assert report.summary.started_at == START
    assert report.summary.session_duration_minutes == 120
    assert report.summary.peak_requests_per_hour == 2


def test_a_hostile_file_cannot_break_the_payload_bounds(tmp_path: Path) -> None:
    lines = [
        event("start", "0001-01-01T00:00:00Z"),
        *[request(tokens=MAX_TOKENS, latency_ms=1e300) for _ in range(3)],
        event("end", "9999-12-31T23:59:59Z"),
    ]
    summary = read(write_lines(tmp_path / "events.jsonl", lines)).summary
    assert summary.total_tokens_generated == MAX_TOKENS
    assert summary.session_duration_minutes == MAX_DURATION_MINUTES
    assert summary.avg_response_time_ms == MAX_LATENCY_MS
    assert summary.deployment_type is DeploymentType.PRODUCTION


def test_planted_text_never_reaches_the_summary(tmp_path: Path) -> None:
    planted = "alice@example.com /home/alice 192.168.1.7 sk-abcdef0123456789"
    lines = [
        event("start", version="1.3.2"),
        request(endpoint=f"/v1/models/{planted}?q={planted}", model=planted, user_agent=planted),
        request(endpoint=planted, model=PLANTED_MODEL, user_agent=None),
    ]
    summary = read(write_lines(tmp_path / "events.jsonl", lines)).summary
    text = repr(summary)
    assert "alice" not in text and "sk-" not in text and "planted" not in text
    assert summary.api_endpoints_used == (Endpoint.MODELS, Endpoint.OTHER)
    assert summary.integration_type is IntegrationType.OTHER
    assert summary.models_used_count == 2


def test_a_time_beyond_what_a_datetime_holds_is_clamped() -> None:
    # An mtime can be (file systems clamp it before that, so this is checked directly).
    assert recorder_module._moment(1e15) == datetime.max.replace(microsecond=0, tzinfo=UTC)
    assert recorder_module._moment(-1e15) == datetime.min.replace(tzinfo=UTC)


def test_a_missing_or_unreadable_file_raises_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read(tmp_path / "missing.jsonl")
    from shimmy_onboard.config import NotARegularFile

    with pytest.raises(NotARegularFile, match="a directory"):
        read(tmp_path)
    if os.geteuid() != 0:  # root reads anything
        locked = write_lines(tmp_path / "locked.jsonl", DESIGN_EXAMPLE)
        locked.chmod(0)
        with pytest.raises(PermissionError):
            read(locked)


def test_importing_the_recorder_loads_nothing_heavy() -> None:
    probe = (
        "import sys, shimmy_onboard.recorder\n"
        "heavy = {'textual', 'pydantic', 'httpx', 'psutil', 'rich'}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "[]"


# --- Properties ------------------------------------------------------------------------

PROPERTY = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**15), max_value=10**15)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)
FIELDS = ("type", "ts", "endpoint", "status", "latency_ms", "tokens", "model", "user_agent")
event_objects = st.dictionaries(
    st.sampled_from(FIELDS),
    json_values
    | st.sampled_from(["request", "start", "end", "2025-01-15T08:31:02Z", "/v1/models"]),
)
raw_lines = (
    event_objects.map(lambda body: json.dumps(body).encode())
    | st.binary(max_size=60).map(lambda data: data.replace(b"\n", b" ").replace(b"\r", b" "))
    | st.text(max_size=60).map(
        lambda text: text.replace("\n", " ").replace("\r", " ").encode("utf-8", "replace")
    )
)


def within_bounds(summary: SessionSummary) -> None:
    assert 0 <= summary.requests_per_session <= MAX_REQUESTS
    assert 0 <= summary.total_tokens_generated <= MAX_TOKENS
    assert 0 <= summary.session_duration_minutes <= MAX_DURATION_MINUTES
    assert 0 <= summary.avg_response_time_ms <= MAX_LATENCY_MS
    assert 0 <= summary.models_used_count <= MAX_MODELS
    assert 0 <= summary.peak_requests_per_hour <= summary.requests_per_session
    assert summary.daily_active_usage is (summary.requests_per_session > 0)
    assert all(isinstance(e, Endpoint) for e in summary.api_endpoints_used)
    assert isinstance(summary.integration_type, IntegrationType)
    assert summary.started_at <= summary.ended_at
    assert summary.started_at.tzinfo is UTC


@PROPERTY
@given(lines=st.lists(raw_lines, max_size=8))
def test_any_file_reads_without_error_into_a_bounded_summary(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]
) -> None:
    path = write_lines(tmp_path_factory.mktemp("events") / "events.jsonl", lines)
    report = read(path, clock=fixed_clock())
    assert report.lines_read == len(lines)
    assert report.skipped + report.unknown_types <= len(lines)
    assert report.summary.requests_per_session <= len(lines) - report.skipped
    within_bounds(report.summary)


@PROPERTY
@given(fields=event_objects)
def test_any_values_recorded_in_process_never_raise(fields: dict[str, object]) -> None:
    recorder = new_recorder()
    fields.pop("type", None)
    at_value = fields.pop("ts", None)
    endpoint = fields.pop("endpoint", "/v1/models")
    counted = recorder.record_request(endpoint, **fields, at=at_value)  # type: ignore[arg-type]
    summary = recorder.summary(START + timedelta(minutes=1))
    assert summary.requests_per_session == (1 if counted else 0)
    within_bounds(summary)


# --- hostile files: never read, or read against a deadline -----------------------------------


def test_a_device_is_refused_before_a_byte_is_read(tmp_path: Path) -> None:
    from shimmy_onboard.config import NotARegularFile

    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null here")
    with pytest.raises(NotARegularFile, match="is not a regular file"):
        read(Path("/dev/null"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_without_a_writer_is_refused_at_once_instead_of_waiting(tmp_path: Path) -> None:
    import threading

    from shimmy_onboard.config import NotARegularFile

    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    outcome: list[BaseException | EventsReport] = []

    def attempt() -> None:
        try:
            outcome.append(read(fifo))
        except BaseException as error:  # handed to the test thread
            outcome.append(error)

    reader = threading.Thread(target=attempt, daemon=True)
    reader.start()
    reader.join(10)
    if reader.is_alive():  # the old reader blocked in open(): unblock it and fail
        with open(fifo, "wb"):
            pass
        pytest.fail("read_events was still waiting on the FIFO after 10 s")
    [result] = outcome
    assert isinstance(result, NotARegularFile)


def test_a_file_not_read_by_the_deadline_raises_instead_of_giving_a_partial_count(
    tmp_path: Path,
) -> None:
    import time

    from shimmy_onboard.recorder import ReadDeadlinePassed

    path = write_lines(tmp_path / "big.jsonl", [request()] * 5_000)
    with pytest.raises(ReadDeadlinePassed):
        read(path, deadline=time.monotonic())  # already passed: stops at the first look
    assert read(path, deadline=time.monotonic() + 60).summary.requests_per_session == 5_000


def test_one_endless_line_is_cut_short_by_the_deadline(tmp_path: Path) -> None:
    import time

    from shimmy_onboard.recorder import MAX_LINE_LENGTH, ReadDeadlinePassed

    path = tmp_path / "one-line.jsonl"
    path.write_bytes(b"x" * (MAX_LINE_LENGTH * 40))  # no newline anywhere
    with pytest.raises(ReadDeadlinePassed):
        read(path, deadline=time.monotonic())
    assert read(path).skipped == 1
