"""The privacy validator: what it rejects, what it lets through, and that no event leaks.

Three kinds of evidence:

- a corpus of planted payload files (``tests/privacy_corpus``): every bad one is rejected,
  by the check that names what is wrong, and every clean one passes; a handful go through
  the real ``validate --file`` command;
- properties over hostile events (hypothesis, 1,000 examples each): whatever Shimmy's
  clients send in an endpoint, model, User-Agent, version or raw events line, the built
  payload passes the validator and contains none of it;
- properties over the validator itself: personal data planted anywhere is caught by the
  right check, and random valid payloads are never flagged.
"""

from __future__ import annotations

import copy
import json
import tempfile
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shimmy_onboard import recorder as recorder_module
from shimmy_onboard.hardware import MachineFacts
from shimmy_onboard.paths import ShimmyPaths
from shimmy_onboard.payload import build_report, serialize_body, serialize_report
from shimmy_onboard.privacy import (
    CHECK_NAMES,
    LocalIdentity,
    check_body,
    check_report,
    check_sessions,
    parse_body,
)
from shimmy_onboard.recorder import (
    MAX_DURATION_MINUTES,
    MAX_LATENCY_MS,
    MAX_MODELS,
    MAX_REQUESTS,
    MAX_TOKENS,
    SessionRecorder,
    read_events,
)
from shimmy_onboard.transparency import run_validate
from shimmy_onboard.vocab import (
    DeploymentType,
    Endpoint,
    GpuVendor,
    HardwareTier,
    IntegrationType,
    Platform,
    Region,
)
from tests.conftest import run_cli

CORPUS = Path(__file__).parent / "privacy_corpus"
EXPECTED_FAILURES: dict[str, list[str]] = json.loads(
    (CORPUS / "expected_failures.json").read_text()
)
BAD_FILES = sorted((CORPUS / "bad").glob("*.json"))
CLEAN_FILES = sorted((CORPUS / "clean").glob("*.json"))

# The planted user and machine of the corpus and the properties.
USER = "alicesmith"
HOST = "alicesmith-thinkpad"
HOME = "/home/alicesmith"
IDENTITY = LocalIdentity(user_names=(USER,), home_directories=(HOME,), host_names=(HOST,))

MACHINE = MachineFacts(
    platform=Platform.LINUX_X64,
    hardware_tier=HardwareTier.WORKSTATION,
    gpu_vendor=GpuVendor.NVIDIA,
    region_indicator=Region.EMEA,
)
SESSION_ID = "550e8400-e29b-41d4-a716-446655440000"
START = datetime(2025, 1, 15, 8, 30, tzinfo=timezone.utc)

PROPERTY = settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@pytest.fixture(autouse=True, scope="module")
def _leave_the_recorders_memo_tables_as_found() -> Iterator[None]:
    # The properties below feed the recorder thousands of distinct hostile strings, which
    # fill its process-wide classification caches; tests that measure the recorder's
    # memory expect them as a fresh process has them.
    yield
    recorder_module._seed_caches()


def failed_checks(results: list[Any]) -> set[str]:
    return {result.name for result in results if not result.passed}


# --- the corpus ---------------------------------------------------------------------------


def test_the_corpus_has_at_least_25_bad_files_each_with_its_expected_failures() -> None:
    assert len(BAD_FILES) >= 25
    assert {path.name for path in BAD_FILES} == set(EXPECTED_FAILURES)
    assert len(CLEAN_FILES) >= 5


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda path: path.stem)
def test_every_planted_file_is_rejected_by_the_check_that_names_the_problem(path: Path) -> None:
    results = check_sessions_or_body(path.read_bytes())
    assert set(EXPECTED_FAILURES[path.name]) <= failed_checks(results), results


@pytest.mark.parametrize("path", BAD_FILES, ids=lambda path: path.stem)
def test_validate_file_exits_1_for_every_planted_file(
    path: Path, paths: ShimmyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_validate(paths, str(path)) == 1
    out = capsys.readouterr().out
    assert "FAIL " in out
    assert "VIOLATION" in out


@pytest.mark.parametrize("path", CLEAN_FILES, ids=lambda path: path.stem)
def test_every_clean_file_passes_every_check(path: Path) -> None:
    results = check_sessions_or_body(path.read_bytes())
    assert [result.name for result in results] == list(CHECK_NAMES)
    assert failed_checks(results) == set(), results


@pytest.mark.parametrize("path", CLEAN_FILES, ids=lambda path: path.stem)
def test_validate_file_exits_0_for_every_clean_file(
    path: Path, paths: ShimmyPaths, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_validate(paths, str(path)) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert out.count("PASS ") == len(CHECK_NAMES)


def check_sessions_or_body(raw: bytes) -> list[Any]:
    return check_sessions(parse_body(raw), identity=IDENTITY)


# This machine's identity, as the real command sees it, is the planted one.
PLANTED_ENVIRONMENT = {"USER": USER, "LOGNAME": USER, "HOME": HOME, "HOSTNAME": HOST}


@pytest.mark.parametrize(
    ("name", "failing"),
    [
        ("email_in_integration_type", "FAIL no e-mail addresses: \"metrics.integration_type\""),
        ("user_name_in_version", "FAIL no user name, home directory or host name: \"version\""),
        ("host_name_in_integration_type", "FAIL no user name, home directory or host name"),
        ("home_directory_as_extra_field", "FAIL no file paths: \"cwd\""),
        ("gpu_model_in_gpu_vendor", "FAIL no CPU or GPU model names: \"metrics.gpu_vendor\""),
        ("negative_requests", "FAIL schema: \"metrics.requests_per_session\""),
        ("oversize_session", "FAIL size:"),
        ("one_bad_session_in_a_batch", "FAIL no e-mail addresses: session 2:"),
    ],
)
def test_the_real_validate_command_rejects_planted_files(name: str, failing: str) -> None:
    result = run_cli(
        ["config", "--metrics", "validate", "--file", str(CORPUS / "bad" / f"{name}.json")],
        env=PLANTED_ENVIRONMENT,
    )
    assert result.returncode == 1, result.stderr
    assert failing in result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["spec_example", "batch_of_three", "worst_case"])
def test_the_real_validate_command_passes_clean_files(name: str) -> None:
    result = run_cli(
        ["config", "--metrics", "validate", "--file", str(CORPUS / "clean" / f"{name}.json")],
        env=PLANTED_ENVIRONMENT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAIL" not in result.stdout
    assert "OK: every check passed" in result.stdout


# --- single rules ---------------------------------------------------------------------------


def spec_example() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CORPUS / "clean" / "spec_example.json").read_text())
    return loaded


def with_integration(text: str) -> dict[str, Any]:
    report = spec_example()
    report["metrics"]["integration_type"] = text
    return report


def test_the_endpoint_paths_are_not_mistaken_for_file_paths() -> None:
    report = spec_example()
    report["metrics"]["api_endpoints_used"] = sorted(endpoint.value for endpoint in Endpoint)
    assert failed_checks(check_report(report, identity=IDENTITY)) == set()


def test_an_endpoint_with_a_path_parameter_is_a_file_path() -> None:
    report = spec_example()
    report["metrics"]["api_endpoints_used"] = ["/v1/models/qwen2-7b"]
    assert {"schema", "no file paths", "no model names or model files"} <= failed_checks(
        check_report(report, identity=IDENTITY)
    )


def test_short_and_common_names_of_this_machine_are_not_hunted_for() -> None:
    # A user called "ci", a host called "desktop" or "localhost": matching those would flag
    # the payload's own words.
    identity = LocalIdentity(
        user_names=("ci", "root", "admin"),
        home_directories=("/", "/root"),
        host_names=("desktop", "localhost", "nvidia", "vscode"),
    )
    report = spec_example()
    report["metrics"].update(deployment_type="ci", hardware_tier="desktop")
    assert identity.names() == ()
    assert failed_checks(check_report(report, identity=identity)) == set()


def test_a_user_name_is_matched_as_a_whole_word_only() -> None:
    identity = LocalIdentity(user_names=("ann",))
    assert "no user name, home directory or host name" not in failed_checks(
        check_report(with_integration("planning"), identity=identity)
    )
    assert "no user name, home directory or host name" in failed_checks(
        check_report(with_integration("Ann-laptop"), identity=identity)
    )


def test_the_session_uuid_is_not_an_api_key_but_a_uuid_elsewhere_is() -> None:
    report = spec_example()
    assert "no API keys or tokens" not in failed_checks(check_report(report, identity=IDENTITY))
    report["metrics"]["integration_type"] = str(uuid.uuid4())
    assert "no API keys or tokens" in failed_checks(check_report(report, identity=IDENTITY))


def test_a_failure_says_where_and_what() -> None:
    results = check_report(with_integration("jo@example.com"), identity=IDENTITY)
    email = next(result for result in results if result.name == "no e-mail addresses")
    assert email.detail == '"metrics.integration_type" contains "jo@example.com"'


def test_check_body_takes_an_array_or_one_object_and_explains_anything_else() -> None:
    one = serialize_report(spec_example())
    assert failed_checks(check_body(one, identity=IDENTITY)) == set()
    assert failed_checks(check_body(b"[" + one + b"," + one + b"]", identity=IDENTITY)) == set()
    for garbage, reason in [
        (b"\xff\xfe", "not UTF-8"),
        (b"{", "not JSON"),
        (b'"text"', "a string"),
        (b"[]", "empty array"),
    ]:
        (result,) = check_body(garbage, identity=IDENTITY)
        assert result.name == "body"
        assert not result.passed
        assert reason in result.detail


def test_this_machines_identity_is_gathered_without_failing() -> None:
    identity = LocalIdentity.of_this_machine()
    assert all(isinstance(name, str) and name for name in identity.names())
    assert failed_checks(check_report(spec_example())) == set()


# --- properties: hostile events never reach the payload -------------------------------------

_segment = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=2, max_size=10)
_hex = "0123456789abcdef"

FILE_PATHS = st.one_of(
    st.builds(lambda a, b: f"/home/{a}/models/{b}", _segment, _segment),
    st.builds(lambda a, b: f"C:\\Users\\{a}\\{b}", _segment, _segment),
    st.builds(lambda a: f"~/{a}/weights", _segment),
)
EMAILS = st.builds(lambda a, b: f"{a}@{b}.com", _segment, _segment)
IPV4 = st.builds(
    lambda *parts: ".".join(str(part) for part in parts),
    *[st.integers(1, 254)] * 4,
)
IPV6 = st.builds(
    lambda a, b: f"fe80::{a}:{b}",
    st.text(alphabet=_hex, min_size=3, max_size=4),
    st.text(alphabet=_hex, min_size=3, max_size=4),
)
MACS = st.lists(st.text(alphabet=_hex, min_size=2, max_size=2), min_size=6, max_size=6).map(
    ":".join
)
HOST_NAMES = st.builds(lambda a: f"{a}.corp.example.net", _segment) | st.just(HOST)
_key_body = st.text(alphabet="abcdefXYZ0123456789", min_size=20, max_size=40)
API_KEYS = st.one_of(
    st.builds(lambda a: f"sk-{a}", _key_body),
    st.builds(lambda a: f"ghp_{a}", _key_body),
    st.text(alphabet=_hex, min_size=32, max_size=64),
)
MODEL_FILES = st.builds(
    lambda a, ext: f"{a}.{ext}", _segment, st.sampled_from(["gguf", "safetensors", "bin"])
)
GPU_STRINGS = st.sampled_from(
    [
        "NVIDIA GeForce RTX 4090",
        "AMD Radeon RX 7900 XTX",
        "Intel(R) Core(TM) i7-12700K",
        "AMD Ryzen 9 7950X",
        "Apple M2 Max",
        "Intel Arc A770",
        "AMD EPYC 7763",
        "Intel(R) Xeon(R) Gold 6338",
        "NVIDIA A100-SXM4-80GB",
    ]
)
SECRETS = st.one_of(
    FILE_PATHS, EMAILS, IPV4, IPV6, MACS, HOST_NAMES, API_KEYS, MODEL_FILES, GPU_STRINGS
)


def _route() -> st.SearchStrategy[str]:
    return st.sampled_from([e.value for e in Endpoint if e is not Endpoint.OTHER])


# An endpoint carrying the secret: as a query string, a path parameter, or the whole path.
HOSTILE_ENDPOINTS = st.one_of(
    st.builds(lambda route, secret: f"{route}?user={secret}", _route(), SECRETS),
    st.builds(lambda route, secret: f"{route}/{secret}", _route(), SECRETS),
    st.builds(lambda route, secret: f"{route}#{secret}", _route(), SECRETS),
    SECRETS,
)
USER_AGENTS = st.sampled_from(
    ["Continue/0.9 ({})", "Mozilla/5.0 ({})", "curl/8.4 {}", "{}", "openai-python/1.3 {}"]
)
HOSTILE_VERSIONS = st.one_of(
    SECRETS,
    st.builds(lambda secret: f"1.3.2-{secret}", SECRETS),
    st.builds(lambda secret: f"1.3.2+{secret}", SECRETS),
    st.builds(lambda secret: f"{secret} 1.3.2", SECRETS),
)


def assert_clean_and_free_of(report: dict[str, Any], planted: list[str]) -> None:
    results = check_report(report, identity=IDENTITY)
    assert failed_checks(results) == set(), results
    body = serialize_body([report])
    for secret in planted:
        assert secret.encode("utf-8") not in body, (secret, body)


@PROPERTY
@given(
    secret=SECRETS,
    endpoint=HOSTILE_ENDPOINTS,
    user_agent=USER_AGENTS,
    version=HOSTILE_VERSIONS,
    field=st.sampled_from(["endpoint", "model", "user_agent"]),
    tokens=st.integers(0, 10**6),
    latency=st.floats(0, 10**5, allow_nan=False),
)
def test_hostile_requests_never_reach_the_payload(
    secret: str,
    endpoint: str,
    user_agent: str,
    version: str,
    field: str,
    tokens: int,
    latency: float,
) -> None:
    recorder = SessionRecorder(started_at=START, env={}, version=version)
    values = {"endpoint": "/v1/chat/completions", "model": "llama-3-8b", "user_agent": "curl/8"}
    values[field] = secret
    recorder.record_request(
        values["endpoint"],
        model=values["model"],
        user_agent=values["user_agent"],
        tokens=tokens,
        latency_ms=latency,
        at=START,
    )
    recorder.record_request(
        endpoint, model=secret, user_agent=user_agent.format(secret), at=START + timedelta(1)
    )
    report = build_report(
        session_id=SESSION_ID,
        summary=recorder.summary(ended_at=START + timedelta(days=1, hours=1)),
        machine=MACHINE,
        version=None,
    )
    assert report["metrics"]["requests_per_session"] == 2
    assert_clean_and_free_of(report, [secret, "llama-3-8b"])


@PROPERTY
@given(
    version=HOSTILE_VERSIONS,
    endpoint=HOSTILE_ENDPOINTS,
    secret=SECRETS,
    # A raw line: a secret (which must not appear) or any text at all (which must not crash).
    raw_line=st.one_of(
        SECRETS.map(lambda secret: (secret, True)),
        st.text(max_size=60).map(lambda text: (text, False)),
    ),
    ts=st.sampled_from(["2025-01-15T08:31:02Z", "not a time", 12]),
)
def test_hostile_events_files_never_reach_the_payload(
    version: str, endpoint: str, secret: str, raw_line: tuple[str, bool], ts: object
) -> None:
    line, line_is_secret = raw_line
    lines = [
        json.dumps({"type": "start", "ts": "2025-01-15T08:30:00Z", "version": version}),
        json.dumps(
            {
                "type": "request",
                "ts": ts,
                "endpoint": endpoint,
                "status": 200,
                "latency_ms": 12,
                "tokens": 5,
                "model": secret,
                "user_agent": secret,
            }
        ),
        line.replace("\n", " ").replace("\r", " "),
        json.dumps({"type": secret, "ts": "2025-01-15T09:00:00Z", "path": secret}),
        json.dumps({"type": "end", "ts": "2025-01-15T10:30:00Z", "host": secret}),
    ]
    with tempfile.TemporaryDirectory() as folder:
        events = Path(folder) / "events.jsonl"
        events.write_text("\n".join(lines) + "\n", encoding="utf-8")
        summary = read_events(events, env={}, root=Path(folder)).summary
    report = build_report(session_id=SESSION_ID, summary=summary, machine=MACHINE, version=None)
    assert report["metrics"]["session_duration_minutes"] == 120
    planted = [secret, endpoint, version, *([line] if line_is_secret else [])]
    assert_clean_and_free_of(report, planted)


# --- properties: the validator itself ---------------------------------------------------------

CATEGORIES: list[tuple[str, st.SearchStrategy[str]]] = [
    ("no file paths", FILE_PATHS),
    ("no e-mail addresses", EMAILS),
    ("no IP addresses", IPV4 | IPV6),
    ("no MAC addresses", MACS),
    ("no URLs or domain names", st.builds(lambda a: f"{a}.corp.example.net", _segment)),
    ("no user name, home directory or host name", st.sampled_from([USER, HOST, HOME + "x"])),
    ("no API keys or tokens", API_KEYS),
    ("no model names or model files", MODEL_FILES),
    ("no CPU or GPU model names", GPU_STRINGS),
]
STRING_FIELDS = [
    ("session_id",),
    ("timestamp",),
    ("version",),
    ("platform",),
    ("metrics", "integration_type"),
    ("metrics", "deployment_type"),
    ("metrics", "hardware_tier"),
    ("metrics", "region_indicator"),
    ("metrics", "gpu_vendor"),
    ("metrics", "api_endpoints_used"),
    ("metrics", "<new key>"),
    ("<new key>",),
]


@PROPERTY
@given(
    category=st.sampled_from(range(len(CATEGORIES))).flatmap(
        lambda index: st.tuples(st.just(CATEGORIES[index][0]), CATEGORIES[index][1])
    ),
    field=st.sampled_from(STRING_FIELDS),
    as_key=st.booleans(),
    wrapper=st.sampled_from(["{}", "x {} y", "({})", "{};"]),
)
def test_personal_data_planted_anywhere_is_caught_by_its_check(
    category: tuple[str, str], field: tuple[str, ...], as_key: bool, wrapper: str
) -> None:
    check, secret = category
    text = wrapper.format(secret)
    report = spec_example()
    target = report
    for key in field[:-1]:
        target = target[key]
    if as_key or field[-1] == "<new key>":
        target[text] = 1
    elif field[-1] == "api_endpoints_used":
        target[field[-1]] = ["/v1/models", text]
    else:
        target[field[-1]] = text
    failed = failed_checks(check_report(report, identity=IDENTITY))
    assert {"schema", check} <= failed, (text, failed)


VALID_VERSIONS = st.one_of(
    st.just("unknown"),
    st.builds(
        lambda a, b, c, label, n: f"{a}.{b}.{c}" + (f"-{label}{n}" if label else ""),
        st.integers(0, 999),
        st.integers(0, 999),
        st.integers(0, 999),
        st.sampled_from(["", "alpha", "beta", "rc", "dev", "pre", "preview", "nightly"]),
        st.sampled_from(["", ".1", "2", ".9999", "0"]),
    ),
)


@st.composite
def valid_reports(draw: st.DrawFn) -> dict[str, Any]:
    gpu = draw(st.sampled_from(list(GpuVendor)))
    moment = draw(
        st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31), timezones=st.just(timezone.utc))
    )
    endpoints = draw(st.sets(st.sampled_from([endpoint.value for endpoint in Endpoint])))
    requests = draw(st.integers(0, MAX_REQUESTS))
    return {
        "session_id": str(uuid.UUID(int=draw(st.integers(0, 2**128 - 1)), version=4)),
        "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "version": draw(VALID_VERSIONS),
        "platform": draw(st.sampled_from(list(Platform))).value,
        "metrics": {
            "daily_active_usage": requests > 0,
            "session_duration_minutes": draw(st.integers(0, MAX_DURATION_MINUTES)),
            "requests_per_session": requests,
            "total_tokens_generated": draw(st.integers(0, MAX_TOKENS)),
            "models_used_count": draw(st.integers(0, MAX_MODELS)),
            "api_endpoints_used": sorted(endpoints),
            "integration_type": draw(st.sampled_from(list(IntegrationType))).value,
            "deployment_type": draw(st.sampled_from(list(DeploymentType))).value,
            "hardware_tier": draw(st.sampled_from(list(HardwareTier))).value,
            "region_indicator": draw(st.sampled_from(list(Region))).value,
            "avg_response_time_ms": draw(st.integers(0, MAX_LATENCY_MS)),
            "peak_requests_per_hour": draw(st.integers(0, requests)),
            "gpu_detected": gpu is not GpuVendor.NONE,
            "gpu_vendor": gpu.value,
        },
    }


@PROPERTY
@given(report=valid_reports())
def test_no_valid_payload_is_ever_flagged(report: dict[str, Any]) -> None:
    results = check_report(copy.deepcopy(report), identity=IDENTITY)
    assert failed_checks(results) == set(), (report, results)
