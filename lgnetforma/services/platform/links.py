"""Absolute addresses (mail links, certificate QR codes, API links): the one place they are built.

They always start with ``PUBLIC_BASE_URL`` and never with the request's ``Host`` header, which
anyone can forge: a reset link built from it would send the victim's token to the attacker.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app


def public_base_url() -> str:
    """The configured public address of the platform, without a trailing slash."""
    base = str(current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if not base:
        # Production refuses to start without it (config.check_production); development
        # falls back on the address `make run` serves.
        base = "http://127.0.0.1:5000"
    return base


def absolute_url(endpoint: str, **values: Any) -> str:
    """``endpoint``'s address on PUBLIC_BASE_URL, built without looking at any request."""
    parts = urlsplit(public_base_url())
    current_app.inject_url_defaults(endpoint, values)
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)
