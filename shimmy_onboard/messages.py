"""What the user is told after a change of decision: one place for the words.

``config --metrics enable|disable`` (cli.py), the plain prompt and the TUI's done screen
say the same things, so they say them from here. Standard library only, and nothing
imported at all: ``--first-run`` may reach the prompt, which imports this.
"""

from __future__ import annotations

#: What the settings commands are called in Shimmy (which forwards them to shimmy-onboard).
CONFIG_COMMAND = "shimmy config --metrics"


def confirmation_title(enabled: bool, opt_out_by: str | None) -> str:
    """The first words after a decision: what was recorded."""
    if not enabled:
        return "Metrics disabled."
    if opt_out_by is not None:
        return "Metrics enabled: recorded."
    return "Metrics enabled."


def confirmation_detail(enabled: bool, opt_out_by: str | None) -> str:
    """What the decision means now. Under an opt-out variable, enabling sends nothing:
    the words must not promise a report that will not go out."""
    if not enabled:
        return "Nothing is collected or sent; anything queued was deleted."
    if opt_out_by is not None:
        return opt_out_note(opt_out_by)
    return (
        "One anonymous report is sent when Shimmy shuts down. "
        f"See it first: {CONFIG_COMMAND} preview"
    )


def confirmation(enabled: bool, opt_out_by: str | None) -> str:
    """The confirmation after enable or disable: the title, then the detail on its own line."""
    return f"{confirmation_title(enabled, opt_out_by)}\n{confirmation_detail(enabled, opt_out_by)}"


def already(enabled: bool) -> str:
    """Repeating the current decision changes nothing."""
    return f"Metrics are already {'enabled' if enabled else 'disabled'}."


def change_hint(enabled: bool) -> str:
    """How to undo the decision just recorded: the opposite verb."""
    verb = "disable" if enabled else "enable"
    return f"Change it any time: {CONFIG_COMMAND} {verb}, or run shimmy-onboard again."


def opt_out_note(variable: str) -> str:
    """An opt-out variable (DO_NOT_TRACK, SHIMMY_NO_METRICS) beats any decision."""
    return f"{variable} is set, so nothing is sent while it is."


def backup_notice(backup: str) -> str:
    """An unusable config.json was moved aside before the decision was written."""
    return f"The old config could not be used, so it was kept as {backup}; a new one was written."


def ledger_warning(ledger_error: str) -> str:
    """The decision reached the config, but its line in the consent ledger did not."""
    return f"Warning: {ledger_error}. Your decision was saved in the config all the same."


def nobody_asked(variable: str) -> str:
    """``shimmy-onboard`` where an override says nobody is asked (DESIGN.md, "Overrides")."""
    return (
        f"{variable} is set, so nobody is asked. "
        f"To record a choice anyway: {CONFIG_COMMAND} enable|disable."
    )


def streams_closed() -> str:
    """Standard input or output is closed: there is nobody to ask and nowhere to ask."""
    return (
        "standard input or output is closed, so nothing was asked or recorded. "
        f"Use {CONFIG_COMMAND} enable|disable."
    )
