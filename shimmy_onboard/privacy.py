"""The privacy validator: nothing personal leaves this machine.

DESIGN.md, "The privacy validator". Every session object passes these checks before it
is queued (the delivery code calls :func:`check_report`), and ``config --metrics
validate`` runs them over the preview, the queue, the sent log or any file:

- the schema: closed, enums, bounds (the payload model, over the exact bytes sent);
- the size: under 1 KB a session, as :func:`~shimmy_onboard.payload.serialize_report` writes it;
- deny patterns in every string value and every key: file paths, this machine's user
  name, home directory and host name, e-mail addresses, IP and MAC addresses, URLs,
  API-key-like tokens, model names and model files, CPU and GPU model strings.

The schema alone already keeps all of that out; the deny patterns are a second, independent
net, and they say *what* leaked and *where*, which a schema error cannot.

The payload's legitimate strings (the enum values, among them endpoint paths such as
``/v1/chat/completions`` that look like file paths) are allow-listed by exact value, so
the patterns never flag the real vocabulary. pydantic is imported on first use only.
"""

from __future__ import annotations

import contextlib
import getpass
import ipaddress
import json
import math
import os
import re
import socket
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from shimmy_onboard import vocab

#: The spec's limit for one session's object, in bytes: "<1KB data per session".
MAX_REPORT_BYTES = 1024

# A located string: where it is ("metrics.integration_type", 'key "x"') and the text.
Located = tuple[str, str]


@dataclass(frozen=True)
class CheckResult:
    """One check over one thing: its name, whether it passed, and what it found."""

    name: str
    passed: bool
    detail: str


# --- this machine's identity ----------------------------------------------------------

# Names too common to mean anything: a user called "admin" or a host called "localhost"
# is not identifying, and matching them would flag innocent text.
COMMON_NAMES = frozenset(
    {
        "root", "user", "users", "admin", "administrator", "guest", "default", "test",
        "localhost", "local", "host", "home", "runner", "ubuntu", "debian", "fedora", "arch",
        "computer", "machine", "docker", "container", "build", "builder", "shimmy", "app",
    }
)  # fmt: skip
MIN_NAME_LENGTH = 3


# The enums whose values make up every string of a valid payload but the id, time, version.
_PAYLOAD_ENUMS: tuple[type[Any], ...] = (
    vocab.Platform, vocab.HardwareTier, vocab.GpuVendor, vocab.Region,
    vocab.DeploymentType, vocab.IntegrationType, vocab.Endpoint,
)  # fmt: skip


@lru_cache(maxsize=1)
def report_keys() -> frozenset[str]:
    """The payload's own field names, from the model: keys that are never personal."""
    from shimmy_onboard.payload import SessionMetrics, SessionReport

    return frozenset((*SessionReport.model_fields, *SessionMetrics.model_fields))


@lru_cache(maxsize=1)
def _vocabulary_words() -> frozenset[str]:
    """Every word of the payload's own vocabulary: never a user or host name to hunt for."""
    from shimmy_onboard.payload import PRERELEASE_LABELS, UNKNOWN_VERSION

    words: set[str] = set()
    for enum in _PAYLOAD_ENUMS:
        for member in enum:
            words.update(re.split(r"[^a-z0-9]+", member.value.lower()))
    for key in report_keys():
        words.update(key.split("_"))
    words.update((UNKNOWN_VERSION, *PRERELEASE_LABELS))
    words.discard("")
    return frozenset(words)


@dataclass(frozen=True)
class LocalIdentity:
    """What would identify this machine or its user: looked for in every string."""

    user_names: tuple[str, ...] = ()
    home_directories: tuple[str, ...] = ()
    host_names: tuple[str, ...] = ()

    @classmethod
    def of_this_machine(cls) -> LocalIdentity:
        """Gathered locally: the login and account names, the home directory, the host name."""
        return _this_machine()

    def names(self) -> tuple[str, ...]:
        """User and host names worth looking for: not too short, not common words."""
        ignored = COMMON_NAMES | _vocabulary_words()
        kept: list[str] = []
        for name in (*self.user_names, *self.host_names):
            name = name.strip()
            if (
                len(name) >= MIN_NAME_LENGTH
                and not name.isdigit()
                and name.lower() not in ignored
                and name.lower() not in (known.lower() for known in kept)
            ):
                kept.append(name)
        return tuple(kept)

    def homes(self) -> tuple[str, ...]:
        """Home directories worth looking for: not the root, not a bare drive."""
        return tuple(
            home.rstrip("/\\")
            for home in self.home_directories
            if len(home.rstrip("/\\")) >= 4 and home.rstrip("/\\").lower() != "/root"
        )


@lru_cache(maxsize=1)
def _this_machine() -> LocalIdentity:
    users = {os.environ.get(name, "") for name in ("USER", "USERNAME", "LOGNAME")}
    with contextlib.suppress(OSError, KeyError, ImportError):
        users.add(getpass.getuser())
    homes = {os.environ.get("HOME", ""), os.environ.get("USERPROFILE", "")}
    with contextlib.suppress(RuntimeError, KeyError, OSError):
        homes.add(str(Path.home()))
    hosts: set[str] = set()
    for name in (_host_name(), os.environ.get("COMPUTERNAME", ""), os.environ.get("HOSTNAME", "")):
        if name:
            hosts.add(name)
            hosts.add(name.split(".")[0])  # the short name of a fully qualified one
    return LocalIdentity(
        user_names=tuple(sorted(name for name in users if name)),
        home_directories=tuple(sorted(home for home in homes if home)),
        host_names=tuple(sorted(hosts)),
    )


def _host_name() -> str:
    try:
        return socket.gethostname()
    except OSError:
        return ""


# --- deny patterns ------------------------------------------------------------------------

# Strings that are the payload's own vocabulary pass every deny pattern untouched:
# "/v1/chat/completions" is an endpoint, not a file path.
ALLOWED_VALUES = frozenset(member.value for enum in _PAYLOAD_ENUMS for member in enum)

# A path starts where a token starts: at the start, or after a space, a quote or punctuation.
_STARTS = r"(?:^|(?<=[\s\"'=(:,;<>\[{]))"
_UNIX_PATH = re.compile(
    _STARTS + r"/[^\s/]+/[^\s/]"  # /a/b
    r"|" + _STARTS + r"(?:~[\w.-]*|\.{1,2})/[^\s/]"  # ~/a, ~alice/a, ./a, ../a
    r"|" + _STARTS + r"~[\w.-]*/?(?=$|\s)"  # ~ or ~alice on its own
    r"|" + _STARTS + r"/(?:home|Users|root|etc|var|tmp|opt|usr|mnt|media|srv|private|Volumes"
    r"|Library|Applications|proc|sys|dev|run|bin|snap|nix)\b"
    r"|[\w.-]+/[\w.-]+/[\w.-]*"  # relative: models/llama/x
    r"|[\w-]+/[\w-]+\.[A-Za-z][A-Za-z0-9]{0,11}\b"  # relative with a file: models/x.gguf
)
_WINDOWS_PATH = re.compile(
    r"(?<![A-Za-z0-9])[A-Za-z]:[\\/]"  # C:\ or C:/
    r"|\\\\[^\\\s]+\\"  # \\server\share
    r"|[^\\\s]*\\[^\\\s]+"  # anything\with\backslashes
    r"|%[A-Za-z_]+%"  # %APPDATA%
)
_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)*", re.UNICODE)
_IPV4 = re.compile(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d])")
_IPV6_CANDIDATE = re.compile(r"[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(?:%[0-9A-Za-z_.-]+)?")
_MAC = re.compile(
    r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![0-9A-Fa-f])"
    r"|(?<![0-9A-Fa-f.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![0-9A-Fa-f])"
)
_URL = re.compile(
    r"[A-Za-z][A-Za-z0-9+.-]*://\S*"  # https://..., file://..., ws://...
    r"|(?<![\w.-])www\.[\w-]+"
    r"|(?<![\w.-])(?:[\w-]+\.)+(?:com|net|org|io|dev|ai|app|co|uk|de|fr|jp|cn|ru|us"
    r"|info|biz|edu|gov|cloud|xyz|me|local|lan|internal|corp|home|arpa)(?![\w-])",
    re.IGNORECASE,
)
_KNOWN_KEYS = re.compile(
    r"sk-[A-Za-z0-9_-]{6,}"  # OpenAI, Anthropic
    r"|(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{6,}"  # Stripe
    r"|gh[pousr]_[A-Za-z0-9]{10,}|github_pat_\w{10,}"  # GitHub
    r"|glpat-[\w-]{10,}"  # GitLab
    r"|hf_[A-Za-z0-9]{10,}"  # Hugging Face
    r"|xox[abposr]-[\w-]{10,}"  # Slack
    r"|AKIA[0-9A-Z]{12,}|ASIA[0-9A-Z]{12,}"  # AWS
    r"|AIza[\w-]{20,}"  # Google
    r"|eyJ[\w-]{8,}\.[\w-]{8,}"  # a JWT
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----"
    r"|(?i:bearer|token|api[_-]?key|secret|password|passwd)\s*[:=]?\s*\S{6,}"
)
_TOKEN = re.compile(r"[A-Za-z0-9+=_-]{20,}")
_HEX_TOKEN = re.compile(r"(?<![0-9A-Za-z])[0-9A-Fa-f]{16,}(?![0-9A-Za-z])")
UUID_TEXT = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
_UUID = re.compile(UUID_TEXT)
_MODEL_FILE = re.compile(
    r"[^\s\"'/\\]*\.(?:gguf|ggml|safetensors|bin|pt|pth|ckpt|onnx|mlmodel|tflite|h5|pkl)\b"
    r"|(?<![A-Za-z])(?:llama|codellama|tinyllama|mistral|mixtral|qwen|gemma|phi-?[0-9]|gpt-?[0-9j]"
    r"|deepseek|starcoder|vicuna|falcon|claude|command-r|yi-[0-9]|smollm|granite|olmo"
    r"|nemotron|wizardlm|orca|zephyr|openchat|hermes|solar|dolphin)[\w.:-]*",
    re.IGNORECASE,
)
_HARDWARE_MODEL = re.compile(
    r"geforce|quadro|titan\s?(?:x|v|rtx)|tesla\s?[a-z]?\d|[rg]tx\s?-?\d{3,4}|rtx\s?(?:a|pro)\s?\d"
    r"|radeon|instinct\s?mi|\bmi\d{2,3}x?\b|firepro|\brx\s?\d{3,4}|ryzen|threadripper|epyc|athlon"
    r"|opteron|\bcore\s?(?:tm\s?)?(?:i[3579]|ultra|2\s?duo)|\bi[3579]-\d{3,5}|xeon|pentium"
    r"|celeron|\b(?:intel\s?)?arc\s?[ab]\d{3}|intel\s?arc|iris\s?(?:xe|plus|pro)"
    r"|uhd\s?graphics|hd\s?graphics|(?:apple\s?)?\bm[1-9]\s?(?:pro|max|ultra)\b|apple\s?m[1-9]"
    r"|snapdragon|adreno|\bmali-|tegra|jetson|graviton|neoverse|cortex-[amr]\d"
    r"|\b[ahlvbt]\d{2,3}\s?(?:pcie|sxm|nvl|gpu|tensor)|\b[ahb]100\b|\bh200\b|\bl40s?\b|\bv100\b"
    r"|\bt4\b|\ba10g?\b|\bgb200\b|\bdgx\b|nvidia\s+\w+\d|\bamd\s+\w+\d",
    re.IGNORECASE,
)


def _find_unix_path(text: str) -> str | None:
    match = _UNIX_PATH.search(text)
    return match.group(0) if match else None


def _find_windows_path(text: str) -> str | None:
    match = _WINDOWS_PATH.search(text)
    return match.group(0) if match else None


def _find_path(text: str) -> str | None:
    return _find_unix_path(text) or _find_windows_path(text)


def _find_ip(text: str) -> str | None:
    for match in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(match.group(0))
        except ValueError:
            continue
        return match.group(0)
    for match in _IPV6_CANDIDATE.finditer(text):
        candidate = match.group(0)
        if candidate.count(":") < 2:
            continue
        for trimmed in (candidate, candidate.strip(":."), candidate.rstrip(":.")):
            try:
                ipaddress.IPv6Address(trimmed)
            except ValueError:
                continue
            return candidate
    return None


def _find(pattern: re.Pattern[str]) -> Callable[[str], str | None]:
    def finder(text: str) -> str | None:
        match = pattern.search(text)
        return match.group(0) if match else None

    return finder


def _entropy_per_char(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _find_secret(text: str) -> str | None:
    match = _KNOWN_KEYS.search(text)
    if match:
        return match.group(0)
    for hexed in _HEX_TOKEN.finditer(text):
        return hexed.group(0)
    for uuid in _UUID.finditer(text):
        return uuid.group(0)
    for token in _TOKEN.finditer(text):
        word = token.group(0)
        mixed = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
        if mixed and _entropy_per_char(word) >= 3.5:
            return word
    return None


@dataclass(frozen=True)
class _DenyRule:
    name: str
    find: Callable[[str], str | None]


def _identity_rule(identity: LocalIdentity) -> _DenyRule:
    names = identity.names()
    homes = identity.homes()
    name_patterns = [
        re.compile(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", re.IGNORECASE)
        for name in names
    ]

    def find(text: str) -> str | None:
        lowered = text.lower()
        for home in homes:
            if home.lower() in lowered:
                return home
        for pattern in name_patterns:
            match = pattern.search(text)
            if match:
                return match.group(0)
        return None

    return _DenyRule("no user name, home directory or host name", find)


_PATTERN_RULES = (
    _DenyRule("no file paths", _find_path),
    _DenyRule("no e-mail addresses", _find(_EMAIL)),
    _DenyRule("no IP addresses", _find_ip),
    _DenyRule("no MAC addresses", _find(_MAC)),
    _DenyRule("no URLs or domain names", _find(_URL)),
    _DenyRule("no API keys or tokens", _find_secret),
    _DenyRule("no model names or model files", _find(_MODEL_FILE)),
    _DenyRule("no CPU or GPU model names", _find(_HARDWARE_MODEL)),
)

#: The names of the checks, in the order they are reported.
CHECK_NAMES = (
    "schema",
    "size",
    _PATTERN_RULES[0].name,
    "no user name, home directory or host name",
    *(rule.name for rule in _PATTERN_RULES[1:]),
)


def _rules(identity: LocalIdentity) -> list[_DenyRule]:
    return [_PATTERN_RULES[0], _identity_rule(identity), *_PATTERN_RULES[1:]]


# --- walking a report ------------------------------------------------------------------------


def located_strings(value: object, where: str = "") -> Iterator[Located]:
    """Every key and every string value inside ``value``, with where it is."""
    if isinstance(value, str):
        yield (json.dumps(where, ensure_ascii=False) if where else "the value"), value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            key_text = str(key)
            place = f"{where}.{key_text}" if where else key_text
            if key_text not in report_keys():
                yield f"the key {json.dumps(place, ensure_ascii=False)}", key_text
            yield from located_strings(item, place)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from located_strings(item, f"{where}[{index}]")


def _strings_to_scan(report: object) -> list[Located]:
    scanned = []
    for where, text in located_strings(report):
        if text in ALLOWED_VALUES:
            continue
        if where == '"session_id"' and re.fullmatch(UUID_TEXT, text):
            continue  # the one random id the payload is meant to carry
        scanned.append((where, text))
    return scanned


def check_strings(
    strings: Iterable[Located], identity: LocalIdentity | None = None
) -> list[CheckResult]:
    """The deny-pattern checks over located strings: one result per pattern."""
    rules = _rules(identity if identity is not None else LocalIdentity.of_this_machine())
    strings = list(strings)
    results = []
    for rule in rules:
        found = _first_hit(rule, strings)
        if found is None:
            checked = f"checked {_count(len(strings))} beyond the schema's own words"
            results.append(CheckResult(rule.name, True, f"none found ({checked})"))
        else:
            where, hit = found
            results.append(CheckResult(rule.name, False, f"{where} contains {_quote(hit)}"))
    return results


def _first_hit(rule: _DenyRule, strings: list[Located]) -> Located | None:
    for where, text in strings:
        hit = rule.find(text)
        if hit:
            return where, _whole_word(text, hit)
    return None


def _whole_word(text: str, hit: str) -> str:
    """The word around a hit (``/home/jo``, not the ``/home/j`` a pattern stopped at)."""
    start = text.find(hit)
    if start < 0:
        return hit
    end = start + len(hit)
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    while end < len(text) and not text[end].isspace():
        end += 1
    return text[start:end]


def _count(n: int) -> str:
    return "1 string" if n == 1 else f"{n} strings"


def _quote(text: str, limit: int = 60) -> str:
    shown = text if len(text) <= limit else text[: limit - 1] + "…"
    return json.dumps(shown, ensure_ascii=False)


# --- the checks --------------------------------------------------------------------------------


def check_report(
    report: Mapping[str, Any], *, identity: LocalIdentity | None = None
) -> list[CheckResult]:
    """Every check over one session object, in :data:`CHECK_NAMES` order."""
    return [
        _check_schema(report),
        _check_size(report),
        *check_strings(_strings_to_scan(report), identity),
    ]


def passed(results: Iterable[CheckResult]) -> bool:
    return all(result.passed for result in results)


def failures(results: Iterable[CheckResult]) -> list[CheckResult]:
    return [result for result in results if not result.passed]


def _check_schema(report: object) -> CheckResult:
    if not isinstance(report, Mapping):
        return CheckResult("schema", False, f"a session must be a JSON object, not {_kind(report)}")
    from pydantic import ValidationError

    from shimmy_onboard.payload import validate_report

    try:
        validate_report(report)
    except ValidationError as error:
        return CheckResult("schema", False, _schema_problems(error))
    except (TypeError, ValueError, RecursionError) as error:
        return CheckResult("schema", False, f"not JSON data ({error})")
    return CheckResult(
        "schema", True, "only the spec's keys; every value an allowed word, id, time or number"
    )


def _schema_problems(error: Any) -> str:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"]) or "the object"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "is not a field of the payload"
        elif item["type"] == "missing":
            message = "is missing"
        problems.append(f'"{where}" {message}' if where != "the object" else message)
    shown = "; ".join(problems[:3])
    if len(problems) > 3:
        shown += f"; and {len(problems) - 3} more"
    return shown


def _check_size(report: object) -> CheckResult:
    from shimmy_onboard.payload import serialize_report

    if not isinstance(report, Mapping):
        return CheckResult("size", False, f"a session must be a JSON object, not {_kind(report)}")
    try:
        size = len(serialize_report(report))
    except (TypeError, ValueError, RecursionError) as error:
        return CheckResult("size", False, f"cannot be written as JSON ({error})")
    fits = size < MAX_REPORT_BYTES
    verdict = "under" if fits else "not under"
    return CheckResult("size", fits, f"{size} bytes, {verdict} the {MAX_REPORT_BYTES}-byte limit")


def _kind(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number"}
    names[float] = "a number"
    return "null" if value is None else names.get(type(value), type(value).__name__)


class BodyError(ValueError):
    """The bytes are not JSON, or not a session object or an array of them."""


def parse_body(body: bytes) -> list[Any]:
    """The sessions in a body: an array of objects, or a single object. Raises BodyError."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BodyError(f"it is not UTF-8 text (bad byte at offset {error.start})") from None
    try:
        document = json.loads(text)
    except RecursionError:
        raise BodyError("it is nested too deeply to be a payload") from None
    except ValueError as error:
        reason = (
            f"{error.msg} at line {error.lineno}, column {error.colno}"
            if isinstance(error, json.JSONDecodeError)
            else str(error)
        )
        raise BodyError(f"it is not JSON ({reason})") from None
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        return document
    raise BodyError(f"it is {_kind(document)}, not a session object or an array of them")


def check_body(body: bytes, *, identity: LocalIdentity | None = None) -> list[CheckResult]:
    """Every check over a whole body: one result per check, naming the session that failed.

    Bytes that are not JSON, or JSON that is neither an object nor an array, give one
    failed ``body`` result.
    """
    try:
        sessions = parse_body(body)
    except BodyError as error:
        return [CheckResult("body", False, str(error))]
    return check_sessions(sessions, identity=identity)


def check_sessions(
    sessions: list[Any], *, identity: LocalIdentity | None = None
) -> list[CheckResult]:
    """The checks over several sessions, merged: a check passes when it passes for all."""
    if not sessions:
        return [CheckResult("body", False, "an empty array: a body carries at least one session")]
    identity = identity if identity is not None else LocalIdentity.of_this_machine()
    per_session = [check_report(session, identity=identity) for session in sessions]
    if len(per_session) == 1:
        return per_session[0]
    merged = []
    for position, name in enumerate(CHECK_NAMES):
        column = [results[position] for results in per_session]
        bad = [(index, result) for index, result in enumerate(column, 1) if not result.passed]
        if not bad:
            merged.append(CheckResult(name, True, f"all {len(column)} sessions"))
            continue
        index, first = bad[0]
        more = f" (and {len(bad) - 1} more sessions)" if len(bad) > 1 else ""
        merged.append(CheckResult(name, False, f"session {index}: {first.detail}{more}"))
    return merged
