"""Per-connection settings of the database engines."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import event

from lgnetforma.extensions import db


def _sqlite_connection(connection: Any, _record: Any) -> None:
    # Write-ahead logging: readers never wait for a writer, and several app workers on
    # one machine share the file without "database is locked" under ordinary load.
    # synchronous=NORMAL is the safe setting with WAL (no corruption on a crash; a power
    # cut may lose the last commits), and spares an fsync per transaction.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


LIKE_ESCAPE = "\\"


def like_text(text: str) -> str:
    """``text`` for a LIKE pattern, its wildcards (% and _) and the escape character taken
    literally; use with ``escape=LIKE_ESCAPE``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def init_app(app: Flask) -> None:
    with app.app_context():
        for engine in db.engines.values():
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _sqlite_connection)
