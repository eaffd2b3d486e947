"""The ``twin`` command. Sub-commands live in :mod:`twin.commands`, one module per concern."""

from __future__ import annotations

import sys

import typer

from twin.errors import TwinError

__all__ = ["app", "main"]

app = typer.Typer(
    name="twin",
    help="An offline digital twin and sandbox for network and cloud incident management.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from twin.commands import core  # noqa: F401  (registers scenarios, show, run)

    for name in ("tools", "replay", "precheck", "assist"):
        try:
            __import__(f"twin.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"twin.commands.{name}":
                raise


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
    # run through the imported module so sub-commands register on the same app
    from twin.cli import main as _main

    _main()
