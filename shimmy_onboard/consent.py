"""Consent: what the user decided, which override wins, and the one way to change it.

The override resolver here is the only place that decides whether metrics may be sent
and whether anybody may be asked (DESIGN.md, "Overrides, strongest first"):

1. ``DO_NOT_TRACK`` or ``SHIMMY_NO_METRICS`` (any value but empty or ``0``): nothing is
   sent or queued and nobody is asked, whatever the config says.
2. ``CI`` set, or no terminal: nobody is asked, nothing is recorded.
3. The config.

Every change of decision goes through :func:`record_decision`, which writes the config
and appends a line to the consent ledger.
"""

from __future__ import annotations

import os

from shimmy_onboard import __version__
from shimmy_onboard.clock import format_utc, system_clock
from shimmy_onboard.config import (
    MetricsSection,
    open_regular_file,
    parse_json,
    read_config,
    update_metrics,
)
from shimmy_onboard.vocab import SCHEMA_VERSION, ConsentSource, Decision

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from shimmy_onboard.clock import Clock
    from shimmy_onboard.config import ConfigSnapshot
    from shimmy_onboard.paths import ShimmyPaths

OPT_OUT_VARIABLES = ("DO_NOT_TRACK", "SHIMMY_NO_METRICS")

# The ledger is read whole by status and export; keep it from growing without end.
LEDGER_READ_LIMIT = 1024 * 1024


def is_flag_set(value: str | None) -> bool:
    """An on/off environment variable is on: set to anything but empty or ``0``.

    Only the exact empty string is off: a privacy switch set to white space by a sloppy
    script is read as on, the safe side.
    """
    return value is not None and value != "" and value.strip() != "0"


def opt_out_variable(env: Mapping[str, str]) -> str | None:
    """The opt-out variable that is set, if any: it beats everything else."""
    for name in OPT_OUT_VARIABLES:
        if is_flag_set(env.get(name)):
            return name
    return None


def ci_variable_set(env: Mapping[str, str]) -> bool:
    return is_flag_set(env.get("CI")) and env.get("CI", "").strip().lower() != "false"


class ConsentState:
    """The decision recorded in the config, and whether the metrics may be sent.

    A plain class (no dataclasses import): ``--first-run`` builds one at every Shimmy start.
    """

    __slots__ = ("config", "consent_version", "decision", "opt_out_by", "session_id", "since")

    def __init__(
        self,
        decision: Decision,
        consent_version: int | None,
        session_id: str | None,
        since: str | None,
        config: ConfigSnapshot,
        opt_out_by: str | None,  # the variable that suppresses everything, if one is set
    ) -> None:
        self.decision = decision
        self.consent_version = consent_version
        self.session_id = session_id
        self.since = since
        self.config = config
        self.opt_out_by = opt_out_by

    @property
    def needs_reconsent(self) -> bool:
        """Enabled for an older payload schema: nothing goes out until asked again."""
        return self.decision is Decision.ENABLED and (self.consent_version or 0) < SCHEMA_VERSION

    @property
    def decided(self) -> bool:
        """A current decision is recorded: nobody needs to be asked."""
        return self.decision is not Decision.UNDECIDED and not self.needs_reconsent

    @property
    def sending(self) -> bool:
        """Whether this session's metrics may be queued and sent."""
        return (
            self.decision is Decision.ENABLED
            and not self.needs_reconsent
            and self.opt_out_by is None
            and self.session_id is not None
        )

    def explain(self) -> str:
        """One sentence: whether metrics go out, and which rule says so."""
        if self.opt_out_by is not None:
            return (
                f"{self.opt_out_by} is set: nothing is sent or queued and nobody is asked, "
                "whatever the config says."
            )
        if self.config.problem is not None:
            return (
                f"the config cannot be used ({self.config.problem}): "
                "metrics are treated as disabled."
            )
        if self.decision is Decision.UNDECIDED:
            return "no decision is recorded, so nothing is sent until you enable metrics."
        if self.needs_reconsent:
            return (
                f"you agreed to payload schema version {self.consent_version}; the payload has "
                f"changed (version {SCHEMA_VERSION}), so nothing is sent until you agree again."
            )
        if self.decision is Decision.ENABLED:
            return "you enabled metrics: one anonymous report is sent when Shimmy shuts down."
        return "you disabled metrics: nothing is collected or sent."


def load_state(paths: ShimmyPaths, env: Mapping[str, str] | None = None) -> ConsentState:
    """The resolved consent state. Never raises, never writes."""
    env = os.environ if env is None else env
    config = read_config(paths)
    metrics = config.metrics
    return ConsentState(
        decision=_decision_of(metrics),
        consent_version=metrics.consent_version,
        session_id=metrics.session_id,
        since=metrics.last_updated,
        config=config,
        opt_out_by=opt_out_variable(env),
    )


def is_terminal(stream: object) -> bool:
    """Whether ``stream`` is an open terminal (a closed or missing stream is not)."""
    try:
        return bool(stream is not None and stream.isatty())  # type: ignore[attr-defined]
    except (ValueError, OSError):
        return False


def nobody_to_ask(
    env: Mapping[str, str], stdin_is_terminal: bool, stdout_is_terminal: bool
) -> str | None:
    """Why nobody can be asked, or None when somebody can."""
    variable = opt_out_variable(env)
    if variable is not None:
        return f"{variable} is set"
    if ci_variable_set(env):
        return "CI is set"
    if not (stdin_is_terminal and stdout_is_terminal):
        return "there is no terminal"
    return None


# --- changing the decision ----------------------------------------------------------


class DecisionChange:
    """What :func:`record_decision` did."""

    __slots__ = ("after", "backup", "before", "changed", "ledger_error", "metrics")

    def __init__(
        self,
        before: Decision,
        after: Decision,
        metrics: MetricsSection,
        changed: bool,
        backup: str | None,  # where an unusable config was kept, if one was
        ledger_error: str | None,  # the ledger line could not be written (the config was)
    ) -> None:
        self.before = before
        self.after = after
        self.metrics = metrics
        self.changed = changed
        self.backup = backup
        self.ledger_error = ledger_error


def new_session_id() -> str:
    import uuid  # costs more to import than --first-run may spend; only writers need it

    return str(uuid.uuid4())


def record_decision(
    paths: ShimmyPaths,
    enable: bool,
    source: ConsentSource,
    clock: Clock = system_clock,
    mint_id: Callable[[], str] = new_session_id,
) -> DecisionChange:
    """Write the decision to the config and the ledger; raises ConfigWriteError.

    Enabling mints a new ``session_id``, so data from before an opt-out cannot be linked
    to data after it. Repeating the current decision changes nothing and logs nothing.
    Disabling also deletes the queue.
    """
    now = format_utc(clock())
    target = Decision.ENABLED if enable else Decision.DISABLED
    seen: dict[str, Decision] = {}

    def change(current: MetricsSection) -> MetricsSection:
        before = _decision_of(current)
        seen["before"] = before
        up_to_date = (current.consent_version or 0) >= SCHEMA_VERSION
        if before is target and (up_to_date or not enable):
            return current
        session_id = mint_id() if enable else (current.session_id or mint_id())
        return MetricsSection(
            enabled=enable, session_id=session_id, last_updated=now, consent_version=SCHEMA_VERSION
        )

    result = update_metrics(paths, change, clock)
    before = seen["before"]
    changed = result.metrics != result.before.metrics or result.backup is not None
    ledger_error = None
    if changed:
        ledger_error = append_ledger(paths, now, before, target, source)
    if not enable:
        discard_queue(paths)
    return DecisionChange(
        before=before,
        after=target,
        metrics=result.metrics,
        changed=changed,
        backup=str(result.backup) if result.backup else None,
        ledger_error=ledger_error,
    )


def _decision_of(metrics: MetricsSection) -> Decision:
    if metrics.enabled is None:
        return Decision.UNDECIDED
    return Decision.ENABLED if metrics.enabled else Decision.DISABLED


def discard_queue(paths: ShimmyPaths) -> None:
    """Disabling deletes whatever was waiting to be sent.

    Under the queue lock, so that a ``send`` running right now cannot write the queue back
    after it is gone (the sender checks consent again under the same lock). A lock held
    longer than the outbox's short patience does not stop the delete: disabling wins.
    """
    from shimmy_onboard.outbox import OutboxBusy, queue_lock  # only disabling needs it

    def delete() -> None:
        try:
            os.unlink(paths.queue_file)
        except OSError:
            # Missing, or not deletable: nothing is ever sent while disabled, so a queue
            # we could not delete is inert.
            pass

    try:
        with queue_lock(paths):
            delete()
            return
    except (OSError, OutboxBusy):  # a state dir we cannot write, or a stuck holder
        pass
    delete()


# --- the consent ledger ---------------------------------------------------------------


def append_ledger(
    paths: ShimmyPaths, when: str, before: Decision, after: Decision, source: ConsentSource
) -> str | None:
    """Append one line to ``metrics/consent.jsonl``; returns an error message or None."""
    entry = {
        "time": when,
        "from": before.value,
        "to": after.value,
        "source": source.value,
        "consent_version": SCHEMA_VERSION,
        "package_version": __version__,
    }
    import json

    line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
    try:
        paths.metrics_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = open_regular_file(paths.ledger_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            # One write of one short line with O_APPEND: concurrent writers do not interleave.
            os.write(descriptor, line)
        finally:
            os.close(descriptor)
    except OSError as error:
        return f"cannot write the consent ledger {paths.ledger_file}: {error.strerror or error}"
    return None


def read_ledger(paths: ShimmyPaths) -> list[dict[str, Any]]:
    """The well-formed ledger entries, oldest first; damaged lines are skipped.

    Only the last LEDGER_READ_LIMIT bytes are read: the latest changes are the ones that
    matter, and a ledger grown huge must not slow ``status`` down.
    """
    try:
        with os.fdopen(open_regular_file(paths.ledger_file_path), "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > LEDGER_READ_LIMIT:
                handle.seek(size - LEDGER_READ_LIMIT)
                handle.readline()  # the first line read would be cut: skip it
            raw = handle.read(LEDGER_READ_LIMIT)
    except OSError:
        return []
    entries = []
    for line in raw.splitlines():
        try:
            entry = parse_json(line.decode("utf-8"))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            continue
        if isinstance(entry, dict) and isinstance(entry.get("time"), str):
            entries.append(entry)
    return entries
