"""What the TUI needs from the rest of the product, injected so tests can fix it.

The real services detect this machine, build the exact body the next send would
transmit, run the privacy validator and write the export. Tests and screenshots pass a
fixed machine, clock and session id, and still run the real preview and validator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from shimmy_onboard.clock import Clock, system_clock
from shimmy_onboard.paths import ShimmyPaths

if TYPE_CHECKING:
    # Imported for types only: the detector's module is loaded by the worker, off the
    # first frame's path.
    from shimmy_onboard.hardware import MachineFacts as Machine


class ValidatorResult(NamedTuple):
    """The privacy validator's verdict, one line a check."""

    passed: bool
    lines: tuple[str, ...]


#: (services, machine, session id) -> (the exact body, whether it is an example object)
PreviewBuilder = Callable[["Services", "Machine | None", "str | None"], tuple[bytes, bool]]


class Services(NamedTuple):
    """What the TUI needs from the rest of the product.

    A NamedTuple rather than a dataclass: it is built on the way to the first frame.
    """

    paths: ShimmyPaths
    env: Mapping[str, str]
    detect: Callable[[], Machine]
    preview: PreviewBuilder
    validate: Callable[[ShimmyPaths, bytes], ValidatorResult]
    export: Callable[[ShimmyPaths, Path, Clock], None]
    mint_session_id: Callable[[], str]
    clock: Clock = system_clock
    #: Where the deployment type's container markers are looked for.
    system_root: Path = Path("/")

    def show_path(self, path: Path) -> str:
        """A path as the user would type it: the home folder as ``~``."""
        home = self.env.get("HOME", "").strip()
        if home:
            try:
                return "~/" + path.relative_to(home).as_posix()
            except ValueError:
                pass
        return str(path)


def default_services(paths: ShimmyPaths, env: Mapping[str, str]) -> Services:
    """The real thing: this machine, this moment, the files in ``paths``."""
    from shimmy_onboard.consent import new_session_id

    return Services(
        paths=paths,
        env=env,
        detect=detect_this_machine,
        preview=build_preview,
        validate=run_validator,
        export=write_export,
        mint_session_id=new_session_id,
    )


def detect_this_machine() -> Machine:
    """Local detection; imported in the worker, so the first frame does not wait for it."""
    from shimmy_onboard.hardware import detect_machine

    return detect_machine()


def build_preview(
    services: Services, machine: Machine | None, session_id: str | None
) -> tuple[bytes, bool]:
    """The exact body the next send would transmit: the function the preview command uses.

    An example object carries ``session_id``, the id the screen says is (or will be)
    recorded: after a disable, or when asked again for a newer schema, that is the id
    enabling will record, not the config's old one.
    """
    from shimmy_onboard.transparency import preview_body

    body, is_example = preview_body(
        services.paths,
        machine=machine,
        clock=services.clock,
        session_id=session_id,
        env=services.env,
        root=services.system_root,
    )
    return body, is_example


def run_validator(paths: ShimmyPaths, body: bytes) -> ValidatorResult:
    """The privacy validator over the body the preview shows, and over the sent log:
    the checks ``config --metrics validate`` runs."""
    from shimmy_onboard.outbox import load_sent_log
    from shimmy_onboard.privacy import check_body
    from shimmy_onboard.transparency import check_sent_log

    results = check_body(body)
    sent = load_sent_log(paths)
    if sent:
        results = [*results, *check_sent_log(sent)]
    return ValidatorResult(
        passed=all(result.passed for result in results),
        lines=tuple(
            f"{'✔' if result.passed else '✘'} {result.name}: {result.detail}" for result in results
        ),
    )


def export_target(paths: ShimmyPaths, clock: Clock = system_clock) -> Path:
    """Where the settings screen's export goes: the metrics folder, beside the data it
    describes (not the current folder, which may be anything, a repository included)."""
    from shimmy_onboard.clock import file_stamp

    return paths.metrics_dir / f"shimmy-metrics-export-{file_stamp(clock())}.json"


def write_export(paths: ShimmyPaths, target: Path, clock: Clock = system_clock) -> None:
    """The document ``config --metrics export`` prints, written to ``target`` (mode 0600,
    its folder created 0700 if needed); raises OSError."""
    import json

    from shimmy_onboard.config import write_bytes_atomically
    from shimmy_onboard.transparency import export_document

    text = json.dumps(export_document(paths, clock), indent=2, ensure_ascii=False) + "\n"
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_bytes_atomically(target, text.encode("utf-8"))  # creates the file 0600
