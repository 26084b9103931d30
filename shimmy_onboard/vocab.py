"""The closed vocabularies of the payload: the one set of enums.

Every string the payload can carry that is not a UUID, a timestamp or a version is
a member of one of these. The payload model, the detector, the recorder, the
validator and the TUI all import them from here. Plain ``str`` enums (not
``StrEnum``, which needs 3.11) so that ``json`` writes their values directly.

This module imports nothing heavy: the fast paths may import it.
"""

from __future__ import annotations

from enum import Enum

#: The version of the payload schema. A user's consent is for one version; when
#: the payload gains or changes fields this goes up and everybody is asked again.
SCHEMA_VERSION = 1

#: The longest ``version`` the payload carries (payload.py's pattern admits 24 characters).
MAX_VERSION_LENGTH = 32
#: The longest raw version string worth reading: longer cannot become a version even once
#: a ``+build`` suffix is dropped. The recorder keeps no more; payload.py accepts no more.
MAX_RAW_VERSION_LENGTH = 4 * MAX_VERSION_LENGTH


class Platform(str, Enum):
    LINUX_X64 = "linux-x64"
    LINUX_ARM64 = "linux-arm64"
    MACOS_X64 = "macos-x64"
    MACOS_ARM64 = "macos-arm64"
    WINDOWS_X64 = "windows-x64"
    WINDOWS_ARM64 = "windows-arm64"
    OTHER = "other"


class HardwareTier(str, Enum):
    LAPTOP = "laptop"
    DESKTOP = "desktop"
    WORKSTATION = "workstation"
    SERVER = "server"


class GpuVendor(str, Enum):
    NVIDIA = "nvidia"
    AMD = "amd"
    INTEL = "intel"
    APPLE = "apple"
    NONE = "none"


class Region(str, Enum):
    AMERICAS = "americas"
    EMEA = "emea"
    APAC = "apac"
    UNKNOWN = "unknown"


class DeploymentType(str, Enum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    CONTAINER = "container"
    CI = "ci"


class IntegrationType(str, Enum):
    VSCODE = "vscode"
    CURSOR = "cursor"
    CONTINUE = "continue"
    ZED = "zed"
    OPEN_WEBUI = "open-webui"
    SILLYTAVERN = "sillytavern"
    AIDER = "aider"
    OPENAI_SDK = "openai-sdk"
    LANGCHAIN = "langchain"
    CURL = "curl"
    BROWSER = "browser"
    OTHER = "other"
    NONE = "none"


class Endpoint(str, Enum):
    """Shimmy's routes: the only endpoint strings that can appear in a payload."""

    CHAT_COMPLETIONS = "/v1/chat/completions"
    COMPLETIONS = "/v1/completions"
    MODELS = "/v1/models"
    MESSAGES = "/v1/messages"
    API_GENERATE = "/api/generate"
    API_MODELS = "/api/models"
    API_TAGS = "/api/tags"
    HEALTH = "/health"
    METRICS = "/metrics"
    WS_GENERATE = "/ws/generate"
    OTHER = "other"


class Decision(str, Enum):
    """What the user decided, as the consent ledger and ``status`` name it."""

    UNDECIDED = "undecided"
    ENABLED = "enabled"
    DISABLED = "disabled"


class ConsentSource(str, Enum):
    """Where a decision was taken; recorded in the consent ledger."""

    TUI = "tui"
    PROMPT = "prompt"
    CLI = "cli"
