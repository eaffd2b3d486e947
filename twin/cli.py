"""The ``twin`` command. Sub-commands live in :mod:`twin.commands`, one module per concern, as
plain functions this module wires onto :data:`app`; other packages add commands as
``twin.commands`` entry points (the LLM helper's ``assist``, ``demo`` and ``setup-llm``)::

    [project.entry-points."twin.commands"]
    my-command = "my_pkg.cli:my_command"   # a function typer can turn into a command

A plug-in command that cannot be loaded is reported as a warning and left out.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from importlib import metadata

import typer

from twin.commands.core import run_cmd, scenarios_cmd, show_cmd
from twin.commands.diagnose import diagnose_cmd
from twin.commands.generate import generate_cmd
from twin.commands.labels import labels_cmd
from twin.commands.precheck import precheck_cmd
from twin.commands.replay import evaluate_cmd, export_cmd, replay_cmd
from twin.commands.tools import agents_cmd, tools_cmd
from twin.errors import TwinError

__all__ = ["COMMANDS", "ENTRY_POINT_GROUP", "app", "main"]

ENTRY_POINT_GROUP = "twin.commands"

#: The built-in sub-commands, in the order ``twin --help`` lists them (plug-ins follow).
COMMANDS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("scenarios", scenarios_cmd),
    ("show", show_cmd),
    ("run", run_cmd),
    ("tools", tools_cmd),
    ("agents", agents_cmd),
    ("replay", replay_cmd),
    ("evaluate", evaluate_cmd),
    ("export", export_cmd),
    ("labels", labels_cmd),
    ("precheck", precheck_cmd),
    ("diagnose", diagnose_cmd),
    ("generate", generate_cmd),
)

app = typer.Typer(
    name="twin",
    help="An offline digital twin and sandbox for network and cloud incident management.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _plugin_commands(group: str = ENTRY_POINT_GROUP) -> list[tuple[str, Callable[..., None]]]:
    found = []
    for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
        try:
            found.append((ep.name, ep.load()))
        except Exception as exc:  # noqa: BLE001 - a plug-in's bug must not take the whole CLI down
            warnings.warn(f"{group} entry point {ep.name!r} ({ep.value}) skipped: {exc}", RuntimeWarning,
                          stacklevel=2)
    return found


def _register() -> None:
    """Wire the built-in and plug-in commands onto :data:`app` (once; later calls do nothing)."""
    if app.registered_commands:
        return
    taken = set()
    for name, func in (*COMMANDS, *_plugin_commands()):
        if name in taken:
            warnings.warn(f"twin command {name!r} is defined twice; the first one is kept", RuntimeWarning,
                          stacklevel=2)
            continue
        taken.add(name)
        app.command(name)(func)


def main(argv: list[str] | None = None) -> None:
    """Entry point: user mistakes print one line and exit 2, never a traceback."""
    _register()
    try:
        app(args=argv, standalone_mode=False)
    except TwinError as exc:
        typer.echo(f"twin: error: {exc}", err=True)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        typer.echo("twin: aborted", err=True)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:
        # usage errors (bad option values) from click, or from the click that typer vendors
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        raise


if __name__ == "__main__":
    main()
