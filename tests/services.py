"""Real services the tests use: PostgreSQL, Redis, Chromium, an SMTP server.

Locally a missing service skips its tests with the reason; under CI=true it fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
from functools import cache
from urllib.parse import urlsplit

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get(
    "LGNETFORMA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("LGNETFORMA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CHROMIUM = os.environ.get("LGNETFORMA_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require(available: bool, reason: str) -> None:
    """Skip (locally) or fail (under CI=true) when a real service is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"CI=true requires this service: {reason}", pytrace=False)
    pytest.skip(reason)


@cache
def postgres_reachable() -> bool:
    parts = urlsplit(POSTGRES_URL.replace("+psycopg", ""))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            pass
    except OSError:
        return False
    import psycopg

    try:
        with psycopg.connect(POSTGRES_URL.replace("+psycopg", ""), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


@cache
def redis_reachable() -> bool:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        return bool(client.ping())
    except redis.RedisError:
        return False


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None or os.path.exists(CHROMIUM)
