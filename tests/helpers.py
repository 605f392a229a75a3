"""Helpers shared by the tests (fixtures live in conftest.py): logging in, CSRF tokens, the
local SMTP server's mailbox, counting SQL statements, throw-away PostgreSQL databases."""

from __future__ import annotations

import os
import re
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from tests.services import (
    POSTGRES_URL,
)

CSRF_RE = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


class Mailbox:
    """What the local SMTP server received.

    Mail leaves only through the worker: reading the mailbox of a test that has an app
    first runs the worker once (``lgnetforma worker --once``, the real delivery code), as
    the worker running beside the web server would have done by then."""

    def __init__(self) -> None:
        self._messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self.drain: Any = None

    @property
    def messages(self) -> list[EmailMessage]:
        if self.drain is not None:
            self.drain()
        return self._messages

    @property
    def received(self) -> list[EmailMessage]:
        """What arrived so far, without running the worker."""
        return self._messages

    def receive(self, content: bytes) -> None:
        message = message_from_bytes(content, policy=policy.default)
        with self._lock:
            self._messages.append(message)  # type: ignore[arg-type]

    def clear(self) -> None:
        """Forget every message so far, those still in the outbox included."""
        if self.drain is not None:
            self.drain()
        with self._lock:
            self._messages.clear()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address.lower() in str(m["To"]).lower()]

    def last_body(self, address: str) -> str:
        messages = self.to(address)
        assert messages, f"no mail for {address}; got {[m['To'] for m in self.messages]}"
        return messages[-1].get_content()

    def last_link(self, address: str) -> str:
        match = re.search(r"https?://\S+", self.last_body(address))
        assert match, "no link in the mail"
        return match.group(0)


class SMTPHandler:
    """aiosmtpd's handler: stores each message in ``mailbox`` (kept apart from the
    Mailbox, whose properties aiosmtpd would otherwise read when it inspects a handler)."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, ANN201, N802
        self.mailbox.receive(envelope.content)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_worker_once(app: Any) -> Any:
    """What `lgnetforma worker --once` does: deliver every message that is due."""
    from lgnetforma.worker import Worker

    return Worker(app).drain()


def _admin_engine():  # noqa: ANN202
    return create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=None)


def _pg_url(name: str) -> str:
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


PASSWORD = "una password lunga e sicura"


def csrf_token(client: Any, path: str = "/") -> str:
    """The CSRF token of the client's session, read from a page like a browser would."""
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def login(client: Any, user: dict, remember: bool = False) -> Any:
    data = {"email": user["email"], "password": user["password"], "csrf_token": csrf_token(client)}
    if remember:
        data["remember"] = "y"
    response = client.post("/accesso", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return response


def sql_statements(app: Any, action: Any) -> list[str]:
    """The SQL statements that ``action()`` (one or more requests) runs."""
    from sqlalchemy import event

    from lgnetforma.extensions import db

    counted: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args):  # noqa: ANN001, ANN202
        counted.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        action()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return counted
