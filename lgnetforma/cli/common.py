"""What the command modules share: failing with a message, writing the audit trail."""

from __future__ import annotations

import sys

import click


def _audit(action: str, **kwargs: object) -> None:
    """An audit event from the command line: no account, no address. The caller commits."""
    from lgnetforma.services.platform.audit import record

    record(action, actor=None, ip=None, **kwargs)  # type: ignore[arg-type]


def _fail(message: str) -> None:
    click.echo(f"Errore: {message}", err=True)
    sys.exit(1)
