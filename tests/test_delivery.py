"""``shimmy-onboard send`` and the sender, against real servers on 127.0.0.1.

Every fault of the issue's matrix is played by a real loopback server (tests/loopback_servers.py)
and ``send`` runs as a real process, exactly as Shimmy runs it at shutdown. Each case checks
what a user (or Shimmy) would notice: the exit code, a silent stdout, no traceback, the
time it took, and what is left in the queue for the next session.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from shimmy_onboard.clock import format_utc
from shimmy_onboard.consent import record_decision
from shimmy_onboard.delivery import (
    finish_in_background,
    is_loopback_host,
    parse_send_arguments,
    post_body,
    resolve_endpoint,
)
from shimmy_onboard.outbox import load_queue, load_sent_log
from shimmy_onboard.paths import ShimmyPaths, resolve_paths
from shimmy_onboard.recorder import SessionRecorder
from shimmy_onboard.vocab import ConsentSource
from tests.conftest import run_cli
from tests.loopback_servers import (
    LoopbackServer,
    answering,
    closing_mid_response,
    dripping,
    never_answering,
    redirecting_to,
    refused_port,
    serving,
)

# The bound for every fault: the 5 s deadline plus the interpreter's start and exit.
WALL_LIMIT_SECONDS = 5.5


@dataclass
class SendRun:
    exit_code: int
    stdout: str
    stderr: str
    seconds: float


def start_send(arguments: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], float]:
    process = subprocess.Popen(
        [sys.executable, "-m", "shimmy_onboard", "send", *arguments],
        env={**os.environ, **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return process, time.monotonic()


def finish_send(process: subprocess.Popen[str], started: float) -> SendRun:
    stdout, stderr = process.communicate(timeout=30)
    return SendRun(process.returncode, stdout, stderr, time.monotonic() - started)


def send(arguments: list[str], env: dict[str, str]) -> SendRun:
    return finish_send(*start_send(arguments, env))


def to(server_url: str, **extra: str) -> dict[str, str]:
    return {"SHIMMY_METRICS_ENDPOINT": server_url, **extra}


def assert_quiet_success(run: SendRun) -> None:
    """What Shimmy must see from every send: exit 0, nothing on stdout, no traceback, in time."""
    assert run.exit_code == 0, run.stderr
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    assert run.seconds < WALL_LIMIT_SECONDS


_session_counter = iter(range(10, 60))


def events_file(tmp_path: Path, requests: int = 2) -> tuple[str, str]:
    """A session as Shimmy writes it; returns the file and the session's end time (unique)."""
    minute = next(_session_counter)
    ended = f"2025-01-15T10:{minute:02d}:00Z"
    lines: list[dict[str, object]] = [
        {"type": "start", "ts": "2025-01-15T08:30:00Z", "version": "1.3.2"}
    ]
    lines += [
        {
            "type": "request",
            "ts": "2025-01-15T08:31:02Z",
            "endpoint": "/v1/chat/completions",
            "status": 200,
            "latency_ms": 1250,
            "tokens": 50,
            "model": "llama-3-8b",
            "user_agent": "Continue/0.9",
        }
    ] * requests
    lines.append({"type": "end", "ts": ended})
    path = tmp_path / f"events-{minute}.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path), ended


def timestamps(body: bytes) -> list[str]:
    return [session["timestamp"] for session in json.loads(body)]


@pytest.fixture
def enabled(paths: ShimmyPaths) -> ShimmyPaths:
    # The id the planted sessions carry: they were queued under this consent.
    record_decision(paths, enable=True, source=ConsentSource.CLI, mint_id=lambda: FIXED_MACHINE_ID)
    return paths


@pytest.fixture
def ok_server() -> Iterator[LoopbackServer]:
    with serving(answering(200)) as server:
        yield server


# --- the consent gate: no connection, no file, unless metrics are sending ---------------------


@pytest.mark.parametrize(
    ("decision", "variables"),
    [
        (None, {}),
        (False, {}),
        (True, {"DO_NOT_TRACK": "1"}),
        (True, {"SHIMMY_NO_METRICS": "1"}),
    ],
    ids=["undecided", "disabled", "DO_NOT_TRACK", "SHIMMY_NO_METRICS"],
)
def test_send_opens_no_connection_and_queues_nothing_unless_metrics_are_sending(
    paths: ShimmyPaths,
    ok_server: LoopbackServer,
    tmp_path: Path,
    decision: bool | None,
    variables: dict[str, str],
) -> None:
    if decision is not None:
        record_decision(paths, enable=decision, source=ConsentSource.CLI)
    events, _ = events_file(tmp_path)
    run = send(["--events", events, "--shimmy-version", "1.3.2"], to(ok_server.url, **variables))
    assert_quiet_success(run)
    assert run.stderr == ""
    assert ok_server.connections == 0
    assert not paths.queue_file.exists()


def test_send_does_not_even_look_at_the_events_file_when_metrics_are_off(
    paths: ShimmyPaths, tmp_path: Path
) -> None:
    run = send(["--events", str(tmp_path / "no-such-file.jsonl")], {})
    assert_quiet_success(run)
    assert run.stderr == ""


def test_send_with_metrics_off_imports_no_heavy_library(paths: ShimmyPaths) -> None:
    probe = (
        "import sys; from shimmy_onboard.cli import main; code = main(['send']); "
        "heavy = {'httpx', 'pydantic', 'psutil', 'textual'} & set(sys.modules); "
        "print(code, sorted(heavy))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.strip() == "0 []"


def test_an_unreadable_events_file_is_a_usage_error_when_sending(
    enabled: ShimmyPaths, ok_server: LoopbackServer, tmp_path: Path
) -> None:
    run = send(["--events", str(tmp_path / "missing.jsonl")], to(ok_server.url))
    assert run.exit_code == 2
    assert "missing.jsonl" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""
    assert ok_server.connections == 0


# --- debug mode ---------------------------------------------------------------------------


def test_debug_mode_writes_the_exact_body_to_stderr_and_sends_nothing(
    enabled: ShimmyPaths, ok_server: LoopbackServer, tmp_path: Path
) -> None:
    queued_events, queued_end = events_file(tmp_path)
    with serving(answering(500)) as failing:
        assert_quiet_success(send(["--events", queued_events], to(failing.url)))
    queue_before = enabled.queue_file.read_bytes()

    events, ended = events_file(tmp_path)
    arguments = ["--events", events, "--shimmy-version", "1.3.2"]
    debug = send(arguments, to(ok_server.url, SHIMMY_METRICS_DEBUG="1"))
    assert_quiet_success(debug)
    assert ok_server.connections == 0
    # Nothing was sent, so nothing changes: the queue is kept as it was, this session
    # is not added to it, and no sent-log line is written.
    assert enabled.queue_file.read_bytes() == queue_before
    assert not enabled.sent_log_file.exists()
    printed = debug.stderr.splitlines()[-1].encode()
    assert timestamps(printed) == [queued_end, ended]

    real = send(arguments, to(ok_server.url))
    assert_quiet_success(real)
    assert ok_server.requests[0].body == printed


def test_the_version_comes_from_the_flag_then_shimmy_version_then_the_events(
    enabled: ShimmyPaths, tmp_path: Path
) -> None:
    events, _ = events_file(tmp_path)  # its start event says 1.3.2

    def version_sent(arguments: list[str], env: dict[str, str]) -> str:
        run = send(["--events", events, *arguments], {"SHIMMY_METRICS_DEBUG": "1", **env})
        assert_quiet_success(run)
        return str(json.loads(run.stderr.splitlines()[-1])[-1]["version"])

    assert version_sent([], {}) == "1.3.2"
    assert version_sent([], {"SHIMMY_VERSION": "2.0.0"}) == "2.0.0"
    assert version_sent(["--shimmy-version", "v3.1.0"], {"SHIMMY_VERSION": "2.0.0"}) == "3.1.0"


# --- the fault matrix ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 204])
def test_a_2xx_empties_the_queue_and_logs_the_body_hash(
    enabled: ShimmyPaths, tmp_path: Path, status: int
) -> None:
    events, ended = events_file(tmp_path)
    with serving(answering(status)) as server:
        run = send(["--events", events, "--shimmy-version", "1.3.2"], to(server.url))
    assert_quiet_success(run)
    [request] = server.requests
    assert request.method == "POST"
    assert request.path == "/v1/usage"
    assert request.headers["content-type"] == "application/json"
    [session] = json.loads(request.body)
    assert session["timestamp"] == ended
    assert session["version"] == "1.3.2"
    assert session["metrics"]["requests_per_session"] == 2
    assert "llama" not in request.body.decode()
    assert load_queue(enabled) == []
    [logged] = load_sent_log(enabled)
    assert logged["sha256"] == hashlib.sha256(request.body).hexdigest()
    assert logged["sessions"] == 1


@pytest.mark.parametrize("status", [500, 429, 413])
def test_a_refusal_keeps_the_session_for_the_next_batch(
    enabled: ShimmyPaths, tmp_path: Path, status: int
) -> None:
    first_events, first_end = events_file(tmp_path)
    second_events, second_end = events_file(tmp_path)
    with serving(answering(status)) as server:
        assert_quiet_success(send(["--events", first_events], to(server.url)))
        assert timestamps(json.dumps(load_queue(enabled)).encode()) == [first_end]
        assert_quiet_success(send(["--events", second_events], to(server.url)))
    first_body, second_body = (request.body for request in server.requests)
    assert timestamps(first_body) == [first_end]
    assert timestamps(second_body) == [first_end, second_end]  # oldest first
    assert len(load_queue(enabled)) == 2
    assert load_sent_log(enabled) == []


def test_a_queued_session_goes_out_with_the_next_successful_send(
    enabled: ShimmyPaths, tmp_path: Path, ok_server: LoopbackServer
) -> None:
    first_events, first_end = events_file(tmp_path)
    second_events, second_end = events_file(tmp_path)
    with serving(answering(500)) as failing:
        assert_quiet_success(send(["--events", first_events], to(failing.url)))
    assert_quiet_success(send(["--events", second_events], to(ok_server.url)))
    assert timestamps(ok_server.requests[0].body) == [first_end, second_end]
    assert load_queue(enabled) == []
    assert load_sent_log(enabled)[0]["sessions"] == 2


def test_a_refused_connection_keeps_the_session_queued(
    enabled: ShimmyPaths, tmp_path: Path
) -> None:
    events, ended = events_file(tmp_path)
    run = send(["--events", events], to(f"http://127.0.0.1:{refused_port()}/v1/usage"))
    assert_quiet_success(run)
    assert [session["timestamp"] for session in load_queue(enabled)] == [ended]


def test_a_connection_closed_mid_response_keeps_the_session_queued(
    enabled: ShimmyPaths, tmp_path: Path
) -> None:
    # A 200 status line with half its body is not a delivery: the session is sent again.
    events, ended = events_file(tmp_path)
    with serving(closing_mid_response) as server:
        run = send(["--events", events], to(server.url))
    assert_quiet_success(run)
    assert server.connections == 1
    assert [session["timestamp"] for session in load_queue(enabled)] == [ended]
    assert load_sent_log(enabled) == []


def test_a_redirect_is_not_followed_and_keeps_the_session_queued(
    enabled: ShimmyPaths, tmp_path: Path, ok_server: LoopbackServer
) -> None:
    events, ended = events_file(tmp_path)
    with serving(redirecting_to(ok_server.url)) as redirector:
        run = send(["--events", events], to(redirector.url))
    assert_quiet_success(run)
    assert redirector.connections == 1
    assert ok_server.connections == 0
    assert [session["timestamp"] for session in load_queue(enabled)] == [ended]


def test_a_silent_server_and_a_dripping_server_cost_at_most_the_deadline(
    enabled: ShimmyPaths, tmp_path: Path
) -> None:
    # Both at once, since each is a five-second case, as two users (two config dirs) so
    # that they do not compete for one queue. The dripping server sends a byte a second:
    # no per-phase timeout ever trips, only the total deadline ends it.
    other_user = resolve_paths({"SHIMMY_CONFIG_DIR": str(tmp_path / "other-user")})
    record_decision(other_user, enable=True, source=ConsentSource.CLI)
    silent_events, silent_end = events_file(tmp_path)
    drip_events, drip_end = events_file(tmp_path)
    with serving(never_answering) as silent, serving(dripping) as drip:
        silent_send = start_send(["--events", silent_events], to(silent.url))
        drip_send = start_send(
            ["--events", drip_events],
            to(drip.url, SHIMMY_CONFIG_DIR=str(other_user.config_dir)),
        )
        runs = [finish_send(*silent_send), finish_send(*drip_send)]
    for run in runs:
        assert_quiet_success(run)
    assert silent.connections == 1
    assert drip.connections == 1
    assert [session["timestamp"] for session in load_queue(enabled)] == [silent_end]
    assert [session["timestamp"] for session in load_queue(other_user)] == [drip_end]


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1 that no trust store knows."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context, cert


def test_an_untrusted_certificate_is_refused_and_the_session_kept(
    enabled: ShimmyPaths, tmp_path: Path, self_signed: tuple[ssl.SSLContext, Path]
) -> None:
    context, cert = self_signed
    events, ended = events_file(tmp_path)
    with serving(answering(200), tls=context) as server:
        run = send(["--events", events], to(server.url))
        assert_quiet_success(run)
        assert server.connections == 1
        assert server.requests == []  # the handshake failed: not one byte of the body left
        assert [session["timestamp"] for session in load_queue(enabled)] == [ended]
        # The same server, trusted through SSL_CERT_FILE (self-hosting with one's own CA):
        trusted = send([], to(server.url, SSL_CERT_FILE=str(cert)))
        assert_quiet_success(trusted)
    assert timestamps(server.requests[0].body)[0] == ended
    assert load_queue(enabled) == []


def test_a_corrupt_queue_file_does_not_stop_the_send(
    enabled: ShimmyPaths, tmp_path: Path, ok_server: LoopbackServer
) -> None:
    enabled.metrics_dir.mkdir(parents=True, exist_ok=True)
    enabled.queue_file.write_bytes(b'{"format": 1, "sessions": [{"id": \xff')
    events, ended = events_file(tmp_path)
    run = send(["--events", events], to(ok_server.url))
    assert_quiet_success(run)
    assert timestamps(ok_server.requests[0].body) == [ended]
    assert load_queue(enabled) == []


def test_two_concurrent_sends_neither_lose_nor_duplicate_a_session(
    enabled: ShimmyPaths, tmp_path: Path
) -> None:
    first_events, first_end = events_file(tmp_path)
    second_events, second_end = events_file(tmp_path)
    # The server takes its time, so that the two sends overlap: one of them finds the
    # other sending and leaves its session queued, or both sessions go in one POST.
    with serving(answering(200, delay=0.5)) as server:
        runs = [
            start_send(["--events", first_events], to(server.url)),
            start_send(["--events", second_events], to(server.url)),
        ]
        for run in runs:
            assert_quiet_success(finish_send(*run))
    sent = [stamp for request in server.requests for stamp in timestamps(request.body)]
    queued = [session["timestamp"] for session in load_queue(enabled)]
    assert sorted(sent + queued) == sorted([first_end, second_end])
    assert sum(entry["sessions"] for entry in load_sent_log(enabled)) == len(sent)


def test_an_endpoint_over_plain_http_to_another_host_is_refused_before_connecting(
    enabled: ShimmyPaths, tmp_path: Path
) -> None:
    events, ended = events_file(tmp_path)
    run = send(["--events", events], to("http://192.0.2.1:9/v1/usage"))
    assert_quiet_success(run)
    assert run.seconds < 2.5  # 192.0.2.1 is unroutable: a connection attempt would hang
    assert "SHIMMY_METRICS_ENDPOINT" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert [session["timestamp"] for session in load_queue(enabled)] == [ended]


def test_the_body_sent_is_the_queue_preview_showed_plus_this_session(
    enabled: ShimmyPaths, tmp_path: Path, ok_server: LoopbackServer
) -> None:
    pytest.importorskip("shimmy_onboard.transparency")
    first_events, _ = events_file(tmp_path)
    with serving(answering(500)) as failing:
        assert_quiet_success(send(["--events", first_events], to(failing.url)))
    preview = subprocess.run(
        [sys.executable, "-m", "shimmy_onboard", "config", "--metrics", "preview"],
        capture_output=True,
        timeout=30,
        check=True,
    ).stdout.rstrip(b"\n")
    second_events, second_end = events_file(tmp_path)
    assert_quiet_success(send(["--events", second_events], to(ok_server.url)))
    body = ok_server.requests[0].body
    assert body.startswith(preview[:-1] + b",")  # byte for byte, then this session
    assert json.loads(body)[:-1] == json.loads(preview)
    assert timestamps(body)[-1] == second_end


# --- the sender in process: the endpoint rule and the total deadline ----------------------


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        ("https://metrics.example.org/v1/usage", True),
        ("http://127.0.0.1:8080/v1/usage", True),
        ("http://127.9.9.9/v1/usage", True),
        ("http://[::1]:8080/v1/usage", True),
        ("http://localhost:8080/v1/usage", True),
        ("http://metrics.example.org/v1/usage", False),
        ("http://10.0.0.1/v1/usage", False),
        ("http://127.0.0.1.example.org/v1/usage", False),
        ("ftp://127.0.0.1/v1/usage", False),
        ("https://", False),
        ("http://127.0.0.1:notaport/", False),
        ("metrics.shimmy-ai.dev/v1/usage", False),
    ],
)
def test_the_endpoint_must_be_https_or_plain_http_to_this_machine(
    value: str, accepted: bool
) -> None:
    endpoint, problem = resolve_endpoint({"SHIMMY_METRICS_ENDPOINT": value})
    assert (endpoint is not None) is accepted
    assert (problem is None) is accepted


def test_no_endpoint_variable_means_the_spec_endpoint() -> None:
    assert resolve_endpoint({}) == ("https://metrics.shimmy-ai.dev/v1/usage", None)


def test_loopback_means_this_machine_only() -> None:
    assert is_loopback_host("127.0.0.1") and is_loopback_host("::1")
    assert not is_loopback_host("0.0.0.0") and not is_loopback_host("localhost.example.org")


def test_the_deadline_ends_a_dripping_answer_and_leaves_no_thread_running() -> None:
    with serving(dripping) as server:
        started = time.monotonic()
        outcome = post_body(server.url, b"[]", deadline=started + 1.0)
        elapsed = time.monotonic() - started
    assert not outcome.delivered
    assert "deadline" in outcome.detail
    assert elapsed < 1.5
    assert not [t for t in threading.enumerate() if t.name == "shimmy-metrics-post"]


def test_the_deadline_ends_a_silent_server_and_leaves_no_thread_running() -> None:
    with serving(never_answering) as server:
        started = time.monotonic()
        outcome = post_body(server.url, b"[]", deadline=started + 1.0)
        elapsed = time.monotonic() - started
    assert not outcome.delivered
    assert elapsed < 1.5
    assert not [t for t in threading.enumerate() if t.name == "shimmy-metrics-post"]


def test_many_fast_sends_in_process_leave_no_threads_behind() -> None:
    with serving(answering(204)) as server, ThreadPoolExecutor(4) as pool:
        outcomes = list(
            pool.map(lambda _: post_body(server.url, b"[]", time.monotonic() + 5), range(8))
        )
    assert all(outcome.delivered for outcome in outcomes)
    assert not [t for t in threading.enumerate() if t.name == "shimmy-metrics-post"]


@pytest.mark.parametrize(
    ("arguments", "parsed"),
    [
        ([], (None, None)),
        (["--events", "e.jsonl"], ("e.jsonl", None)),
        (["--shimmy-version=1.3.2", "--events=e.jsonl"], ("e.jsonl", "1.3.2")),
        (["--events", "e.jsonl", "--shimmy-version", "1.3.2"], ("e.jsonl", "1.3.2")),
        (["--help"], None),
        (["--events"], None),
        (["--events", "--shimmy-version", "1"], None),
        (["--events", "a", "--events", "b"], None),
        (["--event", "a"], None),
        (["stray"], None),
    ],
)
def test_send_flags_are_read_without_argparse_or_left_to_it(
    arguments: list[str], parsed: tuple[str | None, str | None] | None
) -> None:
    assert parse_send_arguments(arguments) == parsed


def test_a_bad_send_flag_gets_argparse_s_usage_message(paths: ShimmyPaths) -> None:
    run = send(["--evnets", "x"], {})
    assert run.exit_code == 2
    assert "usage:" in run.stderr
    assert "Traceback" not in run.stderr


# --- in process: SessionRecorder.finish -------------------------------------------------------


def test_an_embedding_caller_sends_its_session_on_a_background_thread(
    enabled: ShimmyPaths, ok_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIMMY_METRICS_ENDPOINT", ok_server.url)
    recorder = SessionRecorder()
    recorder.record_request("/v1/models?x=/home/me", latency_ms=20, user_agent="curl/8.5")
    thread = recorder.finish(shimmy_version="1.3.2")
    assert thread is not None and thread.daemon
    thread.join(10)
    assert not thread.is_alive()
    [session] = json.loads(ok_server.requests[0].body)
    assert session["version"] == "1.3.2"
    assert session["metrics"]["requests_per_session"] == 1
    assert session["metrics"]["api_endpoints_used"] == ["/v1/models"]
    assert load_queue(enabled) == []


def test_an_embedding_caller_with_metrics_off_starts_nothing(
    paths: ShimmyPaths, ok_server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIMMY_METRICS_ENDPOINT", ok_server.url)
    assert finish_in_background(SessionRecorder()) is None
    record_decision(paths, enable=True, source=ConsentSource.CLI)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    assert finish_in_background(SessionRecorder()) is None
    assert ok_server.connections == 0
    assert not paths.queue_file.exists()


def test_the_background_thread_never_outlives_its_deadline(
    enabled: ShimmyPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(dripping) as server:
        monkeypatch.setenv("SHIMMY_METRICS_ENDPOINT", server.url)
        started = time.monotonic()
        thread = finish_in_background(SessionRecorder(), deadline_seconds=1.5)
        assert thread is not None
        thread.join(5)
        elapsed = time.monotonic() - started
    assert not thread.is_alive()
    assert elapsed < 2.0
    assert len(load_queue(enabled)) == 1  # not delivered: kept for the next session


# --- consent changing while a send runs ------------------------------------------------------

# Short request lines, so that a file that takes the reader a good fraction of a second
# is written in a fraction of that.
QUICK_REQUEST = '{"type":"request","ts":"2025-01-15T08:31:02Z","endpoint":"/v1/models"}\n'


def has_open(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` open right now (Linux: /proc/PID/fd)."""
    try:
        descriptors = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return False
    for descriptor in descriptors:
        try:
            if os.readlink(descriptor) == str(path):
                return True
        except OSError:
            continue
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="watches /proc/PID/fd")
def test_disabling_while_send_reads_its_events_stops_the_send_and_queues_nothing(
    enabled: ShimmyPaths, ok_server: LoopbackServer, tmp_path: Path
) -> None:
    events = tmp_path / "busy-session.jsonl"
    # About a second to read (within the read's share of the deadline), several times what
    # the disable below takes: it lands while the file is being read.
    events.write_text(QUICK_REQUEST * 400_000)
    process, started = start_send(["--events", str(events)], to(ok_server.url))
    # The events file is opened only past the consent gate: from then on, the old
    # code went on to queue and POST whatever the config said meanwhile.
    while not has_open(process.pid, events):
        assert process.poll() is None, process.communicate()
        time.sleep(0.002)
    disable = run_cli(["config", "--metrics", "disable"])
    assert disable.returncode == 0, disable.stderr
    run = finish_send(process, started)
    assert_quiet_success(run)
    assert ok_server.connections == 0
    assert not enabled.queue_file.exists()


def test_a_session_whose_consent_was_withdrawn_is_neither_queued_nor_sent(
    enabled: ShimmyPaths, ok_server: LoopbackServer
) -> None:
    from shimmy_onboard.delivery import deliver

    session_id = resolve_session_id(enabled)
    record_decision(enabled, enable=False, source=ConsentSource.CLI)
    env = to(ok_server.url)
    deliver(enabled, session_id, SessionRecorder().summary(), "1.3.2", time.monotonic() + 5, env)
    assert ok_server.connections == 0
    assert not enabled.queue_file.exists()


def test_a_session_from_before_a_re_enable_is_not_queued_under_the_new_consent(
    enabled: ShimmyPaths, ok_server: LoopbackServer
) -> None:
    from shimmy_onboard.delivery import deliver

    old_id = resolve_session_id(enabled)
    record_decision(enabled, enable=False, source=ConsentSource.CLI)
    record_decision(enabled, enable=True, source=ConsentSource.CLI)  # a new session_id
    env = to(ok_server.url)
    deliver(enabled, old_id, SessionRecorder().summary(), "1.3.2", time.monotonic() + 5, env)
    assert ok_server.connections == 0
    assert load_queue(enabled) == []


def test_a_queue_left_behind_after_disabling_is_never_sent(
    enabled: ShimmyPaths, ok_server: LoopbackServer
) -> None:
    from shimmy_onboard.delivery import send_queue

    record_decision(enabled, enable=False, source=ConsentSource.CLI)
    # A queue the disable could not delete (it says such a queue is inert): it must stay so.
    plant_queue(enabled, [(datetime.now(timezone.utc), queued_report(ended_minute=1))])
    assert send_queue(enabled, time.monotonic() + 5, to(ok_server.url)) is False
    assert ok_server.connections == 0


def test_disabling_waits_for_a_queue_write_in_progress_and_then_deletes_the_queue(
    enabled: ShimmyPaths,
) -> None:
    from shimmy_onboard.consent import discard_queue
    from shimmy_onboard.outbox import queue_lock

    with queue_lock(enabled):  # a sender in the middle of queueing its session
        disabling = threading.Thread(target=discard_queue, args=(enabled,))
        disabling.start()
        time.sleep(0.1)  # the disable is under way (only orders the two; nothing is timed)
        plant_queue(enabled, [(datetime.now(timezone.utc), queued_report(ended_minute=2))])
    disabling.join(10)
    assert not disabling.is_alive()
    assert not enabled.queue_file.exists()


def test_disabling_deletes_the_queue_even_when_its_lock_is_stuck(enabled: ShimmyPaths) -> None:
    from shimmy_onboard.consent import discard_queue
    from shimmy_onboard.outbox import queue_lock

    plant_queue(enabled, [(datetime.now(timezone.utc), queued_report(ended_minute=3))])
    with queue_lock(enabled):  # held for longer than the outbox's patience
        discard_queue(enabled)
        assert not enabled.queue_file.exists()


# --- what is queued is checked again before it is sent ---------------------------------------

FIXED_MACHINE_ID = "0b7e5c1e-8a3b-4f7e-9c2d-4e5f6a7b8c9d"


def resolve_session_id(paths: ShimmyPaths) -> str:
    from shimmy_onboard.consent import load_state

    session_id = load_state(paths, {}).session_id
    assert session_id is not None
    return session_id


def queued_report(ended_minute: int) -> dict[str, Any]:
    """A valid session object, told apart by its end time (10:MM:00Z)."""
    from shimmy_onboard.hardware import MachineFacts
    from shimmy_onboard.payload import build_report
    from shimmy_onboard.vocab import GpuVendor, HardwareTier, Platform, Region

    started = datetime(2025, 1, 15, 8, 30, tzinfo=timezone.utc)
    summary = SessionRecorder(started_at=started, env={}).summary(
        ended_at=started.replace(hour=10, minute=ended_minute)
    )
    machine = MachineFacts(Platform.LINUX_X64, HardwareTier.SERVER, GpuVendor.NONE, Region.EMEA)
    return build_report(
        session_id=FIXED_MACHINE_ID, summary=summary, machine=machine, version="1.3.2"
    )


def plant_queue(paths: ShimmyPaths, sessions: list[tuple[datetime, dict[str, Any]]]) -> None:
    """queue.json written by hand, as the reviewer did: nothing checks it on the way in."""
    document = {
        "format": 1,
        "sessions": [
            {"id": f"planted{number}", "queued_at": format_utc(when), "report": report}
            for number, (when, report) in enumerate(sessions)
        ],
    }
    paths.queue_file.parent.mkdir(parents=True, exist_ok=True)
    paths.queue_file.write_text(json.dumps(document))


def preview_stdout() -> bytes:
    result = run_cli(["config", "--metrics", "preview"])
    assert result.returncode == 0, result.stderr
    return result.stdout.encode("utf-8")


def test_a_queued_session_holding_an_email_is_dropped_never_sent_nor_previewed(
    enabled: ShimmyPaths, ok_server: LoopbackServer
) -> None:
    now = datetime.now(timezone.utc)
    clean = queued_report(ended_minute=5)
    planted = {**queued_report(ended_minute=6), "user": "alice@example.com"}
    plant_queue(enabled, [(now, planted), (now, clean)])

    previewed = preview_stdout()
    assert b"alice" not in previewed
    assert timestamps(previewed) == ["2025-01-15T10:05:00Z"]

    assert_quiet_success(send([], to(ok_server.url)))
    [request] = ok_server.requests
    assert b"alice" not in request.body
    assert request.body.startswith(previewed[:-1])  # the queue, then this session
    assert "2025-01-15T10:05:00Z" in timestamps(request.body)
    assert b"alice" not in enabled.queue_file.read_bytes()


def test_a_session_queued_in_2020_is_neither_previewed_nor_sent(
    enabled: ShimmyPaths, ok_server: LoopbackServer
) -> None:
    long_ago = datetime(2020, 3, 1, tzinfo=timezone.utc)
    plant_queue(
        enabled,
        [(long_ago, queued_report(ended_minute=7)), (datetime.now(timezone.utc), queued_report(8))],
    )
    previewed = preview_stdout()
    assert timestamps(previewed) == ["2025-01-15T10:08:00Z"]

    assert_quiet_success(send([], to(ok_server.url)))
    [request] = ok_server.requests
    assert "2025-01-15T10:07:00Z" not in timestamps(request.body)
    assert "2025-01-15T10:08:00Z" in timestamps(request.body)


def test_a_session_queued_under_a_withdrawn_consent_is_never_sent_after_re_enabling(
    enabled: ShimmyPaths, ok_server: LoopbackServer
) -> None:
    plant_queue(enabled, [(datetime.now(timezone.utc), queued_report(ended_minute=12))])
    # Disabling could not delete the queue (say it was read-only); then consent again.
    kept = enabled.queue_file.read_bytes()
    record_decision(enabled, enable=False, source=ConsentSource.CLI)
    enabled.queue_file.write_bytes(kept)
    record_decision(enabled, enable=True, source=ConsentSource.CLI)

    assert b"10:12:00Z" not in preview_stdout()
    assert_quiet_success(send([], to(ok_server.url)))
    [request] = ok_server.requests
    assert FIXED_MACHINE_ID.encode() not in request.body
    assert "2025-01-15T10:12:00Z" not in timestamps(request.body)


# --- hostile events files -------------------------------------------------------------------


def send_within(arguments: list[str], env: dict[str, str], seconds: float) -> SendRun:
    """``send``, killed (and the test failed) if it is still running after ``seconds``."""
    process, started = start_send(arguments, env)
    try:
        stdout, stderr = process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"send {arguments} was still running after {seconds} s")
    return SendRun(process.returncode, stdout, stderr, time.monotonic() - started)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_as_the_events_file_is_a_usage_error_not_a_hang(
    enabled: ShimmyPaths, ok_server: LoopbackServer, tmp_path: Path
) -> None:
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    run = send_within(["--events", str(fifo)], to(ok_server.url), 10)
    assert run.exit_code == 2
    assert "is not a regular file" in run.stderr
    assert "Traceback" not in run.stderr
    assert ok_server.connections == 0


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_dev_zero_as_the_events_file_is_a_usage_error_not_an_endless_read(
    enabled: ShimmyPaths, ok_server: LoopbackServer
) -> None:
    run = send_within(["--events", "/dev/zero"], to(ok_server.url), 10)
    assert run.exit_code == 2
    assert "/dev/zero" in run.stderr and "is not a regular file" in run.stderr
    assert ok_server.connections == 0
    assert not enabled.queue_file.exists()


def test_an_events_file_too_big_to_count_in_time_is_not_queued_but_the_queue_is_sent(
    enabled: ShimmyPaths, ok_server: LoopbackServer, tmp_path: Path
) -> None:
    from shimmy_onboard.delivery import AFTER_READING_SECONDS, deliver_events

    waiting = queued_report(ended_minute=9)
    plant_queue(enabled, [(datetime.now(timezone.utc), waiting)])
    events = tmp_path / "huge.jsonl"
    events.write_text(QUICK_REQUEST * 20_000)
    # The reading share of this deadline is already over: the reader stops at once.
    deadline = time.monotonic() + AFTER_READING_SECONDS
    session_id = resolve_session_id(enabled)
    deliver_events(enabled, session_id, str(events), "1.3.2", deadline, to(ok_server.url))
    [request] = ok_server.requests
    assert timestamps(request.body) == ["2025-01-15T10:09:00Z"]  # the queue, not this session
    assert load_queue(enabled) == []


def test_send_with_an_events_file_too_big_to_read_in_time_still_ends_in_time(
    enabled: ShimmyPaths, ok_server: LoopbackServer, tmp_path: Path
) -> None:
    waiting = queued_report(ended_minute=11)
    plant_queue(enabled, [(datetime.now(timezone.utc), waiting)])
    events = tmp_path / "forty-million-lines.jsonl"
    events.write_bytes(b"\n" * 40_000_000)  # 40 MB, far more lines than 5 s can read
    run = send_within(["--events", str(events)], to(ok_server.url), 10)
    assert_quiet_success(run)
    [request] = ok_server.requests
    assert timestamps(request.body) == ["2025-01-15T10:11:00Z"]  # the queue, not this session
    assert load_queue(enabled) == []


def test_the_debug_dry_run_says_why_nothing_goes_out_when_metrics_are_off(
    paths: ShimmyPaths,
) -> None:
    run = send([], {"SHIMMY_METRICS_DEBUG": "1", "DO_NOT_TRACK": "1"})

    assert_quiet_success(run)
    assert "nothing read, queued or sent: DO_NOT_TRACK is set" in run.stderr
