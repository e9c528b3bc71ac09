"""The `ecobridge` command. Each area adds its commands from its own module here."""

from __future__ import annotations

import sys

import typer

from ecobridge.errors import EcobridgeError

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="ecobridge: share, monitor and get warned on eco-environmental data.")


def _register() -> None:
    # Imported for their side effect of adding commands to `app`.
    from ecobridge.cli import alerts, biodiversity, demo, governance, ingest, serve  # noqa: F401


def main() -> None:
    _register()
    try:
        app(standalone_mode=False)
    except EcobridgeError as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(130)
    except Exception as exc:  # click usage errors carry their own exit code
        code = getattr(exc, "exit_code", None)
        if code is None:
            raise
        if hasattr(exc, "show"):
            exc.show()
        sys.exit(code)
