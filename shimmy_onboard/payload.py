"""The payload: the spec's session object as a closed model, and the one serializer.

One Shimmy session becomes one object (DESIGN.md, "The payload"); the POST body is a
JSON array of such objects. The model is closed: no key but the spec's, every string an
enum from :mod:`shimmy_onboard.vocab`, a UUID v4, a UTC timestamp or a version, every
number an integer within bounds. :func:`serialize_body` is the only way bytes are made
from reports: the preview, the queue, the sender and the validator all go through it,
which is what makes the preview byte-for-byte what is sent.

pydantic is imported here at module top, so this module is imported lazily, inside the
commands that need it, never on the fast paths (``--first-run``, ``status``, ``send``
while metrics are off).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from importlib import resources
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shimmy_onboard.clock import format_utc
from shimmy_onboard.recorder import (
    MAX_DURATION_MINUTES,
    MAX_LATENCY_MS,
    MAX_MODELS,
    MAX_REQUESTS,
    MAX_TOKENS,
)
from shimmy_onboard.vocab import (
    MAX_RAW_VERSION_LENGTH,
    MAX_VERSION_LENGTH,
    SCHEMA_VERSION,
    DeploymentType,
    Endpoint,
    GpuVendor,
    HardwareTier,
    IntegrationType,
    Platform,
    Region,
)

if TYPE_CHECKING:
    from shimmy_onboard.hardware import MachineFacts
    from shimmy_onboard.recorder import SessionSummary

__all__ = [
    "SCHEMA_FILE_NAME",
    "SessionMetrics",
    "SessionReport",
    "build_report",
    "largest_report",
    "normalize_version",
    "report_json_schema",
    "serialize_body",
    "serialize_report",
    "shipped_json_schema_text",
]

SCHEMA_FILE_NAME = "payload.schema.json"
SCHEMA_ID = "https://metrics.shimmy-ai.dev/schema/usage-session-v1.json"

# The counters' bounds are the recorder's, which clamps to them: one place for each fact.
# No real session reaches them, and the worst case still stays far under 1 KB.
MAX_SESSION_MINUTES = MAX_DURATION_MINUTES
MAX_AVG_RESPONSE_TIME_MS = MAX_LATENCY_MS
MAX_MODELS_USED = MAX_MODELS
MAX_PEAK_REQUESTS_PER_HOUR = MAX_REQUESTS

UUID4_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
TIMESTAMP_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
# MAJOR.MINOR.PATCH, and optionally one pre-release label from a short list and a
# number: 1.3.2, 2.5.0-rc.1, 1.4.0-beta2. Free-form pre-release or build text (which
# could carry a branch, a user or a host name) is never let through.
PRERELEASE_LABELS = ("alpha", "beta", "rc", "dev", "pre", "preview", "nightly")
# No leading zeros, as in semver; at most 3 digits for major and minor, so that no
# version looks like a MAC address written 0011.2233.4455.
# Three digits at most in each part: a four-digit last part would admit a dotted phone
# number (555.123.4567).
_VERSION_CORE = r"(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})"
_VERSION_PRERELEASE = r"(-(" + "|".join(PRERELEASE_LABELS) + r")(\.?(0|[1-9][0-9]{0,3}))?)?"
#: The longest version the pattern admits (for the size bound): 24 characters.
LONGEST_VERSION = "999.999.999-preview.9999"
UNKNOWN_VERSION = "unknown"
VERSION_PATTERN = f"^({_VERSION_CORE}{_VERSION_PRERELEASE}|{UNKNOWN_VERSION})$"
_VERSION = re.compile(VERSION_PATTERN)
# A build suffix (1.3.2+abc123) is dropped, not a reason to send unknown.
_BUILD_SUFFIX = re.compile(r"\+[0-9A-Za-z.-]*\Z")


class _Closed(BaseModel):
    # strict: no "3" for 3, no 1 for true, no 3.0 for 3; forbid: no key but the spec's.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SessionMetrics(_Closed):
    """What one Shimmy session did and ran on: counts, categories, no names."""

    daily_active_usage: bool = Field(description="true when the session served a request")
    session_duration_minutes: int = Field(ge=0, le=MAX_SESSION_MINUTES)
    requests_per_session: int = Field(ge=0, le=MAX_REQUESTS)
    total_tokens_generated: int = Field(ge=0, le=MAX_TOKENS)
    models_used_count: int = Field(
        ge=0, le=MAX_MODELS_USED, description="distinct models; names are never stored or sent"
    )
    api_endpoints_used: tuple[Endpoint, ...] = Field(
        max_length=len(Endpoint),
        json_schema_extra={"uniqueItems": True},
        description="sorted; Shimmy's routes only, anything else is other",
    )
    integration_type: IntegrationType
    deployment_type: DeploymentType
    hardware_tier: HardwareTier
    region_indicator: Region
    avg_response_time_ms: int = Field(ge=0, le=MAX_AVG_RESPONSE_TIME_MS)
    peak_requests_per_hour: int = Field(ge=0, le=MAX_PEAK_REQUESTS_PER_HOUR)
    gpu_detected: bool
    gpu_vendor: GpuVendor

    @field_validator("api_endpoints_used")
    @classmethod
    def _each_endpoint_once(cls, endpoints: tuple[Endpoint, ...]) -> tuple[Endpoint, ...]:
        if len(set(endpoints)) != len(endpoints):
            raise ValueError("an endpoint is listed more than once")
        return endpoints

    @model_validator(mode="after")
    def _gpu_fields_agree(self) -> SessionMetrics:
        if self.gpu_detected != (self.gpu_vendor is not GpuVendor.NONE):
            raise ValueError("gpu_detected must be true exactly when gpu_vendor is not none")
        return self


class SessionReport(_Closed):
    """One Shimmy session, as sent: anonymous, closed, every field in the spec's order."""

    model_config = ConfigDict(
        title="Shimmy usage session",
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA_ID,
            "x-schema-version": SCHEMA_VERSION,
        },
    )

    session_id: str = Field(
        pattern=UUID4_PATTERN, description="the config's random UUID v4, lower case"
    )
    timestamp: str = Field(pattern=TIMESTAMP_PATTERN, description="session end, UTC")
    version: str = Field(
        pattern=VERSION_PATTERN,
        max_length=MAX_VERSION_LENGTH,
        description="Shimmy's version, or unknown",
    )
    platform: Platform
    metrics: SessionMetrics

    @field_validator("timestamp")
    @classmethod
    def _a_real_moment(cls, value: str) -> str:
        # The pattern admits 2025-02-31; strptime does not.
        try:
            datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            raise ValueError("not a real date and time") from None
        return value


def build_report(
    *,
    session_id: str,
    summary: SessionSummary,
    machine: MachineFacts,
    version: str | None,
) -> dict[str, Any]:
    """This session's object, validated by the model, as JSON-ready data in the spec's order.

    ``version`` wins over ``summary.version``; anything that does not look like a version
    becomes ``unknown``. Raises ``pydantic.ValidationError`` if the inputs break the
    schema (a session id that is not a UUID v4, a counter beyond its bound).
    """
    metrics = SessionMetrics(
        daily_active_usage=summary.daily_active_usage,
        session_duration_minutes=summary.session_duration_minutes,
        requests_per_session=summary.requests_per_session,
        total_tokens_generated=summary.total_tokens_generated,
        models_used_count=summary.models_used_count,
        api_endpoints_used=tuple(sorted(set(summary.api_endpoints_used), key=_endpoint_key)),
        integration_type=summary.integration_type,
        deployment_type=summary.deployment_type,
        hardware_tier=machine.hardware_tier,
        region_indicator=machine.region_indicator,
        avg_response_time_ms=summary.avg_response_time_ms,
        peak_requests_per_hour=summary.peak_requests_per_hour,
        gpu_detected=machine.gpu_detected,
        gpu_vendor=machine.gpu_vendor,
    )
    report = SessionReport(
        session_id=session_id,
        timestamp=format_utc(summary.ended_at),
        version=normalize_version(version if version is not None else summary.version),
        platform=machine.platform,
        metrics=metrics,
    )
    return report.model_dump(mode="json")


def _endpoint_key(endpoint: Endpoint) -> str:
    return endpoint.value


def largest_report() -> dict[str, Any]:
    """The biggest object the schema admits: the worst case for the size limit.

    Every endpoint, every counter at its bound, the longest version and the longest
    value of every enum (with the GPU fields that agree with each other).
    """
    def longest(enum: type[Enum]) -> Any:
        return max(enum, key=lambda member: len(member.value))

    vendor = max(
        (vendor for vendor in GpuVendor if vendor is not GpuVendor.NONE),
        key=lambda vendor: len(vendor.value),
    )
    report = SessionReport(
        session_id="ffffffff-ffff-4fff-bfff-ffffffffffff",
        timestamp="2099-12-31T23:59:59Z",
        version=LONGEST_VERSION,
        platform=longest(Platform),
        metrics=SessionMetrics(
            daily_active_usage=False,  # "false" is one byte longer than "true"
            session_duration_minutes=MAX_SESSION_MINUTES,
            requests_per_session=MAX_REQUESTS,
            total_tokens_generated=MAX_TOKENS,
            models_used_count=MAX_MODELS_USED,
            api_endpoints_used=tuple(sorted(Endpoint, key=_endpoint_key)),
            integration_type=longest(IntegrationType),
            deployment_type=longest(DeploymentType),
            hardware_tier=longest(HardwareTier),
            region_indicator=longest(Region),
            avg_response_time_ms=MAX_AVG_RESPONSE_TIME_MS,
            peak_requests_per_hour=MAX_PEAK_REQUESTS_PER_HOUR,
            gpu_detected=True,
            gpu_vendor=vendor,
        ),
    )
    return report.model_dump(mode="json")


def validate_report(report: Mapping[str, Any]) -> SessionReport:
    """Validate exactly the bytes that would be sent.

    Raises ``pydantic.ValidationError``, or TypeError/ValueError for data JSON cannot carry.
    """
    return SessionReport.model_validate_json(serialize_report(report))


def report_json_schema() -> dict[str, Any]:
    """The JSON Schema of one session object, generated from the model."""
    return SessionReport.model_json_schema(mode="validation")


def json_schema_text(schema: Mapping[str, Any]) -> str:
    """How the schema is written to ``payload.schema.json``: stable, indented, one newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def shipped_json_schema_text() -> str:
    """The schema file that ships inside the package."""
    return resources.files("shimmy_onboard").joinpath(SCHEMA_FILE_NAME).read_text("utf-8")


def normalize_version(raw: str | None) -> str:
    """``1.3.2`` and ``v2.5.0-rc.1`` as such; anything else (or nothing) is ``unknown``."""
    if not isinstance(raw, str) or len(raw) > MAX_RAW_VERSION_LENGTH:
        return UNKNOWN_VERSION
    text = _BUILD_SUFFIX.sub("", raw.strip())
    if text[:1] in ("v", "V"):
        text = text[1:]
    text = text.lower()
    if len(text) <= MAX_VERSION_LENGTH and _VERSION.fullmatch(text):
        return text
    return UNKNOWN_VERSION


def _encode(value: object) -> bytes:
    # The one set of JSON options: compact, UTF-8, keys in the order they are (the
    # model's, the spec's: never re-sorted), and no NaN, which is not JSON.
    return json.dumps(
        value, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def serialize_report(report: Mapping[str, Any]) -> bytes:
    """One session object as the body carries it: the unit of the 1 KB limit.

    Raises TypeError or ValueError for something JSON cannot carry (NaN included).
    """
    return _encode(report)


def serialize_body(reports: Sequence[Mapping[str, Any]]) -> bytes:
    """THE serializer: the POST body, a compact UTF-8 JSON array of session objects.

    Preview, queue send and validator all call this, so what is shown is what is sent.
    ``serialize_body([r]) == b"[" + serialize_report(r) + b"]"``, always. Raises
    TypeError or ValueError for something JSON cannot carry.
    """
    return _encode(list(reports))


# Regenerate the shipped file: python -m shimmy_onboard.payload > shimmy_onboard/payload.schema.json
if __name__ == "__main__":
    print(json_schema_text(report_json_schema()), end="")
