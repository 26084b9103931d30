"""The payload: the spec's object, closed and bounded, and the one serializer."""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shimmy_onboard import recorder
from shimmy_onboard.hardware import MachineFacts
from shimmy_onboard.payload import (
    SCHEMA_FILE_NAME,
    build_report,
    json_schema_text,
    largest_report,
    normalize_version,
    report_json_schema,
    serialize_body,
    serialize_report,
    shipped_json_schema_text,
    validate_report,
)
from shimmy_onboard.recorder import SessionRecorder
from shimmy_onboard.vocab import Endpoint, GpuVendor, HardwareTier, Platform, Region

# The spec's example (METRICS.md, "Usage Analytics"), comments dropped, with a real UUID v4
# where the spec writes "anonymous-uuid-v4".
SPEC_EXAMPLE_TEXT = """
{
  "session_id": "550e8400-e29b-41d4-a716-446655440000",
  "timestamp": "2025-01-15T10:30:00Z",
  "version": "1.3.2",
  "platform": "windows-x64",
  "metrics": {
    "daily_active_usage": true,
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
    "gpu_detected": true,
    "gpu_vendor": "nvidia"
  }
}
"""
SESSION_ID = "550e8400-e29b-41d4-a716-446655440000"
START = datetime(2025, 1, 15, 8, 30, tzinfo=timezone.utc)
END = datetime(2025, 1, 15, 10, 30, tzinfo=timezone.utc)
WORKSTATION = MachineFacts(
    platform=Platform.WINDOWS_X64,
    hardware_tier=HardwareTier.WORKSTATION,
    gpu_vendor=GpuVendor.NVIDIA,
    region_indicator=Region.AMERICAS,
)


def spec_example() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_EXAMPLE_TEXT)
    return loaded


def keys_in_order(document: dict[str, Any]) -> list[str]:
    return [*document, *document["metrics"]]


# --- the schema -------------------------------------------------------------------------------


def test_the_specs_own_example_validates_with_a_real_uuid() -> None:
    report = validate_report(spec_example())
    assert report.model_dump(mode="json") == spec_example()


def test_the_specs_placeholder_id_does_not_validate() -> None:
    example = spec_example()
    example["session_id"] = "anonymous-uuid-v4"
    with pytest.raises(ValidationError):
        validate_report(example)


def test_the_shipped_schema_file_is_what_the_model_generates() -> None:
    assert shipped_json_schema_text() == json_schema_text(report_json_schema())
    assert SCHEMA_FILE_NAME == "payload.schema.json"


def test_the_schema_is_closed_and_every_string_is_an_enum_or_a_pattern() -> None:
    schema = report_json_schema()
    objects = [schema, schema["$defs"]["SessionMetrics"]]
    for document in objects:
        assert document["additionalProperties"] is False
        assert document["required"] == list(document["properties"])
    for document in objects:
        for name, rule in document["properties"].items():
            if "$ref" in rule:
                target = schema["$defs"][rule["$ref"].rsplit("/", 1)[1]]
                assert "enum" in target or target.get("additionalProperties") is False, name
            elif rule["type"] == "string":
                assert rule["pattern"].startswith("^") and rule["pattern"].endswith("$"), name
            elif rule["type"] == "integer":
                assert rule["minimum"] == 0 and "maximum" in rule, name
            elif rule["type"] == "array":
                assert rule["items"] == {"$ref": "#/$defs/Endpoint"}
                assert rule["uniqueItems"] is True
            else:
                assert rule["type"] == "boolean", name


def test_the_bounds_are_the_recorders() -> None:
    metrics = report_json_schema()["$defs"]["SessionMetrics"]["properties"]
    assert metrics["session_duration_minutes"]["maximum"] == recorder.MAX_DURATION_MINUTES
    assert metrics["requests_per_session"]["maximum"] == recorder.MAX_REQUESTS
    assert metrics["total_tokens_generated"]["maximum"] == recorder.MAX_TOKENS
    assert metrics["models_used_count"]["maximum"] == recorder.MAX_MODELS
    assert metrics["avg_response_time_ms"]["maximum"] == recorder.MAX_LATENCY_MS
    assert metrics["peak_requests_per_hour"]["maximum"] == recorder.MAX_REQUESTS


def _set(path: str, value: Any) -> dict[str, Any]:
    example = spec_example()
    target = example
    *parents, last = path.split(".")
    for key in parents:
        target = target[key]
    target[last] = value
    return example


def _drop(path: str) -> dict[str, Any]:
    example = spec_example()
    if path.startswith("metrics."):
        del example["metrics"][path.split(".", 1)[1]]
    else:
        del example[path]
    return example


@pytest.mark.parametrize(
    "bad",
    [
        _set("extra", 1),
        _set("metrics.extra", 1),
        _drop("version"),
        _drop("metrics.gpu_vendor"),
        _set("metrics.requests_per_session", "47"),
        _set("metrics.requests_per_session", 47.0),
        _set("metrics.requests_per_session", -1),
        _set("metrics.requests_per_session", recorder.MAX_REQUESTS + 1),
        _set("metrics.total_tokens_generated", recorder.MAX_TOKENS + 1),
        _set("metrics.session_duration_minutes", recorder.MAX_DURATION_MINUTES + 1),
        _set("metrics.avg_response_time_ms", recorder.MAX_LATENCY_MS + 1),
        _set("metrics.models_used_count", recorder.MAX_MODELS + 1),
        _set("metrics.gpu_detected", 1),
        _set("metrics.daily_active_usage", "true"),
        _set("metrics.gpu_vendor", "NVIDIA"),
        _set("metrics.gpu_vendor", "none"),  # gpu_detected is true
        _set("metrics.integration_type", "VS Code"),
        _set("metrics.api_endpoints_used", ["/v1/models", "/v1/models"]),
        _set("metrics.api_endpoints_used", ["/v1/models/llama"]),
        _set("metrics.api_endpoints_used", "/v1/models"),
        _set("platform", "windows-x86_64"),
        _set("session_id", "550E8400-E29B-41D4-A716-446655440000"),
        _set("session_id", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"),
        _set("timestamp", "2025-01-15T10:30:00.123Z"),
        _set("timestamp", "2025-01-15T10:30:00+00:00"),
        _set("timestamp", "2025-02-30T10:30:00Z"),
        _set("version", "1.3"),
        _set("version", "1.3.2-alice"),
        _set("version", "latest"),
        _set("version", None),
        _set("metrics", None),
    ],
)
def test_the_model_refuses_anything_but_the_specs_object(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        validate_report(bad)


# --- versions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("1.3.2", "1.3.2"),
        ("2.5.0-rc.1", "2.5.0-rc.1"),
        ("v1.4.0-beta2", "1.4.0-beta2"),
        (" 1.3.2\n", "1.3.2"),
        ("1.3.2+git.abc1234", "1.3.2"),
        ("1.3.2-RC.1", "1.3.2-rc.1"),
        ("999.999.999-preview.9999", "999.999.999-preview.9999"),
        ("555.123.4567", "unknown"),  # a dotted phone number is no version
        ("1.3.2-rc.01", "unknown"),
        (None, "unknown"),
        ("", "unknown"),
        ("1.3", "unknown"),
        ("1.3.2.4", "unknown"),
        ("01.3.2", "unknown"),
        ("1.3.2-alicesmith", "unknown"),
        ("1.3.2+/home/alice", "unknown"),
        ("shimmy 1.3.2", "unknown"),
        ("192.168.1.10", "unknown"),
        ("1.3.2" + "9" * 100, "unknown"),
    ],
)
def test_a_version_is_sent_only_when_it_looks_like_one(raw: str | None, sent: str) -> None:
    assert normalize_version(raw) == sent
    assert len(sent) <= 32


# --- building -------------------------------------------------------------------------------


def recorded_session(root: Path = Path("/")) -> SessionRecorder:
    """The spec's session: 47 requests from VS Code over two hours, two models."""
    # ``root`` is where the recorder looks for /.dockerenv: a bare folder is no container.
    session = SessionRecorder(started_at=START, env={}, root=root, version="1.3.2")
    for minute in range(47):
        session.record_request(
            "/v1/models?verbose=1" if minute == 0 else "/v1/chat/completions",
            latency_ms=1250,
            tokens=50,
            model="llama-3-8b" if minute % 2 else "phi-3",
            user_agent="Visual Studio Code/1.90 vscode",
            at=START + timedelta(minutes=minute),
        )
    return session


def test_build_report_gives_the_specs_example_for_the_specs_session(tmp_path: Path) -> None:
    report = build_report(
        session_id=SESSION_ID,
        summary=recorded_session(tmp_path).summary(ended_at=END),
        machine=WORKSTATION,
        version=None,
    )
    expected = spec_example()
    expected["metrics"]["peak_requests_per_hour"] = 30  # 08:30-08:59 is one clock hour
    assert report == expected
    assert keys_in_order(report) == keys_in_order(spec_example())


def test_the_version_argument_wins_over_the_events_version() -> None:
    summary = recorded_session().summary(ended_at=END)
    assert build_report(
        session_id=SESSION_ID, summary=summary, machine=WORKSTATION, version="2.0.0"
    )["version"] == "2.0.0"
    assert build_report(
        session_id=SESSION_ID, summary=summary, machine=WORKSTATION, version="my-laptop"
    )["version"] == "unknown"


def test_build_report_refuses_a_session_id_that_is_not_a_uuid4() -> None:
    with pytest.raises(ValidationError):
        build_report(
            session_id="not-a-uuid",
            summary=recorded_session().summary(ended_at=END),
            machine=WORKSTATION,
            version=None,
        )


def test_an_empty_session_on_a_machine_without_a_gpu() -> None:
    machine = MachineFacts(Platform.LINUX_ARM64, HardwareTier.LAPTOP, GpuVendor.NONE, Region.APAC)
    report = build_report(
        session_id=SESSION_ID,
        summary=SessionRecorder(started_at=START, env={}).summary(ended_at=START),
        machine=machine,
        version=None,
    )
    assert report["version"] == "unknown"
    assert report["platform"] == "linux-arm64"
    assert report["metrics"]["daily_active_usage"] is False
    assert report["metrics"]["api_endpoints_used"] == []
    assert report["metrics"]["integration_type"] == "none"
    assert report["metrics"]["gpu_detected"] is False
    assert report["metrics"]["gpu_vendor"] == "none"


# --- serializing ------------------------------------------------------------------------------


def test_the_body_is_a_compact_utf8_json_array_in_the_specs_key_order() -> None:
    first = spec_example()
    second = copy.deepcopy(first)
    second["metrics"]["requests_per_session"] = 3
    body = serialize_body([first, second])
    assert body == json.dumps([first, second], separators=(",", ":")).encode("utf-8")
    assert body.startswith(b'[{"session_id":"550e8400')
    assert b" " not in body and b"\n" not in body
    assert json.loads(body) == [first, second]
    assert serialize_body([first]) == b"[" + serialize_report(first) + b"]"


def test_serializing_twice_gives_the_same_bytes_even_after_a_round_trip() -> None:
    body = serialize_body([spec_example()])
    assert serialize_body(json.loads(body)) == body
    assert serialize_body([]) == b"[]"


def test_the_serializer_refuses_what_json_cannot_carry() -> None:
    with pytest.raises(ValueError):
        serialize_body([{"x": float("nan")}])
    with pytest.raises(TypeError):
        serialize_body([{"x": object()}])


def test_the_largest_object_the_schema_admits_is_under_the_specs_1_kb() -> None:
    largest = largest_report()
    validate_report(largest)
    assert largest["version"] == "999.999.999-preview.9999"
    assert len(largest["metrics"]["api_endpoints_used"]) == len(Endpoint)
    assert len(serialize_report(largest)) < 1024
    # Nothing valid is bigger: the spec's example stretched in every field is not.
    stretched = spec_example()
    stretched["metrics"].update(largest["metrics"], gpu_vendor="amd")
    assert len(serialize_report(stretched)) <= len(serialize_report(largest))


def test_a_version_longer_than_the_longest_is_refused() -> None:
    with pytest.raises(ValidationError):
        validate_report(_set("version", "9999.999.999-preview.9999"))
    with pytest.raises(ValidationError):
        validate_report(_set("version", "999.999.999-preview.99999"))
    with pytest.raises(ValidationError):
        validate_report(_set("version", "999.999.1000"))


@given(
    st.one_of(
        st.uuids(version=4).map(str),
        st.uuids().map(str),
        st.uuids(version=4).map(lambda value: str(value).upper()),
        st.text(alphabet="0123456789abcdef-4", min_size=30, max_size=40),
    )
)
@settings(max_examples=1000, deadline=None)
def test_the_fast_path_uuid_check_and_the_schemas_pattern_agree(text: str) -> None:
    # config.is_uuid4 spells out the schema's pattern without ``re`` (--first-run reads it).
    from shimmy_onboard.config import is_uuid4
    from shimmy_onboard.payload import UUID4_PATTERN

    assert is_uuid4(text) == bool(re.match(UUID4_PATTERN, text))
