"""The `lgnetforma` entry point: Flask's own commands (run, routes, shell, db) and ours."""

from __future__ import annotations

import sys

import click
from flask import Flask
from flask.cli import FlaskGroup

from lgnetforma import create_app
from lgnetforma.config import ConfigError


def _create_app() -> Flask:
    try:
        return create_app()
    except ConfigError as error:
        click.echo(f"Errore: {error}", err=True)
        sys.exit(2)


@click.group(cls=FlaskGroup, create_app=_create_app)
def main() -> None:
    """LGNetforma: la piattaforma del piano formativo LGNetforma 2025-2026."""
